"""Where a party's heavy arithmetic runs, and how its cost is charged.

* ``InlineCompute`` runs the function in the event loop. With ``charge_virtual_time`` it then
  sleeps for the CPU time it measured (or the cost model's figure), which under
  ``MockClock(autojump_threshold=0)`` moves only this party's virtual clock forward: that is how a
  one-process simulation of many machines reports real-machine timings. Workers and threads must not
  be used under the autojump clock (it jumps while they run), hence this class.
* ``ProcessCompute`` sends the function to worker processes with trio-parallel, for real runs
  where the event loop must stay responsive (heartbeats, other peers).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol

import trio

CostModel = Callable[[str, tuple[Any, ...]], float]


class Compute(Protocol):
    async def run(self, label: str, fn: Callable[..., Any], *args: Any) -> tuple[Any, float]:
        """Run ``fn(*args)``; return its result and the seconds to charge to the phase."""
        ...


class InlineCompute:
    def __init__(
        self,
        *,
        charge_virtual_time: bool = False,
        cost_model: CostModel | None = None,
        speed_factor: float = 1.0,
    ) -> None:
        self.charge_virtual_time = charge_virtual_time
        self.cost_model = cost_model
        self.speed_factor = speed_factor

    async def run(self, label: str, fn: Callable[..., Any], *args: Any) -> tuple[Any, float]:
        started = time.process_time()
        result = fn(*args)
        measured = time.process_time() - started
        cost = self.cost_model(label, args) if self.cost_model is not None else measured
        cost *= self.speed_factor
        if self.charge_virtual_time:
            await trio.sleep(cost)
        else:
            await trio.lowlevel.checkpoint()
        return result, cost


class ProcessCompute:
    """Worker processes (trio-parallel); arguments and results must pickle."""

    def __init__(self, *, limiter: trio.CapacityLimiter | None = None) -> None:
        self.limiter = limiter

    async def run(self, label: str, fn: Callable[..., Any], *args: Any) -> tuple[Any, float]:
        import trio_parallel

        started = trio.current_time()
        result = await trio_parallel.run_sync(fn, *args, limiter=self.limiter)
        return result, trio.current_time() - started
