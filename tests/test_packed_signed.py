"""SignedIntVector (engine.codec) and the zk codec's packed sequences: exact, canonical, strict."""

from __future__ import annotations

import cbor2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coopetition.engine.codec import (
    TAG_SIGNED_INT_VECTOR,
    SignedIntVector,
    WireError,
    decode_payload,
    encode_payload,
    unzigzag,
    zigzag,
)
from coopetition.protocols.zk import codec
from coopetition.protocols.zk.errors import ProofRejected
from coopetition.protocols.zk.interval import IntervalProof
from coopetition.protocols.zk.range_proof import RangeProof

signed = st.integers(min_value=-(2**4200), max_value=2**4200)
small = st.integers(min_value=-300, max_value=300)
vectors = st.lists(st.one_of(signed, small, st.just(0)), max_size=25)


def _tag(width: int, codes: list[int]) -> bytes:
    packed = b"".join(c.to_bytes(width, "big") for c in codes)
    return cbor2.dumps(cbor2.CBORTag(TAG_SIGNED_INT_VECTOR, [width, packed]))


@given(st.one_of(signed, small))
def test_zigzag_is_a_bijection_onto_the_naturals(value):
    code = zigzag(value)
    assert code >= 0 and unzigzag(code) == value
    assert code == (2 * value if value >= 0 else 2 * abs(value) - 1)  # the textbook map


@settings(max_examples=60)
@given(vectors)
def test_signed_vectors_round_trip_with_the_minimal_width(values):
    data = encode_payload({"v": SignedIntVector.of(values)})
    back = decode_payload(data)["v"]
    assert isinstance(back, SignedIntVector) and back.values == tuple(values)
    largest = max((2 * v if v >= 0 else -2 * v - 1 for v in values), default=0)
    assert largest < 256**back.width  # fits, and one byte fewer would not:
    assert back.width == 1 or largest >= 256 ** (back.width - 1)
    assert encode_payload({"v": back}) == data  # one encoding: the bus's re-encoding check


@given(st.lists(small, min_size=1, max_size=10), st.integers(min_value=1, max_value=3))
def test_a_wider_than_minimal_width_is_refused(values, extra):
    codes = [zigzag(v) for v in values]
    width = max(1, (max(codes).bit_length() + 7) // 8) + extra
    with pytest.raises(WireError, match="non-canonical"):
        decode_payload(_tag(width, codes))


def test_empty_and_zero_vectors_have_width_one():
    for values in ([], [0], [0, 0, 0]):
        assert SignedIntVector.of(values).width == 1
        assert decode_payload(_tag(1, [0] * len(values))).values == tuple(values)
    with pytest.raises(WireError, match="non-canonical"):
        decode_payload(_tag(2, [0]))


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ([0, b"\x01"], "width out of range"),
        ([70000, b""], "width out of range"),
        ([2, b"\x00\x01\x00"], "not a multiple"),
        ([1, "text"], "not a multiple"),
        ([1], "must hold"),
    ],
)
def test_malformed_signed_vectors_are_refused(value, words):
    with pytest.raises(WireError, match=words):
        decode_payload(cbor2.dumps(cbor2.CBORTag(TAG_SIGNED_INT_VECTOR, value)))


# -- the zk codec ------------------------------------------------------------------------------

#: mixed widths and at most 16 entries: two rows of 4200-bit integers only would routinely overrun
#: hypothesis's 8 KiB draw buffer (CI once failed its data_too_large health check)
rows = st.lists(st.lists(st.one_of(signed, small), max_size=4), max_size=4)


@settings(max_examples=40)
@given(st.lists(signed, max_size=8), st.lists(signed, max_size=8), st.lists(signed, max_size=8))
def test_interval_proofs_round_trip_packed_through_the_wire(a, b, c):
    proof = IntervalProof(tuple(a), tuple(b), tuple(c))
    wire = decode_payload(encode_payload(codec.encode(proof)))
    assert codec.decode(IntervalProof, wire, prover=3, max_bits=4300) == proof
    raw = cbor2.loads(cbor2.dumps(codec.encode(proof)))  # raw tags, decoded strictly here
    assert codec.decode(IntervalProof, raw, prover=3, max_bits=4300) == proof


