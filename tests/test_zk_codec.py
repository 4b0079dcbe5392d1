"""Proofs survive a round trip through nested lists and CBOR; malformed encodings are named."""

from __future__ import annotations

import cbor2
import pytest

from coopetition.engine.codec import SignedIntVector
from coopetition.protocols.paillier.keys import insecure_test_keypair
from coopetition.protocols.zk import codec, gadgets, group, interval, plaintext
from coopetition.protocols.zk.errors import ProofRejected
from coopetition.protocols.zk.gadgets import Gadget2Proof
from coopetition.protocols.zk.interval import IntervalParams, IntervalProof
from coopetition.protocols.zk.plaintext import PlaintextProof
from coopetition.protocols.zk.transcript import ProofContext

PK, _ = insecure_test_keypair(512)
CTX = ProofContext(b"wire", "p", 0, 5)


def test_interval_round_trip_through_cbor_still_verifies():
    m, r = 12345, group.random_unit(PK)
    c = PK.raw_encrypt(m, r)
    params = IntervalParams(bits=32, repetitions=16, insecure_allow_weak=True)
    proof = interval.prove(PK, c, m, r, CTX, params)
    wire = cbor2.dumps(codec.encode(proof), canonical=True)
    back = codec.decode(IntervalProof, cbor2.loads(wire), prover=5)
    assert back == proof
    interval.verify(PK, c, back, CTX, params)


def test_gadget2_round_trip():
    a, b = [[1, 2], [3, 4]], [[5], [6]]
    ea, ra = gadgets.encrypt_matrix(PK, a)
    eb, rb = gadgets.encrypt_matrix(PK, b)
    ec, rc = gadgets.encrypt_matrix(PK, [[17], [39]])
    proof = gadgets.prove_gadget2(PK, ea, eb, ec, a, ra, b, rb, rc, CTX)
    back = codec.decode(Gadget2Proof, cbor2.loads(cbor2.dumps(codec.encode(proof))), prover=5)
    assert back == proof
    gadgets.verify_gadget2(PK, ea, eb, ec, back, CTX)


@pytest.mark.parametrize(
    ("obj", "named"),
    [
        ([1, 2], "has 2 fields"),
        ([1, 2, "3"], "proof.w is a str"),
        ([1, True, 3], "proof.z is a bool"),
        ({"a": 1}, "not a list"),
        ([1, 2, 3.0], "proof.w is a float"),
    ],
)
def test_malformed_plaintext_encoding_named(obj, named):
    with pytest.raises(ProofRejected, match=named) as info:
        codec.decode(PlaintextProof, obj, prover=9)
    assert info.value.prover == 9 and info.value.kind == "plaintext"


def test_malformed_nested_encoding_names_the_path():
    c, r = PK.raw_encrypt(1, 3), 3
    proof = plaintext.prove(PK, c, 1, r, CTX)
    packed_rows = [SignedIntVector.of([2]).to_cbor(), SignedIntVector.of([1, 2]).to_cbor()]
    encoded = [packed_rows, [[codec.encode(proof)[:2]]], []]
    with pytest.raises(ProofRejected, match=r"proof\.multiplications\[0\]\[0\] has 2 fields"):
        codec.decode(gadgets.MatMulProof, encoded, prover=2)
