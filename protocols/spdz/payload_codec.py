"""How the local hosts move a payload between parties without copying it through CBOR.

The in-process harness and the worker hosts deliver every payload as the wire would: what a
receiver gets is ``cbor2.loads(cbor2.dumps(payload))``, and the bytes counted are that
encoding's length. MASCOT's OT rounds are maps of a few keys to byte strings of tens of
megabytes (a COPE round of 2 000 triples is about 57 MB per peer). For such a map the
round trip gives back the very same keys and byte strings, so running it only copies the
megabytes twice. A *raw* payload (a dict whose keys are ``str`` and whose values are exactly
``bytes``) is therefore delivered as a fresh dict holding the same byte strings, and its
length is computed from CBOR's header rules (RFC 8949, section 3: the shortest head for every
length, as ``cbor2`` writes). Every other payload still goes through CBOR.
"""

from __future__ import annotations

from typing import Any

import cbor2

__all__ = ["Wire", "cbor_size", "decode", "deliver", "encode", "encoded_size", "is_raw"]

#: (form, meta, blobs): a payload as the local hosts carry it ("raw": meta are the keys and
#: blobs the byte strings; "cbor": blobs is the one encoding)
Wire = tuple[str, Any, list[bytes]]


def is_raw(payload: object) -> bool:
    """A dict of ``str`` keys to exactly ``bytes`` values: its CBOR round trip is the identity."""
    return type(payload) is dict and all(
        type(k) is str and type(v) is bytes for k, v in payload.items()
    )


def _head(length: int) -> int:
    """Bytes of a CBOR head (major type and argument) whose argument is ``length``."""
    if length < 24:
        return 1
    if length < 1 << 8:
        return 2
    if length < 1 << 16:
        return 3
    if length < 1 << 32:
        return 5
    return 9


def cbor_size(payload: dict[str, bytes]) -> int:
    """``len(cbor2.dumps(payload))`` for a raw payload, without encoding it."""
    size = _head(len(payload))
    for key, value in payload.items():
        utf8 = len(key.encode())
        size += _head(utf8) + utf8 + _head(len(value)) + len(value)
    return size


def encode(payload: Any) -> tuple[Wire, int]:
    """The carried form of ``payload`` and its CBOR length (what the wire would carry)."""
    if is_raw(payload):
        keys = list(payload)
        return ("raw", keys, [payload[k] for k in keys]), cbor_size(payload)
    data = cbor2.dumps(payload)
    return ("cbor", None, [data]), len(data)


def decode(form: str, meta: Any, blobs: list[bytes]) -> Any:
    """One receiver's own copy of a carried payload (the CBOR round trip's result)."""
    if form == "raw":
        return dict(zip(meta, blobs, strict=True))
    return cbor2.loads(blobs[0])


def encoded_size(payload: object) -> int:
    """The payload's CBOR length (computed for a raw payload, encoded otherwise)."""
    return encode(payload)[1]


def deliver(payload: Any) -> Any:
    """What the receiver of ``payload`` gets: its own object, equal to the CBOR round trip."""
    return decode(*encode(payload)[0])  # the size raises where CBOR would (a non-UTF-8 key)
