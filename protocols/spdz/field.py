"""Arithmetic modulo the SPDZ prime on vectors.

Vectors are numpy object arrays of Python ints. Measured on the development VM (20 000 random
256-bit elements): elementwise multiply-and-reduce takes the same time as a Python list
comprehension (about 8 ms), gmpy2 ``mpz`` lists are twice as fast for products but numpy
``mpz`` arrays are three times slower for sums. Object arrays of ints win on simplicity (shape
handling, hashing into transcripts, CBOR encoding) at equal speed, so they are the
representation; nothing in this module depends on it beyond ``np.asarray(..., dtype=object)``.

``P = 2**256 - 189`` is the largest prime below 2**256. It is congruent to 3 mod 4, so square
roots are a single exponentiation, which the random-bit generation relies on.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable

import gmpy2
import numpy as np

P: int = 2**256 - 189
P_BITS: int = 256
_SQRT_EXP = (P + 1) // 4


def vec(values: Iterable[int] | np.ndarray | int) -> np.ndarray:
    """Values as a 1-d object array of ints reduced modulo P."""
    arr = np.asarray(values, dtype=object).reshape(-1)
    return np.array([int(v) % P for v in arr], dtype=object)


def zeros(n: int) -> np.ndarray:
    return np.array([0] * n, dtype=object)


def random_vec(n: int) -> np.ndarray:
    """n uniform field elements from the OS CSPRNG."""
    return np.array([secrets.randbelow(P) for _ in range(n)], dtype=object)


def add(a: np.ndarray, b: np.ndarray | int) -> np.ndarray:
    return (a + b) % P


def sub(a: np.ndarray, b: np.ndarray | int) -> np.ndarray:
    return (a - b) % P


def mul(a: np.ndarray, b: np.ndarray | int) -> np.ndarray:
    return (a * b) % P


def neg(a: np.ndarray) -> np.ndarray:
    return (-a) % P


def inv(x: int) -> int:
    """Multiplicative inverse of a non-zero element."""
    if x % P == 0:
        raise ZeroDivisionError("zero has no inverse modulo P")
    return int(gmpy2.invert(x, P))


def inv_vec(a: np.ndarray) -> np.ndarray:
    return np.array([inv(int(v)) for v in a], dtype=object)


def sqrt_vec(a: np.ndarray) -> np.ndarray:
    """A square root of each element (the caller ensures they are squares)."""
    return np.array([int(gmpy2.powmod(int(v), _SQRT_EXP, P)) for v in a], dtype=object)


def to_bytes(a: np.ndarray) -> bytes:
    """Fixed-width (32-byte) big-endian encoding, for commitments and the wire."""
    return b"".join(int(v).to_bytes(32, "big") for v in a)


def from_bytes(data: bytes) -> np.ndarray:
    if len(data) % 32:
        raise ValueError("field vector encoding is not a multiple of 32 bytes")
    out = [int.from_bytes(data[i : i + 32], "big") for i in range(0, len(data), 32)]
    if any(v >= P for v in out):
        raise ValueError("field vector encoding holds a value >= P")
    return np.array(out, dtype=object)


def signed(a: np.ndarray) -> np.ndarray:
    """Centred representatives in (-P/2, P/2] (for decoding opened fixed-point values)."""
    half = P // 2
    return np.array([int(v) - P if int(v) > half else int(v) for v in a], dtype=object)
