"""TCP transport: one authenticated, encrypted trio stream per pair of parties.

Why it is built this way:

* **One connection per pair, lower id dials.** Two parties dialing each other at once would race
  and need a tie-break; fixing the direction removes the race. The dialer retries with backoff
  until ``connect_timeout`` because parties start at different times.
* **Authentication before anything else** (``handshake``): the accepting side allocates at most
  ``MAX_HANDSHAKE_MESSAGE`` bytes per frame, ``hello_timeout`` seconds for the first HELLO and
  ``handshake_timeout`` for the whole handshake of a peer it does not know yet. It caps the
  unauthenticated connections it serves, per source address and in total, and when the table is
  full it *evicts the oldest* (preferring ones that have not even sent a HELLO) instead of refusing
  the newest, so idle sockets cannot lock the real peers out. Cheap checks (id in the roster,
  dialing direction, not already connected) run before any public-key work. A refusal on the
  accepting side never disturbs the run (anyone can open a socket); it is recorded in ``refused``
  (labelled *unauthenticated* when the claimed id was never proven) and logged.
* **Key confirmation**: the dialer's first record is an empty one under the new session key; the
  acceptor registers the connection only once it opens. So a dialer that gave up on a slow ACCEPT
  never leaves a registered-but-dead connection behind, and a newer authenticated attempt of the
  same peer replaces an unconfirmed older one.
* **Nothing unauthenticated is final**: a REJECT is unsigned, and a bad or malformed RESPONSE may
  come from an impostor at the address or from the path, so the dialer records what it saw and
  retries until ``connect_timeout``; the final ``ConnectTimeout`` quotes it, labelled as
  unauthenticated, instead of blaming the peer early.
* **Listeners close once every peer that dials in has connected**: there is no reconnection, so
  after that an open port only serves attackers.
* **Records** (``channel``) are SecretBox-encrypted with counter nonces inside length-prefixed
  frames (``framing``); the length is checked before the body is buffered.
* **Back-pressure, not drops**: a receive task per connection pushes decrypted frames into one
  inbox bounded in frames and in bytes and blocks when it is full, so a slow consumer stops
  reading the sockets and TCP flow control slows the senders. A send that cannot finish within ``send_timeout`` drops the
  connection with a typed error; nothing is discarded silently.
* **Whole frames only**: writes to one connection are serialised by a lock and shielded from
  cancellation (bounded by ``send_timeout``), so cancelling a sender never leaves half a record
  on the wire.
* **Errors in order**: a connection that breaks (EOF, reset, oversize frame, bad record) is
  reported by ``receive()`` as a ``TransportError`` naming the peer *after* the frames that
  arrived before it, so the engine can process what it has and then abort naming the peer.

The background tasks (accept loop, handshakes of inbound peers, receive tasks) live in a trio
*system task* started by ``listen()``/``connect()``, so the transport follows the plain
``connect()`` … ``aclose()`` lifecycle of ``Transport`` without needing the caller's nursery;
every one of them catches its own errors and reports them through the inbox, and ``aclose()``
cancels them and waits until every socket is closed.
"""

from __future__ import annotations

import trio

from coopetition.transports.base import Frame
from coopetition.transports.errors import (
    ConfigError,
    ConnectionClosed,
    PartyId,
    TransportError,
    UnknownPeer,
)
from coopetition.transports.framing import HEADER
from coopetition.transports.tcp_accept import _AcceptSide

#: Largest read from a socket at once: bounds the buffer beyond the current frame's own size.
from coopetition.transports.tcp_core import (
    ConnectTimeout,
    PeerAddress,
    _first_error,
)
from coopetition.transports.tcp_dial import _DialSide

__all__ = ["ConnectTimeout", "PeerAddress", "TcpTransport"]


