"""Payloads larger than one frame, exchanged in chunks under a bound every party agreed on.

A transport refuses frames above ``max_frame`` (64 MiB by default) and the bus bounds what one
sender may park, so that a hostile peer cannot make an honest party allocate without bound.
Some honest payloads are larger than one frame (Helen's input proofs at d = 90, m = 4, 2048-bit
keys: ~0.5 GB per party, see docs/wire-format.md, "Large payloads"). ``exchange_large`` keeps
both properties for them:

1. every party broadcasts the length of its payload's canonical CBOR; a length above
   ``max_bytes`` (derived by the caller from the PUBLIC agreed shape, e.g. d, m and key sizes)
   is refused and its sender named, before any chunk arrives;
2. the number of chunk rounds is ``ceil(longest declared length / chunk_bytes)``, the same at
   every party because the lengths went through the consistent broadcast; in round k every
   party broadcasts bytes [k c, (k + 1) c) of its payload (empty once it has sent all), and a
   chunk whose length is not exactly what its sender declared is refused and the sender named;
3. each party's chunks are joined and decoded once by the engine's strict decoder
   (``decode_payload``: item count, packed-integer count ``max_values``, tags, canonical
   form); a payload that does not decode is refused and its sender named.

Every exchange (the lengths and each chunk) is a program ``Exchange``, i.e. a ``Broadcast``
checked by the engine's consistency echo: a sender cannot give different chunks to different
parties undetected. What one sender can make a receiver hold is at most ``max_bytes`` of joined
bytes plus their decoded form (at most ``max_values`` packed integers and ``MAX_ITEMS`` other
items, so a hostile payload of tiny integers cannot cost ~30 times its size); the bus's per-sender budget still bounds unread chunks, and
``chunk_bytes`` (public, identical everywhere) must leave room for the envelope in a frame.

``exchange_large_pairwise`` is the same for payloads meant for one peer each (a proof made under
one verifier's parameters): the sizes go through the consistent broadcast as above (one size per
recipient, each under the bound of its recipient), so every party agrees on the number of chunk
rounds; the chunks themselves travel point-to-point, and a receiver holds only what was meant for
it. The engine lets a consumed point-to-point frame go (``Bus.spend``), so the chunks do not stay
in the bus until the phase ends, as a broadcast's do.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import cbor2

from coopetition.engine.codec import (
    MAX_ITEMS,
    TAG_BIGINT_VECTOR,
    TAG_SIGNED_INT_VECTOR,
    BigIntVector,
    SignedIntVector,
    WireError,
    brief,
    decode_payload,
    encode_payload,
)
from coopetition.engine.errors import LocalFailure, ProtocolViolation
from coopetition.engine.program import Exchange, Pairwise, Program

__all__ = [
    "DEFAULT_CHUNK_BYTES",
    "ENVELOPE_ROOM",
    "chunk_count",
    "exchange_large",
    "exchange_large_pairwise",
    "packed_values",
]

#: Chunk size when the caller names none: 16 MiB, a quarter of the default frame limit.
DEFAULT_CHUNK_BYTES = 16 * 1024 * 1024
#: Bytes a frame needs beyond its chunk (signature, envelope header, CBOR heads).
ENVELOPE_ROOM = 4096


def chunk_count(size: int, chunk_bytes: int) -> int:
    """Chunks of ``chunk_bytes`` that ``size`` bytes need (at least one)."""
    return max(1, -(-size // chunk_bytes))


def packed_values(value: Any) -> int:
    """Packed integers in a payload before encoding (what ``decode_payload``'s ``max_values``
    counts at the receivers), for vectors as objects or as raw ``cbor2`` tags."""
    if isinstance(value, (SignedIntVector, BigIntVector)):
        return len(value)
    if isinstance(value, cbor2.CBORTag):
        if value.tag in (TAG_BIGINT_VECTOR, TAG_SIGNED_INT_VECTOR):
            width, packed = value.value
            return len(packed) // width
        return packed_values(value.value)
    if isinstance(value, dict):
        return sum(packed_values(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return sum(packed_values(v) for v in value)
    return 0


def _chunk(
    replies: Mapping[int, Any], sender: int, expected: int, k: int, label: str, phase: str | None
) -> bytes:
    """``sender``'s chunk ``k``, refused naming the sender unless it has the declared length."""
    chunk = replies.get(sender)
    if not isinstance(chunk, bytes) or len(chunk) != expected:
        got = len(chunk) if isinstance(chunk, bytes) else type(chunk).__name__
        raise ProtocolViolation(
            f"party {sender} sent chunk {k} of its {label} payload with {got} bytes, "
            f"{expected} declared",
            culprit=sender,
            phase=phase,
        )
    return chunk


