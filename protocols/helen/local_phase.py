"""Helen's local optimisation (section VI-B): Enc(w_full_i) = A_i (b_i + rho (z - u_i)), proved.

Everybody computes Enc(v_j) = Enc(b_j) (+) rho_int (Enc(z) (-) Enc(u_j)) for every party j from
public ciphertexts (the committed Enc(b_j) and the public outputs of the last conversion back),
so nobody has to trust anybody's v. Party i multiplies by its plaintext A_i homomorphically,
re-randomised by gammas, and proves against its committed Enc(A_i) that
Dec(Enc(w_full_i)) = A_i Dec(Enc(v_i)), with Gadget 1 reduced by a random row vector r
(``zk.twosided``): r^T Enc(w_full_i) against (r^T Enc(A_i)) Enc(v_i), where every verifier
computes Enc(r^T A_i) from the committed Enc(A_i) itself, so O(d) proofs per iteration. Enc(w_full_i) and the proof travel by consistent
broadcast; a rejected proof, or a reply of the wrong shape, names its sender.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from math import gcd

from coopetition.engine.errors import CheatingDetected, ProtocolViolation
from coopetition.engine.program import Exchange, Program
from coopetition.protocols.helen.input_statements import InputCommitments, InputWitness
from coopetition.protocols.paillier import ops
from coopetition.protocols.paillier.encryptor import Encryptor
from coopetition.protocols.paillier.keys import PublicKey
from coopetition.protocols.zk import codec, gadgets, twosided
from coopetition.protocols.zk.errors import ProofRejected
from coopetition.protocols.zk.transcript import ProofContext
from coopetition.protocols.zk.twosided import TwoSidedProof

PHASE = "helen-local"

LocalProduct = Callable[..., tuple[list[int], TwoSidedProof]]


def context(session: bytes, iteration: int, prover: int) -> ProofContext:
    return ProofContext(session, "local", iteration, prover)


def encrypted_v(
    pk: PublicKey, com_b: tuple[int, ...], enc_z: list[int], enc_u: list[int], rho_int: int
) -> list[int]:
    """Enc(b + rho (z - u)), the same at every party."""
    return [
        ops.add(pk, b, ops.mul_plain(pk, ops.sub(pk, z, u), rho_int))
        for b, z, u in zip(com_b, enc_z, enc_u, strict=True)
    ]


def _unit(n: int) -> int:
    while True:
        g = secrets.randbelow(n - 2) + 2
        if g % n and gcd(g, n) == 1:
            return g


def local_product(
    pk: PublicKey,
    witness: InputWitness,
    com: InputCommitments,
    v: list[int],
    ctx: ProofContext,
    encryptor: Encryptor | None = None,
) -> tuple[list[int], TwoSidedProof]:
    """Enc(A_i v) re-randomised, and its proof against the committed Enc(A_i).

    The proof is Gadget 1 with random reduction on the left (``zk.twosided``; one column, so
    the right side is trivial): d multiplication proofs and one equality proof instead of d^2 + d.
    """
    a = [[t.plaintext for t in row] for row in witness.A]
    ra = [[t.randomness for t in row] for row in witness.A]
    eb = [[c] for c in v]
    gammas = [[_unit(pk.n)] for _ in a]
    ec = gadgets.matmul_encrypted(pk, a, eb, gammas)
    proof = twosided.prove(
        pk, [list(r) for r in com.A], eb, ec, a, ra, ctx, gammas, encryptor=encryptor
    )
    return [row[0] for row in ec], proof


def local_program(
    me: int,
    parties: tuple[int, ...],
    iteration: int,
    pk: PublicKey,
    commitments: dict[int, InputCommitments],
    witness: InputWitness,
    enc_z: list[int],
    enc_u: dict[int, list[int]],
    rho_int: int,
    session: bytes,
    encryptor: Encryptor | None = None,
    product: LocalProduct | None = None,
) -> Program[dict[int, list[int]]]:
    """Every party's proved Enc(w_full_j) for this iteration.

    ``product`` is ``local_product`` (a seam for tests that play a cheating party).
    """
    vs = {j: encrypted_v(pk, commitments[j].b, enc_z, enc_u[j], rho_int) for j in parties}
    w, proof = (product or local_product)(
        pk, witness, commitments[me], vs[me], context(session, iteration, me), encryptor
    )
    replies = yield Exchange(payload={"w": w, "proof": codec.encode(proof)})
    out = {me: w}
    d = len(w)
    for j in parties:
        if j == me:
            continue
        got = replies[j] if isinstance(replies[j], dict) else {}
        wj = got.get("w")
        if not (isinstance(wj, list) and len(wj) == d and all(type(c) is int for c in wj)):
            raise ProtocolViolation(
                f"local product of party {j} is not {d} ciphertexts", culprit=j, phase=PHASE
            )
        try:
            for c in wj:
                pk.check_ciphertext(c)
            pj = codec.decode(TwoSidedProof, got.get("proof"), prover=j)
            twosided.verify(
                pk,
                [list(r) for r in commitments[j].A],
                [[c] for c in vs[j]],
                [[c] for c in wj],
                pj,
                context(session, iteration, j),
            )
        except (ProofRejected, ValueError) as exc:
            raise CheatingDetected(
                f"local product of party {j} rejected: {exc}", culprit=j, phase=PHASE
            ) from exc
        out[j] = wj
    return out
