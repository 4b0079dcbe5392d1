"""Progress for long runs, written to stderr so stdout stays machine-readable.

Which phases count comes from the protocol's metadata (``engine.metadata``): its
``progress="round"`` phase drives one updating bar with ETA (tqdm), and the end of its last
``"milestone"`` phase prints the summary line; it appears only once a run has
taken longer than a second, so a short run prints just its summary line. Without a terminal
(a log file) it writes a line at the first round and then one every ``LINE_EVERY`` seconds.
"""

from __future__ import annotations

import time
from typing import Any, TextIO

from tqdm import tqdm

from coopetition.engine.metadata import ProtocolInfo
from coopetition.protocols.admm.info import ADMM_INFO

#: without a terminal (a log file), one progress line this often
LINE_EVERY = 10.0


class RoundPrinter:
    """A ``Party`` observer: one progress bar over the rounds (``iterations`` is the most)."""

    def __init__(
        self,
        stream: TextIO,
        iterations: int,
        *,
        only_party: int | None = None,
        info: ProtocolInfo = ADMM_INFO,
    ) -> None:
        self.stream = stream
        self.iterations = iterations
        self.only_party = only_party
        self.started = time.perf_counter()
        self.rounds = 0
        self._bar: Any = None
        self._last_line = 0.0
        self._round_phases = {p.name for p in info.phases if p.progress == "round"}
        milestones = [p.name for p in info.phases if p.progress == "milestone"]
        self._final_phase = milestones[-1] if milestones else None

    def __call__(self, party: int, phase: str, rnd: int, event: str) -> None:
        if self.only_party is not None and party != self.only_party:
            return
        if event != "end":
            return
        if phase in self._round_phases:
            self.rounds = rnd + 1
            if self._bar is None:
                self._bar = tqdm(
                    total=self.iterations,
                    desc="rounds (at most)",
                    unit="round",
                    file=self.stream,
                    delay=1.0,
                    leave=False,
                    dynamic_ncols=True,
                    disable=not _is_terminal(self.stream),
                )
            self._bar.update(self.rounds - self._bar.n)
            if self._bar.disable:  # not a terminal: a line at the first round, then every 10 s
                now = time.perf_counter()
                if self.rounds == 1 or now - self._last_line >= LINE_EVERY:
                    self._last_line = now
                    print(
                        f"  round {self.rounds} of at most {self.iterations}, "
                        f"{now - self.started:.1f}s",
                        file=self.stream,
                        flush=True,
                    )
        elif phase == self._final_phase:
            if self._bar is not None:
                self._bar.close()
            elapsed = time.perf_counter() - self.started
            print(
                f"  trained: {self.rounds} rounds in {elapsed:.2f}s", file=self.stream, flush=True
            )


def _is_terminal(stream: Any) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())
