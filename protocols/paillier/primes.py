"""Random primes and safe primes for Paillier moduli.

Threshold decryption needs N = p*q with *safe* primes (p = 2p' + 1, p' prime): the proofs of
correct decryption work in the group of squares modulo N**2, whose order N*p'*q' then has no
small prime factors, so a cheating party cannot hide a small-order error term in its share.

A safe prime of 1024 bits is found by sieving a window of candidates q' (and 2q'+1 at the same
time) against all primes below ``SIEVE_BOUND`` with numpy, and testing only the survivors:
cheap base-2 Fermat tests first, then gmpy2's Miller-Rabin. Randomness comes from ``secrets``.
"""

from __future__ import annotations

import secrets
from functools import lru_cache

import gmpy2
import numpy as np

SIEVE_BOUND = 1 << 18
_WINDOW = 1 << 16
_MILLER_RABIN_ROUNDS = 40


@lru_cache(maxsize=1)
def _small_primes() -> np.ndarray:
    """Odd primes below SIEVE_BOUND (Eratosthenes)."""
    flags = np.ones(SIEVE_BOUND, dtype=bool)
    flags[:2] = False
    flags[4::2] = False
    for p in range(3, int(SIEVE_BOUND**0.5) + 1, 2):
        if flags[p]:
            flags[p * p :: 2 * p] = False
    primes = np.nonzero(flags)[0]
    return primes[primes > 2].astype(np.int64)


def _random_odd(bits: int) -> int:
    """A uniformly random odd integer with exactly ``bits`` bits and its two top bits set.

    Setting the two top bits makes the product of two such numbers exactly ``2*bits`` long.
    """
    return secrets.randbits(bits) | (3 << (bits - 2)) | 1


def is_probable_prime(n: int) -> bool:
    return bool(gmpy2.is_prime(n, _MILLER_RABIN_ROUNDS))


def random_prime(bits: int) -> int:
    """A random prime of exactly ``bits`` bits (top two bits set)."""
    if bits < 16:
        raise ValueError("prime too small")
    primes = _small_primes()
    while True:
        start = _random_odd(bits)
        # candidates start + 2k, k in [0, WINDOW)
        alive = np.ones(_WINDOW, dtype=bool)
        residues = np.array([start % int(p) for p in primes], dtype=np.int64)
        for p, r in zip(primes.tolist(), residues.tolist(), strict=True):
            if p >= start:
                continue
            # start + 2k = 0 mod p  <=>  k = -r * inv2 mod p
            k0 = (-r * ((p + 1) // 2)) % p
            alive[k0::p] = False
        for k in np.nonzero(alive)[0].tolist():
            candidate = start + 2 * k
            if candidate.bit_length() != bits:
                break
            if gmpy2.powmod(2, candidate - 1, candidate) == 1 and is_probable_prime(candidate):
                return candidate


def random_safe_prime(bits: int) -> int:
    """A random safe prime p = 2p' + 1 of exactly ``bits`` bits, with p' prime too."""
    if bits < 16:
        raise ValueError("prime too small")
    primes = _small_primes()
    plist = primes.tolist()
    while True:
        # p' = start + 2k is odd; p = 2p' + 1.
        start = _random_odd(bits - 1) | (1 << (bits - 2))
        alive = np.ones(_WINDOW, dtype=bool)
        residues = [start % p for p in plist]
        for p, r in zip(plist, residues, strict=True):
            if 2 * p + 1 >= start:
                continue
            inv2 = (p + 1) // 2
            # p' = 0 mod p
            alive[((-r) * inv2) % p :: p] = False
            # 2p' + 1 = 0 mod p  <=>  p' = -1/2  <=>  start + 2k = -inv2
            alive[((-inv2 - r) * inv2) % p :: p] = False
        for k in np.nonzero(alive)[0].tolist():
            q = start + 2 * k
            p = 2 * q + 1
            if p.bit_length() != bits:
                break
            if gmpy2.powmod(2, q - 1, q) != 1 or gmpy2.powmod(2, p - 1, p) != 1:
                continue
            if is_probable_prime(q) and is_probable_prime(p):
                return p
