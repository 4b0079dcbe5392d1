"""The KOS check's linear hash of 128-bit rows: block-wise polynomial hashing through GHASH.

KOS needs, for a challenge drawn after the receiver's message u, a GF(2)-linear map
G(t_1..t_n) = sum_j chi_j * t_j into GF(2^128) with the property that a fixed non-zero error
pattern survives except with a small probability epsilon (an epsilon-almost-universal linear
hash). Uniform independent chi_j give epsilon = 2^-128 but cost a 128 x 128 GF(2) product per
row (about 80 ms for 10^5 rows in numpy, a third of all MASCOT work). Here chi_j are powers of
one key per block of ``BLOCK_ROWS`` rows: in a block of a rows with key H_b,
chi_j = H_b^(a + 2 - i) for its i-th row (i = 1..a), so the hash is a polynomial of degree at
most a + 1 in H_b and epsilon <= (BLOCK_ROWS + 1) / 2^128 = 4097 * 2^-128, just above 2^-116
(< 2^-115.99; Schwartz-Zippel in the block that holds a non-zero error; the other blocks' keys
are independent). Roy's
SoftSpokenOT (CRYPTO 2022, Section 4) states its KOS-style check for any such hash, and its
libOTe implementation hashes with a GF(2^64) polynomial hash in the same way; docs/crypto.md
("MASCOT", KOS check) gives the resulting bound.

Speed: GHASH is exactly this polynomial evaluation, and AES-GCM from the ``cryptography``
package computes it with carry-less multiply instructions at GB/s. With key K_b, an empty
plaintext and the rows as associated data, the tag is E_K(J0) + sum_i A_i H^(a+2-i) + L H
with H = E_K(0); the tag of an all-zero buffer of the same length cancels the two constant
terms, leaving the linear hash. Keys K_b come from AES-CTR on the 16-byte challenge seed.

Representation: GHASH's field is GF(2)[X] / (X^128 + X^7 + X^2 + X + 1) with bit order
reflected (the most significant bit of byte 0 is X^0); :func:`to_poly` and :func:`from_poly`
convert to :mod:`.gf128`'s order (bit i of a little-endian int is X^i) for the one product
the check needs. Blocks are cut from the end, so the last (KOS padding) rows share one key.
"""

from __future__ import annotations

import numpy as np
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from . import aes, gf128

#: Rows per hash key; epsilon = (BLOCK_ROWS + 1) / 2^128.
BLOCK_ROWS = 4096
_NONCE = bytes(12)
_REV = bytes(int(f"{b:08b}"[::-1], 2) for b in range(256))
#: GHASH's field element 1 as a 16-byte block.
ONE = bytes([0x80]) + bytes(15)


def to_poly(block: bytes) -> int:
    """A GHASH block as a polynomial int (bit i = coefficient of X^i)."""
    return int.from_bytes(block.translate(_REV), "little")


def from_poly(value: int) -> bytes:
    return value.to_bytes(16, "little").translate(_REV)


def mul(a: bytes, b: bytes) -> bytes:
    """Product of two GHASH blocks in GF(2^128)."""
    return from_poly(gf128.mul(to_poly(a), to_poly(b)))


def xor(a: bytes, b: bytes) -> bytes:
    return (int.from_bytes(a, "little") ^ int.from_bytes(b, "little")).to_bytes(16, "little")


class RowHash:
    """The linear hash G for n rows under the keys derived from a 16-byte challenge seed."""

    def __init__(self, seed: bytes, n: int) -> None:
        if len(seed) != 16 or n < 1:
            raise ValueError("a row hash needs a 16-byte seed and at least one row")
        self.n = n
        first = n % BLOCK_ROWS or BLOCK_ROWS
        self._bounds = [(0, first)] + [(s, s + BLOCK_ROWS) for s in range(first, n, BLOCK_ROWS)]
        keys = aes.Prg(seed).read(16 * len(self._bounds))
        self._gcm = [AESGCM(keys[16 * b : 16 * b + 16]) for b in range(len(self._bounds))]
        zeros = bytes(16 * BLOCK_ROWS)
        self._offset = 0
        for (s, e), gcm in zip(self._bounds, self._gcm, strict=True):
            self._offset ^= _tag(gcm, zeros[: 16 * (e - s)])

    def __call__(self, rows: np.ndarray) -> bytes:
        """G(rows) for an (n, 16) uint8 array, as a GHASH block."""
        if rows.shape != (self.n, 16):
            raise ValueError("rows do not match the hash's length")
        data = np.ascontiguousarray(rows, dtype=np.uint8).tobytes()
        acc = self._offset
        for (s, e), gcm in zip(self._bounds, self._gcm, strict=True):
            acc ^= _tag(gcm, data[16 * s : 16 * e])
        return acc.to_bytes(16, "big")

    def of_bits(self, packed: np.ndarray) -> bytes:
        """G(x_j * 1) for bits x packed LSB-first (n/8 bytes): the sum of the chosen chi_j."""
        bits = np.unpackbits(packed, bitorder="little")[: self.n]
        rows = np.zeros((self.n, 16), dtype=np.uint8)
        rows[:, 0] = bits << 7
        return self(rows)


def _tag(gcm: AESGCM, data: bytes) -> int:
    return int.from_bytes(gcm.encrypt(_NONCE, b"", data), "big")
