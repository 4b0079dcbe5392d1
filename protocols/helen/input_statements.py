"""Section V's public values: what a party broadcasts, the range statements and their shapes.

Split from ``input_proof`` (which proves and verifies) so both the prover and every verifier
build the same objects from here: the commitments and proof dataclasses (registered with
``zk.codec`` for the wire), the proof contexts, the residue ciphertexts of statements 1-4 as
verifiers recompute them, and the fixed, ordered list of range statements with their bounds
from ``HelenScales``.
"""

from __future__ import annotations

from dataclasses import dataclass

from coopetition.protocols.fixedpoint import HelenScales
from coopetition.protocols.paillier import ops
from coopetition.protocols.paillier.keys import PublicKey
from coopetition.protocols.paillier.tracked import Tracked
from coopetition.protocols.zk import codec, group
from coopetition.protocols.zk.multiplication import MultiplicationProof
from coopetition.protocols.zk.range_proof import RangeProof, RangeStatement
from coopetition.protocols.zk.transcript import ProofContext
from coopetition.protocols.zk.twosided import TwoSidedProof

PHASE = "input-prep"
KIND = "input-prep"
Mat = tuple[tuple[int, ...], ...]
Vec = tuple[int, ...]


@dataclass(frozen=True, slots=True)
class InputCommitments:
    """What a party broadcasts (consistent broadcast) as its committed summaries."""

    V: Mat
    sigma: Vec
    theta: Vec
    ystar: Vec
    A: Mat
    b: Vec


@dataclass(frozen=True, slots=True)
class InputProof:
    """Intermediate ciphertexts and the proofs of statements 1-4."""

    theta_vt: Mat
    a_full: Mat
    vtv: Mat
    sigma_y: Vec
    b_full: Vec
    sigma2: Vec
    p_theta: Vec
    g_theta_vt: TwoSidedProof
    g_a_full: TwoSidedProof
    g_vtv: TwoSidedProof
    g_b_full: TwoSidedProof
    m_sigma_y: tuple[MultiplicationProof, ...]
    m_sigma2: tuple[MultiplicationProof, ...]
    m_p_theta: tuple[MultiplicationProof, ...]
    #: verifier ids and, in the same order, the range proof under each one's parameters
    range_verifiers: tuple[int, ...]
    range_proofs: tuple[RangeProof, ...]


@dataclass(frozen=True)
class InputWitness:
    """The prover's witnesses of Enc(A) and Enc(b), for the local step's Gadget 1."""

    A: list[list[Tracked]]
    b: list[Tracked]


_MAT = ("seq", ("seq", codec.INT))
_VEC = ("seq", codec.INT)
# Registered with the proof codec so both travel as nested lists of ints (CBOR-ready); the
# codec lives below this layer and cannot import it.
codec.SCHEMAS[InputCommitments] = (_MAT, _VEC, _VEC, _VEC, _MAT, _VEC)
codec.SCHEMAS[InputProof] = (
    _MAT,
    _MAT,
    _MAT,
    _VEC,
    _VEC,
    _VEC,
    _VEC,
    TwoSidedProof,
    TwoSidedProof,
    TwoSidedProof,
    TwoSidedProof,
    ("seq", MultiplicationProof),
    ("seq", MultiplicationProof),
    ("seq", MultiplicationProof),
    _VEC,
    ("seq", RangeProof),
)
codec.KINDS[InputCommitments] = KIND
codec.KINDS[InputProof] = KIND


def part_context(base: ProofContext, part: str) -> ProofContext:
    return ProofContext(base.session, f"{PHASE}/{part}", base.round, base.prover)


def range_context(base: ProofContext, verifier: int) -> ProofContext:
    return part_context(base, f"range/{verifier}")


def common_range_context(base: ProofContext) -> ProofContext:
    """The context of the one range proof every verifier checks under a common modulus."""
    return part_context(base, "range/common")