@settings(max_examples=30, suppress_health_check=[HealthCheck.data_too_large])
@given(rows, rows)
def test_rows_of_integers_round_trip(u, v):
    proof = RangeProof((1, -2), ((3,),), 4, 5, ((6, 7),), 8, 9, 10, 11, _t(u), _t(v), 12)
    wire = decode_payload(encode_payload(codec.encode(proof)))
    assert codec.decode(RangeProof, wire, prover=1, max_bits=4300) == proof


def _t(rows_: list[list[int]]) -> tuple[tuple[int, ...], ...]:
    return tuple(tuple(r) for r in rows_)


def _packed(values: list[int]) -> cbor2.CBORTag:
    return SignedIntVector.of(values).to_cbor()


def _interval(first: object) -> list[object]:
    return [first, _packed([]), _packed([])]


@pytest.mark.parametrize(
    ("first", "words"),
    [
        ([1, 2, 3], "not a packed integer vector"),  # the unpacked form is no longer accepted
        (cbor2.CBORTag(TAG_SIGNED_INT_VECTOR, [2, b"\x00\x02"]), "non-canonical"),
        (cbor2.CBORTag(TAG_SIGNED_INT_VECTOR, [3, b"\x00\x02"]), "not a multiple"),
        (_packed([2**70]), "wider than 64 bits"),
    ],
)
def test_malformed_packed_sequences_name_the_prover(first, words):
    with pytest.raises(ProofRejected, match=words) as info:
        codec.decode(IntervalProof, _interval(first), prover=7, max_bits=64)
    assert info.value.prover == 7 and "proof.commitments" in str(info.value)


@pytest.mark.parametrize(
    ("u", "words"),
    [
        ([_packed([2, 2]), _packed([1, 2, 3])], "do not add up"),
        ([_packed([-1, 4]), _packed([1, 2, 3])], "do not add up"),
        ([_packed([1, 2, 3])], "not \\[row lengths, values\\]"),
        ([[1], [2]], "lengths is a list, not a packed integer vector"),
    ],
)
def test_malformed_rows_name_the_prover(u, words):
    good = codec.encode(RangeProof((1,), ((2,),), 3, 4, ((5,),), 6, 7, 8, 9, ((1,),), ((2,),), 10))
    good[9] = u
    with pytest.raises(ProofRejected, match=words) as info:
        codec.decode(RangeProof, good, prover=4)
    assert info.value.prover == 4 and "proof.u" in str(info.value)


def test_a_lone_integer_longer_than_max_bits_is_refused():
    encoded = codec.encode(RangeProof((1,), ((2,),), 2**80, 4, ((5,),), 6, 7, 8, 9, (), (), 10))
    with pytest.raises(ProofRejected, match="link_ciphertext has more than 64 bits"):
        codec.decode(RangeProof, encoded, prover=4, max_bits=64)
    assert codec.decode(RangeProof, encoded, prover=4, max_bits=81).link_ciphertext == 2**80


def test_max_bits_covers_ciphertexts_and_range_responses():
    # N^2 at 2048 bits, and the range verifier's response cap |N~| + |N| + log n + 2048
    assert codec.max_bits_for(2048, 2048) >= max(4096, 2048 + 2048 + 64 + 2048)
    assert codec.max_bits_for(4096, 4096) <= codec.DEFAULT_MAX_BITS


def test_packed_integers_are_bounded_across_vectors():
    """Many small vectors of one-byte values: each within the per-vector limit, together over
    the payload's bound (each value would become a ~28-byte Python integer)."""
    payload = [SignedIntVector.of([1] * 600) for _ in range(3)]
    data = encode_payload(payload)
    assert len(decode_payload(data, max_values=1800)) == 3
    with pytest.raises(WireError, match="more than 1799 packed integers"):
        decode_payload(data, max_values=1799)
