"""The tight range proof over ring-Pedersen commitments: completeness, exact soundness, binding
to its context, the parameter proof, four-square decompositions and the wire encoding.

Default tests use INSECURE 1024-bit Paillier and N~ (named so); ``test_production_parameters``
runs the 2048-bit N and 2048-bit N~ at the default 128-bit challenge and 80-bit statistical
parameter, with a cheater, once.
"""

from __future__ import annotations

import dataclasses
import secrets

import cbor2
import gmpy2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coopetition.protocols.paillier.encryptor import Encryptor
from coopetition.protocols.paillier.keys import PublicKey, insecure_test_keypair
from coopetition.protocols.zk import codec, group
from coopetition.protocols.zk import range_params as rpm
from coopetition.protocols.zk import range_proof as rproof
from coopetition.protocols.zk.errors import ProofRejected
from coopetition.protocols.zk.range_proof import RangeProof, RangeStatement, RangeWitness
from coopetition.protocols.zk.range_squares import four_squares
from coopetition.protocols.zk.transcript import ProofContext
from coopetition.sims.benchkit import random_modulus

PK, _ = insecure_test_keypair(1024)
CTX = ProofContext(b"session-A", "input-prep", 3, 1)


@pytest.fixture(scope="module")
def ring() -> rpm.RingPedersen:
    params, secret = rpm.generate(1024, insecure_allow_small=True)
    rpm.verify_params(params, rpm.prove_params(params, secret, CTX), CTX)
    return params


def _encrypt(pk: PublicKey, x: int) -> tuple[int, int]:
    r = group.random_unit(pk)
    return int(pk.raw_encrypt(x % pk.n, r)), r


def _batch(
    pk: PublicKey, values: list[int], low: int, high: int
) -> tuple[list[RangeStatement], list[RangeWitness]]:
    statements, witnesses = [], []
    for x in values:
        c, r = _encrypt(pk, x)
        statements.append(RangeStatement(c, low, high))
        witnesses.append(RangeWitness(x, r))
    return statements, witnesses


# -- four squares -------------------------------------------------------------------------------


@given(st.integers(min_value=0, max_value=1 << 300))
@settings(max_examples=200, deadline=None)
def test_four_squares_sum_back(n):
    a = four_squares(n)
    assert len(a) == 4 and all(x >= 0 for x in a)
    assert sum(x * x for x in a) == n


def test_four_squares_refuses_negative():
    with pytest.raises(ValueError):
        four_squares(-1)


# -- completeness -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("low", "high", "values"),
    [
        (0, 0, [0]),
        (-1000, 1000, [-1000, -1, 0, 1, 1000]),
        (5, 1 << 40, [5, 6, 1 << 40, 123456789]),
        (-(1 << 64), -(1 << 20), [-(1 << 64), -(1 << 20), -(1 << 33)]),
    ],
)
def test_complete_including_the_interval_ends(ring, low, high, values):
    statements, witnesses = _batch(PK, values, low, high)
    proof = rproof.prove(PK, ring, statements, witnesses, CTX)
    rproof.verify(PK, ring, statements, proof, CTX)
    rproof.verify(PK, ring, statements, proof, CTX, batch=False)


def test_mixed_intervals_in_one_batch_with_djn_nonces(ring):
    encryptor = Encryptor(PK)
    statements, witnesses = [], []
    for x, lo, hi in [(3, 0, 7), (-50, -64, 64), (1 << 50, 0, 1 << 60)]:
        c, r = encryptor.encrypt_with_randomness(x)
        statements.append(RangeStatement(int(c), lo, hi))
        witnesses.append(RangeWitness(x, int(r)))
    proof = rproof.prove(PK, ring, statements, witnesses, CTX, encryptor=encryptor)
    rproof.verify(PK, ring, statements, proof, CTX)


def test_honest_prover_refuses_out_of_range_value(ring):
    statements, witnesses = _batch(PK, [11], 0, 10)
    with pytest.raises(ValueError, match="outside the interval"):
        rproof.prove(PK, ring, statements, witnesses, CTX)


# -- soundness: cheaters ------------------------------------------------------------------------


_forge_squares = rproof._cheater_squares