def _decoded(data: bytes, max_values: int, sender: int, label: str, phase: str | None) -> Any:
    """``sender``'s joined payload decoded strictly, refused naming the sender if it fails."""
    try:
        return decode_payload(data, max_values=max_values)
    except WireError as exc:
        raise ProtocolViolation(
            f"party {sender}'s {label} payload does not decode: {exc}",
            culprit=sender,
            phase=phase,
        ) from None


def exchange_large(
    payload: Any,
    *,
    max_bytes: int | Mapping[int, int],
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    label: str = "large",
    phase: str | None = None,
    me: int | None = None,
    tag: str | None = None,
    max_values: int | None = None,
) -> Program[dict[int, Any]]:
    """Broadcast ``payload`` in chunks; return every party's decoded payload (``yield from``).

    ``max_bytes`` bounds every party's encoded payload; it must follow from public, agreed
    values only, so that all parties use the same number. Raises ``ProtocolViolation`` naming
    the sender of an over-long declaration, a chunk of the wrong length or an undecodable
    payload, and ``LocalFailure`` if this party's own payload breaks the bound. With ``me``
    this party's own entry is ``payload`` itself (not decoded back from its chunks). With
    ``tag`` the exchanges are tagged ``<tag>/size`` and ``<tag>/chunk<k>`` (for programs that
    name their messages); without, tags derive from the program position and ``label``.
    ``max_bytes`` may also map each sender to its own bound (e.g. when it depends on the
    sender's verifiers), the same map at every party.
    ``max_values`` bounds the packed integers of one payload (``decode_payload``; by default
    the engine's ``MAX_ITEMS``): like ``max_bytes`` it must follow from the agreed shape.
    """
    bounds: Mapping[int, int] | None = max_bytes if isinstance(max_bytes, Mapping) else None
    single = max_bytes if isinstance(max_bytes, int) else 0
    if chunk_bytes < 1 or min([single] if bounds is None else list(bounds.values())) < 0:
        raise ValueError("chunk_bytes must be positive and max_bytes non-negative")

    def bound_of(sender: int | None) -> int:
        """The agreed bound of ``sender`` (-1, i.e. nothing allowed, for an unknown one)."""
        if bounds is None:
            return single
        return bounds.get(sender, -1) if sender is not None else max(bounds.values())

    data = encode_payload(payload)
    if len(data) > bound_of(me):
        raise LocalFailure(
            f"this party's {label} payload has {len(data)} bytes, above the agreed {bound_of(me)}",
            phase=phase,
        )
    values = MAX_ITEMS if max_values is None else max_values
    if packed_values(payload) > values:
        # the receivers would refuse it and name this party: fail here, as for the bytes
        raise LocalFailure(
            f"this party's {label} payload has more than the agreed {values} packed integers",
            phase=phase,
        )
    size_tag = None if tag is None else f"{tag}/size"
    declared = yield Exchange(tag=size_tag, payload=len(data), label=f"{label}-size")
    sizes: dict[int, int] = {}
    for sender, size in sorted(declared.items()):
        limit = bound_of(sender)
        if isinstance(size, bool) or not isinstance(size, int) or not 0 <= size <= limit:
            raise ProtocolViolation(
                f"party {sender} declared a {label} payload of {brief(size)} bytes; the "
                f"agreed bound is {limit}",
                culprit=sender,
                phase=phase,
            )
        sizes[sender] = size
    rounds = max(chunk_count(size, chunk_bytes) for size in sizes.values())
    parts: dict[int, list[bytes]] = {sender: [] for sender in sizes}
    for k in range(rounds):
        start = k * chunk_bytes
        chunk_tag = None if tag is None else f"{tag}/chunk{k}"
        replies = yield Exchange(
            tag=chunk_tag, payload=data[start : start + chunk_bytes], label=label
        )
        for sender, size in sizes.items():
            expected = min(chunk_bytes, max(0, size - start))
            chunk = _chunk(replies, sender, expected, k, label, phase)
            if sender != me:  # this party's own bytes are ``data`` already
                parts[sender].append(chunk)
    out: dict[int, Any] = {}
    for sender, chunks in parts.items():
        if sender == me:
            out[sender] = payload
            continue
        out[sender] = _decoded(b"".join(chunks), values, sender, label, phase)
        parts[sender] = []  # drop the joined bytes' pieces as soon as they are decoded
    return out


