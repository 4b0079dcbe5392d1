"""Proof that a Paillier ciphertext encrypts 0 or 1 (for the offline phase's random bits).

An OR of two proofs of knowledge of an N-th root (Cramer, Damgård, Schoenmakers, CRYPTO 1994,
applied to Paillier as in Damgård–Jurik 2001 and Baudron et al. 2001): c encrypts v in {0, 1}
iff u_v = c * (1+N)^-v is an N-th power. For the true branch b the prover commits A_b = s^N and
answers z_b = s * r^(e_b); for the other branch it picks e' and z' and sets
A' = z'^N * u'^-e'. The Fiat–Shamir challenge E (128 bits, over context, key, c, A_0, A_1)
fixes e_0 + e_1 = E (mod 2^128). The verifier checks, for v = 0, 1,

    (1+N)^(v e_v) * z_v^N = A_v * c^(e_v)   (mod N^2).

Two accepting answers to different E differ in some e_v and yield an N-th root of u_v (the
challenge difference is below both prime factors of N, hence invertible), so c encrypts v:
soundness error 2^-128 per random-oracle query. Honest-verifier zero knowledge: the simulated
branch is distributed like a real one. First messages use the short-exponent (DJN)
randomness when an ``Encryptor`` is given, as the project's other proofs do.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from gmpy2 import mpz

from coopetition.protocols.paillier.encryptor import Encryptor
from coopetition.protocols.paillier.keys import PublicKey
from coopetition.protocols.zk import group
from coopetition.protocols.zk.group import Equation
from coopetition.protocols.zk.transcript import ProofContext

KIND = "bit"
E_BITS = group.CHALLENGE_BITS
_E_MOD = 1 << E_BITS


@dataclass(frozen=True, slots=True)
class BitProof:
    a0: int
    a1: int
    e0: int
    z0: int
    z1: int


def _challenge(pk: PublicKey, c: int, a0: int, a1: int, ctx: ProofContext) -> int:
    t = group.start_transcript(KIND, pk, ctx)
    t.absorb(c, a0, a1)
    return t.challenge_int(E_BITS)


def prove(
    pk: PublicKey, c: int, bit: int, r: int, ctx: ProofContext, encryptor: Encryptor | None = None
) -> BitProof:
    """Prove c = Enc(bit; r) with bit in {0, 1}."""
    if bit not in (0, 1):
        raise ValueError("a bit proof needs a bit")
    group.check_key(pk)
    n, n2 = pk.n, pk.n_square
    # Real branch: A_b = s^N.
    a_real, s = group.encrypt_fresh(pk, 0, encryptor)
    # Simulated branch 1-b: A' = z'^N * (c (1+N)^-(1-b))^-e'.
    other = 1 - bit
    e_fake = secrets.randbits(E_BITS)
    z_fake_n, z_fake = group.encrypt_fresh(pk, 0, encryptor)
    u = c * group.g_power(pk, -other) % n2
    a_fake = int(z_fake_n * pow(int(group.powmod(u, e_fake, n2)), -1, n2) % n2)
    a0, a1 = (a_real, a_fake) if bit == 0 else (a_fake, a_real)
    e_total = _challenge(pk, c, a0, a1, ctx)
    e_real = (e_total - e_fake) % _E_MOD
    z_real = int(s * group.powmod(r, e_real, n) % n)
    if bit == 0:
        return BitProof(a0, a1, e_real, z_real, int(z_fake))
    return BitProof(a0, a1, e_fake, int(z_fake), z_real)


def equations(
    pk: PublicKey, c: object, proof: object, ctx: ProofContext, index: object = None
) -> list[Equation]:
    """Validate a received proof (naming the bad value) and return its two equations."""
    blame = group.blame_for(KIND, ctx)
    if not isinstance(proof, BitProof):
        raise blame.reject("proof is not a BitProof", index)
    c_ = group.element(pk, c, "ciphertext", blame)
    a0 = group.element(pk, proof.a0, "commitment A0", blame)
    a1 = group.element(pk, proof.a1, "commitment A1", blame)
    e0 = group.residue(proof.e0, _E_MOD, "challenge e0", blame)
    z0 = group.root(pk, proof.z0, "response z0", blame)
    z1 = group.root(pk, proof.z1, "response z1", blame)
    e1 = mpz((_challenge(pk, int(c_), int(a0), int(a1), ctx) - int(e0)) % _E_MOD)
    return [
        Equation("z0^N = A0 c^e0", root=z0, right=[(a0, 1), (c_, e0)], blame=blame, index=index),
        Equation(
            "(1+N)^e1 z1^N = A1 c^e1",
            g=e1,
            root=z1,
            right=[(a1, 1), (c_, e1)],
            blame=blame,
            index=index,
        ),
    ]


def verify_batch(pk: PublicKey, items: Sequence[tuple[int, BitProof, ProofContext]]) -> None:
    """Raise ``ProofRejected`` (naming the prover) unless every ciphertext encrypts 0 or 1."""
    eqs: list[Equation] = []
    for i, (c, proof, ctx) in enumerate(items):
        eqs += equations(pk, c, proof, ctx, i)
    group.require(pk, eqs)
