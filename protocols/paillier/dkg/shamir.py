"""Shamir sharing over a prime field with evaluation points 1..m, Lagrange weights at zero.

Party ``i`` (0-based) holds the value at x = i + 1. Interpolation at zero uses the first
``degree + 1`` points; the remaining points are redundancy and ``open_value`` checks that they
lie on the same polynomial, so a single wrong opening share is detected whenever m > degree + 1.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache

import gmpy2


class InconsistentOpening(ValueError):
    """The opened points do not lie on one polynomial of the expected degree."""


def deal(secret: int, coefficients: Sequence[int], parties: int, prime: int) -> list[int]:
    """Values f(1..m) of f(x) = secret + c_1 x + ... + c_t x^t modulo ``prime``."""
    out = []
    secret_mpz = gmpy2.mpz(secret)
    coefficients = [gmpy2.mpz(c) for c in reversed(coefficients)]
    for x in range(1, parties + 1):
        acc = gmpy2.mpz(0)
        for c in coefficients:
            acc = (acc + c) * x
        out.append((acc + secret_mpz) % prime)
    return out


@lru_cache(maxsize=64)
def weights_at(points: tuple[int, ...], target: int, prime: int) -> tuple[int, ...]:
    """Lagrange weights of f(points) for f(target), modulo ``prime``."""
    out = []
    for i in points:
        num, den = 1, 1
        for j in points:
            if j != i:
                num = num * (target - j) % prime
                den = den * (i - j) % prime
        out.append(num * pow(den, -1, prime) % prime)
    return tuple(out)


def zero_weights(count: int, prime: int) -> tuple[int, ...]:
    """Weights of f(1..count) for f(0)."""
    return weights_at(tuple(range(1, count + 1)), 0, prime)


def combine(values: Sequence[int], weights: Sequence[int], prime: int) -> int:
    acc = gmpy2.mpz(0)
    for v, w in zip(values, weights, strict=True):
        acc += gmpy2.mpz(v) * w
    return acc % prime


def open_value(shares: Sequence[int], degree: int, prime: int) -> int:
    """f(0) from f(1..m); ``InconsistentOpening`` if f(degree+2..m) disagree with f(1..degree+1)."""
    base = tuple(range(1, degree + 2))
    head = [s % prime for s in shares[: degree + 1]]
    for x in range(degree + 2, len(shares) + 1):
        if combine(head, weights_at(base, x, prime), prime) != shares[x - 1] % prime:
            raise InconsistentOpening(f"opening share of party {x - 1} is off the polynomial")
    return combine(head, weights_at(base, 0, prime), prime)


Draw = Callable[[str, int], int]


def deal_random(
    secret: int, label: str, degree: int, parties: int, prime: int, draw: Draw
) -> list[int]:
    """``deal`` with coefficients drawn from ``draw(label/i, prime)``."""
    coefficients = [draw(f"{label}/c{i}", prime) for i in range(degree)]
    return deal(secret, coefficients, parties, prime)
