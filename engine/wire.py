"""Signed envelopes in canonical CBOR: the only bytes parties exchange.

A frame is ``signature (64 bytes) || body``, where the body is the canonical CBOR encoding of the
array ``[version, session, protocol, phase, round, tag, sender, receiver, seq, payload]`` and the
signature is the sender's Ed25519 signature over exactly those body bytes. Receivers verify the
bytes that travelled, never a re-encoding (cbor2's ``canonical=True`` is RFC 7049's length-first
order, so a re-encoding by another implementation could differ).

Payloads may hold: ints of any size (CBOR bignums), text, bytes, lists, maps with text keys,
``None``/``True``/``False``, numpy arrays (RFC 8746 typed arrays inside tag 40, little-endian, dtype
and shape kept) and ``BigIntVector`` (many non-negative big integers as one fixed-width byte
string: smaller and faster than one bignum tag each, and constant-size). CBOR floats are refused
in both directions: reals travel as fixed-point integers or as float arrays, whose bytes are exact.

Decoding is strict: no indefinite lengths, no duplicate keys, a small nesting depth, only the tags
listed here. See docs/wire-format.md.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

from coopetition.engine.codec import (
    MAX_DEPTH,
    MAX_ITEMS,
    SIGNATURE_BYTES,
    TAG_BIGINT_VECTOR,
    TAG_NDARRAY,
    TAG_SIGNED_INT_VECTOR,
    WIRE_VERSION,
    BigIntVector,
    SignedIntVector,
    WireError,
    count_items,
    decode_payload,
    encode_payload,
)
from coopetition.engine.errors import PartyId

#: the receiver id of a broadcast envelope
BROADCAST: PartyId = -1

#: the payload codec moved to ``engine.codec``; its names stay importable from here
__all__ = [
    "BROADCAST",
    "MAX_DEPTH",
    "MAX_ITEMS",
    "SIGNATURE_BYTES",
    "TAG_BIGINT_VECTOR",
    "TAG_NDARRAY",
    "TAG_SIGNED_INT_VECTOR",
    "WIRE_VERSION",
    "BigIntVector",
    "Envelope",
    "EnvelopeHeader",
    "SignedIntVector",
    "WireError",
    "count_items",
    "decode_payload",
    "encode_body",
    "encode_payload",
    "frame_digest",
    "open_frame",
    "peek_header",
    "seal",
    "split_frame",
]


@dataclass(frozen=True, slots=True)
class EnvelopeHeader:
    """Everything of an envelope but its payload: the delivery key and the routing."""

    session: bytes
    protocol: str
    phase: str
    round: int
    tag: str
    sender: PartyId
    receiver: PartyId
    seq: int

    @property
    def key(self) -> tuple[str, int, str, PartyId]:
        """The bus delivery key ``(phase, round, tag, sender)``."""
        return (self.phase, self.round, self.tag, self.sender)

    @property
    def is_broadcast(self) -> bool:
        return self.receiver == BROADCAST


@dataclass(frozen=True, slots=True)
class Envelope:
    header: EnvelopeHeader
    payload: Any


def _header_from_list(items: Any) -> tuple[EnvelopeHeader, Any]:
    if not isinstance(items, list) or len(items) != 10:
        raise WireError("an envelope is a 10-element array")
    version, session, protocol, phase, rnd, tag, sender, receiver, seq, payload = items
    if not _is_int(version) or version != WIRE_VERSION:
        raise WireError(f"unsupported wire version {version!r}")
    checks = (
        (isinstance(session, bytes) and 1 <= len(session) <= 64, "session"),
        (isinstance(protocol, str), "protocol"),
        (isinstance(phase, str), "phase"),
        (_is_int(rnd) and rnd >= 0, "round"),
        (isinstance(tag, str), "tag"),
        (_is_int(sender) and sender >= 0, "sender"),
        (_is_int(receiver) and receiver >= BROADCAST, "receiver"),
        (_is_int(seq) and seq >= 0, "seq"),
    )
    for ok, field in checks:
        if not ok:
            raise WireError(f"envelope field {field!r} is malformed")
    header = EnvelopeHeader(session, protocol, phase, rnd, tag, sender, receiver, seq)
    return header, payload


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def encode_body(header: EnvelopeHeader, payload: Any) -> bytes:
    h = header
    return encode_payload(
        [
            WIRE_VERSION,
            h.session,
            h.protocol,
            h.phase,
            h.round,
            h.tag,
            h.sender,
            h.receiver,
            h.seq,
            payload,
        ]
    )


def seal(header: EnvelopeHeader, payload: Any, signing_key: SigningKey) -> bytes:
    """Encode and sign one envelope; the result is the frame to hand to a transport."""
    body = encode_body(header, payload)
    return bytes(signing_key.sign(body))


def split_frame(frame: bytes) -> tuple[bytes, bytes]:
    if len(frame) <= SIGNATURE_BYTES:
        raise WireError("frame too short to hold a signature and a body")
    return frame[:SIGNATURE_BYTES], frame[SIGNATURE_BYTES:]


def peek_header(frame: bytes) -> EnvelopeHeader:
    """The header of a frame *without* verifying its signature (for fault injection and stats)."""
    _, body = split_frame(frame)
    header, _ = _header_from_list(decode_payload(body))
    return header


def open_frame(frame: bytes, verify_keys: dict[PartyId, VerifyKey]) -> Envelope:
    """Decode a frame and verify its signature against the claimed sender's roster key."""
    signature, body = split_frame(frame)
    header, payload = _header_from_list(decode_payload(body))
    key = verify_keys.get(header.sender)
    if key is None:
        raise WireError(f"frame claims unknown sender {header.sender}", sender=header.sender)
    try:
        key.verify(body, signature)
    except BadSignatureError:
        raise WireError("bad signature", sender=header.sender) from None
    if encode_body(header, payload) != body:
        raise WireError("body is not in canonical form", sender=header.sender)
    return Envelope(header, payload)


def frame_digest(frame: bytes) -> bytes:
    """SHA-256 of a frame's body (the signature is excluded: Ed25519 is deterministic anyway)."""
    return hashlib.sha256(split_frame(frame)[1]).digest()
