"""AES from the ``cryptography`` package: a fixed-key tweakable hash and a counter-mode PRG.

*Hash.* KOS OT extension needs a correlation-robust hash of 128-bit rows, and MASCOT needs it
to produce field elements. We use the tweakable MMO construction of Guo, Katz, Wang, Yu
("Efficient and secure multiparty computation from fixed-key block ciphers", IEEE S&P 2020,
TMMO): ``H(i, x) = pi(pi(x) xor i) xor pi(x)`` with pi fixed-key AES-128, which they prove
tweakable circular correlation robust in the ideal-permutation model. The tweak ``i`` holds
the row index and a block counter, so one row can be hashed to several blocks; one call to pi
on every row and one per output block, all in two ECB passes over numpy buffers.

*PRG.* AES-128 in counter mode keyed by the seed (one cipher object per seed, reused across
batches with a running counter block), as in the KOS paper's instantiation.
"""

from __future__ import annotations

import numpy as np
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

#: The fixed public key of pi (any constant works; this one is the SHA-256 prefix of a label).
FIXED_KEY = bytes.fromhex("5a1f0d3c7e2b9a48c6e1f3a70b9d2e54")
_ECB = Cipher(algorithms.AES(FIXED_KEY), modes.ECB())


def permute(blocks: np.ndarray) -> np.ndarray:
    """pi applied to every 16-byte row of a (n, 16) uint8 array (or (n, 2) uint64).

    ``update_into`` a numpy buffer: ``update`` on megabytes allocates and copies its output
    twice and ran at a sixth of the speed here.
    """
    data = _buffer(np.ascontiguousarray(blocks))
    out = np.empty(len(data) + 16, dtype=np.uint8)
    _ECB.encryptor().update_into(data, _buffer(out))
    return out[: len(data)].reshape(-1, 16)


def tweaked_hash(rows: np.ndarray, tweaks: np.ndarray, blocks_out: int) -> np.ndarray:
    """TMMO hash of each row to ``blocks_out`` 16-byte blocks: (n, 16) -> (n, 16*blocks_out).

    ``tweaks`` is (n,) uint64, unique per row within one key's lifetime; block j of row r uses
    the tweak (tweaks[r], j) in the low and high 8 bytes. The XORs run on uint64 halves.
    """
    n = rows.shape[0]
    p = permute(rows).view("<u8")  # (n, 2)
    x = np.empty((n, blocks_out, 2), dtype="<u8")
    x[:, :, 0] = (tweaks.astype("<u8") ^ p[:, 0])[:, None]
    x[:, :, 1] = np.arange(blocks_out, dtype="<u8")[None, :] ^ p[:, 1:2]
    y = permute(x.view(np.uint8).reshape(-1, 16)).view("<u8").reshape(n, blocks_out, 2)
    return (y ^ p[:, None, :]).view(np.uint8).reshape(n, 16 * blocks_out)


class Prg:
    """AES-128-CTR keyed by a 16-byte seed; ``read(n)`` continues the stream."""

    __slots__ = ("_enc",)

    def __init__(self, seed: bytes) -> None:
        if len(seed) != 16:
            raise ValueError("a PRG seed is 16 bytes")
        self._enc = Cipher(algorithms.AES(seed), modes.CTR(bytes(16))).encryptor()

    def read(self, n: int) -> bytes:
        return self._enc.update(bytes(n))


def streams(prgs: list[Prg], n: int) -> np.ndarray:
    """(len(prgs), n) uint8: the next n bytes of every PRG, written in place."""
    flat = np.empty(len(prgs) * n + 16, dtype=np.uint8)
    view, zeros = _buffer(flat), _zeros(n)  # made once: hundreds of PRGs per call
    for i, prg in enumerate(prgs):
        prg._enc.update_into(zeros, view[i * n : (i + 1) * n + 15])
    return flat[: len(prgs) * n].reshape(len(prgs), n)


def _buffer(array: np.ndarray) -> memoryview:
    """A contiguous array's bytes as a (writable, if the array is) flat memoryview."""
    return memoryview(array).cast("B")  # type: ignore[arg-type]


_ZEROS = memoryview(bytes(1 << 16))


def _zeros(n: int) -> memoryview:
    global _ZEROS
    if len(_ZEROS) < n:
        _ZEROS = memoryview(bytes(n))
    return _ZEROS[:n]
