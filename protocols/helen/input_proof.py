"""Section V, statements 1-4: a party commits to its data summaries and proves them consistent.

The party publishes Enc(V), Enc(Sigma), Enc(Theta), Enc(y*), Enc(A), Enc(b) (integers from
``numerics.prepare_input``) and proves, with Gadget 1 reduced on both sides (``zk.twosided``:
d + 1 proofs per d x d product instead of d^2 + d), multiplication proofs and one batched tight
range proof per verifier (``zk.range_proof``):

1. A = V Theta V^T: Enc(Theta V^T) = diag(Theta) Enc(V^T) and Enc(A_full) = V Enc(Theta V^T)
   (Gadget 1 twice); the published A is A_full / 2^a_shift rounded: 2^a_shift A - A_full is
   range-proved in (-2^(s-1), 2^(s-1)].
2. b = V Sigma y*: Enc(Sigma y*) by d multiplication proofs, Enc(b_full) = V Enc(Sigma y*)
   (Gadget 1), and the same rounding residue for b.
3. V^T V close to I: Enc(V^T V) = V^T Enc(V) (Gadget 1); every entry of V^T V - 2^(2v) I is
   range-proved within ``scales.vtv_bound``.
4. Theta matches Sigma: Enc(Sigma^2) and Enc((Sigma^2 + rho) Theta) by multiplication proofs;
   (Sigma^2 + rho) Theta - 2^(2s + theta) is range-proved within ``scales.theta_bound``.

Every committed entry (V, Sigma, Theta, y*, A, b) is range-proved too, with the bounds of
``HelenScales``: that makes every product far smaller than N/2, so the gadgets' equalities
modulo N are equalities of integers, and it gives Gadget 4 the ranges of A and b it relies on.

The products Enc(Theta V^T), Enc(A_full), Enc(V^T V), Enc(b_full) are fresh encryptions of
the integer products (published in the proof and checked by ``zk.twosided``); the residues
are made by the same ``ops`` the verifiers repeat, while ``paillier.tracked`` carries their
witnesses, so the range proofs speak of exactly the ciphertexts every verifier recomputes. Proof contexts are (session, "input-prep/<part>",
round, prover), so no proof can be replayed in another part, round or session.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import gmpy2

from coopetition.protocols.fixedpoint import HelenScales
from coopetition.protocols.helen.input_statements import (
    KIND,
    InputCommitments,
    InputProof,
    InputWitness,
    Mat,
    common_range_context,
    part_context,
    range_context,
    shape_check,
    statements,
)
from coopetition.protocols.helen.numerics import PreparedInput
from coopetition.protocols.paillier import ops
from coopetition.protocols.paillier import tracked as T
from coopetition.protocols.paillier.encryptor import Encryptor
from coopetition.protocols.paillier.keys import PublicKey
from coopetition.protocols.paillier.tracked import Tracked
from coopetition.protocols.zk import codec, group, multiplication, twosided
from coopetition.protocols.zk import range_proof as rproof
from coopetition.protocols.zk.errors import ProofRejected
from coopetition.protocols.zk.gil import holding_gil
from coopetition.protocols.zk.multiplication import MultiplicationProof
from coopetition.protocols.zk.range_params import RingPedersen
from coopetition.protocols.zk.range_proof import RangeWitness
from coopetition.protocols.zk.transcript import ProofContext

__all__ = ["InputCommitments", "InputProof", "InputWitness", "prove", "range_context", "verify"]

_T = TypeVar("_T")


def _cts(m: Sequence[Sequence[Tracked]]) -> Mat:
    return tuple(tuple(t.ciphertext for t in row) for row in m)


def _transpose(m: Sequence[Sequence[_T]]) -> list[list[_T]]:
    return [list(col) for col in zip(*m, strict=True)]


def _diag_tracked(values: Sequence[Tracked]) -> list[list[Tracked]]:
    """diag(values) with Enc(0; 1) = 1 off the diagonal, which every verifier rebuilds alike."""
    zero = Tracked(1, 0, 1)
    return [[v if i == j else zero for j in range(len(values))] for i, v in enumerate(values)]


def _diag_cts(values: Sequence[int]) -> list[list[int]]:
    return [[v if i == j else 1 for j in range(len(values))] for i, v in enumerate(values)]


def _product(
    pk: PublicKey,
    a: Sequence[Sequence[int]],
    eb: Sequence[Sequence[Tracked]],
    encryptor: Encryptor | None,
) -> list[list[Tracked]]:
    """Enc(A B) encrypted afresh from the integer product A B, with its witnesses.

    r c encryptions instead of the r k c exponentiations of ``A * Enc(B)`` (the cubic term that
    dominated the prover at d = 90); the two-sided proof checks the same statement either way,
    and a fresh encryption hides A B at least as well as a re-randomised product.
    """
    inner, cols = len(eb), len(eb[0])
    return [
        T.encrypt_vector(
            pk,
            [sum(row[h] * eb[h][j].plaintext for h in range(inner) if row[h]) for j in range(cols)],
            encryptor=encryptor,
        )
        for row in a
    ]


def _multiply(
    pk: PublicKey, ea: Tracked, eb: Tracked, ctx: ProofContext, encryptor: Encryptor | None
) -> tuple[Tracked, MultiplicationProof]:
    """Enc(a b) = Eb^a gamma^N for a >= 0 committed in Ea, with its multiplication proof."""
    if ea.plaintext < 0:
        raise ValueError("multiplication proofs here take non-negative scalars")
    gamma = group.random_unit(pk)
    ec = group.multiply(pk, eb.ciphertext, ea.plaintext, gamma)
    st = multiplication.Statement(ea.ciphertext, eb.ciphertext, ec)
    proof = multiplication.prove(
        pk, st, ea.plaintext, ea.randomness, gamma, ctx, encryptor=encryptor
    )
    r = gmpy2.powmod(eb.randomness, ea.plaintext, pk.n) * gamma % pk.n
    return Tracked(ec, ea.plaintext * eb.plaintext, int(r)), proof


@holding_gil
def prove(
    pk: PublicKey,
    prep: PreparedInput,
    scales: HelenScales,
    ctx: ProofContext,
    verifiers: Mapping[int, RingPedersen],
    *,
    encryptor: Encryptor | None = None,
    range_out: dict[int, Any] | None = None,
    lazy: bool = False,
    common: bool = False,
    _unchecked: bool = False,
) -> tuple[InputCommitments, InputProof, InputWitness]:
    """Encrypt the summaries and prove statements 1-4 (one range proof per verifier).

    ``verifiers`` maps each other party to its ring-Pedersen parameters (their parameter proofs
    already checked). With ``range_out`` each verifier's range proof is stored there in its wire
    form (``zk.codec``) as soon as it is made, and the returned proof's range fields stay empty:
    at d = 90 and 2048 bits one range proof is ~230 MB as objects and ~140 MB encoded, so a
    party then never holds more than one as objects (the input phase sends them point-to-point
    anyway). With ``lazy`` as well, ``range_out[j]`` is a function that makes verifier j's proof
    in wire form when called (once), so a party holds only the proof it is about to send.
    With ``common`` every verifier's parameters are the trusted dealer's one modulus: ONE proof
    is made (under ``common_range_context``, naming no verifier) and every verifier gets it.
    ``_unchecked`` lets tests play a cheater whose values break the bounds.
    """
    d = scales.features
    ints = lambda a: [int(v) for v in a]  # noqa: E731
    tV = [T.encrypt_vector(pk, ints(row), encryptor=encryptor) for row in prep.V]
    tS = T.encrypt_vector(pk, ints(prep.sigma), encryptor=encryptor)
    tTh = T.encrypt_vector(pk, ints(prep.theta), encryptor=encryptor)
    tY = T.encrypt_vector(pk, ints(prep.ystar), encryptor=encryptor)
    tA = [T.encrypt_vector(pk, ints(row), encryptor=encryptor) for row in prep.A]
    tb = T.encrypt_vector(pk, ints(prep.b), encryptor=encryptor)
    V = [ints(row) for row in prep.V]
    Vt: list[list[int]] = _transpose(V)
    tVt: list[list[Tracked]] = _transpose(tV)

    def g1(part: str, a: list[list[int]], ea: list[list[Tracked]], eb: list[list[Tracked]]):  # type: ignore[no-untyped-def]
        out = _product(pk, a, eb, encryptor)
        randomness = lambda m: [[t.randomness for t in row] for row in m]  # noqa: E731
        proof = twosided.prove(
            pk,
            _cts(ea),
            _cts(eb),
            _cts(out),
            a,
            randomness(ea),
            part_context(ctx, part),
            fresh=(randomness(eb), randomness(out)),
            encryptor=encryptor,
        )
        return out, proof

    theta_diag = [[int(prep.theta[i]) if i == j else 0 for j in range(d)] for i in range(d)]
    theta_vt, g_theta_vt = g1("theta-vt", theta_diag, _diag_tracked(tTh), tVt)
    a_full, g_a_full = g1("a-full", V, tV, theta_vt)
    vtv, g_vtv = g1("vtv", Vt, tVt, tV)
    sigma_y, m_sigma_y = zip(
        *(_multiply(pk, tS[k], tY[k], part_context(ctx, "sigma-y"), encryptor) for k in range(d)),
        strict=True,
    )
    b_full_m, g_b_full = g1("b-full", V, tV, [[t] for t in sigma_y])
    b_full = [row[0] for row in b_full_m]
    sigma2, m_sigma2 = zip(
        *(_multiply(pk, tS[k], tS[k], part_context(ctx, "sigma2"), encryptor) for k in range(d)),
        strict=True,
    )
    p = [T.add_plain(pk, s2, scales.rho_theta_int) for s2 in sigma2]
    p_theta, m_p_theta = zip(
        *(_multiply(pk, p[k], tTh[k], part_context(ctx, "p-theta"), encryptor) for k in range(d)),
        strict=True,
    )

    com = InputCommitments(
        _cts(tV),
        tuple(t.ciphertext for t in tS),
        tuple(t.ciphertext for t in tTh),
        tuple(t.ciphertext for t in tY),
        _cts(tA),
        tuple(t.ciphertext for t in tb),
    )
    partial = InputProof(
        _cts(theta_vt),
        _cts(a_full),
        _cts(vtv),
        tuple(t.ciphertext for t in sigma_y),
        tuple(t.ciphertext for t in b_full),
        tuple(t.ciphertext for t in sigma2),
        tuple(t.ciphertext for t in p_theta),
        g_theta_vt,
        g_a_full,
        g_vtv,
        g_b_full,
        tuple(m_sigma_y),
        tuple(m_sigma2),
        tuple(m_p_theta),
        (),
        (),
    )

    # witnesses of the range statements, in ``statements``' order, via the same operations
    one, top = 1 << (2 * scales.v_bits), 1 << (2 * scales.sigma_bits + scales.theta_bits)
    res_vtv = [
        T.add_plain(pk, vtv[i][j], -one if i == j else 0) for i in range(d) for j in range(d)
    ]
    res_theta = [T.add_plain(pk, t, -top) for t in p_theta]
    res_a = [
        T.sub(pk, T.mul_plain(pk, tA[i][j], 1 << scales.a_shift), a_full[i][j])
        for i in range(d)
        for j in range(d)
    ]
    res_b = [T.sub(pk, T.mul_plain(pk, tb[k], 1 << scales.b_shift), b_full[k]) for k in range(d)]
    tracked_all = (
        [t for row in tV for t in row]
        + tS
        + tTh
        + tY
        + [t for row in tA for t in row]
        + tb
        + res_vtv
        + res_theta
        + res_a
        + res_b
    )
    range_statements = statements(pk, com, partial, scales)
    for st, t in zip(range_statements, tracked_all, strict=True):
        if (
            st.ciphertext != t.ciphertext
        ):  # pragma: no cover - a bookkeeping bug, not an input error
            raise AssertionError("tracked ciphertext differs from the verifiers' recomputation")
    witnesses = [RangeWitness(t.plaintext, t.randomness) for t in tracked_all]
    # the four-square decompositions depend on the values only: made once, not once per
    # verifier (each proof still draws all its own masks and commitment randomness)
    if _unchecked:
        squares = rproof._cheater_squares(range_statements, witnesses)
    else:
        squares = rproof.decompose(range_statements, witnesses)

    if common and len(set(verifiers.values())) != 1:
        raise ValueError("common: every verifier must have the same ring-Pedersen parameters")

    def range_proof_for(verifier: int) -> rproof.RangeProof:
        rctx = common_range_context(ctx) if common else range_context(ctx, verifier)
        params = verifiers[verifier]
        if _unchecked:
            return rproof._prove_unchecked(
                pk, params, range_statements, witnesses, rctx, encryptor, squares
            )
        return rproof.prove(
            pk, params, range_statements, witnesses, rctx, encryptor=encryptor, squares=squares
        )

    verifier_ids: list[int] = []
    range_proofs: list[rproof.RangeProof] = []
    # common: one proof for every verifier, made (and encoded) at the first request only
    first = min(verifiers, default=0)
    encoded_once = functools.cache(functools.partial(_encoded, range_proof_for, first))
    for verifier in sorted(verifiers):
        if common and range_out is not None:
            range_out[verifier] = encoded_once if lazy else encoded_once()
        elif common:
            verifier_ids.append(verifier)
            range_proofs.append(range_proofs[0] if range_proofs else range_proof_for(first))
        elif range_out is not None and lazy:
            range_out[verifier] = functools.partial(_encoded, range_proof_for, verifier)
        elif range_out is not None:
            range_out[verifier] = _encoded(range_proof_for, verifier)
        else:
            verifier_ids.append(verifier)
            range_proofs.append(range_proof_for(verifier))
    proof = dataclasses.replace(
        partial, range_verifiers=tuple(verifier_ids), range_proofs=tuple(range_proofs)
    )
    return com, proof, InputWitness(tA, tb)


@holding_gil
def _encoded(make: Callable[[int], rproof.RangeProof], verifier: int) -> Any:
    """Verifier's range proof in wire form; the proof's objects go as soon as it is encoded."""
    return codec.encode(make(verifier))


@holding_gil
def verify(
    pk: PublicKey,
    com: InputCommitments,
    proof: InputProof,
    scales: HelenScales,
    ctx: ProofContext,
    verifier: int,
    params: RingPedersen,
    *,
    common: bool = False,
) -> None:
    """Raise ProofRejected (naming ctx.prover) unless statements 1-4 and every range hold.

    ``verifier`` and ``params`` are the checking party and its own ring-Pedersen parameters:
    only the range proof made for them is checked (the others are for the other verifiers).
    With ``common``, ``params`` are the dealer's and the one proof for everybody is checked.
    """
    verify_public(pk, com, proof, scales, ctx)
    verify_range(pk, com, proof, scales, ctx, verifier, params, common=common)


@holding_gil
def verify_public(
    pk: PublicKey, com: InputCommitments, proof: InputProof, scales: HelenScales, ctx: ProofContext
) -> None:
    """Statements 1-4 without the range proof: what every party checks alike on the broadcast
    (so every honest party rejects a cheater here at the same step, and names it)."""
    d = scales.features
    blame = group.blame_for(KIND, ctx)
    shape_check(com, proof, d, blame)
    # every commitment, including Enc(A) and Enc(b), which enter only the residues' ``ops``
    # (whose InvalidCiphertext would name nobody)
    committed = [x for rows in (com.V, com.A) for row in rows for x in row]
    for c in committed + list(com.theta) + list(com.sigma) + list(com.ystar) + list(com.b):
        group.element(pk, c, "committed ciphertext", blame)
    V, Vt = [list(r) for r in com.V], _transpose(com.V)
    twosided.verify(
        pk,
        _diag_cts(list(com.theta)),
        Vt,
        proof.theta_vt,
        proof.g_theta_vt,
        part_context(ctx, "theta-vt"),
    )
    twosided.verify(
        pk, V, proof.theta_vt, proof.a_full, proof.g_a_full, part_context(ctx, "a-full")
    )
    twosided.verify(pk, Vt, V, proof.vtv, proof.g_vtv, part_context(ctx, "vtv"))
    twosided.verify(
        pk,
        V,
        [[c] for c in proof.sigma_y],
        [[c] for c in proof.b_full],
        proof.g_b_full,
        part_context(ctx, "b-full"),
    )
    p = [
        ops.add_plain(pk, group.element(pk, c, "Enc(Sigma^2)", blame), scales.rho_theta_int)
        for c in proof.sigma2
    ]
    items = []
    for k in range(d):
        items.append(
            (
                multiplication.Statement(com.sigma[k], com.ystar[k], proof.sigma_y[k]),
                proof.m_sigma_y[k],
                part_context(ctx, "sigma-y"),
            )
        )
        items.append(
            (
                multiplication.Statement(com.sigma[k], com.sigma[k], proof.sigma2[k]),
                proof.m_sigma2[k],
                part_context(ctx, "sigma2"),
            )
        )
        items.append(
            (
                multiplication.Statement(p[k], com.theta[k], proof.p_theta[k]),
                proof.m_p_theta[k],
                part_context(ctx, "p-theta"),
            )
        )
    multiplication.verify_batch(pk, items)


@holding_gil
def verify_range(
    pk: PublicKey,
    com: InputCommitments,
    proof: InputProof,
    scales: HelenScales,
    ctx: ProofContext,
    verifier: int,
    params: RingPedersen,
    *,
    common: bool = False,
) -> None:
    """The range proof made for ``verifier`` (under its own ``params``; with ``common``, the one
    proof made for every verifier under the dealer's ``params``), on the statements the
    commitments and the public proof fix; ``shape_check`` must have passed (``verify_public``)."""
    blame = group.blame_for(KIND, ctx)
    if not isinstance(proof.range_verifiers, tuple) or not isinstance(proof.range_proofs, tuple):
        raise blame.reject("range proofs are not sequences")
    if len(proof.range_verifiers) != len(proof.range_proofs):
        raise blame.reject("one range proof per named verifier")
    mine = [
        rp
        for who, rp in zip(proof.range_verifiers, proof.range_proofs, strict=True)
        if who == verifier
    ]
    if len(mine) != 1:
        raise blame.reject(f"no single range proof for verifier {verifier}")
    range_statements = statements(pk, com, proof, scales)
    try:
        rctx = common_range_context(ctx) if common else range_context(ctx, verifier)
        rproof.verify(pk, params, range_statements, mine[0], rctx)
    except ProofRejected as exc:
        raise ProofRejected(KIND, ctx.prover, f"range: {exc.check}", index=exc.index) from None
