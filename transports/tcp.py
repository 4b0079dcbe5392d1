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

import contextlib
import math
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import trio
from nacl.signing import SigningKey, VerifyKey

from coopetition.transports.base import DEFAULT_MAX_FRAME, Frame, Transport
from coopetition.transports.channel import OVERHEAD, SecureChannel
from coopetition.transports.errors import (
    ConfigError,
    ConnectionClosed,
    FrameTooLarge,
    HandshakeFailed,
    PartyId,
    TransportError,
    UnknownPeer,
)
from coopetition.transports.framing import HEADER, MAX_ENCODABLE, FrameReader, encode_frame
from coopetition.transports.handshake import (
    MAX_HANDSHAKE_MESSAGE,
    MAX_PARTY_ID,
    Initiator,
    Rejected,
    Responder,
)

#: Largest read from a socket at once: bounds the buffer beyond the current frame's own size.
READ_CHUNK = 256 * 1024
DEFAULT_INBOX_FRAMES = 1024
DEFAULT_INBOX_BYTES = 256 * 2**20
DEFAULT_MAX_PENDING_HANDSHAKES = 64
DEFAULT_MAX_PENDING_PER_SOURCE = 8
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


@dataclass(eq=False)
class _Pending:
    """One inbound connection that has not finished authentication and key confirmation."""

    source: str
    scope: trio.CancelScope = field(default_factory=trio.CancelScope)
    greeted: bool = False  # sent a HELLO that passed the cheap checks
    evicted: str | None = None  # why another task cancelled it


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


def _source_of(stream: trio.SocketStream) -> str:
    try:
        return str(stream.socket.getpeername()[0])
    except (OSError, IndexError):
        return "?"


def _oldest(entries: list[_Pending]) -> _Pending:
    """The eviction victim: the oldest that never sent a good HELLO, else the oldest."""
    return next((p for p in entries if not p.greeted), entries[0])


def _unauthenticated(error: TransportError, claimed: PartyId | None) -> TransportError:
    """The same error, labelled: its peer id is only a claim nobody proved."""
    who = "an unauthenticated connection" + (
        f" claiming to be party {claimed}" if claimed is not None else ""
    )
    labelled = type(error)(f"{who} was refused: {error}", peer=error.peer)
    labelled.__cause__ = error.__cause__
    return labelled


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
        hello_timeout: float = 2.0,
        send_timeout: float = 60.0,
        inbox_frames: int = DEFAULT_INBOX_FRAMES,
        inbox_bytes: int = DEFAULT_INBOX_BYTES,
        max_pending_handshakes: int = DEFAULT_MAX_PENDING_HANDSHAKES,
        max_pending_per_source: int = DEFAULT_MAX_PENDING_PER_SOURCE,
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
            ("hello_timeout", hello_timeout),
            ("send_timeout", send_timeout),
        ):
            if not (value > 0 and math.isfinite(value)):
                raise ConfigError(f"{name} must be a positive finite number of seconds")
        if min(inbox_frames, inbox_bytes, max_pending_handshakes, max_pending_per_source) < 1:
            raise ConfigError(
                "inbox_frames, inbox_bytes, max_pending_handshakes and max_pending_per_source "
                "must be at least 1"
            )

        self.local_id = local_id
        self.peers = frozenset(peers)
        self.max_frame = max_frame
        self.connect_timeout = connect_timeout
        self.handshake_timeout = handshake_timeout
        self.hello_timeout = min(hello_timeout, handshake_timeout)
        self.send_timeout = send_timeout
        self.inbox_bytes = inbox_bytes
        self.max_pending_handshakes = max_pending_handshakes
        self.max_pending_per_source = max_pending_per_source
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
        self._inbox_used = 0  # payload bytes sitting in the inbox
        self._inbox_space = trio.lowlevel.ParkingLot()
        self._conns: dict[PartyId, _Connection] = {}
        self._inbound = frozenset(pid for pid in peers if pid < local_id)
        # Authenticated inbound connections waiting for key confirmation, by peer.
        self._claims: dict[PartyId, _Pending] = {}
        self._arrived: dict[PartyId, trio.Event] = {pid: trio.Event() for pid in peers}
        self._streams: set[trio.abc.HalfCloseableStream] = set()
        self._listeners: list[trio.SocketListener] = []
        self._accepting = True
        self._pending: list[_Pending] = []  # oldest first
        self._connect_lock = trio.Lock()
        self._connect_scope: trio.CancelScope | None = None
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

    async def _dial_task(
        self,
        peer: PartyId,
        failures: list[TransportError],
        last_attempt: dict[PartyId, BaseException],
        connect_scope: trio.CancelScope,
    ) -> None:
        """Dial ``peer`` until connected; anything a stranger could have caused is retried."""
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
            channel: SecureChannel | None = None
            with trio.move_on_after(self.handshake_timeout):
                try:
                    await stream.send_all(encode_frame(initiator.hello()))
                    response = await self._read_frame(stream, reader, peer)
                    await stream.send_all(encode_frame(initiator.receive_response(response)))
                    keys = initiator.receive_verdict(await self._read_frame(stream, reader, peer))
                    confirming = SecureChannel(keys.send_key, keys.recv_key, peer=peer)
                    await stream.send_all(encode_frame(confirming.seal(b"")))
                    channel = confirming
                except Rejected as exc:  # unsigned: maybe the peer, maybe anyone on the path
                    raise _Retry(str(exc)) from exc
                except (HandshakeFailed, FrameTooLarge) as exc:
                    # Nothing before our check of the RESPONSE is authenticated, so a bad
                    # signature or a malformed answer may be an impostor at the address or an
                    # injection on the path: retry, and say so if the deadline passes.
                    raise _Retry(
                        f"the listener at {addr.host}:{addr.port} did not authenticate as "
                        f"party {peer}: {exc}"
                    ) from None
                except (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as exc:
                    raise _Retry(f"connection to party {peer} lost during handshake") from exc
                except ConnectionClosed as exc:  # EOF mid-handshake: the peer may be restarting
                    raise _Retry(str(exc)) from exc
            if channel is None:
                raise _Retry(f"party {peer} did not finish the handshake in time")
            self._check_open(peer)
            self._register(stream, reader, channel)
            done = True
        finally:
            if not done:
                self._streams.discard(stream)
                await trio.aclose_forcefully(stream)

    def _register(
        self, stream: trio.SocketStream, reader: FrameReader, channel: SecureChannel
    ) -> _Connection:
        peer = channel.peer
        assert peer is not None
        reader.max_size = self.max_frame + OVERHEAD
        reader.peer = peer
        conn = _Connection(peer, stream, reader, channel)
        self._conns[peer] = conn
        self._arrived[peer].set()
        self._note("tcp.connected", peer=peer)
        assert self._nursery is not None
        self._nursery.start_soon(self._guarded, self._pump, conn)
        return conn

    async def _pump(self, conn: _Connection) -> None:
        """Receive task of one connection: records in, frames (then the final error) out."""
        peer = conn.peer
        error: TransportError
        try:
            while True:
                record = await self._read_frame(conn.stream, conn.reader, peer)
                frame = Frame(peer, conn.channel.open(record))
                # Byte budget: wait while the inbox holds data and this frame would overflow it
                # (one frame larger than the budget still passes when the inbox is empty).
                while self._inbox_used and self._inbox_used + len(frame.data) > self.inbox_bytes:
                    await self._inbox_space.park()
                self._inbox_used += len(frame.data)
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
