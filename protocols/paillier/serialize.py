"""Byte encodings of ciphertext vectors, keys and decryption shares.

Ciphertext vectors are what crosses the wire most, so they get a fixed-width layout:
``key fingerprint (16 bytes) | count (4 bytes, big-endian) | count * ceil(|N**2|/8) bytes``,
each ciphertext big-endian. Decoding checks the fingerprint (a vector for another key is
refused), the length and every value (in range, a unit), and names the bad index.

Keys and shares use a small tagged format: a 4-byte tag, then length-prefixed signed integers.
Everything that decodes a secret (key shares) never puts the value in an error message.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from coopetition.engine.errors import CheatingDetected
from coopetition.protocols.zk.decryption import DecryptionProof

from .keys import (
    InvalidCiphertext,
    PublicKey,
    as_int,
    check_modulus_bits,
    register_insecure_test_key,
)
from .threshold import DecryptionShare, KeyShare, ThresholdPublicKey

_FP = 16
_COUNT = 4


class MalformedEncoding(ValueError):
    """Bytes that do not decode to the expected structure."""


def encode_ciphertexts(pk: PublicKey, cts: Sequence[int] | Any) -> bytes:
    values = cts.tolist() if hasattr(cts, "tolist") else list(cts)
    width = pk.ciphertext_byte_length
    out = bytearray(pk.fingerprint)
    out += len(values).to_bytes(_COUNT, "big")
    for index, c in enumerate(values):
        try:
            c = as_int(c, what=f"ciphertext[{index}]")
        except TypeError as exc:
            raise InvalidCiphertext(f"{exc}; not encoded") from None
        if not 0 < c < pk.n_square:
            raise InvalidCiphertext(f"ciphertext[{index}] is outside [1, N^2); not encoded")
        out += c.to_bytes(width, "big")
    return bytes(out)


def decode_ciphertexts(
    pk: PublicKey, data: bytes, *, expected_count: int | None = None, what: str = "ciphertext"
) -> list[int]:
    """The checked ciphertexts in ``data``; ``InvalidCiphertext`` names the first bad one."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise InvalidCiphertext(f"{what} vector is a {type(data).__name__}, not bytes")
    data = bytes(data)
    if len(data) < _FP + _COUNT:
        raise InvalidCiphertext(f"{what} vector of {len(data)} bytes is shorter than its header")
    fingerprint = data[:_FP]
    if fingerprint != pk.fingerprint:
        raise InvalidCiphertext(
            f"{what} vector is for key {fingerprint.hex()}, expected key {pk.fingerprint.hex()}"
        )
    count = int.from_bytes(data[_FP : _FP + _COUNT], "big")
    width = pk.ciphertext_byte_length
    if len(data) != _FP + _COUNT + count * width:
        raise InvalidCiphertext(
            f"{what} vector announces {count} values of {width} bytes but has {len(data) - _FP - _COUNT} bytes"
        )
    if expected_count is not None and count != expected_count:
        raise InvalidCiphertext(f"{what} vector has {count} values, expected {expected_count}")
    base = _FP + _COUNT
    values = [
        int.from_bytes(data[base + i * width : base + (i + 1) * width], "big") for i in range(count)
    ]
    for index, c in enumerate(values):
        pk.check_ciphertext(c, what=f"{what}[{index}]")
    return values


# -- tagged integer records ------------------------------------------------------------------


