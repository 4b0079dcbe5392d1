"""Fuzzing harnesses for the bytes a party takes from the network: envelopes, payloads, the TCP
handshake, the record layer and the reliable-delivery frames.

Each harness is a function ``bytes -> None`` with a contract: for *any* input it either returns
(the input decoded, and then the decoded value must satisfy the harness's invariants) or raises
one of the target's documented typed errors. Anything else (another exception, a failed
invariant, a hang, a memory blow-up) is a finding; ``fuzz_runner`` turns those into reports.

Harnesses that meet a signature sign for the fuzzer where the roster keys allow it (the keys are
fixed and public here): random bytes never forge an Ed25519 signature, so without this the code
after the signature check (canonical re-encoding, key derivation) would never be reached.
"""

from __future__ import annotations

import contextlib
import hashlib
import struct
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import trio
from nacl.public import PrivateKey
from nacl.signing import SigningKey

from coopetition.engine.errors import FrameTooLarge, HandshakeFailed, UnknownPeer
from coopetition.engine.wire import (
    BigIntVector,
    EnvelopeHeader,
    WireError,
    decode_payload,
    encode_payload,
    frame_digest,
    open_frame,
    peek_header,
    seal,
)
from coopetition.transports import handshake as hs
from coopetition.transports import reliable
from coopetition.transports.base import Frame, Transport
from coopetition.transports.channel import RecordRejected, SecureChannel
from coopetition.transports.framing import FrameReader, encode_frame


@dataclass(frozen=True)
class FuzzTarget:
    """One harness: ``run`` and the errors it may raise; ``seeds`` builds the starting corpus."""

    name: str
    run: Callable[[bytes], None]
    expected: tuple[type[BaseException], ...]
    seeds: Callable[[], list[bytes]]
    max_len: int
    doc: str


def _fixed_key(label: str) -> SigningKey:
    return SigningKey(hashlib.sha256(f"coopetition-fuzz-{label}".encode()).digest())


#: A 4-party roster with public, fixed keys (never used outside fuzzing).
KEYS = {p: _fixed_key(f"party-{p}") for p in range(4)}
VERIFY = {p: k.verify_key for p, k in KEYS.items()}
SESSION = b"fuzz-session-16b"


# -- envelope and payload ------------------------------------------------------------------


def _reseal_check(frame: bytes) -> None:
    env = open_frame(frame, VERIFY)
    # A frame that verified and passed the canonical check re-seals to exactly its own bytes.
    assert seal(env.header, env.payload, KEYS[env.header.sender]) == frame, "re-seal differs"
    assert frame_digest(frame) == hashlib.sha256(frame[64:]).digest()


def fuzz_envelope(data: bytes) -> None:
    """Open ``data`` as received; then sign its body with the claimed sender's key and open that,
    which reaches the payload types and the canonical-form check behind the signature."""
    with contextlib.suppress(WireError):
        _reseal_check(data)
    try:
        header = peek_header(data)
    except WireError:
        return
    key = KEYS.get(header.sender)
    if key is None:
        return
    _reseal_check(bytes(key.sign(data[64:])))


def _payload_seeds() -> list[object]:
    return [
        None,
        True,
        0,
        -1,
        2**64,
        -(2**70),
        b"bytes",
        "text",
        [1, [2, [3]]],
        {"a": 1, "bb": [b"x", None]},
        np.arange(6, dtype="<i8").reshape(2, 3),
        np.array([1.5, -2.25], dtype="<f8"),
        np.zeros((0, 3), dtype="|u1"),
        np.array([1, 2], dtype=">u4"),
        BigIntVector.of([1, 2**100, 0], width=16),
        {"code": "equivocation", "evidence": [b"\x00" * 70], "round": -1},
    ]


def envelope_seeds() -> list[bytes]:
    out = []
    for i, payload in enumerate(_payload_seeds()):
        sender = i % 4
        header = EnvelopeHeader(SESSION, "admm", "coordinate", i, "w_plus_u", sender, -1, i)
        out.append(seal(header, payload, KEYS[sender]))
    return out


