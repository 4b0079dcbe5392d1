"""Progress lines for long runs, written to stderr so stdout stays machine-readable."""

from __future__ import annotations

import time
from typing import TextIO


class RoundPrinter:
    """A ``Party`` observer printing one line per finished coordination round."""

    def __init__(self, stream: TextIO, iterations: int, *, only_party: int | None = None) -> None:
        self.stream = stream
        self.iterations = iterations
        self.only_party = only_party
        self.started = time.perf_counter()

    def __call__(self, party: int, phase: str, rnd: int, event: str) -> None:
        if self.only_party is not None and party != self.only_party:
            return
        if event != "end":
            return
        if phase == "coordinate":
            elapsed = time.perf_counter() - self.started
            print(
                f"  round {rnd + 1:>4}/{self.iterations}  {elapsed:7.2f}s",
                file=self.stream,
                flush=True,
            )
        elif phase in ("setup", "release"):
            print(f"  {phase} done", file=self.stream, flush=True)
