"""The accepting side of the TCP transport: admission control and inbound handshakes."""

from __future__ import annotations

import contextlib

import trio

from coopetition.transports.channel import SecureChannel
from coopetition.transports.errors import (
    ConnectionClosed,
    HandshakeFailed,
    PartyId,
    TransportError,
)
from coopetition.transports.framing import FrameReader, encode_frame
from coopetition.transports.handshake import (
    MAX_HANDSHAKE_MESSAGE,
    Responder,
)

#: Largest read from a socket at once: bounds the buffer beyond the current frame's own size.
from coopetition.transports.tcp_core import (
    _BACKOFF_MAX,
    _Connection,
    _oldest,
    _Pending,
    _send_quietly,
    _source_of,
    _TcpCore,
    _unauthenticated,
)


class _AcceptSide(_TcpCore):
    async def _accept_loop(self, listener: trio.SocketListener) -> None:
        while True:
            try:
                stream = await listener.accept()
            except (trio.ClosedResourceError, trio.BrokenResourceError):
                return
            except OSError as exc:  # e.g. out of file descriptors: wait, do not spin
                self._note("tcp.accept_error", error=str(exc))
                await trio.sleep(_BACKOFF_MAX)
                continue
            if self._closed or not self._accepting:
                await trio.aclose_forcefully(stream)
                return
            source = _source_of(stream)
            self._make_room(source)
            entry = _Pending(source)
            self._pending.append(entry)
            self._streams.add(stream)
            assert self._nursery is not None
            self._nursery.start_soon(self._guarded, self._accept_one, stream, entry)

    def _make_room(self, source: str) -> None:
        """Evict rather than refuse: the newest connection may be the real peer; the oldest idle
        one is the likeliest to be an attacker's placeholder (a real dialer sends HELLO at once)."""
        same = [p for p in self._pending if p.source == source]
        if len(same) >= self.max_pending_per_source:
            self._evict(
                _oldest(same), "evicted: too many unauthenticated connections from its address"
            )
        elif len(self._pending) >= self.max_pending_handshakes:
            self._evict(_oldest(self._pending), "evicted: too many unauthenticated connections")

    def _evict(self, entry: _Pending, why: str) -> None:
        entry.evicted = why
        entry.scope.cancel()
        with contextlib.suppress(ValueError):
            self._pending.remove(entry)

    async def _stop_accepting(self, why: str) -> None:
        """Close the listeners and drop every unfinished inbound handshake (no reconnection)."""
        if self._accepting:
            self._note("tcp.listener_closed", why=why)
        self._accepting = False
        for listener in self._listeners:
            await trio.aclose_forcefully(listener)
        for entry in list(self._pending):
            self._evict(entry, f"dropped: {why}")

    async def _accept_one(self, stream: trio.SocketStream, entry: _Pending) -> None:
        """Responder side of one inbound connection: handshake, then key confirmation."""
        responder = Responder(
            self.local_id, self._signing_key, self._roster, admit=self._admission_problem
        )
        reader = FrameReader(MAX_HANDSHAKE_MESSAGE)
        conn: _Connection | None = None
        error: TransportError | None = None
        authenticated = False
        try:
            with entry.scope:
                entry.scope.deadline = trio.current_time() + self.handshake_timeout
                try:
                    hello: bytes | None = None
                    with trio.move_on_after(self.hello_timeout):
                        hello = await self._read_frame(stream, reader, None)
                    if hello is None:
                        raise HandshakeFailed(f"no hello within {self.hello_timeout} s")
                    response = responder.receive_hello(hello)  # cheap checks come first
                    entry.greeted = True
                    await stream.send_all(encode_frame(response))
                    peer = responder.peer_id
                    assert peer is not None
                    reader.peer = peer
                    keys = responder.receive_finish(await self._read_frame(stream, reader, peer))
                    authenticated = True
                    why = self._admission_problem(peer)
                    if why is not None:
                        error = HandshakeFailed(why, peer=peer)
                        await stream.send_all(encode_frame(responder.refuse_authenticated(why)))
                    else:
                        self._claim(peer, entry)
                        await stream.send_all(encode_frame(Responder.accept()))
                        channel = SecureChannel(keys.send_key, keys.recv_key, peer=peer)
                        if channel.open(await self._read_frame(stream, reader, peer)) != b"":
                            raise HandshakeFailed(
                                f"party {peer}'s key confirmation record is not empty", peer=peer
                            )
                        if self._closed or self._claims.get(peer) is not entry:
                            raise HandshakeFailed(f"party {peer}'s connection was superseded")
                        conn = self._register(stream, reader, channel)
                except TransportError as exc:
                    error = exc
                    if responder.reject is not None and not authenticated:
                        await _send_quietly(stream, encode_frame(responder.reject))
                except (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as exc:
                    error = error or ConnectionClosed(
                        f"connection lost during handshake: {exc}", peer=responder.peer_id
                    )
            if entry.scope.cancelled_caught and conn is None:
                error = HandshakeFailed(
                    entry.evicted or f"no complete handshake within {self.handshake_timeout} s",
                    peer=responder.peer_id,
                )
        finally:
            with contextlib.suppress(ValueError):
                self._pending.remove(entry)
            if responder.peer_id is not None and self._claims.get(responder.peer_id) is entry:
                del self._claims[responder.peer_id]
            if conn is None:
                self._streams.discard(stream)
                await trio.aclose_forcefully(stream)
        if conn is None:
            if error is not None:
                self._refuse(error if authenticated else _unauthenticated(error, responder.peer_id))
            return
        if self._inbound <= self._conns.keys():
            await self._stop_accepting("every peer that dials in is connected")

    def _admission_problem(self, peer: PartyId) -> str | None:
        """Why ``peer`` may not connect inbound now, or ``None``: table lookups only."""
        if self._closed:
            return "transport is closing"
        if peer > self.local_id:
            return f"party {peer} must be dialed by party {self.local_id}, not dial it"
        conn = self._conns.get(peer)
        if conn is not None:
            if conn.dead:
                return f"party {peer}'s connection was lost and reconnection is not supported"
            return f"party {peer} is already connected"
        return None

    def _claim(self, peer: PartyId, entry: _Pending) -> None:
        """A newer authenticated attempt replaces an older one that never confirmed its key."""
        older = self._claims.get(peer)
        if older is not None and older is not entry:
            self._evict(older, f"superseded by a newer authenticated connection of party {peer}")
        self._claims[peer] = entry