def fuzz_payload(data: bytes) -> None:
    """``decode_payload``; whatever it accepts must re-encode, and the re-encoding must be a
    fixed point (decode then encode gives the same bytes), or a signed frame could carry a
    value that no party can check."""
    value = decode_payload(data)
    again = encode_payload(value)
    assert encode_payload(decode_payload(again)) == again, "re-encoding is not a fixed point"


def payload_seeds() -> list[bytes]:
    return [encode_payload(p) for p in _payload_seeds()]


# -- handshake ---------------------------------------------------------------------------


_EPH = {p: PrivateKey(hashlib.sha256(f"fuzz-eph-{p}".encode()).digest()) for p in range(4)}


def _admit(pid: int) -> str | None:
    return "already connected" if pid == 3 else None


def _responder() -> hs.Responder:
    return hs.Responder(1, KEYS[1], VERIFY, ephemeral=_EPH[1], admit=_admit)


def _check_refusal(machine: hs.Responder) -> None:
    assert machine.state is hs.State.FAILED
    assert machine.reject is not None and len(machine.reject) == hs.REJECT_SIZE


def _receive_hello(responder: hs.Responder, hello: bytes) -> bytes:
    """``receive_hello``; a refusal must leave the machine failed with a REJECT to send."""
    try:
        response = responder.receive_hello(hello)
    except (HandshakeFailed, UnknownPeer):
        _check_refusal(responder)
        raise
    assert len(response) == hs.RESPONSE_SIZE
    return response


def _as_responder(hello: bytes, finish: bytes) -> None:
    responder = _responder()
    _receive_hello(responder, hello)
    try:
        keys = responder.receive_finish(finish)
    except HandshakeFailed:
        _check_refusal(responder)
        raise
    assert keys.peer == responder.peer_id and keys.peer in VERIFY and keys.peer != 1


def _as_initiator(response: bytes, verdict: bytes) -> None:
    initiator = hs.Initiator(0, KEYS[0], 1, VERIFY[1], ephemeral=_EPH[0])
    initiator.hello()
    initiator.receive_response(response)
    keys = initiator.receive_verdict(verdict)
    assert keys.peer == 1 and initiator.state is hs.State.DONE


def _signed_hello_run(rest: bytes) -> None:
    """An initiator whose ids, ephemeral key and signer come from the input, but whose FINISH is
    signed properly with that signer: reaches key derivation and the signature-accepted path."""
    rest = rest.ljust(50, b"\x00")
    id_i, id_r = rest[0] % 6, rest[1] % 3  # ids in and out of the roster
    signer = rest[2] % 5  # 4: a key outside the roster
    if rest[3] & 1:
        esk = PrivateKey(rest[4:36])
        epk = bytes(esk.public_key)
    else:
        esk, epk = None, rest[4:36]  # raw point: low-order and invalid points included
    hello = bytes([1]) + hs.LABEL + struct.pack(">QQ", id_i, id_r) + epk
    responder = _responder()
    epk_r = _receive_hello(responder, hello)[1:33]
    th = hs.transcript_hash(id_i, 1, epk, epk_r)
    key = KEYS.get(signer) or _fixed_key("outsider")
    keys = responder.receive_finish(bytes([3]) + key.sign(b"I" + th).signature)
    assert signer == id_i, "a FINISH signed by another key was accepted"
    if esk is not None:
        import nacl.bindings

        shared = nacl.bindings.crypto_scalarmult(bytes(esk), epk_r)
        i2r, r2i = hs.derive_keys(shared, th)
        assert (keys.recv_key, keys.send_key) == (i2r, r2i), "the two sides derived other keys"


