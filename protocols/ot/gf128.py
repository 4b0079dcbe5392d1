"""GF(2^128) = GF(2)[X] / (X^128 + X^7 + X^2 + X + 1), elements as Python ints (bit i = X^i).

Only the KOS check's single product xs * Delta runs here; the bulk sums over all rows are
GHASH evaluations in :mod:`.checkhash`. (An earlier version computed uniform-chi sums as a
GF(2) matrix product on float64 BLAS, about 4 x 10^5 rows/s; GHASH runs at about 2 x 10^8.)
"""

from __future__ import annotations

_POLY_LOW = (1 << 7) | (1 << 2) | (1 << 1) | 1
_MASK128 = (1 << 128) - 1


def reduce(value: int) -> int:
    """Reduce a polynomial of degree < 255 modulo X^128 + X^7 + X^2 + X + 1."""
    while value >> 128:
        hi = value >> 128
        value = (value & _MASK128) ^ hi ^ (hi << 1) ^ (hi << 2) ^ (hi << 7)
    return value


def mul(a: int, b: int) -> int:
    """Product in GF(2^128)."""
    acc = 0
    while b:
        low = b & -b
        acc ^= a << (low.bit_length() - 1)
        b ^= low
    return reduce(acc)
