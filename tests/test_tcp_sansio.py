"""Sans-IO parts of the TCP transport: framing, handshake machine, record channel (no sockets)."""

from __future__ import annotations

import hashlib
import struct

import nacl.bindings
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nacl.public import PrivateKey
from nacl.signing import SigningKey

from coopetition.engine.errors import ConnectionClosed, FrameTooLarge, HandshakeFailed, UnknownPeer
from coopetition.transports.channel import OVERHEAD, RecordRejected, SecureChannel
from coopetition.transports.framing import FrameReader, encode_frame
from coopetition.transports.handshake import (
    MAX_HANDSHAKE_MESSAGE,
    Initiator,
    Rejected,
    Responder,
    State,
)

KEYS = {pid: SigningKey(bytes([pid + 1]) * 32) for pid in range(4)}
IDS = st.integers(min_value=0, max_value=2**64 - 1)


def drive(reader: FrameReader, stream: bytes, cuts: list[int]) -> list[bytes]:
    """Feed ``stream`` in pieces no bigger than ``cuts`` (cycled) and what the reader wants."""
    frames, pos, i = [], 0, 0
    while pos < len(stream):
        limit = cuts[i % len(cuts)] if cuts else len(stream)
        i += 1
        take = min(reader.wanted(), limit, len(stream) - pos)
        reader.feed(stream[pos : pos + take])
        pos += take
        assert reader.buffered() <= reader.max_size + 4  # memory bounded by one frame
        frame = reader.next_frame()
        if frame is not None:
            frames.append(frame)
    return frames


# ----------------------------------------------------------------------------- framing


@settings(max_examples=150, deadline=None)
@given(
    payloads=st.lists(st.binary(max_size=300), max_size=12),
    cuts=st.lists(st.integers(min_value=1, max_value=40), max_size=8),
)
def test_framing_roundtrip_any_chunking(payloads: list[bytes], cuts: list[int]) -> None:
    # Reference encoding written out by hand: 4-byte big-endian length, then the bytes.
    stream = b"".join(struct.pack(">I", len(p)) + p for p in payloads)
    assert stream == b"".join(encode_frame(p) for p in payloads)
    reader = FrameReader(300)
    assert drive(reader, stream, cuts) == payloads
    assert reader.at_boundary()
    assert reader.buffered() == 0


@settings(max_examples=100, deadline=None)
@given(max_size=st.integers(min_value=0, max_value=10_000), excess=st.integers(1, 2**31))
def test_oversize_header_refused_before_any_body_is_buffered(max_size: int, excess: int) -> None:
    announced = min(max_size + excess, 2**32 - 1)
    reader = FrameReader(max_size, peer=5)
    header = struct.pack(">I", announced)
    reader.feed(header[:3])
    with pytest.raises(FrameTooLarge) as info:
        reader.feed(header[3:])
    assert info.value.peer == 5
    assert reader.buffered() <= 4  # the announced body was never allocated


def test_reader_asks_only_for_the_current_frame() -> None:
    reader = FrameReader(100)
    assert reader.wanted() == 4
    reader.feed(struct.pack(">I", 10))
    assert reader.wanted() == 10
    with pytest.raises(RuntimeError):
        reader.feed(b"x" * 11)  # would swallow the next frame's bytes
    reader.feed(b"x" * 10)
    assert reader.next_frame() == b"x" * 10
    reader.feed(struct.pack(">I", 0))
    assert reader.next_frame() == b""
    assert reader.at_boundary()


def test_encode_refuses_what_the_peer_would_refuse() -> None:
    with pytest.raises(FrameTooLarge):
        encode_frame(b"x" * 11, max_size=10)
    assert encode_frame(b"x" * 10, max_size=10)[:4] == b"\x00\x00\x00\x0a"


# ----------------------------------------------------------------------------- handshake


