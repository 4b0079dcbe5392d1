"""Section V statements 1-4: an honest party passes, each cheating strategy is rejected naming it.

Default tests use INSECURE 512-bit Paillier and ring-Pedersen moduli and d = 3; the same
proofs run at 2048 bits in ``test_production_size`` (marked long).
"""

from __future__ import annotations

import dataclasses

import cbor2
import numpy as np
import pytest

from coopetition.protocols.fixedpoint import HelenScales
from coopetition.protocols.helen import input_proof as ip
from coopetition.protocols.helen import numerics as H
from coopetition.protocols.paillier import ops
from coopetition.protocols.paillier.keys import insecure_test_keypair
from coopetition.protocols.zk import codec
from coopetition.protocols.zk import range_params as rpm
from coopetition.protocols.zk.errors import ProofRejected
from coopetition.protocols.zk.transcript import ProofContext
from coopetition.sims.benchkit import random_modulus

PK, SK = insecure_test_keypair(512)
PROVER, VERIFIER = 2, 0
CTX = ProofContext(b"helen-session", "input-prep", 0, PROVER)
D = 3


def _data(seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(40, D))
    y = X @ np.array([1.0, -2.0, 0.5]) + 0.1 * rng.normal(size=40)
    return X, y


@pytest.fixture(scope="module")
def scales() -> HelenScales:
    return HelenScales(features=D, rows=40, parties=3, rho=4.0, x_bound=5.0, y_bound=20.0)


@pytest.fixture(scope="module")
def ring() -> rpm.RingPedersen:
    params, secret = rpm.generate(512, insecure_allow_small=True)
    rpm.verify_params(params, rpm.prove_params(params, secret, CTX), CTX)
    return params


@pytest.fixture(scope="module")
def honest(scales, ring):
    prep = H.prepare_input(*_data(), scales)
    com, proof, witness = ip.prove(PK, prep, scales, CTX, {VERIFIER: ring})
    return prep, com, proof, witness


def assert_rejected(scales, ring, com, proof, ctx=CTX) -> ProofRejected:
    with pytest.raises(ProofRejected) as info:
        ip.verify(PK, com, proof, scales, ctx, VERIFIER, ring)
    assert info.value.prover == PROVER
    return info.value


def test_honest_party_passes_and_commits_to_a_and_b(scales, ring, honest):
    prep, com, proof, witness = honest
    ip.verify(PK, com, proof, scales, CTX, VERIFIER, ring)
    # the committed A and b decrypt to the published integers, and the witnesses track them
    assert [SK.decrypt(c) for c in com.b] == [int(v) for v in prep.b]
    assert SK.decrypt(com.A[1][2]) == int(prep.A[1][2])
    assert witness.A[1][2].holds(PK) and witness.b[0].holds(PK)


def test_replay_in_another_round_or_session_is_rejected(scales, ring, honest):
    _, com, proof, _ = honest
    assert_rejected(scales, ring, com, proof, dataclasses.replace(CTX, round=1))
    assert_rejected(scales, ring, com, proof, dataclasses.replace(CTX, session=b"other"))


def _cheat(scales, ring, prep):
    return ip.prove(PK, prep, scales, CTX, {VERIFIER: ring}, _unchecked=True)


def _recompute(prep: H.PreparedInput, scales: HelenScales, **changes) -> H.PreparedInput:
    """A cheater's consistent pieces: A and b recomputed from (possibly altered) V, Theta..."""
    fields = {f.name: getattr(prep, f.name) for f in dataclasses.fields(prep)}
    fields.update(changes)
    V, theta, sigma, ystar = fields["V"], fields["theta"], fields["sigma"], fields["ystar"]
    A_full = np.dot(V * theta[np.newaxis, :], V.T)
    b_full = np.dot(V, sigma * ystar)
    fields.update(
        A_full=A_full,
        A=H.round_shift(A_full, scales.a_shift),
        b_full=b_full,
        b=H.round_shift(b_full, scales.b_shift),
    )
    return H.PreparedInput(**fields)


def test_v_not_orthogonal_is_rejected(scales, ring, honest):
    prep = honest[0]
    V = prep.V.copy()
    V[0, 1] += 1 << (scales.v_bits - 6)  # a 1.5 % change: V^T V is no longer close to I
    com, proof, _ = _cheat(scales, ring, _recompute(prep, scales, V=V))
    assert "range" in assert_rejected(scales, ring, com, proof).check


def test_theta_not_matching_sigma_is_rejected(scales, ring, honest):
    prep = honest[0]
    theta = prep.theta.copy()
    theta[1] = theta[1] * 101 // 100
    com, proof, _ = _cheat(scales, ring, _recompute(prep, scales, theta=theta))
    assert "range" in assert_rejected(scales, ring, com, proof).check


def test_a_out_of_range_or_off_its_product_is_rejected(scales, ring, honest):
    prep = honest[0]
    A = prep.A.copy()
    A[0, 0] += 1  # one unit off the rounding of V Theta V^T
    com, proof, _ = _cheat(scales, ring, dataclasses.replace(prep, A=A))
    assert "range" in assert_rejected(scales, ring, com, proof).check
    A = prep.A.copy()
    A[2, 1] = scales.a_bound + 1  # beyond the range Gadget 4 relies on
    com, proof, _ = _cheat(scales, ring, dataclasses.replace(prep, A=A))
    assert "range" in assert_rejected(scales, ring, com, proof).check


