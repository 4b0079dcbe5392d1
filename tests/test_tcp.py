"""TCP transport over real loopback sockets (127.0.0.1, port 0), in real time with short timeouts.

Real sockets cannot run under the autojump clock (it jumps while the kernel is busy), so these tests
use small real timeouts; the handshake, framing and record logic is covered without sockets in
``test_tcp_sansio.py``.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import trio
from nacl.signing import SigningKey

from coopetition.engine.errors import (
    ConfigError,
    ConnectionClosed,
    FrameTooLarge,
    HandshakeFailed,
    TransportError,
    UnknownPeer,
)
from coopetition.transports.base import Frame
from coopetition.transports.channel import RecordRejected, SecureChannel
from coopetition.transports.framing import FrameReader, encode_frame
from coopetition.transports.handshake import Initiator
from coopetition.transports.tcp import ConnectTimeout, PeerAddress, TcpTransport

HOST = "127.0.0.1"
FAST = {"connect_timeout": 5.0, "handshake_timeout": 2.0, "send_timeout": 5.0}


def build(n: int, keys: dict[int, SigningKey] | None = None, **kw) -> dict[int, TcpTransport]:
    keys = keys or {i: SigningKey.generate() for i in range(n)}
    options = {**FAST, **kw}
    return {
        i: TcpTransport(
            i,
            keys[i],
            (HOST, 0),
            {j: PeerAddress(HOST, 0, keys[j].verify_key) for j in range(n) if j != i},
            **options,
        )
        for i in range(n)
    }


async def listen_all(ts: dict[int, TcpTransport]) -> dict[int, tuple[str, int]]:
    addrs = {i: await t.listen() for i, t in ts.items()}
    for t in ts.values():
        for j in t.peers:
            t.set_peer_address(j, *addrs[j])
    return addrs


@asynccontextmanager
async def mesh(n: int, **kw) -> AsyncIterator[dict[int, TcpTransport]]:
    ts = build(n, **kw)
    try:
        await listen_all(ts)
        async with trio.open_nursery() as nursery:
            for t in ts.values():
                nursery.start_soon(t.connect)
        yield ts
    finally:
        for t in ts.values():
            await t.aclose()


async def receive(t: TcpTransport, timeout: float = 5.0) -> Frame:
    with trio.fail_after(timeout):
        return await t.receive()


async def raise_from_receive(t: TcpTransport, timeout: float = 5.0) -> TransportError:
    with trio.fail_after(timeout), pytest.raises(TransportError) as info:
        await t.receive()
    return info.value


async def rogue_session(
    victim: TcpTransport,
    my_id: int,
    my_key: SigningKey,
    victim_key: SigningKey,
    *,
    confirm: bool = True,
) -> tuple[trio.SocketStream, SecureChannel]:
    """A hand-driven peer that authenticates honestly and may then misbehave on the wire."""
    assert victim.address is not None
    stream = await trio.open_tcp_stream(*victim.address)
    init = Initiator(my_id, my_key, victim.local_id, victim_key.verify_key)
    reader = FrameReader(256)

    async def read() -> bytes:
        while (frame := reader.next_frame()) is None:
            reader.feed(await stream.receive_some(reader.wanted()))
        return frame

    await stream.send_all(encode_frame(init.hello()))
    await stream.send_all(encode_frame(init.receive_response(await read())))
    keys = init.receive_verdict(await read())
    channel = SecureChannel(keys.send_key, keys.recv_key, peer=victim.local_id)
    if confirm:
        await stream.send_all(encode_frame(channel.seal(b"")))  # key confirmation
    return stream, channel


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


async def wait_for_refusal(t: TcpTransport, count: int = 1) -> TransportError:
    with trio.fail_after(5):
        while len(t.refused) < count:
            await trio.sleep(0.01)
    return t.refused[-1]


# ----------------------------------------------------------------------------- happy paths


async def test_three_parties_every_pair_both_directions() -> None:
    big = bytes(range(256)) * (3 * 4096 + 7)  # ~3 MiB, not a multiple of the read chunk
    async with mesh(3) as ts:
        expected: dict[int, list[Frame]] = {i: [] for i in ts}
        async with trio.open_nursery() as nursery:
            for src in ts:
                for dst in ts:
                    if src == dst:
                        continue
                    payloads = [b"", f"{src}->{dst}".encode(), big[src:], b"\x00" * 5]
                    expected[dst] += [Frame(src, p) for p in payloads]

                    async def send_all(src=src, dst=dst, payloads=payloads) -> None:
                        for p in payloads:
                            await ts[src].send(dst, p)

                    nursery.start_soon(send_all)
            got: dict[int, list[Frame]] = {i: [] for i in ts}
            for dst, t in ts.items():
                for _ in expected[dst]:
                    got[dst].append(await receive(t))
        for dst in ts:
            # frames from one sender arrive in order; senders interleave arbitrarily
            for src in ts:
                assert [f for f in got[dst] if f.peer == src] == [
                    f for f in expected[dst] if f.peer == src
                ]
        # exactly one connection per pair: each party holds len(peers) connections
        assert all(len(t._conns) == 2 for t in ts.values())


async def test_async_with_connects_and_closes() -> None:
    ts = build(2)
    await listen_all(ts)
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(ts[1].connect)
            async with ts[0] as t0:
                await t0.send(1, b"ping")
                assert await receive(ts[1]) == Frame(0, b"ping")
        assert isinstance(await raise_from_receive(ts[1]), ConnectionClosed)
        with pytest.raises(ConnectionClosed):
            await ts[0].send(1, b"late")
    finally:
        await ts[1].aclose()


async def test_async_with_that_fails_to_connect_closes_its_sockets() -> None:
    ts = build(2, connect_timeout=0.2)
    address = await ts[1].listen()
    with pytest.raises(ConnectTimeout):
        async with ts[1]:
            pytest.fail("must not be reached")
    with pytest.raises(OSError):
        await trio.open_tcp_stream(*address)
    await ts[0].aclose()


async def test_back_pressure_blocks_sender_and_loses_nothing() -> None:
    frame = b"z" * (1 << 20)
    total = 60
    async with mesh(2, inbox_frames=1) as ts:
        sent = 0

        async def sender() -> None:
            nonlocal sent
            for k in range(total):
                await ts[0].send(1, k.to_bytes(4, "big") + frame)
                sent += 1

        async with trio.open_nursery() as nursery:
            nursery.start_soon(sender)
            await trio.sleep(0.3)
            assert sent < total  # the receiver is not reading: the sender is held back
            for k in range(total):
                got = await receive(ts[1])
                assert got.data[:4] == k.to_bytes(4, "big") and len(got.data) == len(frame) + 4
        assert sent == total


async def test_concurrent_senders_to_one_peer_are_serialised() -> None:
    async with mesh(2) as ts:
        senders, count = 5, 20

        async def sender(tag: int) -> None:
            for k in range(count):
                await ts[0].send(1, bytes([tag, k]) + bytes(1000 * tag))

        async with trio.open_nursery() as nursery:
            for tag in range(senders):
                nursery.start_soon(sender, tag)
            got = [await receive(ts[1]) for _ in range(senders * count)]
        for tag in range(senders):
            mine = [f.data for f in got if f.data[0] == tag]
            assert mine == [bytes([tag, k]) + bytes(1000 * tag) for k in range(count)]


async def test_cancelled_send_never_tears_a_frame() -> None:
    big = b"q" * (16 << 20)
    async with mesh(2) as ts:
        with trio.move_on_after(0.001):
            await ts[0].send(1, big)
        await ts[0].send(1, b"after")
        first = await receive(ts[1])
        if first.data != b"after":  # the big frame went out whole, or not at all
            assert first.data == big
            assert (await receive(ts[1])).data == b"after"


# ----------------------------------------------------------------------------- refusals


async def test_unknown_peer_is_refused() -> None:
    keys = {i: SigningKey.generate() for i in (3, 5, 10)}
    member, victim = (
        TcpTransport(
            pid, keys[pid], (HOST, 0), {other: PeerAddress(HOST, 0, keys[other].verify_key)}, **FAST
        )
        for pid, other in ((5, 10), (10, 5))
    )
    outsider = TcpTransport(  # id 3 is in nobody's roster, its key neither
        3, keys[3], (HOST, 0), {10: PeerAddress(HOST, 0, keys[10].verify_key)}, **FAST
    )
    try:
        await listen_all({5: member, 10: victim})
        outsider.set_peer_address(10, *victim.address)
        outsider.connect_timeout = 0.5
        with pytest.raises(ConnectTimeout, match=r"unauthenticated REJECT.*unknown_id") as info:
            await outsider.connect()
        assert info.value.peer == 10
        refusal = await wait_for_refusal(victim)
        assert isinstance(refusal, UnknownPeer) and refusal.peer == 3
        assert 3 not in victim._conns
        # the legitimate peer still gets in afterwards
        async with trio.open_nursery() as nursery:
            nursery.start_soon(member.connect)
            nursery.start_soon(victim.connect)
        await member.send(10, b"ok")
        assert await receive(victim) == Frame(5, b"ok")
    finally:
        for t in (outsider, member, victim):
            await t.aclose()


async def test_wrong_key_for_known_id_is_refused_by_the_acceptor() -> None:
    keys = {i: SigningKey.generate() for i in range(2)}
    ts = build(2, keys=keys)
    await listen_all(ts)
    impostor = TcpTransport(
        0,
        SigningKey.generate(),  # claims to be party 0 without party 0's key
        (HOST, 0),
        {1: PeerAddress(*ts[1].address, keys[1].verify_key)},
        **FAST,
    )
    impostor.connect_timeout = 0.5
    try:
        with pytest.raises(ConnectTimeout, match="bad_signature"):
            await impostor.connect()
        refusal = await wait_for_refusal(ts[1])
        assert isinstance(refusal, HandshakeFailed) and refusal.peer == 0
        assert 0 not in ts[1]._conns
    finally:
        for t in (impostor, *ts.values()):
            await t.aclose()


async def test_dialer_refuses_a_listener_with_the_wrong_key() -> None:
    keys = {0: SigningKey.generate(), 1: SigningKey.generate()}
    ts = build(2, keys=keys)
    squatter = TcpTransport(  # listens where party 0 expects party 1, with another key
        1, SigningKey.generate(), (HOST, 0), {0: PeerAddress(HOST, 0, keys[0].verify_key)}, **FAST
    )
    ts[0].connect_timeout = 0.5
    try:
        ts[0].set_peer_address(1, *(await squatter.listen()))
        # the RESPONSE is not yet authenticated, so it is retried and reported at the deadline
        with pytest.raises(
            ConnectTimeout, match=r"did not authenticate as party 1.*signature"
        ) as info:
            await ts[0].connect()
        assert info.value.peer == 1
    finally:
        for t in (squatter, *ts.values()):
            await t.aclose()


async def test_wrong_direction_and_duplicate_connections_are_refused() -> None:
    keys = {i: SigningKey.generate() for i in range(3)}
    ts = build(3, keys=keys)
    await listen_all(ts)
    try:
        # party 2 must be dialed by party 0, so party 0 refuses a dial from 2 even with valid keys
        with pytest.raises(HandshakeFailed, match="not_expected"):
            await rogue_session(ts[0], 2, keys[2], keys[0])
        assert "must be dialed" in str(await wait_for_refusal(ts[0]))
        stream, _ = await rogue_session(ts[2], 0, keys[0], keys[2])  # a valid first connection
        with pytest.raises(HandshakeFailed, match="not_expected"):
            await rogue_session(ts[2], 0, keys[0], keys[2])
        assert "already connected" in str(await wait_for_refusal(ts[2]))
        await stream.aclose()
    finally:
        for t in ts.values():
            await t.aclose()


async def test_silent_and_oversize_unauthenticated_connections_are_dropped() -> None:
    ts = build(2, handshake_timeout=5.0, hello_timeout=0.2)
    await listen_all(ts)
    try:
        silent = await trio.open_tcp_stream(*ts[1].address)
        refusal = await wait_for_refusal(ts[1])  # after hello_timeout, not handshake_timeout
        assert isinstance(refusal, HandshakeFailed) and "no hello within 0.2 s" in str(refusal)
        assert "unauthenticated" in str(refusal)
        with trio.fail_after(5):
            assert await silent.receive_some(10) == b""  # the acceptor hung up
        await silent.aclose()

        greedy = await trio.open_tcp_stream(*ts[1].address)
        await greedy.send_all((1 << 30).to_bytes(4, "big"))  # announces 1 GiB before any auth
        refusal = await wait_for_refusal(ts[1], 2)
        assert isinstance(refusal, FrameTooLarge)
        await greedy.aclose()
        assert ts[1]._pending == []
    finally:
        for t in ts.values():
            await t.aclose()


# ----------------------------------------------------------------------------- misbehaviour after auth


async def test_oversize_length_prefix_after_handshake_raises_frame_too_large() -> None:
    keys = {i: SigningKey.generate() for i in range(2)}
    ts = build(2, keys=keys, max_frame=1000)
    await listen_all(ts)
    try:
        stream, channel = await rogue_session(ts[1], 0, keys[0], keys[1])
        await stream.send_all(encode_frame(channel.seal(b"fine")))
        await stream.send_all((2**32 - 1).to_bytes(4, "big"))  # forged header, no body follows
        assert await receive(ts[1]) == Frame(0, b"fine")
        error = await raise_from_receive(ts[1])
        assert isinstance(error, FrameTooLarge) and error.peer == 0
        with pytest.raises(ConnectionClosed):
            await ts[1].send(0, b"x")  # the connection was dropped
        await stream.aclose()
    finally:
        for t in ts.values():
            await t.aclose()


async def test_peer_with_larger_limit_cannot_push_an_oversize_frame() -> None:
    keys = {i: SigningKey.generate() for i in range(2)}
    small = build(2, keys=keys, max_frame=1000)
    big = build(2, keys=keys, max_frame=100_000)
    ts = {0: big[0], 1: small[1]}
    await listen_all(ts)
    try:
        async with trio.open_nursery() as nursery:
            for t in ts.values():
                nursery.start_soon(t.connect)
        await ts[0].send(1, b"a" * 1000)
        await ts[0].send(1, b"a" * 1001)
        assert await receive(ts[1]) == Frame(0, b"a" * 1000)
        error = await raise_from_receive(ts[1])
        assert isinstance(error, FrameTooLarge) and error.peer == 0
    finally:
        for t in (*big.values(), *small.values()):
            await t.aclose()


async def test_tampered_and_replayed_records_are_rejected() -> None:
    keys = {i: SigningKey.generate() for i in range(3)}
    ts = build(3, keys=keys)
    await listen_all(ts)
    try:
        stream, channel = await rogue_session(ts[2], 0, keys[0], keys[2])
        good = channel.seal(b"first")
        bad = bytearray(channel.seal(b"second"))
        bad[-1] ^= 0x01
        await stream.send_all(encode_frame(good) + encode_frame(bytes(bad)))
        assert await receive(ts[2]) == Frame(0, b"first")
        error = await raise_from_receive(ts[2])
        assert isinstance(error, RecordRejected) and error.peer == 0
        assert "authentication" in str(error)
        await stream.aclose()

        stream, channel = await rogue_session(ts[2], 1, keys[1], keys[2])
        record = channel.seal(b"once")
        await stream.send_all(encode_frame(record) * 2)
        assert await receive(ts[2]) == Frame(1, b"once")
        error = await raise_from_receive(ts[2])
        assert isinstance(error, RecordRejected) and error.peer == 1 and "replayed" in str(error)
        await stream.aclose()
    finally:
        for t in ts.values():
            await t.aclose()


async def test_peer_closing_mid_run_surfaces_after_its_frames() -> None:
    async with mesh(3) as ts:
        for k in range(3):
            await ts[0].send(2, bytes([k]))
        await ts[0].aclose()
        for k in range(3):
            assert await receive(ts[2]) == Frame(0, bytes([k]))
        error = await raise_from_receive(ts[2])
        assert type(error) is ConnectionClosed and error.peer == 0
        with pytest.raises(ConnectionClosed) as info:
            await ts[2].send(0, b"anyone?")
        assert info.value.peer == 0
        await ts[1].send(2, b"still here")  # the other peers are unaffected
        assert await receive(ts[2]) == Frame(1, b"still here")


# ----------------------------------------------------------------------------- connect / close


async def test_dialing_a_peer_that_never_comes_up_times_out() -> None:
    keys = {i: SigningKey.generate() for i in range(2)}
    ts = build(2, keys=keys, connect_timeout=0.4)
    ts[0].set_peer_address(1, HOST, free_port())  # nobody listens there
    try:
        with pytest.raises(ConnectTimeout) as info:
            await ts[0].connect()
        assert info.value.peer == 1 and isinstance(info.value, ConnectionClosed)
        # and the accepting side gives up on a peer that never dials in
        with pytest.raises(ConnectTimeout) as info:
            await ts[1].connect()
        assert info.value.peer == 0
    finally:
        for t in ts.values():
            await t.aclose()


async def test_dialer_retries_until_the_peer_starts() -> None:
    keys = {i: SigningKey.generate() for i in range(2)}
    ts = build(2, keys=keys)
    await ts[0].listen()
    port = free_port()
    ts[0].set_peer_address(1, HOST, port)
    late = TcpTransport(
        1, keys[1], (HOST, port), {0: PeerAddress(*ts[0].address, keys[0].verify_key)}, **FAST
    )
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(ts[0].connect)
            await trio.sleep(0.3)  # party 0 is dialing a closed port meanwhile
            nursery.start_soon(late.connect)
        await late.send(0, b"made it")
        assert await receive(ts[0]) == Frame(1, b"made it")
    finally:
        for t in (late, *ts.values()):
            await t.aclose()


async def test_aclose_is_idempotent_and_closes_everything() -> None:
    async with mesh(2) as ts:
        address = ts[1].address
        async with trio.open_nursery() as nursery:

            async def blocked_receive() -> None:
                with pytest.raises(ConnectionClosed):
                    await ts[1].receive()

            nursery.start_soon(blocked_receive)
            await trio.sleep(0.05)
            await ts[1].aclose()
        await ts[1].aclose()
        assert not ts[1]._streams
        with pytest.raises(OSError):
            await trio.open_tcp_stream(*address)  # the listener is gone
        with pytest.raises(ConnectionClosed):
            await ts[1].send(0, b"x")
        with pytest.raises(ConnectionClosed):
            await ts[1].receive()
        with pytest.raises(ConnectionClosed):
            await ts[1].connect()
        assert isinstance(await raise_from_receive(ts[0]), ConnectionClosed)


async def test_local_misuse_is_typed() -> None:
    key = SigningKey.generate()
    with pytest.raises(ConfigError):
        TcpTransport(1, key, (HOST, 0), {1: PeerAddress(HOST, 1, key.verify_key)})
    with pytest.raises(ConfigError):
        TcpTransport(-1, key, (HOST, 0), {})
    with pytest.raises(ConfigError):
        TcpTransport(1, key, (HOST, 0), {}, connect_timeout=0)
    async with mesh(2, max_frame=100) as ts:
        with pytest.raises(UnknownPeer):
            await ts[0].send(5, b"x")
        with pytest.raises(FrameTooLarge):
            await ts[0].send(1, b"x" * 101)


async def test_connect_obeys_outer_cancellation_and_unwraps_groups(monkeypatch) -> None:
    ts = build(3)
    await listen_all(ts)
    try:
        with trio.move_on_after(0.2) as scope:
            await ts[1].connect()  # party 0 never dials in; connect_timeout is much longer
        assert scope.cancelled_caught

        async def broken(*_args) -> None:
            raise ValueError("bug inside a dial task")

        monkeypatch.setattr(ts[0], "_dial_once", broken)
        with pytest.raises(ValueError, match="bug inside"):  # one error, not an ExceptionGroup
            await ts[0].connect()
    finally:
        for t in ts.values():
            await t.aclose()


class RecordingLogger:
    def __init__(self) -> None:
        self.events: list[tuple[str, dict]] = []

    def info(self, event: str, **fields) -> None:
        self.events.append((event, fields))


async def test_logs_name_parties_but_never_keys_or_payloads() -> None:
    keys = {i: SigningKey.generate() for i in range(2)}
    logs = {i: RecordingLogger() for i in range(2)}
    ts = {
        i: TcpTransport(
            i,
            keys[i],
            (HOST, 0),
            {1 - i: PeerAddress(HOST, 0, keys[1 - i].verify_key)},
            logger=logs[i],
            **FAST,
        )
        for i in range(2)
    }
    await listen_all(ts)
    secret = b"SECRET-PAYLOAD-1234"
    try:
        with pytest.raises(HandshakeFailed):  # a refusal gets logged too
            await rogue_session(ts[1], 0, SigningKey.generate(), keys[1])
        await wait_for_refusal(ts[1])
        async with trio.open_nursery() as nursery:
            for t in ts.values():
                nursery.start_soon(t.connect)
        await ts[0].send(1, secret)
        assert (await receive(ts[1])).data == secret
        channel_keys = [c.channel._send_key for t in ts.values() for c in t._conns.values()]
    finally:
        for t in ts.values():
            await t.aclose()
    text = repr([e for log in logs.values() for e in log.events])
    assert "tcp.connected" in text and "tcp.refused" in text
    for needle in [secret, *(bytes(k) for k in keys.values()), *channel_keys]:
        assert needle.hex() not in text and repr(needle)[2:-1] not in text


# ------------------------------------------------------------------------- review fixes (issue 3)


async def pipe(src: trio.SocketStream, dst: trio.SocketStream, delay_after: int | None) -> None:
    """Copy ``src`` to ``dst``; pause once for ``LATE`` seconds after ``delay_after`` bytes."""
    sent = 0
    try:
        while data := await src.receive_some(65536):
            if delay_after is not None and sent >= delay_after:
                await trio.sleep(LATE)
                delay_after = None
            sent += len(data)
            await dst.send_all(data)
    except (trio.BrokenResourceError, trio.ClosedResourceError):
        pass
    finally:
        await trio.aclose_forcefully(dst)


LATE = 0.6


async def relay(
    listener: trio.SocketListener, target: tuple[str, int], first: str, log: list[str]
) -> None:
    """A loopback middlebox. The first connection gets ``first``: "slow" (holds the acceptor's
    bytes after RESPONSE for ``LATE`` s) or "reject" (answers HELLO with a forged REJECT);
    later connections pass through untouched."""
    async with trio.open_nursery() as nursery:
        while True:
            client = await listener.accept()
            log.append("conn")
            if len(log) == 1 and first == "reject":
                await client.receive_some(4 + 65)  # the dialer's HELLO
                await client.send_all(encode_frame(bytes([5, 4])))  # REJECT(bad_signature)
                await trio.aclose_forcefully(client)
                continue
            server = await trio.open_tcp_stream(*target)
            slow = 4 + 97 if len(log) == 1 and first == "slow" else None
            nursery.start_soon(pipe, client, server, None)
            nursery.start_soon(pipe, server, client, slow)


@asynccontextmanager
async def connected_through_relay(
    ts: dict[int, TcpTransport], first: str
) -> AsyncIterator[list[str]]:
    """Party 0 dials party 1 through ``relay`` (whose first connection gets ``first``); yields the
    relay's connection log once both are connected, keeping the relay up until the block ends."""
    addrs = await listen_all(ts)
    log: list[str] = []
    listener = (await trio.open_tcp_listeners(0, host=HOST))[0]
    ts[0].set_peer_address(1, HOST, listener.socket.getsockname()[1])
    try:
        async with trio.open_nursery() as outer:
            outer.start_soon(relay, listener, addrs[1], first, log)
            async with trio.open_nursery() as nursery:
                nursery.start_soon(ts[0].connect)
                nursery.start_soon(ts[1].connect)
            yield log
            outer.cancel_scope.cancel()
    finally:
        await listener.aclose()


