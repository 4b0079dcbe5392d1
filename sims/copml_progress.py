"""Per-iteration progress of ``bench copml``: a wrapper around the first party's protocol that
prints one line per training iteration and records when each iteration started in virtual time,
so the bench can report (and extrapolate from) the per-iteration cost."""

from __future__ import annotations

import itertools
import os
import sys
import time
from collections.abc import Generator
from typing import Any

#: the phases of one training iteration (COPML's and the baselines')
ITERATION_PHASES = (
    "copml-model",
    "copml-gradient",
    "copml-decode",
    "copml-update",
    "mpc-gradient",
    "mpc-update",
)


class IterationProgress:
    """Wraps the first party's protocol: one line on stderr per training iteration (virtual
    seconds so far, wall and CPU seconds), so a run of hours shows its pace per iteration."""

    ITERATION_START = ("copml-model", "mpc-gradient")

    def __init__(self, inner: Any, case: str) -> None:
        self.inner, self.case = inner, case
        self.name = inner.name
        self.tolerates_crashes = getattr(inner, "tolerates_crashes", False)
        #: virtual time (since the start) at which each training iteration started at this
        #: party, and at which the first phase after the last iteration (the release) started
        self.iteration_starts: list[float] = []
        self.training_end: float | None = None

    def phases(self) -> Generator[Any, Any, Any]:
        import trio

        start_v, start_w, start_c = trio.current_time(), time.perf_counter(), time.process_time()
        program = self.inner.phases()
        reply: Any = None
        while True:
            try:
                machine = program.send(reply)
            except StopIteration as stop:
                return stop.value
            ended = machine.phase not in ITERATION_PHASES and self.iteration_starts
            if ended and self.training_end is None:
                self.training_end = trio.current_time() - start_v
            if machine.phase in self.ITERATION_START:
                self.iteration_starts.append(trio.current_time() - start_v)
                print(
                    f"[bench copml] {self.case} iteration {machine.round}: "
                    f"virtual {trio.current_time() - start_v:.1f} s, "
                    f"wall {time.perf_counter() - start_w:.0f} s, "
                    f"cpu {time.process_time() - start_c:.0f} s, load {os.getloadavg()[0]:.1f}",
                    file=sys.stderr,
                    flush=True,
                )
            reply = yield machine


def iteration_times(progress: IterationProgress | None) -> dict[str, Any]:
    """Virtual seconds of each training iteration at the first party (start to next start; the
    last one ends where the release starts)."""
    if progress is None or not progress.iteration_starts or progress.training_end is None:
        return {}
    marks = [*progress.iteration_starts, progress.training_end]
    return {
        "setup_virtual_s": round(marks[0], 2),
        "iteration_virtual_s": [round(b - a, 3) for a, b in itertools.pairwise(marks)],
    }