def test_b_out_of_range_is_rejected(scales, ring, honest):
    prep = honest[0]
    ystar = prep.ystar.copy()
    ystar[0] = 4 * scales.ystar_int_bound  # b grows with it; y* and b leave their ranges
    com, proof, _ = _cheat(scales, ring, _recompute(prep, scales, ystar=ystar))
    assert "range" in assert_rejected(scales, ring, com, proof).check


def test_inconsistent_svd_pieces_are_rejected(scales, ring, honest):
    """Enc(A_full) not equal to V (Theta V^T): the gadget's product check fails."""
    _, com, proof, _ = honest
    other = ops.add_plain(PK, proof.a_full[0][0], 1)
    a_full = ((other, *proof.a_full[0][1:]), *proof.a_full[1:])
    err = assert_rejected(scales, ring, com, dataclasses.replace(proof, a_full=a_full))
    assert err.kind == "gadget1-two-sided"
    # b_full built from another y* than the committed one: the multiplication proof fails
    sigma_y = (ops.add_plain(PK, proof.sigma_y[0], 5), *proof.sigma_y[1:])
    err = assert_rejected(scales, ring, com, dataclasses.replace(proof, sigma_y=sigma_y))
    assert err.kind in ("multiplication", "gadget1-two-sided")


def test_missing_range_proof_for_this_verifier_is_rejected(scales, ring, honest):
    _, com, proof, _ = honest
    err = assert_rejected(
        scales, ring, com, dataclasses.replace(proof, range_verifiers=(), range_proofs=())
    )
    assert "no single range proof" in err.check
    err = assert_rejected(scales, ring, com, dataclasses.replace(proof, range_verifiers=(0, 1)))
    assert "one range proof per named verifier" in err.check


def test_commitments_and_proof_survive_the_wire(scales, ring, honest):
    _, com, proof, _ = honest
    wire_com = cbor2.loads(cbor2.dumps(codec.encode(com)))
    wire_proof = cbor2.loads(cbor2.dumps(codec.encode(proof)))
    com2 = codec.decode(ip.InputCommitments, wire_com, prover=PROVER)
    proof2 = codec.decode(ip.InputProof, wire_proof, prover=PROVER)
    assert com2 == com and proof2 == proof
    ip.verify(PK, com2, proof2, scales, CTX, VERIFIER, ring)
    with pytest.raises(ProofRejected):
        codec.decode(ip.InputProof, wire_proof[:-1], prover=PROVER)


@pytest.mark.long
def test_production_size():
    """2048-bit N and N~: honest passes, V not orthogonal is rejected."""
    pk = random_modulus(2048)
    scales = HelenScales(features=D, rows=40, parties=3, rho=4.0, x_bound=5.0, y_bound=20.0)
    params, secret = rpm.generate(2048)
    rpm.verify_params(params, rpm.prove_params(params, secret, CTX), CTX)
    prep = H.prepare_input(*_data(), scales)
    com, proof, _ = ip.prove(pk, prep, scales, CTX, {VERIFIER: params})
    ip.verify(pk, com, proof, scales, CTX, VERIFIER, params)
    V = prep.V.copy()
    V[0, 1] += 1 << (scales.v_bits - 6)
    com, proof, _ = ip.prove(
        pk, _recompute(prep, scales, V=V), scales, CTX, {VERIFIER: params}, _unchecked=True
    )
    with pytest.raises(ProofRejected):
        ip.verify(pk, com, proof, scales, CTX, VERIFIER, params)


def test_local_step_proves_against_the_committed_a_and_matches_numerics(scales, honest):
    """The design note's local step: Enc(w_full) = A Enc(b + rho (z - u)), proved (two-sided
    Gadget 1, ``local_phase.local_product``) against the committed Enc(A) with the
    input-preparation witness; it decrypts to numerics' integers, and one unit off is caught."""
    from coopetition.protocols.helen import local_phase
    from coopetition.protocols.paillier import tracked
    from coopetition.protocols.zk import twosided

    prep, com, _, witness = honest
    z = np.array([3 << 20, -(5 << 18), 7], dtype=object)
    u = np.array([-(1 << 19), 2, 1 << 21], dtype=object)
    ez = [t.ciphertext for t in tracked.encrypt_vector(PK, z.tolist())]
    eu = [t.ciphertext for t in tracked.encrypt_vector(PK, u.tolist())]
    ev = local_phase.encrypted_v(PK, com.b, ez, eu, scales.rho_int)
    ctx = ProofContext(CTX.session, "local", 0, PROVER)
    w, proof = local_phase.local_product(PK, witness, com, ev, ctx)
    twosided.verify(PK, com.A, [[c] for c in ev], [[c] for c in w], proof, ctx)
    ew = [[c] for c in w]
    off = [[ops.add_plain(PK, w[0], 1)], *ew[1:]]
    with pytest.raises(ProofRejected):
        twosided.verify(PK, com.A, [[c] for c in ev], off, proof, ctx)
    expected = H.local_product(prep, z, u, scales)
    assert [PK.decode(SK.raw_decrypt(row[0])) for row in ew] == [int(v) for v in expected]