def _signed_response_run(rest: bytes) -> None:
    """The initiator against a responder that signs properly with an input-chosen key."""
    rest = rest.ljust(40, b"\x00")
    signer = rest[0] % 5
    epk_r = rest[1:33]
    initiator = hs.Initiator(0, KEYS[0], 1, VERIFY[1], ephemeral=_EPH[0])
    hello = initiator.hello()
    th = hs.transcript_hash(0, 1, hello[-32:], epk_r)
    key = KEYS.get(signer) or _fixed_key("outsider")
    initiator.receive_response(bytes([2]) + epk_r + key.sign(b"R" + th).signature)
    assert signer == 1, "a RESPONSE signed by another key was accepted"
    initiator.receive_verdict(rest[33 : 33 + (rest[34] % 3)])


def fuzz_handshake(data: bytes) -> None:
    """First byte picks the side and whether the fuzzer's messages are signed properly."""
    if not data:
        return
    mode, rest = data[0] % 4, data[1:]
    if mode == 0:
        _as_responder(rest[: hs.HELLO_SIZE], rest[hs.HELLO_SIZE :])
    elif mode == 1:
        _as_initiator(rest[: hs.RESPONSE_SIZE], rest[hs.RESPONSE_SIZE :])
    elif mode == 2:
        _signed_hello_run(rest)
    else:
        _signed_response_run(rest)


def handshake_seeds() -> list[bytes]:
    initiator = hs.Initiator(2, KEYS[2], 1, VERIFY[1], ephemeral=_EPH[2])
    responder = _responder()
    hello = initiator.hello()
    response = responder.receive_hello(hello)
    finish = initiator.receive_response(response)
    return [
        b"\x00" + hello + finish,
        b"\x00" + hello[:-1],
        b"\x01" + response + hs.Responder.accept(),
        b"\x01" + bytes([5, 4]),
        b"\x02" + bytes([2, 1, 2, 1]) + bytes(range(32)),
        b"\x02" + bytes([2, 1, 2, 0]) + bytes(32),
        b"\x03" + bytes([1]) + bytes(range(32)) + b"\x04\x01",
    ]


# -- record layer ------------------------------------------------------------------------

_K_A = hashlib.sha256(b"fuzz-record-a").digest()
_K_B = hashlib.sha256(b"fuzz-record-b").digest()
_RECORD_LIMITS = (hs.MAX_HANDSHAKE_MESSAGE, 64, 4096)


def fuzz_record(data: bytes) -> None:
    """Feed a byte stream to ``FrameReader`` in input-chosen chunk sizes, as the transport's
    receive loop does, and open every frame with ``SecureChannel``."""
    if len(data) < 2:
        return
    limit = _RECORD_LIMITS[data[0] % len(_RECORD_LIMITS)]
    chunk = data[1] % 17 + 1
    reader = FrameReader(limit, peer=1)
    channel = SecureChannel(_K_A, _K_B, peer=1)
    stream, pos = data[2:], 0
    while pos < len(stream):
        take = min(reader.wanted(), chunk, len(stream) - pos)
        reader.feed(stream[pos : pos + take])
        pos += take
        assert reader.buffered() <= limit + 4, "buffered more than one frame"
        frame = reader.next_frame()
        if frame is not None:
            assert len(frame) <= limit
            try:
                channel.open(frame)
            except RecordRejected:
                try:
                    channel.open(frame)
                except RecordRejected:
                    raise
                raise AssertionError("a failed channel opened a record") from None


def record_seeds() -> list[bytes]:
    sender = SecureChannel(_K_B, _K_A)
    stream = b"".join(encode_frame(sender.seal(p)) for p in (b"", b"hello", bytes(30)))
    return [b"\x02\x03" + stream, b"\x01\x10" + stream, b"\x00\x01" + b"\x00\x00\x00\x62"]


# -- reliable delivery --------------------------------------------------------------------


class _Inner(Transport):
    """Collects what the reliable layer sends (acks); never receives."""

    def __init__(self) -> None:
        self.local_id = 0
        self.peers = frozenset({1, 2})
        self.sent: list[tuple[int, bytes]] = []

    async def connect(self) -> None:
        return None

    async def send(self, peer: int, data: bytes) -> None:
        self.sent.append((peer, data))

    async def receive(self) -> Frame:
        raise AssertionError("not used")

    async def aclose(self) -> None:
        return None


