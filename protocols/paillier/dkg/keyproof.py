"""A non-interactive proof that an OLE Paillier modulus N has gcd(N, phi(N)) = 1.

Why: the additive multiplier's OLEs run under each party's own Paillier key. If a cheater's N
has gcd(N, phi(N)) != 1, encryption (m, r) -> (1 + N)^m r^N mod N^2 is no longer onto the units
mod N^2: a ciphertext outside its image carries the responder's input through c^a Enc(s), and
with a smooth index the cheater reads a off by discrete logarithms (adversarial review of the
branch, test ``test_dkg_additive_review``). With gcd(N, phi(N)) = 1 the map is a bijection
Z_N x Z_N^* -> Z_{N^2}^* (Paillier 1999, lemma 3), so any unit c is Enc(m; r) for some m, r and
the reply c^a Enc(s; r') = Enc(a m + s; r^a r') with r' uniform: the holder sees a m + s mod N
and nothing else (the out-of-range bounds of docs/crypto.md then apply).

The proof (Goldberg, Reyzin, Sagga, Baldimtsi, "Efficient noninteractive certification of RSA
moduli and beyond", ASIACRYPT 2019, the gcd(N, phi(N)) = 1 protocol): the verifier checks that
N has no prime factor below ``ALPHA`` (trial division) and that the prover gave an N-th root
modulo N of each of ``ROUNDS`` values rho_i derived from N and the context by SHAKE-256 (a
random oracle). If a prime l divides both N and phi(N), then l > ALPHA and the N-th powers form
a subgroup of index at least l in Z_N^*, so each rho_i has an N-th root with probability at
most 1/l < 2^-16; all ROUNDS of them with probability below 2^-(16 ROUNDS) = 2^-128 per
random-oracle query. Zero knowledge: the roots of random-oracle outputs are simulatable by
programming the oracle (rho_i := sigma_i^N for random sigma_i). Assumption: SHAKE-256 as a
random oracle; nothing about N's factorisation.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from functools import lru_cache

import gmpy2

from coopetition.protocols.paillier.keys import PrivateKey

#: trial-division bound: every prime factor of an accepted N exceeds it
ALPHA = 1 << 16
#: N-th roots asked for; soundness error < ALPHA^-ROUNDS = 2^-128
ROUNDS = 8
_DOMAIN = b"coopetition/dkg/ole-key-gcd/v1"


@lru_cache(maxsize=1)
def _primorial() -> gmpy2.mpz:
    """The product of all primes below ALPHA (one gcd does the trial division)."""
    product, p = gmpy2.mpz(1), gmpy2.mpz(2)
    while p < ALPHA:
        product *= p
        p = gmpy2.next_prime(p)
    return product


def challenges(n: int, context: bytes) -> list[int]:
    """The rho_i: SHAKE-256 of the domain, the context and N, reduced modulo N with 128 bits
    of surplus (statistically uniform)."""
    size = (n.bit_length() + 128 + 7) // 8
    n_bytes = n.to_bytes((n.bit_length() + 7) // 8, "big")
    out = []
    for i in range(ROUNDS):
        h = hashlib.shake_256(_DOMAIN)
        for item in (context, n_bytes, i.to_bytes(4, "big")):
            h.update(len(item).to_bytes(4, "big") + item)
        out.append(int.from_bytes(h.digest(size), "big") % n)
    return out


def prove(key: PrivateKey, context: bytes) -> list[int]:
    """The N-th roots modulo N of the challenges (the owner knows phi(N))."""
    n = key.public.n
    phi = (key.p - 1) * (key.q - 1)
    exponent = gmpy2.invert(n, phi)  # exists: an honest key has gcd(N, phi(N)) = 1
    return [int(gmpy2.powmod(rho, exponent, n)) for rho in challenges(n, context)]


def verify(n: int, proof: object, context: bytes) -> bool:
    """True iff N has no prime factor below ALPHA and ``proof`` holds an N-th root of every
    challenge (a malformed proof is simply not accepted)."""
    if n < ALPHA or gmpy2.gcd(n, _primorial()) != 1:
        return False
    if not isinstance(proof, Sequence) or len(proof) != ROUNDS:
        return False
    for rho, sigma in zip(challenges(n, context), proof, strict=True):
        if not isinstance(sigma, int) or isinstance(sigma, bool) or not 0 < sigma < n:
            return False
        if gmpy2.gcd(rho, n) != 1 or gmpy2.powmod(sigma, n, n) != rho:
            return False
    return True
