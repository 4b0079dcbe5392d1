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
    """pi applied to every 16-byte row of a (n, 16) uint8 array."""
    enc = _ECB.encryptor()
    out = enc.update(np.ascontiguousarray(blocks, dtype=np.uint8).tobytes())
    return np.frombuffer(out, dtype=np.uint8).reshape(-1, 16)


def tweaked_hash(rows: np.ndarray, tweaks: np.ndarray, blocks_out: int) -> np.ndarray:
    """TMMO hash of each row to ``blocks_out`` 16-byte blocks: (n, 16) -> (n, 16*blocks_out).

    ``tweaks`` is (n,) uint64, unique per row within one key's lifetime; block j of row r uses
    the tweak (tweaks[r], j) in the low and high 8 bytes.
    """
    n = rows.shape[0]
    p = permute(rows)  # (n, 16)
    tw = np.zeros((n, blocks_out, 16), dtype=np.uint8)
    tw[:, :, :8] = tweaks.astype("<u8").view(np.uint8).reshape(n, 1, 8)
    tw[:, :, 8:] = np.arange(blocks_out, dtype="<u8").view(np.uint8).reshape(1, blocks_out, 8)
    x = tw ^ p[:, None, :]
    y = permute(x.reshape(-1, 16)).reshape(n, blocks_out, 16) ^ p[:, None, :]
    return y.reshape(n, 16 * blocks_out)


class Prg:
    """AES-128-CTR keyed by a 16-byte seed; ``read(n)`` continues the stream."""

    __slots__ = ("_enc",)

    def __init__(self, seed: bytes) -> None:
        if len(seed) != 16:
            raise ValueError("a PRG seed is 16 bytes")
        self._enc = Cipher(algorithms.AES(seed), modes.CTR(bytes(16))).encryptor()

    def read(self, n: int) -> bytes:
        return self._enc.update(bytes(n))
