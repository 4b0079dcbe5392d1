"""TCP transport: one authenticated, encrypted trio stream per pair of parties.

Why it is built this way:

* **One connection per pair, lower id dials.** Two parties dialing each other at once would race
  and need a tie-break; fixing the direction removes the race. The dialer retries with backoff
  until ``connect_timeout`` because parties start at different times.
* **Authentication before anything else** (``handshake``): the accepting side allocates at most
  ``MAX_HANDSHAKE_MESSAGE`` bytes per frame and ``handshake_timeout`` seconds for a peer it does
  not know yet, caps how many such peers it serves at once, and refuses unknown ids, bad
  signatures and connections in the wrong direction. A refusal on the accepting side never
  disturbs the run (anyone can open a socket); it is recorded in ``refused`` and logged.
* **Records** (``channel``) are SecretBox-encrypted with counter nonces inside length-prefixed
  frames (``framing``); the length is checked before the body is buffered.
* **Back-pressure, not drops**: a receive task per connection pushes decrypted frames into one
  bounded inbox and blocks when it is full, so a slow consumer stops reading the sockets and TCP
  flow control slows the senders. A send that cannot finish within ``send_timeout`` drops the
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

import contextlib
import math
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import trio
from nacl.signing import SigningKey, VerifyKey

from coopetition.engine.errors import (
    ConfigError,
    ConnectionClosed,
    FrameTooLarge,
    HandshakeFailed,
    PartyId,
    TransportError,
    UnknownPeer,
)
from coopetition.transports.base import DEFAULT_MAX_FRAME, Frame, Transport
from coopetition.transports.channel import OVERHEAD, SecureChannel
from coopetition.transports.framing import HEADER, MAX_ENCODABLE, FrameReader, encode_frame
from coopetition.transports.handshake import (
    MAX_HANDSHAKE_MESSAGE,
    MAX_PARTY_ID,
    Initiator,
    Responder,
    SessionKeys,
)

#: Largest read from a socket at once: bounds the buffer beyond the current frame's own size.
READ_CHUNK = 256 * 1024
DEFAULT_INBOX_FRAMES = 1024
DEFAULT_MAX_PENDING_HANDSHAKES = 64
#: How many recent refusals ``refused`` keeps (bounded: unknown peers must not grow memory).
REFUSED_HISTORY = 64
_BACKOFF_START = 0.05
_BACKOFF_MAX = 1.0


class ConnectTimeout(ConnectionClosed):
    """No authenticated connection to ``peer`` could be set up within ``connect_timeout``."""


@dataclass(frozen=True)
class PeerAddress:
    """Where a peer listens and the long-term key it must prove it holds."""

    host: str
    port: int
    verify_key: VerifyKey


@dataclass(eq=False)
class _Connection:
    peer: PartyId
    stream: trio.SocketStream
    reader: FrameReader
    channel: SecureChannel
    send_lock: trio.Lock = field(default_factory=trio.Lock)
    dead: bool = False


class _Retry(Exception):
    """A dial attempt failed in a way worth retrying (refused, reset, EOF mid-handshake)."""


def _first_error(group: BaseExceptionGroup) -> BaseException:
    """The one exception a public call raises for a group: a transport error if there is one."""
    leaves: list[BaseException] = []

    def walk(exc: BaseException) -> None:
        if isinstance(exc, BaseExceptionGroup):
            for sub in exc.exceptions:
                walk(sub)
        else:
            leaves.append(exc)

    walk(group)
    for kinds in (TransportError, Exception, BaseException):
        for leaf in leaves:
            if isinstance(leaf, kinds) and not isinstance(leaf, trio.Cancelled):
                return leaf
    return leaves[0] if leaves else group


async def _send_quietly(stream: trio.abc.SendStream, data: bytes) -> None:
    """Best-effort courtesy message (a REJECT) to a peer we are about to hang up on."""
    with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError, OSError):
        await stream.send_all(data)


class TcpTransport(Transport):
    """Authenticated, encrypted TCP between ``local_id`` and every party in ``peers``.

    ``listen`` is ``(host, port)``; port 0 binds a free port, which ``listen()`` returns so it can be
    handed to the other parties. Use a numeric host (``"127.0.0.1"``): a name resolving to several
    addresses would bind several listeners and only the first one's address is reported.
    ``refused`` holds the most recent refusals of inbound connections (for diagnostics and tests);
    ``logger`` is an optional structlog-style logger (nothing secret is ever logged).
    """

    def __init__(
        self,
        local_id: PartyId,
        signing_key: SigningKey,
        listen: tuple[str, int],
        peers: Mapping[PartyId, PeerAddress],
        *,
        max_frame: int = DEFAULT_MAX_FRAME,
        connect_timeout: float = 30.0,
        handshake_timeout: float = 10.0,
        send_timeout: float = 60.0,
        inbox_frames: int = DEFAULT_INBOX_FRAMES,
        max_pending_handshakes: int = DEFAULT_MAX_PENDING_HANDSHAKES,
        logger: Any | None = None,
    ) -> None:
        for pid in (local_id, *peers):
            if isinstance(pid, bool) or not isinstance(pid, int) or not 0 <= pid <= MAX_PARTY_ID:
                raise ConfigError(f"party ids must be integers in [0, 2**64), got {pid!r}")
        if local_id in peers:
            raise ConfigError(f"party {local_id} lists itself as a peer")
        for pid, addr in peers.items():
            if not isinstance(addr, PeerAddress) or not isinstance(addr.verify_key, VerifyKey):
                raise ConfigError(f"peer {pid} needs a PeerAddress with a nacl VerifyKey")
        if not isinstance(signing_key, SigningKey):
            raise ConfigError("signing_key must be a nacl.signing.SigningKey")
        if not 0 <= max_frame <= MAX_ENCODABLE - OVERHEAD:
            raise ConfigError(f"max_frame must be in [0, {MAX_ENCODABLE - OVERHEAD}]")
        for name, value in (
            ("connect_timeout", connect_timeout),
            ("handshake_timeout", handshake_timeout),
            ("send_timeout", send_timeout),
        ):
            if not (value > 0 and math.isfinite(value)):
                raise ConfigError(f"{name} must be a positive finite number of seconds")
        if inbox_frames < 1 or max_pending_handshakes < 1:
            raise ConfigError("inbox_frames and max_pending_handshakes must be at least 1")

        self.local_id = local_id
        self.peers = frozenset(peers)
        self.max_frame = max_frame
        self.connect_timeout = connect_timeout
        self.handshake_timeout = handshake_timeout
        self.send_timeout = send_timeout
        self.max_pending_handshakes = max_pending_handshakes
        self.refused: deque[TransportError] = deque(maxlen=REFUSED_HISTORY)
        self.address: tuple[str, int] | None = None

        self._signing_key = signing_key
        self._listen_on = listen
        self._addresses = dict(peers)
        self._roster = {pid: addr.verify_key for pid, addr in peers.items()}
        self._log = logger
        self._inbox_send, self._inbox_recv = trio.open_memory_channel[Frame | BaseException](
            inbox_frames
        )
        self._conns: dict[PartyId, _Connection] = {}
        self._claimed: set[PartyId] = set()
        self._arrived: dict[PartyId, trio.Event] = {pid: trio.Event() for pid in peers}
        self._streams: set[trio.abc.HalfCloseableStream] = set()
        self._listeners: list[trio.SocketListener] = []
        self._pending_handshakes = 0
        self._connect_lock = trio.Lock()
        self._nursery: trio.Nursery | None = None
        self._bg_ready: trio.Event | None = None
        self._bg_done = trio.Event()
        self._closed = False

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
        ``connect_timeout``. An authentication failure ends the wait at once (it will not fix
        itself); refused or reset connections are retried with backoff.
        """
        async with self._connect_lock:
            await self._connect_locked()

    async def _connect_locked(self) -> None:
        await self.listen()
        failures: list[TransportError] = []
        last_attempt: dict[PartyId, BaseException] = {}
        try:
            with trio.move_on_after(self.connect_timeout):
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
        if failures:
            raise failures[0]
        self._check_open()
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

    async def aclose(self) -> None:
        """Close every socket and stop every background task; idempotent."""
        first = not self._closed
        self._closed = True
        with trio.CancelScope(shield=True):
            if first:
                for conn in self._conns.values():
                    conn.dead = True
                for listener in self._listeners:
                    await trio.aclose_forcefully(listener)
                for stream in list(self._streams):
                    await trio.aclose_forcefully(stream)
                self._streams.clear()
                self._inbox_recv.close()
                self._inbox_send.close()
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

    async def _guarded(self, fn: Any, *args: Any) -> None:
        """Run a background task; an unexpected error reaches ``receive()`` instead of crashing."""
        try:
            await fn(*args)
        except Exception as exc:
            self._note("tcp.internal_error", error=repr(exc))
            await self._report(exc)

    async def _report(self, exc: BaseException) -> None:
        # If the inbox is closed the transport is closing and nobody is left to tell.
        with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
            await self._inbox_send.send(exc)

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
            if self._closed:
                await trio.aclose_forcefully(stream)
                return
            if self._pending_handshakes >= self.max_pending_handshakes:
                self._refuse(HandshakeFailed("too many unauthenticated connections; dropped"))
                await trio.aclose_forcefully(stream)
                continue
            self._pending_handshakes += 1
            self._streams.add(stream)
            assert self._nursery is not None
            self._nursery.start_soon(self._guarded, self._accept_one, stream)

    async def _accept_one(self, stream: trio.SocketStream) -> None:
        """Run the responder side of the handshake for one inbound connection."""
        responder = Responder(self.local_id, self._signing_key, self._roster)
        reader = FrameReader(MAX_HANDSHAKE_MESSAGE)
        keys: SessionKeys | None = None
        claimed: PartyId | None = None
        error: TransportError | None = None
        try:
            with trio.move_on_after(self.handshake_timeout) as deadline:
                try:
                    hello = await self._read_frame(stream, reader, None)
                    await stream.send_all(encode_frame(responder.receive_hello(hello)))
                    reader.peer = responder.peer_id
                    finish = await self._read_frame(stream, reader, responder.peer_id)
                    authenticated = responder.receive_finish(finish)
                    why = self._admission_problem(authenticated.peer)
                    if why is not None:
                        error = HandshakeFailed(why, peer=authenticated.peer)
                        await stream.send_all(encode_frame(responder.refuse_authenticated(why)))
                    else:
                        claimed = authenticated.peer
                        self._claimed.add(claimed)
                        await stream.send_all(encode_frame(Responder.accept()))
                        keys = authenticated
                except TransportError as exc:
                    error = exc
                    if responder.reject is not None:
                        await _send_quietly(stream, encode_frame(responder.reject))
                except (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as exc:
                    error = error or HandshakeFailed(
                        f"connection lost during handshake: {exc}", peer=responder.peer_id
                    )
            if deadline.cancelled_caught:
                keys = None
                error = error or HandshakeFailed(
                    f"no complete handshake within {self.handshake_timeout} s",
                    peer=responder.peer_id,
                )
        finally:
            self._pending_handshakes -= 1
            if keys is None:
                if claimed is not None:
                    self._claimed.discard(claimed)
                self._streams.discard(stream)
                await trio.aclose_forcefully(stream)
        if keys is None:
            if error is not None:
                self._refuse(error)
            return
        self._register(stream, reader, keys)

    def _admission_problem(self, peer: PartyId) -> str | None:
        if self._closed:
            return "transport is closing"
        if peer > self.local_id:
            return f"party {peer} must be dialed by party {self.local_id}, not dial it"
        if peer in self._conns or peer in self._claimed:
            return f"party {peer} is already connected"
        return None

    async def _dial_task(
        self,
        peer: PartyId,
        failures: list[TransportError],
        last_attempt: dict[PartyId, BaseException],
        connect_scope: trio.CancelScope,
    ) -> None:
        """Dial ``peer`` until connected; authentication failures are final, others retried."""
        addr = self._addresses[peer]
        delay = _BACKOFF_START
        while True:
            try:
                await self._dial_once(peer, addr)
                return
            except _Retry as exc:
                last_attempt[peer] = exc.__cause__ or exc
                await trio.sleep(delay)
                delay = min(delay * 2, _BACKOFF_MAX)
            except TransportError as exc:
                failures.append(exc)
                connect_scope.cancel()
                return

    async def _dial_once(self, peer: PartyId, addr: PeerAddress) -> None:
        try:
            stream = await trio.open_tcp_stream(addr.host, addr.port)
        except OSError as exc:
            raise _Retry(f"cannot reach party {peer}") from exc
        self._streams.add(stream)
        done = False
        try:
            if self._closed:
                raise ConnectionClosed("transport is closed", peer=peer)
            initiator = Initiator(self.local_id, self._signing_key, peer, self._roster[peer])
            reader = FrameReader(MAX_HANDSHAKE_MESSAGE, peer=peer)
            with trio.move_on_after(self.handshake_timeout) as deadline:
                try:
                    await stream.send_all(encode_frame(initiator.hello()))
                    response = await self._read_frame(stream, reader, peer)
                    await stream.send_all(encode_frame(initiator.receive_response(response)))
                    keys = initiator.receive_verdict(await self._read_frame(stream, reader, peer))
                except (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as exc:
                    raise _Retry(f"connection to party {peer} lost during handshake") from exc
                except FrameTooLarge as exc:
                    raise HandshakeFailed(str(exc), peer=peer) from exc
                except ConnectionClosed as exc:  # EOF mid-handshake: the peer may be restarting
                    raise _Retry(str(exc)) from exc
            if deadline.cancelled_caught:
                raise _Retry(f"party {peer} did not finish the handshake in time")
            self._check_open(peer)
            self._register(stream, reader, keys)
            done = True
        finally:
            if not done:
                self._streams.discard(stream)
                await trio.aclose_forcefully(stream)

    def _register(self, stream: trio.SocketStream, reader: FrameReader, keys: SessionKeys) -> None:
        peer = keys.peer
        reader.max_size = self.max_frame + OVERHEAD
        reader.peer = peer
        conn = _Connection(
            peer, stream, reader, SecureChannel(keys.send_key, keys.recv_key, peer=peer)
        )
        self._conns[peer] = conn
        self._claimed.discard(peer)
        self._arrived[peer].set()
        self._note("tcp.connected", peer=peer)
        assert self._nursery is not None
        self._nursery.start_soon(self._guarded, self._pump, conn)

    async def _pump(self, conn: _Connection) -> None:
        """Receive task of one connection: records in, frames (then the final error) out."""
        peer = conn.peer
        error: TransportError
        try:
            while True:
                record = await self._read_frame(conn.stream, conn.reader, peer)
                frame = Frame(peer, conn.channel.open(record))
                try:
                    await self._inbox_send.send(frame)
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    return  # transport closed under us
        except TransportError as exc:
            error = exc
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as exc:
            error = ConnectionClosed(f"connection to party {peer} broke: {exc}", peer=peer)
            error.__cause__ = exc
        await self._drop(conn)
        if self._closed:
            return
        self._note("tcp.connection_lost", peer=peer, error=str(error))
        await self._report(error)

    async def _drop(self, conn: _Connection) -> None:
        conn.dead = True
        self._streams.discard(conn.stream)
        await trio.aclose_forcefully(conn.stream)

    # ------------------------------------------------------------------ helpers

    @staticmethod
    async def _read_frame(
        stream: trio.abc.ReceiveStream, reader: FrameReader, peer: PartyId | None
    ) -> bytes:
        """One frame from ``stream``; a clean EOF between frames is ``ConnectionClosed``."""
        while True:
            frame = reader.next_frame()
            if frame is not None:
                return frame
            chunk = await stream.receive_some(min(reader.wanted(), READ_CHUNK))
            if not chunk:
                where = "between frames" if reader.at_boundary() else "in the middle of a frame"
                who = "the peer" if peer is None else f"party {peer}"
                raise ConnectionClosed(f"{who} closed the connection {where}", peer=peer)
            reader.feed(chunk)

    def _check_open(self, peer: PartyId | None = None) -> None:
        if self._closed:
            raise ConnectionClosed("transport is closed", peer=peer)

    def _refuse(self, error: TransportError) -> None:
        self.refused.append(error)
        self._note("tcp.refused", peer=error.peer, error=str(error))

    def _note(self, event: str, **fields: Any) -> None:
        if self._log is not None:
            self._log.info(event, party=self.local_id, **fields)