async def test_idle_sockets_cannot_lock_out_the_real_peer() -> None:
    # Defect 1: an outsider keeps every pending slot busy with idle sockets and reopens each one
    # the acceptor drops. Refusing the newest connection locked the real dialer out; evicting
    # the oldest idle one lets it in.
    ts = build(2, max_pending_handshakes=8, max_pending_per_source=4, hello_timeout=0.5)
    addrs = await listen_all(ts)
    held: list[trio.SocketStream] = []

    async def squat() -> None:
        while True:
            try:
                stream = await trio.open_tcp_stream(*addrs[1])
            except OSError:  # the listener closed once party 0 was in
                return
            held.append(stream)
            with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
                await stream.receive_some(1)  # b"" (or a reset) once the acceptor drops it
            await trio.aclose_forcefully(stream)

    try:
        async with trio.open_nursery() as attack:
            for _ in range(8):
                attack.start_soon(squat)
            with trio.fail_after(5):
                while len(ts[1]._pending) < 4:  # the per-source cap is reached...
                    await trio.sleep(0.01)
            async with trio.open_nursery() as nursery:
                nursery.start_soon(ts[0].connect)
                nursery.start_soon(ts[1].connect)
            attack.cancel_scope.cancel()
        await ts[0].send(1, b"through")
        assert await receive(ts[1]) == Frame(0, b"through")
        reasons = {str(r) for r in ts[1].refused}
        assert any("evicted" in r and "from its address" in r for r in reasons)
        assert all("unauthenticated" in r for r in reasons)
    finally:
        for stream in held:
            await trio.aclose_forcefully(stream)
        for t in ts.values():
            await t.aclose()


