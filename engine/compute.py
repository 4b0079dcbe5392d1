"""Where a party's heavy arithmetic runs, and how its cost is charged.

Two kinds of heavy work reach a backend:

* ``Compute`` actions (``run``): a function and arguments a machine hands out; they may be sent
  to another process, so they must pickle for ``ProcessCompute``.
* Offloaded handlers (``run_here``): ``machine.handle(event)`` of a machine whose class sets
  ``offload = True`` (Helen's proof programs). The handler resumes a live generator, which
  cannot leave this process, so it runs here: in a worker thread for real runs, inline and
  charged to virtual time in simulations.

Backends:

* ``InlineCompute`` runs the function in the event loop. With ``charge_virtual_time`` it then
  sleeps for the CPU time it measured (or the cost model's figure), which under
  ``MockClock(autojump_threshold=0)`` moves only this party's virtual clock forward: that is how
  a one-process simulation of many machines reports real-machine timings. The CPU time is the
  process's (``time.process_time``), so work the function spreads over helper threads
  (``paillier.parallel``) is counted too; nothing else runs while the loop is blocked.
* ``ThreadCompute`` runs the function in a trio worker thread, with gmpy2 allowed to release
  the GIL, so the event loop keeps serving heartbeats and other in-process parties while a
  proof runs, and two parties' exponentiations run on two cores. Under a ``MockClock`` it runs
  inline and charges the measured time instead (a virtual clock cannot see a thread's
  progress: autojump would advance it past every deadline while the thread computes).
  Cancellation returns at once and *abandons* the thread: it finishes the step it is in, its
  result is dropped, and nothing touches the machine again. (The driver shields offloaded
  steps from the party's cancellation, so only the phase deadline cancels them there.)
* ``ProcessCompute`` sends the function to worker processes with trio-parallel, for real runs
  where the event loop must stay responsive (heartbeats, other peers).

Inside an offloaded step, the bulk exponentiation lists go one level further: to the pool of
``protocols.paillier.parallel`` (this process's threads by default; worker processes or the
party's own Dask cluster with ``[compute] backend``, see ``paillier.pools``). The step itself
stays here; only lists of (base, exponent, modulus) travel.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol

import gmpy2
import trio
import trio.testing

__all__ = ["Compute", "CostModel", "InlineCompute", "Offload", "ProcessCompute", "ThreadCompute"]

CostModel = Callable[[str, tuple[Any, ...]], float]


class Compute(Protocol):
    async def run(self, label: str, fn: Callable[..., Any], *args: Any) -> tuple[Any, float]:
        """Run ``fn(*args)``; return its result and the seconds to charge to the phase."""
        ...


class Offload(Protocol):
    async def run_here(self, label: str, fn: Callable[..., Any], *args: Any) -> tuple[Any, float]:
        """Run ``fn(*args)`` in this process (it may touch live, unpicklable state) without
        starving the event loop; return its result and the seconds to charge to the phase."""
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

    async def run_here(self, label: str, fn: Callable[..., Any], *args: Any) -> tuple[Any, float]:
        """As ``run``: an offload backend for simulations (with ``charge_virtual_time``), or to
        reproduce the blocking behaviour of machines that do not offload."""
        return await self.run(label, fn, *args)


def virtual_clock() -> bool:
    """Whether this trio run keeps virtual time (a ``MockClock``), where threads must not run."""
    return isinstance(trio.lowlevel.current_clock(), trio.testing.MockClock)


def gmpy2_gil(release: bool) -> Any:
    """A copy of this thread's gmpy2 context that releases the GIL (or keeps it) around
    big-number operations; used as ``with gmpy2_gil(...)``, which restores the caller's."""
    context = gmpy2.get_context().copy()
    context.allow_release_gil = release
    return context


def _gil_free(fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)`` with gmpy2 releasing the GIL during its big-number operations (the
    setting belongs to this worker thread's gmpy2 context, restored afterwards)."""
    with gmpy2_gil(True):
        return fn(*args)


class ThreadCompute:
    """Worker threads for real runs; inline and charged to virtual time under a ``MockClock``.

    A machine handed to ``run_here`` needs no lock: only its own driver touches it, and the
    driver awaits each call before feeding the next event. The seconds charged in real runs are
    the wall time the phase waited for the thread (as ``ProcessCompute``), since a thread's own
    CPU clock would miss the helper threads of ``paillier.parallel``.
    """

    def __init__(
        self, *, limiter: trio.CapacityLimiter | None = None, cost_model: CostModel | None = None
    ) -> None:
        self.limiter = limiter
        self._virtual = InlineCompute(charge_virtual_time=True, cost_model=cost_model)

    async def run(self, label: str, fn: Callable[..., Any], *args: Any) -> tuple[Any, float]:
        if virtual_clock():
            return await self._virtual.run(label, fn, *args)
        started = trio.current_time()
        result = await trio.to_thread.run_sync(
            _gil_free, fn, *args, limiter=self.limiter, abandon_on_cancel=True
        )
        return result, trio.current_time() - started

    run_here = run


class ProcessCompute:
    """Worker processes (trio-parallel); arguments and results must pickle."""

    def __init__(self, *, limiter: trio.CapacityLimiter | None = None) -> None:
        self.limiter = limiter

    async def run(self, label: str, fn: Callable[..., Any], *args: Any) -> tuple[Any, float]:
        import trio_parallel

        started = trio.current_time()
        result = await trio_parallel.run_sync(fn, *args, limiter=self.limiter)
        return result, trio.current_time() - started
