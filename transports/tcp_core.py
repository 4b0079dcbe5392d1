"""TCP transport internals: limits, small records and the state every part of it shares.

``_TcpCore`` validates the configuration and owns the connections, the inbox and the
per-connection receive tasks; the accepting side (``tcp_accept``), the dialing side
(``tcp_dial``) and the public ``TcpTransport`` (``tcp``) build on it. See ``tcp`` for why the
transport is built this way.
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
    PartyId,
    TransportError,
)
from coopetition.transports.framing import MAX_ENCODABLE, FrameReader
from coopetition.transports.handshake import (
    MAX_PARTY_ID,
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


class _TcpCore(Transport):
    """State and helpers shared by the accepting and dialing sides of ``TcpTransport``."""

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
