"""Fast Paillier encryption: Damgård–Jurik–Nielsen short-exponent randomness and a pool.

The cost of Enc(m; r) = (1 + m*N) * r**N mod N**2 is r**N: an |N|-bit exponent modulo N**2.
Damgård, Jurik and Nielsen (2010, the "faster encryption" variant) fix h in the subgroup of
Z_N^* of Jacobi symbol 1, publish h_s = h**N mod N**2, and use r**N = h_s**alpha for a short
random alpha of ``ceil(|N|/2)`` bits. Since h_s**alpha = (h**alpha mod N)**N mod N**2, the result
is an ordinary Paillier ciphertext with randomness r = h**alpha mod N; decryption and all
proofs about Enc(m; r) are unchanged. Security: semantic security holds under DCR together
with the assumption that h**alpha for short alpha is indistinguishable from a random element
of <h> (the generic attacks on a short exponent cost 2**(|alpha|/2) = 2**512 at |N| = 2048,
far above the ~2**112 of factoring N). ``docs/crypto.md`` has the argument.

h is derived from N by hashing (nothing up the sleeve): h = -x**2 mod N with x = SHAKE-256 of
the key, so every party computes the same tables without talking.

h_s is a fixed base, so h_s**alpha comes from a precomputed table: with windows of w bits,
T[j][d] = h_s**(d * 2**(w*j)), and h_s**alpha = prod_j T[j][alpha_j] over the base-2**w digits
of alpha: |alpha|/w multiplications (128 for a 1024-bit alpha and w = 8) instead of the ~1230 of
square-and-multiply. The table has (2**w) * |alpha|/w entries (16 MiB at |N| = 2048, w = 8) and
is built once per key and process.

``RandomnessPool`` computes the values h_s**alpha ahead of time, optionally in worker
processes (the table walk is Python-level arithmetic that holds the GIL, so threads would not
help), after which an encryption costs one multiplication modulo N**2.
"""

from __future__ import annotations

import functools
import hashlib
import multiprocessing
import os
import secrets
from collections import deque
from collections.abc import Iterable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from functools import lru_cache
from typing import Any

import gmpy2
import numpy as np

from . import opcount, parallel
from .keys import PublicKey

DEFAULT_WINDOW_BITS = 8
#: Below twice the security level a short exponent falls to baby-step giant-step.
MIN_EXPONENT_BITS = 256


def short_exponent_bits(pk: PublicKey) -> int:
    """DJN's exponent length: ceil(|N| / 2)."""
    return (pk.bits + 1) // 2


def djn_generator(pk: PublicKey) -> int:
    """h = -x**2 mod N with x derived from N by SHAKE-256; a unit of Jacobi symbol 1."""
    n = pk.n
    counter = 0
    while True:
        seed = (
            b"coopetition/paillier/djn-h/v1"
            + counter.to_bytes(4, "big")
            + n.to_bytes(pk.byte_length, "big")
        )
        x = int.from_bytes(hashlib.shake_256(seed).digest(pk.byte_length + 16), "big") % n
        if x > 1 and gmpy2.gcd(x, n) == 1:
            return (-x * x) % n
        counter += 1