def _split_frames(data: bytes) -> list[Frame]:
    frames, pos = [], 0
    while pos + 2 <= len(data):
        peer, size = 1 + data[pos] % 2, data[pos + 1]
        frames.append(Frame(peer, data[pos + 2 : pos + 2 + size]))
        pos += 2 + size
    return frames


def fuzz_reliable(data: bytes) -> None:
    """Frames (peer byte, length byte, bytes) into ``ReliableTransport``'s receive path, with an
    unacknowledged frame of our own outstanding so acks are processed too. Invariants: frames come
    out in order, exactly once, per peer, and every frame sent back is a well-formed ack."""
    frames = _split_frames(data)
    for frame in frames:
        reliable.decode(frame.data)
        reliable._unpack_sack(frame.data[reliable.HEADER_BYTES :])

    async def drive() -> None:
        inner = _Inner()
        layer = reliable.ReliableTransport(inner, window=8)
        await layer.send(1, b"ours")
        for frame in frames:
            await layer._handle(frame)
        delivered: dict[int, list[bytes]] = {1: [], 2: []}
        while layer._ready:
            got = layer._ready.popleft()
            delivered[got.peer].append(got.data)
        for peer, bodies in delivered.items():
            assert bodies == _in_order(frames, peer), "delivered out of order, twice or not at all"
        for _, ack in inner.sent[1:]:
            decoded = reliable.decode(ack)
            assert decoded is not None and decoded[0] == reliable.ACK

    trio.run(drive)


def _in_order(frames: list[Frame], peer: int, window: int = 8) -> list[bytes]:
    """A reference receiver for ``peer``: keeps the first copy of each sequence number within
    the window, releases in order from 0."""
    out: list[bytes] = []
    held: dict[int, bytes] = {}
    for frame in frames:
        decoded = reliable.decode(frame.data)
        if frame.peer != peer or decoded is None or decoded[0] != reliable.DATA:
            continue
        seq = decoded[1]
        if seq >= len(out) and seq not in held and seq - len(out) < window:
            held[seq] = decoded[2]
            while len(out) in held:
                out.append(held.pop(len(out)))
    return out


def reliable_seeds() -> list[bytes]:
    def item(peer: int, frame: bytes) -> bytes:
        return bytes([peer - 1, len(frame)]) + frame

    data = [reliable.encode(reliable.DATA, s, b"m%d" % s) for s in (1, 0, 0, 2)]
    ack = reliable.encode(reliable.ACK, 1, struct.pack(">Q", 3))
    return [b"".join(item(1, f) for f in data) + item(1, ack), item(2, data[1])]


NETWORK_TARGETS = {
    t.name: t
    for t in (
        FuzzTarget(
            "envelope",
            fuzz_envelope,
            (WireError,),
            envelope_seeds,
            4096,
            "signed envelope: open_frame, peek_header, and the path behind the signature",
        ),
        FuzzTarget(
            "payload",
            fuzz_payload,
            (WireError,),
            payload_seeds,
            4096,
            "decode_payload, with the canonical re-encoding fixed point",
        ),
        FuzzTarget(
            "handshake",
            fuzz_handshake,
            (HandshakeFailed, UnknownPeer),
            handshake_seeds,
            256,
            "TCP handshake machines, both sides, raw and properly signed messages",
        ),
        FuzzTarget(
            "record",
            fuzz_record,
            (FrameTooLarge, RecordRejected),
            record_seeds,
            8192,
            "length-prefixed framing and SecretBox records, fed in arbitrary chunks",
        ),
        FuzzTarget(
            "reliable",
            fuzz_reliable,
            (),
            reliable_seeds,
            2048,
            "reliable-delivery frames: data, acks, selective acks, checksums",
        ),
    )
}