async def test_listeners_close_once_every_inbound_peer_is_connected() -> None:
    # Defect 1, second half: after setup an open port only lets outsiders make the parties sign.
    async with mesh(3) as ts:
        for t in ts.values():
            assert t.address is not None
            with pytest.raises(OSError):
                await trio.open_tcp_stream(*t.address)
            assert t._pending == []
        await ts[0].send(2, b"still flowing")
        assert await receive(ts[2]) == Frame(0, b"still flowing")


async def test_hello_in_the_wrong_direction_costs_no_public_key_work(monkeypatch) -> None:
    # Defect 1: the cheap checks run before X25519 and the signature.
    keys = {i: SigningKey.generate() for i in range(3)}
    ts = build(3, keys=keys)
    await listen_all(ts)
    signed: list[bytes] = []
    real_sign = SigningKey.sign

    def counting_sign(self, message, encoder=None):  # type: ignore[no-untyped-def]
        signed.append(message)
        return real_sign(self, message)

    monkeypatch.setattr(SigningKey, "sign", counting_sign)
    try:
        stream = await trio.open_tcp_stream(*ts[0].address)
        await stream.send_all(encode_frame(Initiator(2, keys[2], 0, keys[0].verify_key).hello()))
        reader = FrameReader(256)
        with trio.fail_after(5):
            while (answer := reader.next_frame()) is None:
                reader.feed(await stream.receive_some(reader.wanted()))
        assert answer == bytes([5, 5])  # REJECT(not expected) instead of a signed RESPONSE
        assert signed == []
        assert "must be dialed" in str(await wait_for_refusal(ts[0]))
        await stream.aclose()
    finally:
        for t in ts.values():
            await t.aclose()


