"""Wire format: exact round trips, canonical bytes, strict decoding, signatures over bytes."""

import cbor2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from nacl.signing import SigningKey

from coopetition.engine.wire import (
    BROADCAST,
    WIRE_VERSION,
    BigIntVector,
    EnvelopeHeader,
    WireError,
    decode_payload,
    encode_payload,
    open_frame,
    peek_header,
    seal,
)

DTYPES = ["u1", "<u2", "<u4", "<u8", "i1", "<i2", "<i4", "<i8", "<f4", "<f8", ">i4", ">f8"]

scalars = st.one_of(
    st.integers(min_value=-(2**8192), max_value=2**8192),
    st.binary(max_size=40),
    st.text(max_size=20),
    st.booleans(),
    st.none(),
)
payloads = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=5), st.dictionaries(st.text(max_size=8), inner, max_size=5)
    ),
    max_leaves=20,
)


def _header(**changes):
    fields = dict(
        session=b"s" * 16,
        protocol="admm",
        phase="coordinate",
        round=3,
        tag="w",
        sender=1,
        receiver=BROADCAST,
        seq=7,
    )
    fields.update(changes)
    return EnvelopeHeader(**fields)


@given(payloads)
def test_payload_round_trip_and_canonical(value):
    data = encode_payload(value)
    assert decode_payload(data) == value
    assert encode_payload(decode_payload(data)) == data


@settings(max_examples=60)
@given(
    hnp.arrays(
        dtype=st.sampled_from(DTYPES).map(np.dtype),
        shape=hnp.array_shapes(min_dims=0, max_dims=3, max_side=5),
        elements={"allow_nan": False},
    )
)
def test_numpy_arrays_keep_dtype_shape_and_values(array):
    decoded = decode_payload(encode_payload({"a": array}))["a"]
    assert decoded.shape == array.shape
    assert decoded.dtype == array.dtype.newbyteorder("<") or decoded.dtype == array.dtype
    np.testing.assert_array_equal(decoded, array)


@given(st.lists(st.integers(min_value=0, max_value=2**4096 - 1), max_size=30))
def test_bigint_vectors_are_fixed_width(values):
    encoded = encode_payload(BigIntVector.of(values, width=512))
    decoded = decode_payload(encoded)
    assert list(decoded.values) == values
    # one fixed-width string: size depends on the count only, never on the values
    assert len(encoded) == len(encode_payload(BigIntVector.of([0] * len(values), width=512)))


def test_bigint_vector_rejects_values_too_wide_and_negative():
    with pytest.raises(TypeError):
        encode_payload(BigIntVector.of([2**64], width=8))
    with pytest.raises(TypeError):
        encode_payload(BigIntVector.of([-1]))


def test_floats_refused_both_ways():
    with pytest.raises(TypeError):
        encode_payload({"x": 1.5})
    with pytest.raises(WireError):
        decode_payload(cbor2.dumps({"x": 1.5}))


@pytest.mark.parametrize(
    "raw",
    [
        bytes.fromhex("9f01ff"),  # indefinite-length array
        bytes.fromhex("a2616101616102"),  # duplicate map key
        cbor2.dumps(cbor2.CBORTag(0, "2026-01-01T00:00:00Z")),  # date tag
        cbor2.dumps(cbor2.CBORTag(258, [1, 2])),  # set tag
        cbor2.dumps(cbor2.CBORTag(999999, 1)),  # unknown tag
        cbor2.dumps(cbor2.CBORTag(40, [[3], cbor2.CBORTag(86, b"\x00" * 16)])),  # shape mismatch
        cbor2.dumps({1: 2}),  # non-text key
        b"\x81" * 40 + b"\x01",  # nesting too deep
        b"\x82\x01",  # truncated
        bytes.fromhex("f7"),  # undefined
        bytes.fromhex("e0"),  # simple value 0
        bytes.fromhex("f8ff"),  # simple value 255
        bytes.fromhex("0101"),  # trailing bytes
        bytes.fromhex("9b" + "ff" * 8) + b"\x00" * 8,  # array announcing 2**64 - 1 items
        bytes.fromhex("9a000f4241") + b"\xa0" * 1_000_001,  # more items than allowed
    ],
)
def test_strict_decoder_rejects(raw):
    with pytest.raises(WireError):
        decode_payload(raw)


def test_seal_open_and_tampering():
    key = SigningKey.generate()
    other = SigningKey.generate()
    frame = seal(_header(), {"w": np.arange(3.0)}, key)
    envelope = open_frame(frame, {1: key.verify_key})
    assert envelope.header == _header()
    np.testing.assert_array_equal(envelope.payload["w"], np.arange(3.0))
    assert peek_header(frame) == _header()
    tampered = bytearray(frame)
    tampered[-1] ^= 1
    with pytest.raises(WireError, match=r"signature|malformed"):
        open_frame(bytes(tampered), {1: key.verify_key})
    with pytest.raises(WireError, match="signature"):
        open_frame(frame, {1: other.verify_key})
    with pytest.raises(WireError, match="unknown sender"):
        open_frame(frame, {2: key.verify_key})


def test_header_fields_are_validated():
    key = SigningKey.generate()
    body = encode_payload([WIRE_VERSION, b"s", "p", "ph", -1, "t", 1, -1, 0, None])
    with pytest.raises(WireError, match="round"):
        open_frame(bytes(key.sign(body)), {1: key.verify_key})
    body = encode_payload([WIRE_VERSION + 1, b"s", "p", "ph", 0, "t", 1, -1, 0, None])
    with pytest.raises(WireError, match="version"):
        open_frame(bytes(key.sign(body)), {1: key.verify_key})


def test_non_canonical_bodies_are_refused_even_when_signed():
    key = SigningKey.generate()
    canonical = encode_payload([WIRE_VERSION, b"s", "p", "ph", 0, "t", 1, -1, 0, 5])
    assert open_frame(bytes(key.sign(canonical)), {1: key.verify_key}).payload == 5
    for body in (
        canonical[:-1] + bytes.fromhex("1805"),  # 5 in two bytes instead of one
        canonical[:-1] + bytes.fromhex("c24105"),  # 5 as a bignum
    ):
        with pytest.raises(WireError, match="canonical"):
            open_frame(bytes(key.sign(body)), {1: key.verify_key})
    boolean_version = bytes.fromhex("f5") + canonical[2:]
    with pytest.raises(WireError, match="version"):
        open_frame(bytes(key.sign(canonical[:1] + boolean_version)), {1: key.verify_key})
