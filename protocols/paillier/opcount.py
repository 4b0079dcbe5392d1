"""A cheap tally of the modular exponentiations the Paillier code performs.

The benchmark reads it to report what each operation costs in exponentiations, which is the
figure that carries over between machines. Counting is a dict increment per call (or per
vector), negligible next to a 4096-bit exponentiation.

Kinds:
- ``powmod``: a general exponentiation with a full-length exponent (|N| bits or more),
- ``powmod_short``: a general exponentiation with a short exponent (a plaintext scalar or a
  batching coefficient),
- ``fixed_base``: a fixed-base exponentiation from a precomputed table (DJN randomness),
  each costing about |alpha|/w multiplications instead of ~1.2*|alpha|.

The tallies are process-wide; ``PARTY_SINK`` also sends every count (and helper threads' CPU)
to the party whose work it is, for in-process parties (``helen.run_record``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any


@dataclass
class PartySink:
    """What one party's work adds up to: its operation counts, keyed ``"<tally>.<kind>"``
    (``paillier.powmod``, ``zk.full``), and the CPU seconds helper threads spent for it
    (``paillier.parallel`` hands lists of exponentiations to a thread pool, whose CPU the
    party's own thread clock does not see)."""

    counts: Counter[str] = field(default_factory=Counter)
    helper_seconds: float = 0.0


#: The current party's sink, besides the process-wide tallies. A context variable, because
#: in-process parties are trio tasks: each task runs in its own copy of the context, which child
#: tasks and ``trio.to_thread`` workers inherit. Work with no sink set adds to the process-wide
#: tallies only.
PARTY_SINK: ContextVar[PartySink | None] = ContextVar("opcount_party_sink", default=None)


def helper_cpu(seconds: float) -> None:
    """Charge helper threads' CPU seconds to the current party, if one is set."""
    sink = PARTY_SINK.get()
    if sink is not None:
        sink.helper_seconds += seconds


class Tally:
    """A named set of counters and a context manager that reports what a block added to them.

    The Paillier code and the proof library each keep one, with their own kinds of operation.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self.counts: Counter[str] = Counter()

    def add(self, kind: str, count: int = 1) -> None:
        """Count ``count`` operations of ``kind`` here and in the current party's sink, if any."""
        self.counts[kind] += count
        sink = PARTY_SINK.get()
        if sink is not None:
            sink.counts[f"{self.name}.{kind}"] += count

    @contextmanager
    def counting(self) -> Iterator[Counter[str]]:
        before = Counter(self.counts)
        result: Counter[str] = Counter()
        try:
            yield result
        finally:
            after = Counter(self.counts)
            after.subtract(before)
            result.update({k: v for k, v in after.items() if v > 0})


_PAILLIER = Tally("paillier")
COUNTS: Counter[str] = _PAILLIER.counts


def tally(kind: str, count: int = 1) -> None:
    _PAILLIER.add(kind, count)


def reset() -> None:
    COUNTS.clear()


def snapshot() -> dict[str, int]:
    return dict(COUNTS)


def counting() -> Any:
    """Count exponentiations inside the block: ``with counting() as c: ...; c["powmod"]``."""
    return _PAILLIER.counting()
