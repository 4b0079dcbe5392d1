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
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

COUNTS: Counter[str] = Counter()


def tally(kind: str, count: int = 1) -> None:
    COUNTS[kind] += count


def reset() -> None:
    COUNTS.clear()


def snapshot() -> dict[str, int]:
    return dict(COUNTS)


@contextmanager
def counting() -> Iterator[Counter[str]]:
    """Count exponentiations inside the block: ``with counting() as c: ...; c["powmod"]``."""
    before = Counter(COUNTS)
    result: Counter[str] = Counter()
    try:
        yield result
    finally:
        after = Counter(COUNTS)
        after.subtract(before)
        result.update({k: v for k, v in after.items() if v})
