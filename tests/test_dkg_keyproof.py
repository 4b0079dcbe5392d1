"""The OLE keys' proof of gcd(N, phi(N)) = 1 (``dkg.keyproof``), against textbook number theory.

A value rho is an N-th power modulo a prime Q iff rho^((Q-1)/g) = 1 (mod Q) with g = gcd(N, Q-1)
(Euler's criterion for g-th powers in the cyclic group Z_Q^*): the tests use it as the
independent reference for "no proof can exist".
"""

from __future__ import annotations

import random

import gmpy2
import pytest

from coopetition.protocols.paillier.dkg import keyproof
from coopetition.protocols.paillier.keys import PrivateKey, PublicKey


def _prime(bits: int, rng: random.Random) -> int:
    return int(gmpy2.next_prime(rng.getrandbits(bits) | 1 << (bits - 1)))


def _honest_key(bits: int, rng: random.Random) -> PrivateKey:
    while True:
        p, q = _prime(bits // 2, rng), _prime(bits // 2, rng)
        if p != q and gmpy2.gcd(p * q, (p - 1) * (q - 1)) == 1:
            return PrivateKey(PublicKey(p * q), p, q)


def _trapdoor(factor_bits: int, count: int, rng: random.Random) -> tuple[int, int, int]:
    """(N, F, Q): F a product of ``count`` primes of ``factor_bits`` bits, Q prime, F | Q - 1."""
    f = 1
    for _ in range(count):
        f *= _prime(factor_bits, rng)
    while True:
        q = 2 * f * rng.getrandbits(600) + 1
        if gmpy2.is_prime(q, 40):
            return f * q, f, q


@pytest.mark.parametrize("bits", [1024, 2140])
def test_an_honest_key_proves_and_the_proof_is_bound_to_its_context(bits):
    key = _honest_key(bits, random.Random(bits))
    proof = keyproof.prove(key, b"session|0|0")
    assert len(proof) == keyproof.ROUNDS
    assert keyproof.verify(key.public.n, proof, b"session|0|0")
    assert not keyproof.verify(key.public.n, proof, b"session|1|0")  # another owner
    other = _honest_key(bits, random.Random(bits + 1))
    assert not keyproof.verify(other.public.n, proof, b"session|0|0")


def test_malformed_proofs_are_refused_not_raised():
    key = _honest_key(1024, random.Random(3))
    n = key.public.n
    good = keyproof.prove(key, b"c")
    for bad in (None, "x", good[:-1], [*good, 1], [True] * keyproof.ROUNDS, [0] * 8, [n] * 8):
        assert not keyproof.verify(n, bad, b"c")
    tampered = list(good)
    tampered[3] = tampered[3] * 2 % n
    assert not keyproof.verify(n, tampered, b"c")


@pytest.mark.parametrize("small", [3, 65521])
def test_a_modulus_with_a_prime_factor_below_alpha_is_refused(small):
    rng = random.Random(small)
    q = _prime(1000, rng)
    assert not keyproof.verify(small * q, [1] * keyproof.ROUNDS, b"c")


def test_a_modulus_sharing_a_large_prime_with_phi_has_a_challenge_without_an_nth_root():
    """F's primes pass trial division (20 bits > 2^16); the challenges are outside the N-th
    powers mod Q (Euler's criterion), so no proof exists, and the owner's best try fails."""
    rng = random.Random(20)
    n, f, q = _trapdoor(20, 3, rng)
    assert gmpy2.gcd(n, keyproof._primorial()) == 1
    g = int(gmpy2.gcd(n, q - 1))
    assert g % f == 0
    rhos = keyproof.challenges(n, b"c")
    powers = [gmpy2.powmod(rho, (q - 1) // g, q) == 1 for rho in rhos]
    assert not any(powers)  # each is a power with probability 1/g < 2^-60
    attempt = [int(gmpy2.powmod(rho, gmpy2.invert(n // g, q - 1), n)) for rho in rhos]
    assert not keyproof.verify(n, attempt, b"c")
