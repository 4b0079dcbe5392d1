"""Equality of plaintexts: "Dec(E1) = Dec(E2)", shown by an N-th root of E1 / E2.

E1 and E2 hide the same plaintext exactly when E1 = E2 * rho^N for some rho; the prover knows
rho and runs the Σ-protocol for N-th roots (Guillou–Quisquater style, as in Damgård–Jurik
2001): commit a = s^N, answer z = s * rho^e mod N, check z^N * E2^e = a * E1^e (mod N^2).
Written without dividing, so the verifier never inverts. Special soundness: two answers give
(z/z')^N = (E1/E2)^(e-e'). Writing E1/E2 = (1+N)^delta * u^N, this forces delta*(e-e') = 0
mod N, and e-e' is a unit (|e-e'| < 2^128 < p, q), so delta = 0: E1/E2 encrypts 0.
Gadgets 1 and 2 use it for the last step of the random-vector reduction, in place of the
paper's multiplication proof with a* = 1 (same statement, one equation instead of two).
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

KIND = "equality"


@dataclass(frozen=True, slots=True)
class EqualityProof:
    commitment: int
    z: int


@dataclass(frozen=True, slots=True)
class Nonce:
    s: int
    commitment: int


def commit(pk: PublicKey, encryptor: Encryptor | None = None) -> Nonce:
    a, s = group.encrypt_fresh(pk, 0, encryptor)  # Enc(0; s) = s^N
    return Nonce(s, a)


def respond(pk: PublicKey, nonce: Nonce, rho: int, e: int) -> EqualityProof:
    z = nonce.s * group.powmod(rho % pk.n, e, pk.n) % pk.n
    return EqualityProof(nonce.commitment, group.canonical(pk, z))


@dataclass(frozen=True, slots=True)
class Parsed:
    e1: mpz
    e2: mpz
    commitment: mpz
    z: mpz
    blame: Blame
    index: object

    def equation(self, e: int) -> Equation:
        e_ = mpz(e)
        return Equation(
            "z^N E2^e = a E1^e",
            root=self.z,
            left=[(self.e2, e_)],
            right=[(self.commitment, 1), (self.e1, e_)],
            blame=self.blame,
            index=self.index,
        )


def parse(
    pk: PublicKey, e1: object, e2: object, proof: object, blame: Blame, index: object = None
) -> Parsed:
    if not isinstance(proof, EqualityProof):
        raise blame.reject("proof is not an EqualityProof", index)
    return Parsed(
        group.element(pk, e1, "ciphertext E1", blame),
        group.element(pk, e2, "ciphertext E2", blame),
        group.element(pk, proof.commitment, "commitment", blame),
        group.canonical_root(pk, proof.z, "response z", blame),
        blame,
        index,
    )


def challenge(pk: PublicKey, e1: int, e2: int, commitment: int, ctx: ProofContext) -> int:
    t = group.start_transcript(KIND, pk, ctx).absorb(e1, e2, commitment)
    return t.challenge_int(group.CHALLENGE_BITS)


def prove(
    pk: PublicKey,
    e1: int,
    e2: int,
    rho: int,
    ctx: ProofContext,
    *,
    encryptor: Encryptor | None = None,
) -> EqualityProof:
    """Prove Dec(e1) = Dec(e2) given rho with e1 = e2 * rho^N mod N^2."""
    group.check_key(pk)
    nonce = commit(pk, encryptor)
    return respond(pk, nonce, rho, challenge(pk, e1, e2, nonce.commitment, ctx))


def _equation_for(
    pk: PublicKey, e1: object, e2: object, proof: object, ctx: ProofContext, index: object
) -> Equation:
    parsed = parse(pk, e1, e2, proof, group.blame_for(KIND, ctx), index)
    return parsed.equation(
        challenge(pk, int(parsed.e1), int(parsed.e2), int(parsed.commitment), ctx)
    )


def verify(pk: PublicKey, e1: int, e2: int, proof: EqualityProof, ctx: ProofContext) -> None:
    """Raise ProofRejected unless e1 and e2 provably encrypt the same plaintext."""
    group.require(pk, [_equation_for(pk, e1, e2, proof, ctx, None)], batch=False)


def verify_batch(
    pk: PublicKey, items: Sequence[tuple[int, int, EqualityProof, ProofContext]]
) -> None:
    group.require(
        pk, [_equation_for(pk, e1, e2, p, ctx, i) for i, (e1, e2, p, ctx) in enumerate(items)]
    )
