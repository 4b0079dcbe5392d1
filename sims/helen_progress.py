"""Progress of a Helen run on stderr: one line per finished phase, with counts and an ETA.

Helen's phases take seconds to hours (2048-bit proofs), so a bar over rounds says too little.
The phases, and which repeat per iteration, come from the protocol's metadata (``HELEN_INFO``):
the printer knows the whole plan (setup, input, ``iterations`` x (local, coordinate), verify,
release) before the run starts and numbers each step ``[k/total]``. The ETA is the time still
to come by the durations measured so far: each remaining step at the mean of the finished
steps of its phase, or, for a phase not yet seen, at the mean of one iteration (input
preparation and verification cost about as much as a few iterations; the estimate says
"at least" until every phase has been seen once).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TextIO

from coopetition.engine.metadata import ProtocolInfo
from coopetition.protocols.helen.info import HELEN_INFO


def _clock(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 90:
        return f"{seconds:.0f}s"
    if seconds < 5400:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


class PhaseProgress:
    """A ``Party`` observer printing the phases of one party (``only_party``) as they end."""

    def __init__(
        self,
        stream: TextIO,
        iterations: int,
        *,
        only_party: int = 0,
        info: ProtocolInfo = HELEN_INFO,
        skip: tuple[str, ...] = (),
    ) -> None:
        """``skip`` names phases of ``info`` this run does not have (e.g. the per-party
        preprocessing phases when the key and preprocessing are made before the parties start)."""
        self.stream = stream
        self.only_party = only_party
        self.plan: list[tuple[str, int]] = []
        block: list[str] = []  # consecutive phases that run once per iteration
        for phase in [*(p for p in info.phases if p.name not in skip), None]:
            if phase is not None and phase.repeat is not None:
                block.append(phase.name)
                continue
            self.plan += [(name, k) for k in range(iterations) for name in block]
            block = []
            if phase is not None:
                self.plan.append((phase.name, 0))
        self.iterations = iterations
        self.started = time.perf_counter()
        self._phase_started = self.started
        self.done = 0
        self.durations: dict[str, list[float]] = {}

    def __call__(self, party: int, phase: str, rnd: int, event: str) -> None:
        if party != self.only_party or (phase, rnd) not in self.plan:
            return
        now = time.perf_counter()
        if event != "end":
            self._phase_started = now
            return
        took = now - self._phase_started
        self.durations.setdefault(phase, []).append(took)
        self.done += 1
        rounds = f" round {rnd + 1}/{self.iterations}" if self._repeats(phase) else ""
        eta, exact = self.eta()
        tail = (
            "done" if self.done >= len(self.plan) else f"ETA {'' if exact else '>= '}{_clock(eta)}"
        )
        print(
            f"  [{self.done}/{len(self.plan)}] {phase}{rounds}: {_clock(took)} "
            f"(elapsed {_clock(now - self.started)}, {tail})",
            file=self.stream,
            flush=True,
        )

    def _repeats(self, phase: str) -> bool:
        return sum(1 for name, _ in self.plan if name == phase) > 1

    def eta(self) -> tuple[float, bool]:
        """Seconds still to come, and whether every remaining phase has been measured."""
        remaining = self.plan[self.done :]
        iteration = sum(
            sum(times) / len(times) for name, times in self.durations.items() if self._repeats(name)
        )
        total, exact = 0.0, True
        for name, _ in remaining:
            times = self.durations.get(name)
            if times:
                total += sum(times) / len(times)
            else:
                exact = False
                total += iteration
        return total, exact


def prep_printer(stream: TextIO, started: float | None = None) -> Callable[[str, Any], None]:
    """Progress of the key and preprocessing made before the parties start (``prepare_parties``'s
    ``progress``): one line per stage as it ends, with its items, wall time and the elapsed time.
    Minutes of MASCOT and range proofs otherwise pass without a word."""
    t0 = time.perf_counter() if started is None else started

    def report(name: str, stage: Any) -> None:
        items = f" ({stage.items:,} items)".replace(",", " ") if stage.items else ""
        print(
            f"  preparing: {name}{items}: {_clock(stage.wall)} "
            f"(elapsed {_clock(time.perf_counter() - t0)})",
            file=stream,
            flush=True,
        )

    return report