def _declared_sizes(
    declared: Mapping[int, Any], bound_to: Mapping[int, int], label: str, phase: str | None
) -> dict[int, dict[int, int]]:
    """Every sender's declared size per recipient, checked against the recipients' bounds."""
    sizes: dict[int, dict[int, int]] = {}
    for sender, claim in sorted(declared.items()):
        peers = sorted(j for j in declared if j != sender)
        # ids compared by type too: False == 0 and True == 1 in Python
        ok = (
            isinstance(claim, list)
            and [
                p[0] if isinstance(p, list) and len(p) == 2 and type(p[0]) is int else None
                for p in claim
            ]
            == peers
        )
        row: dict[int, int] = {}
        for recipient, size in claim if ok else ():
            integer = isinstance(size, int) and not isinstance(size, bool)
            ok = ok and integer and 0 <= size <= bound_to.get(recipient, -1)
            row[recipient] = size
        if not ok:
            raise ProtocolViolation(
                f"party {sender} declared {label} payload sizes {brief(claim)} that are not one "
                f"size per peer within the peer's agreed bound",
                culprit=sender,
                phase=phase,
            )
        sizes[sender] = row
    return sizes


def _split(data: bytes, chunk_bytes: int) -> list[bytes]:
    """``data`` in chunks of ``chunk_bytes``, LAST chunk first (so ``pop`` yields them in
    order); ``data`` itself can go once split."""
    return [data[i : i + chunk_bytes] for i in range(0, len(data), chunk_bytes)][::-1]


def exchange_large_pairwise(
    payloads: dict[int, Any],
    *,
    me: int,
    tag: str,
    max_bytes: Mapping[int, int],
    max_values: Mapping[int, int] | None = None,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    label: str = "large",
    phase: str | None = None,
    check_sizes: Callable[[dict[int, dict[int, int]]], None] | None = None,
) -> Program[dict[int, Any]]:
    """Send ``payloads[j]`` to each peer j in chunks; return what each peer sent this party.

    ``max_bytes[j]`` (and ``max_values[j]``, packed integers) bound what any sender may send
    recipient j; like ``exchange_large``'s bounds they must follow from public, agreed values, the
    same map at every party. Raises ``ProtocolViolation`` naming a sender whose declared sizes
    break a bound, whose chunk has the wrong length or whose payload to this party does not
    decode, and ``LocalFailure`` if this party's own payloads break the bounds. The exchanges are
    tagged ``<tag>/size`` (a broadcast) and ``<tag>/chunk<k>`` (point-to-point).

    ``payloads`` is emptied as it is encoded: each payload's object form can go as soon as its
    bytes exist (at d = 90 a party's range proofs are ~420 MB in either form).
    ``check_sizes`` (if given) sees every sender's declared sizes per recipient as soon as the
    consistent broadcast has them, the same at every party, and may raise naming a sender.
    """
    if chunk_bytes < 1 or min(max_bytes.values(), default=0) < 0:
        raise ValueError("chunk_bytes must be positive and max_bytes non-negative")
    values = dict.fromkeys(max_bytes, MAX_ITEMS) if max_values is None else max_values
    data: dict[int, bytes] = {}
    for j in sorted(payloads):
        payload = payloads.pop(j)
        data[j] = encode_payload(payload)
        if len(data[j]) > max_bytes.get(j, -1) or packed_values(payload) > values.get(j, -1):
            raise LocalFailure(
                f"this party's {label} payload for party {j} ({len(data[j])} bytes) breaks "
                f"that party's agreed bound of {max_bytes.get(j)} bytes or "
                f"{values.get(j)} packed integers",
                phase=phase,
            )
        del payload
    declared = yield Exchange(
        tag=f"{tag}/size", payload=[[j, len(data[j])] for j in sorted(data)], label=label
    )
    sizes = _declared_sizes(declared, max_bytes, label, phase)
    if check_sizes is not None:
        check_sizes(sizes)
    rounds = max(chunk_count(s, chunk_bytes) for row in sizes.values() for s in row.values())
    # this party's payloads as chunks, each let go once sent: what it has sent shrinks as what
    # it received grows, instead of both being held at the end
    outbox = {j: _split(data.pop(j), chunk_bytes) for j in sorted(data)}
    parts: dict[int, list[bytes]] = {sender: [] for sender in sizes if sender != me}
    for k in range(rounds):
        start = k * chunk_bytes
        replies = yield Pairwise(
            f"{tag}/chunk{k}", {j: chunks.pop() if chunks else b"" for j, chunks in outbox.items()}
        )
        for sender in parts:
            expected = min(chunk_bytes, max(0, sizes[sender][me] - start))
            parts[sender].append(_chunk(replies, sender, expected, k, label, phase))
    out: dict[int, Any] = {}
    for sender, chunks in parts.items():
        joined = b"".join(chunks)
        parts[sender] = []
        out[sender] = _decoded(joined, values.get(me, 0), sender, label, phase)
    return out