def run_handshake(i_id: int, r_id: int, roster_keys=None, tamper=None):
    """Drive both machines; ``tamper(index, msg) -> msg`` may alter message ``index`` (0..3)."""
    roster_keys = roster_keys or {}
    i_sk, r_sk = SigningKey.generate(), SigningKey.generate()
    r_roster = {i_id: roster_keys.get("i", i_sk.verify_key)}
    init = Initiator(i_id, i_sk, r_id, roster_keys.get("r", r_sk.verify_key))
    resp = Responder(r_id, r_sk, r_roster)
    tamper = tamper or (lambda _i, m: m)
    sizes = []

    def step(index: int, msg: bytes) -> bytes:
        sizes.append(len(msg))
        return tamper(index, msg)

    msg = step(0, init.hello())
    msg = step(1, resp.receive_hello(msg))
    msg = step(2, init.receive_response(msg))
    r_keys = resp.receive_finish(msg)
    i_keys = init.receive_verdict(step(3, resp.accept()))
    assert max(sizes) <= MAX_HANDSHAKE_MESSAGE
    return init, resp, i_keys, r_keys, i_sk, r_sk


@settings(max_examples=30, deadline=None)
@given(i_id=IDS, r_id=IDS)
def test_handshake_agrees_on_directional_keys(i_id: int, r_id: int) -> None:
    if i_id == r_id:
        r_id = (r_id + 1) % 2**64
    init, resp, i_keys, r_keys, _, _ = run_handshake(i_id, r_id)
    assert init.state is State.DONE and resp.state is State.DONE
    assert i_keys.peer == r_id and r_keys.peer == i_id
    assert i_keys.send_key == r_keys.recv_key and i_keys.recv_key == r_keys.send_key
    assert i_keys.send_key != i_keys.recv_key
    assert i_keys.transcript_hash == r_keys.transcript_hash
    # The transcript hash is what the docs say, recomputed independently here.
    epk_i = bytes(init._esk.public_key)
    epk_r = bytes(resp._esk.public_key)
    data = b"coopetition/tcp1" + i_id.to_bytes(8, "big") + r_id.to_bytes(8, "big") + epk_i + epk_r
    th = hashlib.blake2b(data, digest_size=32, person=b"coop-tcp-th").digest()
    assert th == i_keys.transcript_hash
    shared = nacl.bindings.crypto_scalarmult(bytes(resp._esk), epk_i)
    i2r = hashlib.blake2b(shared, digest_size=32, key=th, person=b"coop-tcp-i2r").digest()
    assert i_keys.send_key == i2r


@settings(max_examples=60, deadline=None)
@given(which=st.integers(0, 3), position=st.integers(0, 200), bit=st.integers(0, 7))
def test_any_flipped_bit_breaks_the_handshake(which: int, position: int, bit: int) -> None:
    def tamper(index: int, msg: bytes) -> bytes:
        if index != which:
            return msg
        out = bytearray(msg)
        out[position % len(out)] ^= 1 << bit
        return bytes(out)

    with pytest.raises((HandshakeFailed, UnknownPeer)):
        run_handshake(1, 2, tamper=tamper)


def test_unknown_id_is_refused_with_reason() -> None:
    sk = SigningKey.generate()
    init = Initiator(9, sk, 2, KEYS[2].verify_key)
    resp = Responder(2, KEYS[2], {1: KEYS[1].verify_key})
    with pytest.raises(UnknownPeer) as info:
        resp.receive_hello(init.hello())
    assert info.value.peer == 9
    assert resp.reject is not None
    with pytest.raises(HandshakeFailed, match="unknown_id"):
        init.receive_response(resp.reject)


def test_wrong_key_for_known_id_is_refused() -> None:
    impostor = SigningKey.generate()
    init = Initiator(1, impostor, 2, KEYS[2].verify_key)
    resp = Responder(2, KEYS[2], {1: KEYS[1].verify_key})
    finish = init.receive_response(resp.receive_hello(init.hello()))
    with pytest.raises(HandshakeFailed, match="signature") as info:
        resp.receive_finish(finish)
    assert info.value.peer == 1
    with pytest.raises(HandshakeFailed, match="bad_signature"):
        init.receive_verdict(resp.reject)