async def test_slow_accept_is_retried_and_leaves_no_dead_connection() -> None:
    # Defect 2: the ACCEPT arrives after the dialer gave up. The acceptor must not have
    # registered that connection, so the retry gets in and frames flow both ways.
    keys = {i: SigningKey.generate() for i in range(2)}
    ts = build(2, keys=keys)
    ts[0].handshake_timeout = 0.3  # shorter than the relay's delay
    try:
        async with connected_through_relay(ts, "slow") as log:
            await ts[0].send(1, b"ping")
            assert await receive(ts[1]) == Frame(0, b"ping")
            await ts[1].send(0, b"pong")
            assert await receive(ts[0]) == Frame(1, b"pong")
            assert len(log) >= 2  # the first attempt really timed out and was retried
    finally:
        for t in ts.values():
            await t.aclose()


async def test_unconfirmed_connection_is_replaced_by_a_newer_authenticated_one() -> None:
    # Defect 2: a dialer that authenticated but never sent its key confirmation (it gave up)
    # must not block its own retry with "already connected".
    keys = {i: SigningKey.generate() for i in range(2)}
    ts = build(2, keys=keys)
    await listen_all(ts)
    try:
        stale, _ = await rogue_session(ts[1], 0, keys[0], keys[1], confirm=False)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(ts[0].connect)
            nursery.start_soon(ts[1].connect)
        await ts[0].send(1, b"fresh")
        assert await receive(ts[1]) == Frame(0, b"fresh")
        assert "superseded" in str(await wait_for_refusal(ts[1]))
        with trio.fail_after(5):
            assert await stale.receive_some(10) == b""  # the stale attempt was hung up
        await stale.aclose()
    finally:
        for t in ts.values():
            await t.aclose()