@pytest.mark.parametrize("value", [11, 12, -1, 1 << 70])
def test_out_of_range_value_is_rejected(ring, value):
    statements, witnesses = _batch(PK, [3, value, 7], 0, 10)
    forged = _forge_squares(statements, witnesses)
    proof = rproof._prove_unchecked(PK, ring, statements, witnesses, CTX, squares=forged)
    with pytest.raises(ProofRejected, match="square relation") as info:
        rproof.verify(PK, ring, statements, proof, CTX)
    assert info.value.prover == CTX.prover
    with pytest.raises(ProofRejected, match="square relation"):
        rproof.verify(PK, ring, statements, proof, CTX, batch=False)


def test_value_wrapped_modulo_n_is_rejected(ring):
    """Dec(c) = N - 1 looks like -1; a cheater who claims it is in [0, 10] cannot prove it."""
    c, r = _encrypt(PK, -1)
    statements = [RangeStatement(c, 0, 10)]
    for claimed in (PK.n - 1, -1):
        witnesses = [RangeWitness(claimed, r)]
        proof = rproof._prove_unchecked(
            PK, ring, statements, witnesses, CTX, squares=_forge_squares(statements, witnesses)
        )
        with pytest.raises(ProofRejected):
            rproof.verify(PK, ring, statements, proof, CTX)


def test_commitment_to_other_value_than_ciphertext_is_rejected(ring):
    """Commit to 5 (in range) while the ciphertext holds 50 (out of range): the link fails."""
    c, r = _encrypt(PK, 50)
    statements = [RangeStatement(c, 0, 10)]
    proof = rproof._prove_unchecked(PK, ring, statements, [RangeWitness(5, r)], CTX)
    with pytest.raises(ProofRejected, match=r"\(1\+N\)\^z1"):
        rproof.verify(PK, ring, statements, proof, CTX)


def test_wrong_square_commitment_for_one_value_is_rejected(ring):
    statements, witnesses = _batch(PK, [1, 2, 3, 4], 0, 10)
    squares = [four_squares(100 - (2 * w.value - 10) ** 2) for w in witnesses]
    squares[2] = (squares[2][0] + 1, *squares[2][1:])
    proof = rproof._prove_unchecked(PK, ring, statements, witnesses, CTX, squares=squares)
    with pytest.raises(ProofRejected, match="square relation"):
        rproof.verify(PK, ring, statements, proof, CTX)


# -- binding to the context and to the statement ------------------------------------------------


@pytest.fixture(scope="module")
def honest(ring):
    statements, witnesses = _batch(PK, [0, 9, 4], 0, 10)
    return statements, rproof.prove(PK, ring, statements, witnesses, CTX)


@pytest.mark.parametrize(
    "other",
    [
        ProofContext(b"session-B", "input-prep", 3, 1),
        ProofContext(b"session-A", "local", 3, 1),
        ProofContext(b"session-A", "input-prep", 4, 1),
        ProofContext(b"session-A", "input-prep", 3, 2),
    ],
)
def test_replay_in_other_context_is_rejected(ring, honest, other):
    statements, proof = honest
    with pytest.raises(ProofRejected) as info:
        rproof.verify(PK, ring, statements, proof, other)
    assert info.value.prover == other.prover


def test_proof_does_not_transfer_to_other_statements(ring, honest):
    statements, proof = honest
    changed = [dataclasses.replace(statements[0], high=11), *statements[1:]]
    with pytest.raises(ProofRejected):
        rproof.verify(PK, ring, changed, proof, CTX)
    with pytest.raises(ProofRejected):
        rproof.verify(PK, ring, list(reversed(statements)), proof, CTX)
    with pytest.raises(ProofRejected):
        rproof.verify(PK, ring, statements[:2], proof, CTX)


def test_proof_does_not_transfer_to_other_parameters(ring, honest):
    statements, proof = honest
    other, _ = rpm.generate(1024, insecure_allow_small=True)
    with pytest.raises(ProofRejected):
        rproof.verify(PK, other, statements, proof, CTX)


def _tamper(proof: RangeProof, name: str) -> RangeProof:
    value = getattr(proof, name)
    if isinstance(value, tuple):
        first = value[0]
        if isinstance(first, tuple):
            return dataclasses.replace(proof, **{name: ((first[0] + 1, *first[1:]), *value[1:])})
        return dataclasses.replace(proof, **{name: (first + 1, *value[1:])})
    return dataclasses.replace(proof, **{name: value + 1})


