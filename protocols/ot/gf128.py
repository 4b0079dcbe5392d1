"""The KOS check's sum of products in GF(2^128), computed with the method of Four Russians.

KOS needs sum_j chi_j * t_j over all extended rows j, with chi_j uniform in GF(2^128) and t_j
a 128-bit row. Writing chi_j = sum_b chi_j[b] X^b, the unreduced sum is
sum_b X^b * V_b with V_b = XOR of the rows t_j whose chi_j has bit b set: a GF(2) product
of the 128 x n matrix of chi's bit columns with the n x 128 matrix of rows. Rows are taken in
blocks of 2048; each block's 0/1 matrices are multiplied with BLAS in float64, four row
columns packed per float as base-2^12 digits (counts stay exact), and only the parities are
kept (XOR of the counts' digit bits across blocks), so the 16 384 bit products per row run
as a quarter-width matrix product. Measured on the loaded development VM: about 4 x 10^5 rows/s, against
2 x 10^5 for AND + popcount on packed columns and 1 x 10^5 for 8-row Four-Russians tables
(numpy's fancy indexing is the bottleneck there).

Field: GF(2^128) = GF(2)[X] / (X^128 + X^7 + X^2 + X + 1), elements as Python ints.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from threadpoolctl import ThreadpoolController

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


def row_int(row: np.ndarray) -> int:
    """A 16-byte row (bit i = bit i%8 of byte i//8) as the polynomial sum row[i] X^i."""
    return int.from_bytes(np.ascontiguousarray(row, dtype=np.uint8).tobytes(), "little")


_DIGITS = np.array([1.0, 2.0**12, 2.0**24, 2.0**36])


def weighted_sum(chi_cols: np.ndarray, rows: np.ndarray, chunk: int = 2048) -> int:
    """sum_j chi_j * rows_j in GF(2^128).

    ``chi_cols`` is (128, n/8) uint8: column b packed LSB-first (bit j of the column is bit b
    of chi_j); ``rows`` is (n, 16) uint8. n must be a multiple of 8.
    """
    n = rows.shape[0]
    if n % 8 or chi_cols.shape != (128, n // 8) or chunk >= 4096:
        raise ValueError("chi columns and rows do not match")
    counts = np.zeros((128, 32), dtype=np.int64)
    # Small products: BLAS threads only fight each other (and other parties) for the cores.
    with _blas().limit(limits=1, user_api="blas"):
        _accumulate(chi_cols, rows, chunk, counts)
    parity = np.stack([(counts >> (12 * d)) & 1 for d in range(4)], axis=2).reshape(128, 128)
    degree = (np.arange(128)[:, None] + np.arange(128)[None, :]).reshape(-1)
    coeffs = np.bincount(degree, weights=parity.reshape(-1), minlength=255).astype(np.int64) & 1
    bits = np.packbits(coeffs.astype(np.uint8), bitorder="little").tobytes()
    return reduce(int.from_bytes(bits, "little"))


@lru_cache(maxsize=1)
def _blas() -> ThreadpoolController:
    return ThreadpoolController()


def _accumulate(chi_cols: np.ndarray, rows: np.ndarray, chunk: int, counts: np.ndarray) -> None:
    """XOR into ``counts`` the packed digit counts of every block of ``chunk`` rows."""
    for s in range(0, rows.shape[0], chunk):
        a = np.unpackbits(chi_cols[:, s // 8 : (s + chunk) // 8], axis=1, bitorder="little")
        b = np.unpackbits(rows[s : s + chunk], axis=1, bitorder="little")
        # Four row columns per float64 column, as base-2^12 digits: each digit counts at most
        # ``chunk`` < 2^12 products, so digits never carry and the sums stay below 2^48.
        packed = b.reshape(-1, 32, 4).astype(np.float64) @ _DIGITS
        counts ^= (a.astype(np.float64) @ packed).astype(np.int64)


def bit_sum(chi_cols: np.ndarray, bits: np.ndarray) -> int:
    """sum_j chi_j * x_j for bits x (packed LSB-first, n/8 bytes): XOR of the chosen chi_j."""
    sel = np.bitwise_count(chi_cols & bits[None, :]).sum(axis=1)
    return sum(1 << b for b in range(128) if sel[b] & 1)