class TcpTransport(_AcceptSide, _DialSide):
    """Authenticated, encrypted TCP between ``local_id`` and every party in ``peers``.

    ``listen`` is ``(host, port)``; port 0 binds a free port, which ``listen()`` returns so it can be
    handed to the other parties. Use a numeric host (``"127.0.0.1"``): a name resolving to several
    addresses would bind several listeners and only the first one's address is reported.
    ``refused`` holds the most recent refusals of inbound connections (for diagnostics and tests);
    ``logger`` is an optional structlog-style logger (nothing secret is ever logged).
    """

    # ------------------------------------------------------------------ lifecycle

    async def listen(self) -> tuple[str, int]:
        """Bind now (port 0 allowed) and start accepting; returns the bound address."""
        self._check_open()
        if self.address is not None:
            await trio.lowlevel.checkpoint()
            return self.address
        host, port = self._listen_on
        try:
            listeners = await trio.open_tcp_listeners(port, host=host)
        except OSError as exc:
            raise ConfigError(f"cannot listen on {host}:{port}: {exc}") from exc
        self._listeners = listeners
        sockname = listeners[0].socket.getsockname()
        self.address = (str(sockname[0]), int(sockname[1]))
        nursery = await self._background()
        for listener in listeners:
            nursery.start_soon(self._guarded, self._accept_loop, listener)
        self._note("tcp.listening", host=self.address[0], port=self.address[1])
        return self.address

    def set_peer_address(self, peer: PartyId, host: str, port: int) -> None:
        """Tell this party where ``peer`` listens (e.g. once it bound port 0); the key stays."""
        if peer not in self._addresses:
            raise UnknownPeer(f"party {peer} is not a peer of party {self.local_id}", peer=peer)
        key = self._addresses[peer].verify_key
        self._addresses[peer] = PeerAddress(host, port, key)

    async def connect(self) -> None:
        """Listen if needed, then connect to every peer or raise one ``TransportError``.

        Dials every higher id and waits for every lower id to dial in, all within
        ``connect_timeout``. Refused (REJECT, unsigned), unauthenticated, reset or slow attempts
        are retried with backoff and summarised in the final ``ConnectTimeout``. Once every
        peer is connected the listeners close. ``aclose()`` from another task ends a pending
        ``connect()`` with ``ConnectionClosed``.
        """
        async with self._connect_lock:
            await self._connect_locked()

    async def _connect_locked(self) -> None:
        await self.listen()
        failures: list[TransportError] = []
        last_attempt: dict[PartyId, BaseException] = {}
        try:
            with trio.move_on_after(self.connect_timeout) as scope:
                self._connect_scope = scope
                if self._closed:
                    scope.cancel()
                async with trio.open_nursery() as nursery:
                    for peer in sorted(self.peers - self._conns.keys()):
                        if peer > self.local_id:
                            nursery.start_soon(
                                self._dial_task, peer, failures, last_attempt, nursery.cancel_scope
                            )
                        else:
                            nursery.start_soon(self._arrived[peer].wait)
        except BaseExceptionGroup as group:
            _, others = group.split(trio.Cancelled)
            if others is None:
                raise  # only cancellation from outside: let it reach its cancel scope
            raise _first_error(others) from group
        finally:
            self._connect_scope = None
        self._check_open()
        if failures:
            raise failures[0]
        missing = sorted(self.peers - self._conns.keys())
        if missing:
            hints = [f"{p}: {last_attempt[p]}" for p in missing if p in last_attempt]
            recent = [str(e) for e in self.refused if e.peer in missing]
            detail = "; ".join(hints + recent[-3:])
            raise ConnectTimeout(
                f"party {self.local_id} has no connection to parties {missing} after "
                f"{self.connect_timeout} s" + (f" ({detail})" if detail else ""),
                peer=missing[0],
            )
        await self._stop_accepting("every peer is connected")

    async def aclose(self) -> None:
        """Close every socket and stop every background task; idempotent."""
        first = not self._closed
        self._closed = True
        with trio.CancelScope(shield=True):
            if first:
                for conn in self._conns.values():
                    conn.dead = True
                if self._connect_scope is not None:
                    self._connect_scope.cancel()  # a pending connect() raises ConnectionClosed
                await self._stop_accepting("transport is closing")
                for stream in list(self._streams):
                    await trio.aclose_forcefully(stream)
                self._streams.clear()
                self._inbox_recv.close()
                self._inbox_send.close()
                self._inbox_space.unpark_all()
                if self._nursery is not None:
                    self._nursery.cancel_scope.cancel()
            if self._bg_ready is not None:
                await self._bg_done.wait()
            else:
                await trio.lowlevel.checkpoint()

    async def __aenter__(self) -> TcpTransport:
        try:
            await self.connect()
        except BaseException:
            await self.aclose()
            raise
        return self

    # ------------------------------------------------------------------ data

    async def send(self, peer: PartyId, data: bytes) -> None:
        """Encrypt and write one frame; blocks for back-pressure up to ``send_timeout``."""
        if peer not in self.peers:
            raise UnknownPeer(f"party {peer} is not a peer of party {self.local_id}", peer=peer)
        self.check_frame_size(len(data), peer=peer)
        self._check_open(peer)
        conn = self._conns.get(peer)
        if conn is None or conn.dead:
            raise ConnectionClosed(f"no open connection to party {peer}", peer=peer)
        with trio.move_on_after(self.send_timeout) as waited:
            await conn.send_lock.acquire()
        if waited.cancelled_caught:
            raise ConnectionClosed(
                f"earlier frames to party {peer} did not drain within {self.send_timeout} s",
                peer=peer,
            )
        try:
            if conn.dead:
                raise ConnectionClosed(f"connection to party {peer} is closed", peer=peer)
            counter, boxed = conn.channel.seal_parts(bytes(data))
            record = b"".join((HEADER.pack(len(counter) + len(boxed)), counter, boxed))
            failure: BaseException | None = None
            with trio.CancelScope(shield=True) as scope:
                scope.deadline = trio.current_time() + self.send_timeout
                try:
                    await conn.stream.send_all(record)
                except (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as exc:
                    failure = exc
            if failure is not None or scope.cancelled_caught:
                await self._drop(conn)
                why = "timed out" if failure is None else "failed"
                raise ConnectionClosed(
                    f"send to party {peer} {why}; connection dropped", peer=peer
                ) from failure
        finally:
            conn.send_lock.release()

    async def receive(self) -> Frame:
        """The next frame from any peer, or the error that ended one peer's connection."""
        self._check_open()
        try:
            item = await self._inbox_recv.receive()
        except (trio.EndOfChannel, trio.ClosedResourceError) as exc:
            raise ConnectionClosed("transport is closed") from exc
        if isinstance(item, BaseException):
            raise item
        self._inbox_used -= len(item.data)
        self._inbox_space.unpark_all()
        return item

    # ------------------------------------------------------------------ background

    async def _background(self) -> trio.Nursery:
        if self._bg_ready is None:
            self._bg_ready = trio.Event()
            trio.lowlevel.spawn_system_task(self._run_background, name=f"tcp-party-{self.local_id}")
        await self._bg_ready.wait()
        self._check_open()
        assert self._nursery is not None
        return self._nursery

    async def _run_background(self) -> None:
        assert self._bg_ready is not None
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                self._bg_ready.set()
                if self._closed:
                    nursery.cancel_scope.cancel()
                await trio.sleep_forever()
        finally:
            self._bg_ready.set()
            self._bg_done.set()
