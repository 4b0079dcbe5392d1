"""Wire encodings: round trips, and rejection of foreign, truncated and non-unit values by index."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coopetition.engine.errors import CheatingDetected
from coopetition.protocols.paillier.keys import InvalidCiphertext, insecure_test_keypair
from coopetition.protocols.paillier.serialize import (
    MalformedEncoding,
    decode_ciphertexts,
    decode_decryption_share,
    decode_key_share,
    decode_public_key,
    decode_threshold_public_key,
    encode_ciphertexts,
    encode_decryption_share,
    encode_key_share,
    encode_public_key,
    encode_threshold_public_key,
)
from coopetition.protocols.paillier.threshold import TrustedDealerKeyGeneration, partial_decrypt
from coopetition.protocols.zk.transcript import ProofContext

PK, SK = insecure_test_keypair(512)
OTHER, _ = insecure_test_keypair(640)


@settings(max_examples=20, deadline=None)
@given(st.lists(st.integers(-(2**64), 2**64), max_size=5))
def test_ciphertext_vector_round_trip(values):
    cts = [PK.encrypt(v) for v in values]
    data = encode_ciphertexts(PK, cts)
    assert len(data) == 16 + 4 + len(cts) * PK.ciphertext_byte_length
    assert decode_ciphertexts(PK, data) == cts


def test_foreign_key_is_refused():
    data = encode_ciphertexts(OTHER, [OTHER.encrypt(1)])
    with pytest.raises(InvalidCiphertext, match="for key"):
        decode_ciphertexts(PK, data)


def test_bad_values_are_named_by_index():
    width = PK.ciphertext_byte_length
    cts = [PK.encrypt(1), PK.encrypt(2), PK.encrypt(3)]
    data = bytearray(encode_ciphertexts(PK, cts))
    start = 20 + 2 * width
    data[start : start + width] = SK.p.to_bytes(width, "big")  # not a unit
    with pytest.raises(InvalidCiphertext, match=r"ciphertext\[2\].*unit"):
        decode_ciphertexts(PK, bytes(data))
    data[start : start + width] = (PK.n_square + 5).to_bytes(width, "big")  # out of range
    with pytest.raises(InvalidCiphertext, match=r"ciphertext\[2\].*outside"):
        decode_ciphertexts(PK, bytes(data))
    data[start : start + width] = bytes(width)  # zero
    with pytest.raises(InvalidCiphertext, match=r"ciphertext\[2\]"):
        decode_ciphertexts(PK, bytes(data))
    with pytest.raises(InvalidCiphertext, match="announces"):
        decode_ciphertexts(PK, encode_ciphertexts(PK, cts)[:-1])
    with pytest.raises(InvalidCiphertext, match="expected 2"):
        decode_ciphertexts(PK, encode_ciphertexts(PK, cts), expected_count=2)


def test_keys_round_trip_and_small_keys_need_the_flag():
    assert decode_public_key(encode_public_key(PK), insecure_allow_small=True) == PK
    with pytest.raises(ValueError, match="insecure"):
        decode_public_key(encode_public_key(PK))
    with pytest.raises(MalformedEncoding):
        decode_public_key(encode_public_key(PK)[:-1], insecure_allow_small=True)


def test_threshold_material_round_trip():
    dealer = TrustedDealerKeyGeneration(3, keypair=(PK, SK), insecure_allow_small=True)
    tpk = dealer.threshold_public
    assert (
        decode_threshold_public_key(encode_threshold_public_key(tpk), insecure_allow_small=True)
        == tpk
    )
    for share in dealer.key_shares():
        back = decode_key_share(encode_key_share(share), insecure_allow_small=True)
        assert back == share
        assert str(share.secret) not in repr(back)
    cts = [PK.encrypt(3), PK.encrypt(-4)]
    ds = partial_decrypt(dealer.key_share(1), cts, ProofContext(b"s", "p", 0, 1))
    data = encode_decryption_share(PK, ds)
    assert decode_decryption_share(PK, data, sender=1) == ds
    with pytest.raises(CheatingDetected) as info:
        decode_decryption_share(PK, data, sender=2)
    assert info.value.culprit == 2
    with pytest.raises(CheatingDetected, match="party 1"):
        decode_decryption_share(PK, data[:-3], sender=1)
