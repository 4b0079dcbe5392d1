"""Proof of plaintext knowledge: "I know m and r with c = Enc(m; r)".

The Σ-protocol of Cramer–Damgård–Nielsen (2001) for g = N+1: commit a = Enc(x; s) for random
x in Z_N, s in Z*_N; on challenge e answer z = x + e*m mod N and w = s * r^e mod N; the verifier
checks (1+N)^z * w^N = a * c^e (mod N^2). No carry term is needed because 1+N has order N and
w^N depends only on w mod N. Two answers to challenges e != e' give m = (z-z')/(e-e') mod N
(invertible since |e-e'| < 2^128 is below both prime factors), so the soundness error is
2^-128; the transcript (z, w, a) is perfectly simulatable, hence honest-verifier zero knowledge.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from gmpy2 import mpz

from coopetition.protocols.paillier.encryptor import Encryptor
from coopetition.protocols.paillier.keys import PublicKey
from coopetition.protocols.zk import group
from coopetition.protocols.zk.group import Blame, Equation
from coopetition.protocols.zk.transcript import ProofContext

KIND = "plaintext"


@dataclass(frozen=True, slots=True)
class PlaintextProof:
    commitment: int
    z: int
    w: int


@dataclass(frozen=True, slots=True)
class Nonce:
    """The prover's secret first-message randomness (never sent)."""

    x: int
    s: int
    commitment: int


def commit(pk: PublicKey, encryptor: Encryptor | None = None) -> Nonce:
    x = group.random_residue(pk)
    a, s = group.encrypt_fresh(pk, x, encryptor)
    return Nonce(x, s, a)


def respond(pk: PublicKey, nonce: Nonce, m: int, r: int, e: int) -> PlaintextProof:
    n = pk.n
    z = (nonce.x + e * (m % n)) % n
    w = nonce.s * group.powmod(r, e, n) % n
    return PlaintextProof(nonce.commitment, int(z), group.canonical(pk, w))


@dataclass(frozen=True, slots=True)
class Parsed:
    """A received proof whose values passed the range and unit checks."""

    c: mpz
    commitment: mpz
    z: mpz
    w: mpz
    blame: Blame
    index: object

    def equation(self, e: int) -> Equation:
        return Equation(
            "(1+N)^z w^N = a c^e",
            g=self.z,
            root=self.w,
            right=[(self.commitment, 1), (self.c, mpz(e))],
            blame=self.blame,
            index=self.index,
        )


def parse(pk: PublicKey, c: object, proof: object, blame: Blame, index: object = None) -> Parsed:
    """Check every received value's type and range, naming the first bad one."""
    if not isinstance(proof, PlaintextProof):
        raise blame.reject("proof is not a PlaintextProof", index)
    return Parsed(
        group.element(pk, c, "ciphertext", blame),
        group.element(pk, proof.commitment, "commitment", blame),
        group.residue(proof.z, pk.n, "response z", blame),
        group.canonical_root(pk, proof.w, "response w", blame),
        blame,
        index,
    )


def challenge(pk: PublicKey, c: int, commitment: int, ctx: ProofContext) -> int:
    return (
        group.start_transcript(KIND, pk, ctx)
        .absorb(c, commitment)
        .challenge_int(group.CHALLENGE_BITS)
    )


def prove(
    pk: PublicKey,
    c: int,
    m: int,
    r: int,
    ctx: ProofContext,
    *,
    encryptor: Encryptor | None = None,
) -> PlaintextProof:
    """Prove knowledge of (m, r) with c = Enc(m; r) (``encryptor``: see group.encrypt_fresh)."""
    group.check_key(pk)
    nonce = commit(pk, encryptor)
    return respond(pk, nonce, m, r, challenge(pk, c, nonce.commitment, ctx))


def _equation_for(
    pk: PublicKey, c: object, proof: object, ctx: ProofContext, index: object
) -> Equation:
    parsed = parse(pk, c, proof, group.blame_for(KIND, ctx), index)
    return parsed.equation(challenge(pk, int(parsed.c), int(parsed.commitment), ctx))


def verify(pk: PublicKey, c: int, proof: PlaintextProof, ctx: ProofContext) -> None:
    """Raise ProofRejected unless ``proof`` shows knowledge of the plaintext of ``c``."""
    group.require(pk, [_equation_for(pk, c, proof, ctx, None)], batch=False)


def verify_batch(pk: PublicKey, items: Sequence[tuple[int, PlaintextProof, ProofContext]]) -> None:
    """Verify many (ciphertext, proof, context) triples with one batched equation."""
    group.require(pk, [_equation_for(pk, c, p, ctx, i) for i, (c, p, ctx) in enumerate(items)])