def _pack(tag: bytes, ints: Sequence[int]) -> bytes:
    out = bytearray(tag)
    out += len(ints).to_bytes(4, "big")
    for v in ints:
        v = int(v)
        raw = abs(v).to_bytes((abs(v).bit_length() + 7) // 8, "big")
        out += (b"\x01" if v < 0 else b"\x00") + len(raw).to_bytes(4, "big") + raw
    return bytes(out)


def _unpack(tag: bytes, data: bytes) -> list[int]:
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise MalformedEncoding(f"expected {tag.decode()} bytes, got a {type(data).__name__}")
    data = bytes(data)
    if data[:4] != tag:
        raise MalformedEncoding(f"expected a {tag.decode()} record")
    try:
        count = int.from_bytes(data[4:8], "big")
        pos, out = 8, []
        for _ in range(count):
            sign, length = data[pos], int.from_bytes(data[pos + 1 : pos + 5], "big")
            if sign not in (0, 1) or pos + 5 + length > len(data):
                raise MalformedEncoding(f"{tag.decode()} record: bad integer header")
            v = int.from_bytes(data[pos + 5 : pos + 5 + length], "big")
            out.append(-v if sign else v)
            pos += 5 + length
    except IndexError as exc:
        raise MalformedEncoding(f"{tag.decode()} record is truncated") from exc
    if pos != len(data):
        raise MalformedEncoding(f"{tag.decode()} record has trailing bytes")
    return out


def encode_public_key(pk: PublicKey) -> bytes:
    return _pack(b"PPK1", [pk.n])


def decode_public_key(data: bytes, *, insecure_allow_small: bool = False) -> PublicKey:
    (n,) = _expect(_unpack(b"PPK1", data), 1, "public key")
    check_modulus_bits(n.bit_length(), insecure_allow_small=insecure_allow_small)
    pk = PublicKey(n)
    if insecure_allow_small:
        register_insecure_test_key(pk)
    return pk


def encode_threshold_public_key(tpk: ThresholdPublicKey) -> bytes:
    return _pack(
        b"PTK1",
        [tpk.public.n, tpk.verification_base, tpk.share_bits, *tpk.verification_keys],
    )


def decode_threshold_public_key(
    data: bytes, *, insecure_allow_small: bool = False
) -> ThresholdPublicKey:
    ints = _unpack(b"PTK1", data)
    if len(ints) < 4:
        raise MalformedEncoding(
            "threshold public key needs N, v, share bits and a verification key"
        )
    n, v, share_bits, *keys = ints
    check_modulus_bits(n.bit_length(), insecure_allow_small=insecure_allow_small)
    pk = PublicKey(n)
    # dealer keys: about 2|N| + 130 bits; distributed keys (dkg): about 3|N| + 170 bits
    if not 2 * n.bit_length() < share_bits < 3 * n.bit_length() + 512:
        raise MalformedEncoding("threshold public key: implausible share length")
    try:
        # the constructor refuses degenerate verification bases and keys (see threshold)
        tpk = ThresholdPublicKey(pk, v, tuple(keys), share_bits)
    except ValueError as exc:
        raise MalformedEncoding(f"threshold public key: {exc}") from exc
    if insecure_allow_small:
        register_insecure_test_key(pk)
    return tpk


def encode_key_share(share: KeyShare) -> bytes:
    """The party's secret share with its threshold public key. Keep these bytes secret."""
    return _pack(b"PKS1", [share.party, share.secret]) + encode_threshold_public_key(
        share.threshold_public
    )


def decode_key_share(data: bytes, *, insecure_allow_small: bool = False) -> KeyShare:
    data = bytes(data)
    if data[:4] != b"PKS1":
        raise MalformedEncoding("expected a PKS1 record")
    # the share record holds two integers; find where it ends
    pos = 8
    for _ in range(2):
        if pos + 5 > len(data):
            raise MalformedEncoding("PKS1 record is truncated")
        pos += 5 + int.from_bytes(data[pos + 1 : pos + 5], "big")
    party, secret = _expect(_unpack(b"PKS1", data[:pos]), 2, "key share")
    tpk = decode_threshold_public_key(data[pos:], insecure_allow_small=insecure_allow_small)
    if not 0 <= party < tpk.parties:
        raise MalformedEncoding(f"key share for party {party} of a {tpk.parties}-party key")
    if abs(secret).bit_length() > tpk.share_bits:
        raise MalformedEncoding("key share longer than the key allows")
    return KeyShare(tpk, party, secret)


def encode_decryption_share(pk: PublicKey, share: DecryptionShare) -> bytes:
    head = _pack(b"PDS1", [share.party, share.proof.challenge, share.proof.response])
    return len(head).to_bytes(4, "big") + head + encode_ciphertexts(pk, share.values)


def decode_decryption_share(
    pk: PublicKey, data: bytes, *, sender: int | None = None
) -> DecryptionShare:
    """Decode a share; ``sender`` (the authenticated origin) must match the party it names.

    With ``sender`` given, any defect is that party's fault and raises
    ``CheatingDetected(culprit=sender)``; without it, ``MalformedEncoding``/``InvalidCiphertext``.
    """
    if sender is None:
        return _decode_decryption_share(pk, data, None)
    try:
        return _decode_decryption_share(pk, data, sender)
    except ValueError as exc:
        raise CheatingDetected(str(exc), culprit=sender) from exc


def _decode_decryption_share(pk: PublicKey, data: bytes, sender: int | None) -> DecryptionShare:
    data = bytes(data)
    who = f"party {sender}" if sender is not None else "unknown party"
    if len(data) < 4:
        raise MalformedEncoding(f"decryption share from {who} is truncated")
    head_len = int.from_bytes(data[:4], "big")
    party, challenge, response = _expect(
        _unpack(b"PDS1", data[4 : 4 + head_len]), 3, "decryption share"
    )
    if sender is not None and party != sender:
        raise MalformedEncoding(
            f"decryption share from party {sender} claims to be from party {party}"
        )
    values = decode_ciphertexts(pk, data[4 + head_len :], what=f"decryption share of party {party}")
    return DecryptionShare(party, tuple(values), DecryptionProof(challenge, response))


def _expect(values: list[int], count: int, what: str) -> list[int]:
    if len(values) != count:
        raise MalformedEncoding(f"{what}: expected {count} integers, got {len(values)}")
    return values