async def test_forged_reject_is_retried_not_blamed_on_the_peer() -> None:
    # Defect 3: a 2-byte REJECT is unsigned; the first attempt meets a forged one, the retry
    # reaches the real party 1 and connects.
    ts = build(2)
    try:
        async with connected_through_relay(ts, "reject") as log:
            await ts[0].send(1, b"ok")
            assert await receive(ts[1]) == Frame(0, b"ok")
            assert len(log) >= 2
    finally:
        for t in ts.values():
            await t.aclose()


async def test_only_forged_rejects_end_in_a_timeout_that_says_so() -> None:
    ts = build(2, connect_timeout=0.5)
    await listen_all(ts)
    listener = (await trio.open_tcp_listeners(0, host=HOST))[0]
    port = listener.socket.getsockname()[1]

    async def impostor() -> None:
        while True:
            stream = await listener.accept()
            await stream.receive_some(4 + 65)
            await stream.send_all(encode_frame(bytes([5, 4])))
            await trio.aclose_forcefully(stream)

    ts[0].set_peer_address(1, HOST, port)
    try:
        async with trio.open_nursery() as outer:
            outer.start_soon(impostor)
            with pytest.raises(ConnectTimeout, match="unauthenticated REJECT") as info:
                await ts[0].connect()
            assert not isinstance(info.value, HandshakeFailed) and info.value.peer == 1
            outer.cancel_scope.cancel()
    finally:
        await listener.aclose()
        for t in ts.values():
            await t.aclose()


