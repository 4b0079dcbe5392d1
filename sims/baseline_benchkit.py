"""Shared pieces of the baseline benchmarks: the E unit, load, commit, and output files.

E is one full r^N mod N^2 with a 2048-bit N (a random odd modulus: the cost of the
exponentiation does not depend on N being an RSA modulus), timed in this process, so costs in
E carry across machines (see the research notes' helen_cost_projection.md).
"""

from __future__ import annotations

import csv
import os
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gmpy2


def measure_e(rounds: int = 20, clock: Callable[[], float] = time.perf_counter) -> float:
    """Seconds (of ``clock``) for one 2048-bit-exponent powmod modulo a 4096-bit N^2."""
    n = gmpy2.mpz(secrets.randbits(2048) | (1 << 2047) | 1)
    n2, r = n * n, gmpy2.mpz(secrets.randbits(2040))
    best = float("inf")
    for _ in range(4):
        start = clock()
        for _ in range(max(1, rounds // 4)):
            gmpy2.powmod(r, n, n2)
        best = min(best, (clock() - start) / max(1, rounds // 4))
    return best


def loadavg() -> float:
    return round(os.getloadavg()[0], 2)


def write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