def test_initiator_refuses_responder_with_wrong_key() -> None:
    init = Initiator(1, KEYS[1], 2, KEYS[2].verify_key)
    resp = Responder(2, KEYS[3], {1: KEYS[1].verify_key})  # party 2 holds the wrong key
    with pytest.raises(HandshakeFailed) as info:
        init.receive_response(resp.receive_hello(init.hello()))
    assert info.value.peer == 2
    assert init.state is State.FAILED


def test_responder_refuses_self_reflection_and_wrong_target() -> None:
    resp = Responder(2, KEYS[2], {1: KEYS[1].verify_key, 2: KEYS[2].verify_key})
    with pytest.raises(UnknownPeer):
        resp.receive_hello(Initiator(2, KEYS[2], 2, KEYS[2].verify_key).hello())
    resp = Responder(2, KEYS[2], {1: KEYS[1].verify_key})
    with pytest.raises(HandshakeFailed, match="wanted party 3"):
        resp.receive_hello(Initiator(1, KEYS[1], 3, KEYS[3].verify_key).hello())


def test_degenerate_ephemeral_key_is_refused() -> None:
    hello = bytearray(Initiator(1, KEYS[1], 2, KEYS[2].verify_key).hello())
    hello[-32:] = bytes(32)  # the identity point: the DH result would be all zeros
    resp = Responder(2, KEYS[2], {1: KEYS[1].verify_key})
    with pytest.raises(HandshakeFailed, match="degenerate"):
        resp.receive_hello(bytes(hello))


def test_machine_steps_out_of_order_are_errors() -> None:
    init = Initiator(1, KEYS[1], 2, KEYS[2].verify_key, ephemeral=PrivateKey.generate())
    init.hello()
    with pytest.raises(RuntimeError):
        init.hello()
    with pytest.raises(RuntimeError):
        init.receive_verdict(b"\x04")


# ----------------------------------------------------------------------------- channel


def channel_pair(peer_a: int = 1, peer_b: int = 2) -> tuple[SecureChannel, SecureChannel]:
    k1, k2 = bytes(range(32)), bytes(range(1, 33))
    return SecureChannel(k1, k2, peer=peer_b), SecureChannel(k2, k1, peer=peer_a)


@settings(max_examples=50, deadline=None)
@given(payloads=st.lists(st.binary(max_size=200), max_size=10))
def test_records_roundtrip_and_match_reference_secretbox(payloads: list[bytes]) -> None:
    a, b = channel_pair()
    for counter, payload in enumerate(payloads):
        record = a.seal(payload)
        assert len(record) == len(payload) + OVERHEAD
        assert record[:8] == counter.to_bytes(8, "big")
        nonce = bytes(16) + counter.to_bytes(8, "big")
        reference = nacl.bindings.crypto_secretbox_open_easy(record[8:], nonce, bytes(range(32)))
        assert reference == payload
        assert b.open(record) == payload


@settings(max_examples=80, deadline=None)
@given(payload=st.binary(max_size=64), position=st.integers(0, 200), bit=st.integers(0, 7))
def test_tampered_record_is_rejected(payload: bytes, position: int, bit: int) -> None:
    a, b = channel_pair()
    record = bytearray(a.seal(payload))
    record[position % len(record)] ^= 1 << bit
    with pytest.raises(RecordRejected) as info:
        b.open(bytes(record))
    assert info.value.peer == 1
    assert isinstance(info.value, ConnectionClosed)
    with pytest.raises(RecordRejected):  # a failed channel stays failed
        b.open(a.seal(b"next"))


def test_replayed_dropped_and_reordered_records_are_rejected() -> None:
    a, b = channel_pair()
    r0 = a.seal(b"0")
    assert b.open(r0) == b"0"
    with pytest.raises(RecordRejected, match="replayed"):
        b.open(r0)
    a, b = channel_pair()
    r0, _r1, r2 = a.seal(b"0"), a.seal(b"1"), a.seal(b"2")
    b.open(r0)
    with pytest.raises(RecordRejected, match="skipped"):
        b.open(r2)
    a, b = channel_pair()
    with pytest.raises(RecordRejected, match="too short"):
        b.open(b"\x00" * (OVERHEAD - 1))