async def test_aclose_wakes_a_pending_connect() -> None:
    ts = build(2, connect_timeout=60.0)
    await listen_all(ts)  # party 0 never connects
    try:

        async def waiting() -> None:
            with pytest.raises(ConnectionClosed, match="transport is closed"):
                await ts[1].connect()

        with trio.fail_after(5):  # hang guard: before the fix connect() waited the full 60 s
            async with trio.open_nursery() as nursery:
                nursery.start_soon(waiting)
                await trio.sleep(0.1)
                await ts[1].aclose()
    finally:
        for t in ts.values():
            await t.aclose()


async def test_outsider_refusals_are_labelled_unauthenticated_in_connect_timeout() -> None:
    ts = build(2, connect_timeout=0.8)
    await listen_all(ts)  # party 0 is not started
    junk = SigningKey.generate()
    try:
        async with trio.open_nursery() as nursery:

            async def outsider() -> None:
                with pytest.raises(HandshakeFailed):
                    await rogue_session(ts[1], 0, junk, junk)  # claims id 0, wrong key

            nursery.start_soon(outsider)
            with pytest.raises(ConnectTimeout) as info:
                await ts[1].connect()
        text = str(info.value)
        assert "an unauthenticated connection claiming to be party 0 was refused" in text
    finally:
        for t in ts.values():
            await t.aclose()


async def test_inbox_is_bounded_in_bytes_with_back_pressure() -> None:
    frame = bytes(64 * 1024)
    total = 300  # ~19 MiB: more than loopback socket buffers hold
    async with mesh(2, inbox_frames=1000, inbox_bytes=100_000) as ts:
        sent = 0

        async def sender() -> None:
            nonlocal sent
            for k in range(total):
                await ts[0].send(1, k.to_bytes(4, "big") + frame)
                sent += 1

        async with trio.open_nursery() as nursery:
            nursery.start_soon(sender)
            await trio.sleep(0.3)
            assert sent < total  # held back by the byte budget, not by the 1000-frame bound
            assert ts[1]._inbox_recv.statistics().current_buffer_used <= 1
            for k in range(total):
                assert (await receive(ts[1])).data[:4] == k.to_bytes(4, "big")
        assert sent == total
