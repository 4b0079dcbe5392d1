"""Plaintext–ciphertext multiplication: "I know a = Dec(Ea), and Dec(Ec) = a * Dec(Eb)".

Witness: a, the randomness ra of Ea = Enc(a; ra), and gamma with Ec = Eb^a * gamma^N (the
product re-randomised; gamma = 1 for a bare homomorphic product). This is the Σ-protocol of
Cramer–Damgård–Nielsen (2001), used by Helen's Gadgets 1 and 2. Commit, for random d in Z_N
and rd, gd in Z*_N:

    A = Enc(d; rd),     B = Eb^d * gd^N.

On challenge e, with d + e*a = z + q*N (z = d + e*a mod N):

    z,   z1 = rd * ra^e mod N,   z2 = gd * gamma^e * Eb^q mod N,

and the verifier checks (1+N)^z z1^N = A Ea^e and Eb^z z2^N = B Ec^e (mod N^2). The carry
Eb^(qN) is an N-th power, so it folds into z2, and every N-th root may be reduced mod N: the
transcript is uniform given (z, z1, z2, e), which makes it perfectly simulatable. Two
accepting answers for e != e' give a = (z-z')/(e-e') mod N and show Ec / Eb^a is an N-th
power, i.e. Dec(Ec) = a Dec(Eb). Soundness error 2^-128.
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

KIND = "multiplication"


@dataclass(frozen=True, slots=True)
class MultiplicationProof:
    commit_a: int
    commit_b: int
    z: int
    z1: int
    z2: int


@dataclass(frozen=True, slots=True)
class Nonce:
    d: int
    rd: int
    gd: int
    commit_a: int
    commit_b: int


@dataclass(frozen=True, slots=True)
class Statement:
    """(Ea, Eb, Ec): public ciphertexts of the multiplication claim."""

    ea: int
    eb: int
    ec: int


def commit(pk: PublicKey, eb: int, encryptor: Encryptor | None = None) -> Nonce:
    d = group.random_residue(pk)
    commit_a, rd = group.encrypt_fresh(pk, d, encryptor)
    gd_n, gd = group.encrypt_fresh(pk, 0, encryptor)  # gd^N
    commit_b = int(group.powmod(eb, d, pk.n_square) * gd_n % pk.n_square)
    return Nonce(d, rd, gd, commit_a, commit_b)


def respond(
    pk: PublicKey, nonce: Nonce, eb: int, a: int, ra: int, gamma: int, e: int
) -> MultiplicationProof:
    n = pk.n
    total = nonce.d + e * (a % n)
    z, q = total % n, total // n
    z1 = nonce.rd * group.powmod(ra, e, n) % n
    z2 = nonce.gd * group.powmod(gamma, e, n) % n
    if q:
        z2 = z2 * group.powmod(eb % n, q, n) % n
    return MultiplicationProof(
        nonce.commit_a, nonce.commit_b, int(z), group.canonical(pk, z1), group.canonical(pk, z2)
    )


@dataclass(frozen=True, slots=True)
class Parsed:
    ea: mpz
    eb: mpz
    ec: mpz
    commit_a: mpz
    commit_b: mpz
    z: mpz
    z1: mpz
    z2: mpz
    blame: Blame
    index: object

    def equations(self, e: int) -> list[Equation]:
        e_ = mpz(e)
        return [
            Equation(
                "(1+N)^z z1^N = A Ea^e",
                g=self.z,
                root=self.z1,
                right=[(self.commit_a, 1), (self.ea, e_)],
                blame=self.blame,
                index=self.index,
            ),
            Equation(
                "Eb^z z2^N = B Ec^e",
                root=self.z2,
                left=[(self.eb, self.z)],
                right=[(self.commit_b, 1), (self.ec, e_)],
                blame=self.blame,
                index=self.index,
            ),
        ]


def parse(
    pk: PublicKey, statement: Statement, proof: object, blame: Blame, index: object = None
) -> Parsed:
    if not isinstance(proof, MultiplicationProof):
        raise blame.reject("proof is not a MultiplicationProof", index)
    return Parsed(
        group.element(pk, statement.ea, "ciphertext Ea", blame),
        group.element(pk, statement.eb, "ciphertext Eb", blame),
        group.element(pk, statement.ec, "ciphertext Ec", blame),
        group.element(pk, proof.commit_a, "commitment A", blame),
        group.element(pk, proof.commit_b, "commitment B", blame),
        group.residue(proof.z, pk.n, "response z", blame),
        group.canonical_root(pk, proof.z1, "response z1", blame),
        group.canonical_root(pk, proof.z2, "response z2", blame),
        blame,
        index,
    )


def challenge(
    pk: PublicKey, statement: Statement, proof: MultiplicationProof, ctx: ProofContext
) -> int:
    t = group.start_transcript(KIND, pk, ctx)
    t.absorb(statement.ea, statement.eb, statement.ec, proof.commit_a, proof.commit_b)
    return t.challenge_int(group.CHALLENGE_BITS)


def prove(
    pk: PublicKey,
    statement: Statement,
    a: int,
    ra: int,
    gamma: int,
    ctx: ProofContext,
    *,
    encryptor: Encryptor | None = None,
) -> MultiplicationProof:
    """Prove Ea = Enc(a; ra) and Ec = Eb^a gamma^N (a taken mod N)."""
    group.check_key(pk)
    nonce = commit(pk, statement.eb, encryptor)
    first = MultiplicationProof(nonce.commit_a, nonce.commit_b, 0, 1, 1)
    e = challenge(pk, statement, first, ctx)
    return respond(pk, nonce, statement.eb, a, ra, gamma, e)


def _equations_for(
    pk: PublicKey, statement: Statement, proof: object, ctx: ProofContext, index: object
) -> list[Equation]:
    parsed = parse(pk, statement, proof, group.blame_for(KIND, ctx), index)
    return parsed.equations(challenge(pk, statement, proof, ctx))  # type: ignore[arg-type]


def verify(
    pk: PublicKey, statement: Statement, proof: MultiplicationProof, ctx: ProofContext
) -> None:
    """Raise ProofRejected unless Dec(Ec) = a Dec(Eb) for an a the prover knows as Dec(Ea)."""
    group.require(pk, _equations_for(pk, statement, proof, ctx, None), batch=False)


def verify_batch(
    pk: PublicKey, items: Sequence[tuple[Statement, MultiplicationProof, ProofContext]]
) -> None:
    """Verify many multiplication proofs with one batched check (falls back to name a culprit)."""
    equations: list[Equation] = []
    for i, (statement, proof, ctx) in enumerate(items):
        equations += _equations_for(pk, statement, proof, ctx, i)
    group.require(pk, equations)
