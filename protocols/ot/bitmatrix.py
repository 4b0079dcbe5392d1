"""Bit-matrix transpose on 8x8 blocks held in ``uint64`` words.

OT extension keeps a 128 x n bit matrix (128 columns produced by the PRG) and needs its n rows
of 128 bits. ``numpy.unpackbits`` + transpose + ``packbits`` moves eight bytes per bit; here
every 8x8 bit block is one ``uint64`` and is transposed in place with the three masked
swaps of Hacker's Delight (section 7-3), then the blocks are permuted with numpy reshapes.

Bit order: byte ``b`` of a packed row holds bits 8b..8b+7, least significant bit first
(``np.packbits(..., bitorder="little")``).
"""

from __future__ import annotations

import numpy as np

_M1 = np.uint64(0x00AA00AA00AA00AA)
_M2 = np.uint64(0x0000CCCC0000CCCC)
_M3 = np.uint64(0x00000000F0F0F0F0)
_S7, _S14, _S28 = np.uint64(7), np.uint64(14), np.uint64(28)


def _transpose8(x: np.ndarray) -> np.ndarray:
    """Transpose every 8x8 bit block (byte k = row k, bit j = column j) in a uint64 array."""
    t = (x ^ (x >> _S7)) & _M1
    x = x ^ t ^ (t << _S7)
    t = (x ^ (x >> _S14)) & _M2
    x = x ^ t ^ (t << _S14)
    t = (x ^ (x >> _S28)) & _M3
    return x ^ t ^ (t << _S28)


def transpose(bits: np.ndarray) -> np.ndarray:
    """(r, c/8) uint8 packed rows -> (c, r/8) uint8 packed rows; r and c multiples of 8."""
    r, cb = bits.shape
    if r % 8:
        raise ValueError("row count must be a multiple of 8")
    # blocks[i, j, k] = byte j of row 8i+k  ->  one uint64 per (i, j) with byte k = row 8i+k.
    blocks = np.ascontiguousarray(bits.reshape(r // 8, 8, cb).transpose(0, 2, 1))
    words = _transpose8(blocks.view("<u8").reshape(r // 8, cb))
    # Now byte k of word (i, j) holds column 8j+k, bits = rows 8i..8i+7.
    out = words.view(np.uint8).reshape(r // 8, cb, 8)
    return np.ascontiguousarray(out.transpose(1, 2, 0)).reshape(cb * 8, r // 8)