def test_directions_use_different_keys() -> None:
    # Keys derived through a real handshake, not hard-coded: each side's send key is the other's
    # receive key, and a record cannot be reflected back to its sender.
    _, _, i_keys, r_keys, _, _ = run_handshake(1, 2)
    initiator = SecureChannel(i_keys.send_key, i_keys.recv_key, peer=2)
    responder = SecureChannel(r_keys.send_key, r_keys.recv_key, peer=1)
    record = initiator.seal(b"hello")
    mirror = SecureChannel(i_keys.send_key, i_keys.recv_key, peer=2)
    with pytest.raises(RecordRejected):
        mirror.open(record)  # reflected to its sender: the receive key differs
    assert responder.open(record) == b"hello"
    assert initiator.open(responder.seal(b"back")) == b"back"
    assert i_keys.send_key != i_keys.recv_key


# ----------------------------------------------------------------------------- review fixes


class CountingKey(SigningKey):
    """A signing key that counts its signatures (to show a refusal did no public-key work)."""

    signatures = 0

    def sign(self, message, encoder=None):  # type: ignore[no-untyped-def, override]
        CountingKey.signatures += 1
        return super().sign(message)


def test_admit_refuses_a_claimed_id_before_any_public_key_work() -> None:
    key = CountingKey(bytes([7]) * 32)
    CountingKey.signatures = 0
    seen: list[int] = []

    def admit(peer: int) -> str | None:
        seen.append(peer)
        return "party 1 is already connected"

    resp = Responder(2, key, {1: KEYS[1].verify_key}, admit=admit)
    with pytest.raises(HandshakeFailed, match="unauthenticated hello claiming party 1") as info:
        resp.receive_hello(Initiator(1, KEYS[1], 2, key.verify_key).hello())
    assert info.value.peer == 1 and seen == [1]
    assert resp.reject == bytes([5, 5])  # REJECT(not expected)
    assert CountingKey.signatures == 0  # no RESPONSE signature
    assert resp._given_esk is None  # no ephemeral key pair, hence no X25519 either
    # an unknown id is refused before admit is even asked
    resp = Responder(2, key, {1: KEYS[1].verify_key}, admit=admit)
    with pytest.raises(UnknownPeer):
        resp.receive_hello(Initiator(3, KEYS[3], 2, key.verify_key).hello())
    assert seen == [1] and CountingKey.signatures == 0


def test_admit_none_lets_the_handshake_proceed() -> None:
    resp = Responder(2, KEYS[2], {1: KEYS[1].verify_key}, admit=lambda _p: None)
    init = Initiator(1, KEYS[1], 2, KEYS[2].verify_key)
    finish = init.receive_response(resp.receive_hello(init.hello()))
    assert resp.receive_finish(finish).send_key == init.receive_verdict(resp.accept()).recv_key


@pytest.mark.parametrize("stage", ["response", "verdict"])
def test_reject_is_reported_as_unauthenticated(stage: str) -> None:
    # A REJECT carries no signature: the initiator raises the distinct ``Rejected`` type (which
    # the transport retries) and its message says the REJECT is unauthenticated.
    init = Initiator(1, KEYS[1], 2, KEYS[2].verify_key)
    hello = init.hello()
    if stage == "verdict":
        resp = Responder(2, KEYS[2], {1: KEYS[1].verify_key})
        init.receive_response(resp.receive_hello(hello))
        call = init.receive_verdict
    else:
        call = init.receive_response
    with pytest.raises(
        Rejected, match=r"unauthenticated REJECT .*party 2 \(bad_signature\)"
    ) as info:
        call(bytes([5, 4]))
    assert isinstance(info.value, HandshakeFailed) and info.value.peer == 2
    assert init.state is State.FAILED