class FixedBaseTable:
    """Windowed fixed-base exponentiation: base**e for e < 2**exponent_bits in e_bits/w products."""

    def __init__(
        self, base: int, modulus: int, exponent_bits: int, window_bits: int = DEFAULT_WINDOW_BITS
    ) -> None:
        if not 1 <= window_bits <= 16:
            raise ValueError("window_bits must be in 1..16")
        self.modulus = gmpy2.mpz(modulus)
        self.exponent_bits = exponent_bits
        self.window_bits = window_bits
        self.windows = -(-exponent_bits // window_bits)
        m = self.modulus
        rows: list[list[gmpy2.mpz]] = []
        step = gmpy2.mpz(base) % m  # base**(2**(w*j))
        for _ in range(self.windows):
            row = [gmpy2.mpz(1), step]
            for _ in range(2, 1 << window_bits):
                row.append(row[-1] * step % m)
            rows.append(row)
            step = row[-1] * step % m
        self._rows = rows

    def pow(self, e: int) -> gmpy2.mpz:
        if not 0 <= e < (1 << (self.windows * self.window_bits)):
            raise ValueError("exponent outside the table's range")
        m = self.modulus
        acc = gmpy2.mpz(1)
        if self.window_bits == 8:
            digits: Iterable[int] = e.to_bytes(self.windows, "little")
        else:
            w, mask = self.window_bits, (1 << self.window_bits) - 1
            digits = ((e >> (w * j)) & mask for j in range(self.windows))
        for row, d in zip(self._rows, digits, strict=False):
            if d:
                acc = acc * row[d] % m
        return acc


@lru_cache(maxsize=8)
def _tables(pk: PublicKey, exponent_bits: int, window_bits: int, modulus_n: bool) -> FixedBaseTable:
    h = djn_generator(pk)
    if modulus_n:
        return FixedBaseTable(h, pk.n, exponent_bits, window_bits)
    h_s = gmpy2.powmod(h, pk.n_mpz, pk.n2_mpz)
    return FixedBaseTable(h_s, pk.n_square, exponent_bits, window_bits)


class Encryptor:
    """Encryption under ``pk`` with DJN randomness from a fixed-base table (and a pool if given).

    Ciphertexts are ordinary Paillier ciphertexts; ``encrypt_with_randomness`` also returns the
    r in Z_N^* with c == pk.raw_encrypt(m, r), which proofs of plaintext knowledge need.
    """

    def __init__(
        self,
        pk: PublicKey,
        *,
        window_bits: int = DEFAULT_WINDOW_BITS,
        exponent_bits: int | None = None,
        pool: RandomnessPool | None = None,
    ) -> None:
        self.pk = pk
        self.exponent_bits = exponent_bits or short_exponent_bits(pk)
        if self.exponent_bits < MIN_EXPONENT_BITS and pk.bits >= 2048:
            raise ValueError(f"short exponent below {MIN_EXPONENT_BITS} bits is insecure")
        self.window_bits = window_bits
        self.pool = pool

    @property
    def table(self) -> FixedBaseTable:
        return _tables(self.pk, self.exponent_bits, self.window_bits, False)

    def warm_up(self) -> Encryptor:
        """Build the table now rather than on first use (0.15 s at 2048 bits)."""
        _ = self.table
        return self

    def random_rn(self) -> gmpy2.mpz:
        """A fresh r**N mod N**2 = h_s**alpha."""
        opcount.tally("fixed_base")
        return self.table.pow(secrets.randbits(self.exponent_bits))

    def _rn(self) -> gmpy2.mpz:
        if self.pool is not None:
            value = self.pool.take()
            if value is not None:
                return value
        return self.random_rn()

    def encrypt(self, m: int) -> int:
        """Enc(m) for a signed plaintext in (-N/2, N/2) (checked by ``PublicKey.encode``)."""
        return self.pk.encrypt_with_rn(self.pk.encode(m), self._rn())

    def encrypt_vector(self, ms: Sequence[int] | Any) -> list[int]:
        """Signed plaintexts, each checked before any randomness is spent."""
        values = ms.tolist() if hasattr(ms, "tolist") else list(ms)
        encoded = [self.pk.encode(m) for m in values]
        return [self.pk.encrypt_with_rn(m, self._rn()) for m in encoded]

    def encrypt_array(self, ms: Any) -> np.ndarray:
        """Encrypt an array of any shape; returns a numpy object array of the same shape."""
        arr = np.asarray(ms, dtype=object)
        out = np.empty(arr.size, dtype=object)
        out[:] = self.encrypt_vector(arr.ravel().tolist())
        return out.reshape(arr.shape)

    def encrypt_with_randomness(self, m: int) -> tuple[int, int]:
        """(c, r) with c = Enc(m; r) and r = h**alpha mod N (never drawn from the pool).

        A raw-layer call like ``PublicKey.raw_encrypt`` (proofs use it with residues): ``m`` is
        a residue in [0, N) or a signed plaintext in (-N/2, N/2).
        """
        m = self.pk.residue(m)
        alpha = secrets.randbits(self.exponent_bits)
        opcount.tally("fixed_base", 2)
        r = int(_tables(self.pk, self.exponent_bits, self.window_bits, True).pow(alpha))
        return self.pk.encrypt_with_rn(m, self.table.pow(alpha)), r


# -- the pool -------------------------------------------------------------------------------

_WORKER: dict[str, Encryptor] = {}


def _worker_init(n: int, exponent_bits: int, window_bits: int) -> None:
    _WORKER["enc"] = Encryptor(
        PublicKey(n), exponent_bits=exponent_bits, window_bits=window_bits
    ).warm_up()


def _worker_batch(count: int) -> list[int]:
    enc = _WORKER["enc"]
    return [int(enc.random_rn()) for _ in range(count)]


class RandomnessPool:
    """Values r**N mod N**2 computed ahead of time; each is handed out once, then forgotten.

    ``fill(count, processes=k)`` runs the table walk in k worker processes (each builds its
    own table once; ``close()`` stops them). With ``processes=1`` it runs in the caller.

    Randomness must never be used twice, so a pool belongs to the process that filled it:
    after ``os.fork()`` the child finds the inherited values discarded (``take`` compares the
    process id recorded at fill time) and must fill its own; and a pool refuses to be pickled,
    since a copy would hand out the same values as the original.
    """

    def __init__(
        self,
        pk: PublicKey,
        *,
        window_bits: int = DEFAULT_WINDOW_BITS,
        exponent_bits: int | None = None,
    ) -> None:
        self.encryptor = Encryptor(pk, window_bits=window_bits, exponent_bits=exponent_bits)
        self._values: deque[gmpy2.mpz] = deque()
        self._executor: ProcessPoolExecutor | None = None
        self._processes = 0
        self._pid = os.getpid()

    def __reduce__(self) -> Any:
        raise TypeError("a RandomnessPool cannot be pickled: the copy would reuse its randomness")

    def _own(self) -> None:
        """Forget everything inherited through ``fork``: values and the parent's workers."""
        if self._pid != os.getpid():
            self._values = deque()
            self._executor = None  # the parent's pool; its workers are not our children
            self._processes = 0
            self._pid = os.getpid()

    def __len__(self) -> int:
        self._own()
        return len(self._values)

    def take(self) -> gmpy2.mpz | None:
        """One precomputed value, or None if the pool is empty (or was filled by another process)."""
        self._own()
        try:
            return self._values.popleft()
        except IndexError:
            return None

    def _pool(self, processes: int) -> ProcessPoolExecutor:
        self._own()
        if self._executor is None or self._processes != processes:
            self.close()
            enc = self.encryptor
            self._executor = ProcessPoolExecutor(
                max_workers=processes,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_worker_init,
                initargs=(enc.pk.n, enc.exponent_bits, enc.window_bits),
            )
            self._processes = processes
        return self._executor

    def fill(self, count: int, *, processes: int | None = 1) -> None:
        """Add ``count`` values and return when they are in; ``processes=None`` uses every core."""
        self._own()
        procs = parallel.cores() if processes is None else processes
        if procs <= 1 or count < 2:
            self._values.extend(self.encryptor.random_rn() for _ in range(count))
            return
        for future in self.fill_in_background(count, processes=procs):
            future.result()

    def fill_in_background(self, count: int, *, processes: int | None = None) -> list[Future]:
        """Start computing ``count`` values in worker processes and return at once.

        Values join the pool as each chunk finishes (``take`` hands out whatever is ready), so
        a party can refill between rounds while it waits for the network. Each returned
        future completes (with its chunk's size) only after that chunk's values are in the
        pool, so ``concurrent.futures.wait`` on them means the values can be taken.
        """
        procs = max(1, parallel.cores() if processes is None else processes)
        pool = self._pool(procs)
        chunk = max(1, min(256, -(-count // procs)))
        done: list[Future] = []
        for start in range(0, count, chunk):
            collected: Future = Future()
            work = pool.submit(_worker_batch, min(chunk, count - start))
            work.add_done_callback(functools.partial(self._collect, collected=collected))
            done.append(collected)
        return done

    def _collect(self, work: Future, collected: Future) -> None:
        """Move a finished chunk into the pool, then complete the future the caller holds."""
        if work.cancelled():
            collected.cancel()
            return
        error = work.exception()
        if error is not None:
            collected.set_exception(error)
            return
        batch = work.result()
        if self._pid != os.getpid():  # a forked copy of this pool; the values are the parent's
            collected.cancel()
            return
        self._values.extend(gmpy2.mpz(v) for v in batch)  # deque.extend is thread-safe
        opcount.tally("fixed_base", len(batch))
        collected.set_result(len(batch))

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None
            self._processes = 0

    def __enter__(self) -> RandomnessPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
