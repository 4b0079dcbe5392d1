"""Random bits for the offline phase: the 0-or-1 proof and the XOR-of-proved-bits protocol."""

from __future__ import annotations

import dataclasses

import pytest

from coopetition.engine.errors import CheatingDetected
from coopetition.protocols.paillier.keys import insecure_test_keypair
from coopetition.protocols.spdz import bitproof
from coopetition.protocols.spdz import field as F
from coopetition.protocols.spdz.harness import run_local
from coopetition.protocols.spdz.testing import offline_parties
from coopetition.protocols.zk.errors import ProofRejected
from coopetition.protocols.zk.transcript import ProofContext

CTX = ProofContext(b"bit-session", "bits", 3, 1)


def _proved(pk, bit):
    r = pk.random_unit()
    c = pk.raw_encrypt(bit, r)
    return c, bitproof.prove(pk, c, bit, r, CTX)


def test_bit_proofs_verify_for_zero_and_one():
    pk, _ = insecure_test_keypair(1024)
    bitproof.verify_batch(pk, [(*_proved(pk, b), CTX) for b in (0, 1, 1, 0)])


@pytest.mark.parametrize("field", ["a0", "a1", "e0", "z0", "z1"])
def test_altered_response_or_commitment_is_rejected(field):
    pk, _ = insecure_test_keypair(1024)
    c, proof = _proved(pk, 1)
    bad = dataclasses.replace(proof, **{field: getattr(proof, field) + 1})
    with pytest.raises(ProofRejected) as err:
        bitproof.verify_batch(pk, [(c, bad, CTX)])
    assert err.value.prover == 1


def test_false_statement_and_other_context_are_rejected():
    pk, _ = insecure_test_keypair(1024)
    c, proof = _proved(pk, 0)
    two = pk.raw_encrypt(2, pk.random_unit())
    with pytest.raises(ProofRejected):
        bitproof.verify_batch(pk, [(two, proof, CTX)])  # the same proof for an encryption of 2
    with pytest.raises(ProofRejected):
        bitproof.verify_batch(pk, [(c, proof, dataclasses.replace(CTX, prover=2))])
    with pytest.raises(ValueError):
        bitproof.prove(pk, two, 2, 1, CTX)  # an honest prover refuses


@pytest.mark.parametrize(
    ("m", "method", "n"), [(2, "bits", 6), (3, "bits", 6), (2, "bits_from_squares", 2)]
)
def test_offline_bits_are_authenticated_bits(m, method, n):
    ps = offline_parties(m, f"bits-{m}-{method}".encode())
    run_local([p.setup() for p in ps])
    alpha = sum(p.store.alpha_share for p in ps) % F.P
    batches = run_local([getattr(p, method)(n) for p in ps])
    value = sum(b.parts[0].value for b in batches) % F.P
    mac = sum(b.parts[0].mac for b in batches) % F.P
    assert set(int(v) for v in value) <= {0, 1}
    assert all((alpha * v - g) % F.P == 0 for v, g in zip(value, mac, strict=True))


def test_tampered_bit_proof_names_the_party():
    ps = offline_parties(3, b"bits-bad-proof")
    run_local([p.setup() for p in ps])

    def tamper(sender, receiver, tag, payload):
        if sender == 2 and tag.startswith("spdz-bit-contrib/"):
            payload["v_proof"][0][3] += 1  # z0
        return payload

    with pytest.raises(CheatingDetected) as err:
        run_local([p.bits(2) for p in ps], tamper=tamper)
    assert err.value.culprit == 2


def test_xor_step_with_a_foreign_ciphertext_names_the_party():
    ps = offline_parties(3, b"bits-bad-xor")
    run_local([p.setup() for p in ps])

    def tamper(sender, receiver, tag, payload):
        if sender == 1 and tag.startswith("spdz-bit-xor/") and payload.get("c"):
            payload["c"][0], payload["c"][1] = payload["c"][1], payload["c"][0]
        return payload

    with pytest.raises(CheatingDetected) as err:
        run_local([p.bits(2) for p in ps], tamper=tamper)
    assert err.value.culprit == 1