def residues(
    pk: PublicKey, com: InputCommitments, proof: InputProof, scales: HelenScales
) -> dict[str, list[int]]:
    """The residue ciphertexts of statements 1-4, as every verifier computes them (``ops``)."""
    d = scales.features
    one = 1 << (2 * scales.v_bits)
    vtv = [
        ops.add_plain(pk, proof.vtv[i][j], -one if i == j else 0)
        for i in range(d)
        for j in range(d)
    ]
    top = 1 << (2 * scales.sigma_bits + scales.theta_bits)
    theta = [ops.add_plain(pk, c, -top) for c in proof.p_theta]
    a = [
        ops.sub(pk, ops.mul_plain(pk, com.A[i][j], 1 << scales.a_shift), proof.a_full[i][j])
        for i in range(d)
        for j in range(d)
    ]
    b = [
        ops.sub(pk, ops.mul_plain(pk, com.b[k], 1 << scales.b_shift), proof.b_full[k])
        for k in range(d)
    ]
    return {"vtv": vtv, "theta": theta, "a": a, "b": b}


def intervals(scales: HelenScales) -> dict[str, tuple[int, int]]:
    ha, hb = 1 << max(scales.a_shift - 1, 0), 1 << max(scales.b_shift - 1, 0)
    return {
        "V": (-scales.v_entry_bound, scales.v_entry_bound),
        "sigma": (0, scales.sigma_int_bound),
        "theta": (0, scales.theta_int_bound),
        "ystar": (-scales.ystar_int_bound, scales.ystar_int_bound),
        "A": (-scales.a_bound, scales.a_bound),
        "b": (-scales.b_bound, scales.b_bound),
        "vtv_res": (-scales.vtv_bound, scales.vtv_bound),
        "theta_res": (-scales.theta_bound, scales.theta_bound),
        "a_res": (-ha + 1, ha),
        "b_res": (-hb + 1, hb),
    }


def statements(
    pk: PublicKey, com: InputCommitments, proof: InputProof, scales: HelenScales
) -> list[RangeStatement]:
    """The fixed list of range statements (same order for prover and verifiers)."""
    res = residues(pk, com, proof, scales)
    groups = {
        "V": [c for row in com.V for c in row],
        "sigma": list(com.sigma),
        "theta": list(com.theta),
        "ystar": list(com.ystar),
        "A": [c for row in com.A for c in row],
        "b": list(com.b),
        "vtv_res": res["vtv"],
        "theta_res": res["theta"],
        "a_res": res["a"],
        "b_res": res["b"],
    }
    out = []
    for name, (lo, hi) in intervals(scales).items():
        out += [RangeStatement(int(c), lo, hi) for c in groups[name]]
    return out


def shape_check(com: object, proof: object, d: int, blame: group.Blame) -> None:
    if not isinstance(com, InputCommitments) or not isinstance(proof, InputProof):
        raise blame.reject("input commitments or proof of the wrong type")
    for name, value in (
        ("V", com.V),
        ("A", com.A),
        ("theta_vt", proof.theta_vt),
        ("a_full", proof.a_full),
        ("vtv", proof.vtv),
    ):
        if (
            not isinstance(value, tuple)
            or len(value) != d
            or any(not isinstance(r, tuple) or len(r) != d for r in value)
        ):
            raise blame.reject(f"{name} is not a {d} x {d} matrix")
    vectors: tuple[tuple[str, tuple[object, ...]], ...] = (
        ("sigma", com.sigma),
        ("theta", com.theta),
        ("ystar", com.ystar),
        ("b", com.b),
        ("sigma_y", proof.sigma_y),
        ("b_full", proof.b_full),
        ("sigma2", proof.sigma2),
        ("p_theta", proof.p_theta),
        ("m_sigma_y", proof.m_sigma_y),
        ("m_sigma2", proof.m_sigma2),
        ("m_p_theta", proof.m_p_theta),
    )
    for name, entries in vectors:
        if not isinstance(entries, tuple) or len(entries) != d:
            raise blame.reject(f"{name} does not have {d} entries")
    flat_lists: list[tuple[str, list[object]]] = [
        ("V", [c for row in com.V for c in row]),
        ("A", [c for row in com.A for c in row]),
        ("sigma", list(com.sigma)),
        ("theta", list(com.theta)),
        ("ystar", list(com.ystar)),
        ("b", list(com.b)),
    ]
    for name, flat in flat_lists:
        for i, c in enumerate(flat):
            if isinstance(c, bool) or not isinstance(c, int):
                raise blame.reject(f"Enc({name})[{i}] is not an integer")