@pytest.mark.parametrize("name", [f.name for f in dataclasses.fields(RangeProof)])
def test_every_tampered_field_is_rejected(ring, honest, name):
    statements, proof = honest
    with pytest.raises(ProofRejected):
        rproof.verify(PK, ring, statements, _tamper(proof, name), CTX)


def test_malformed_values_are_named(ring, honest):
    statements, proof = honest
    bad = dataclasses.replace(proof, commitments=(0, *proof.commitments[1:]))
    with pytest.raises(ProofRejected, match="commitment 0 is not a unit"):
        rproof.verify(PK, ring, statements, bad, CTX)
    bad = dataclasses.replace(proof, w=1 << (ring.bits + 5000))
    with pytest.raises(ProofRejected, match="too long"):
        rproof.verify(PK, ring, statements, bad, CTX)
    with pytest.raises(ProofRejected, match="not a RangeProof"):
        rproof.verify(PK, ring, statements, "proof", CTX)


# -- parameters ----------------------------------------------------------------------------------


def test_param_proof_rejects_s_outside_t(ring):
    # s' = -s is not a square (Jacobi symbol of -1 modulo a Blum-like N~ is +1, but -1 is not a
    # square modulo safe primes), so s' is outside <t>; a proof for s does not carry over.
    params, secret = rpm.generate(1024, insecure_allow_small=True)
    proof = rpm.prove_params(params, secret, CTX)
    forged = rpm.RingPedersen(params.n, params.n - params.s, params.t)
    with pytest.raises(ProofRejected):
        rpm.verify_params(forged, proof, CTX)
    with pytest.raises(ProofRejected):
        rpm.verify_params(params, proof, dataclasses.replace(CTX, round=9))
    flipped = rpm.ParamProof(proof.commitments, (proof.responses[0] + 1, *proof.responses[1:]))
    with pytest.raises(ProofRejected):
        rpm.verify_params(params, flipped, CTX)


def test_small_parameters_need_the_insecure_option():
    with pytest.raises(ValueError, match="insecure"):
        rpm.generate(1024)
    with pytest.raises(ValueError, match="insecure"):
        rpm.RingPedersen(int(gmpy2.next_prime(1 << 1500)) * 3, 4, 9).check()


# -- wire -----------------------------------------------------------------------------------------


def test_round_trip_through_cbor(ring, honest):
    statements, proof = honest
    wire = cbor2.dumps(codec.encode(proof), canonical=True)
    back = codec.decode(RangeProof, cbor2.loads(wire), prover=CTX.prover)
    assert back == proof
    rproof.verify(PK, ring, statements, back, CTX)


@given(st.lists(st.integers(min_value=-(1 << 40), max_value=1 << 40), min_size=1, max_size=3))
@settings(max_examples=10, deadline=None)
def test_hypothesis_values_prove_and_survive_the_wire(ring, values):
    low, high = min(values) - secrets.randbelow(5), max(values) + secrets.randbelow(5)
    statements, witnesses = _batch(PK, values, low, high)
    proof = rproof.prove(PK, ring, statements, witnesses, CTX)
    back = codec.decode(RangeProof, cbor2.loads(cbor2.dumps(codec.encode(proof))), prover=1)
    rproof.verify(PK, ring, statements, back, CTX)


# -- production parameters -------------------------------------------------------------------------


@pytest.mark.slow
def test_production_parameters():
    """2048-bit N, 2048-bit N~ of safe primes, 128-bit challenges: honest passes, cheater fails."""
    pk = random_modulus(2048)
    params, secret = rpm.generate(2048)
    rpm.verify_params(params, rpm.prove_params(params, secret, CTX), CTX)
    low, high = -(1 << 32), 1 << 32
    statements, witnesses = _batch(pk, [0, 1 << 32, -(1 << 31), 77], low, high)
    rproof.verify(pk, params, statements, rproof.prove(pk, params, statements, witnesses, CTX), CTX)
    statements, witnesses = _batch(pk, [5, high + 1], low, high)
    forged = _forge_squares(statements, witnesses)
    proof = rproof._prove_unchecked(pk, params, statements, witnesses, CTX, squares=forged)
    with pytest.raises(ProofRejected, match="square relation"):
        rproof.verify(pk, params, statements, proof, CTX)
