"""Progress lines for long runs, written to stderr so stdout stays machine-readable.

Which phases print what comes from the protocol's metadata (``engine.metadata``): a line per
finished round of its ``progress="round"`` phase, one line when a ``"milestone"`` phase ends.
"""

from __future__ import annotations

import time
from typing import TextIO

from coopetition.engine.metadata import ProtocolInfo
from coopetition.protocols.admm.info import ADMM_INFO


class RoundPrinter:
    """A ``Party`` observer printing one line per finished round and per milestone."""

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
        self._progress = {p.name: p.progress for p in info.phases if p.progress}

    def __call__(self, party: int, phase: str, rnd: int, event: str) -> None:
        if self.only_party is not None and party != self.only_party:
            return
        if event != "end":
            return
        kind = self._progress.get(phase)
        if kind == "round":
            elapsed = time.perf_counter() - self.started
            print(
                f"  round {rnd + 1:>4}/{self.iterations}  {elapsed:7.2f}s",
                file=self.stream,
                flush=True,
            )
        elif kind == "milestone":
            print(f"  {phase} done", file=self.stream, flush=True)
