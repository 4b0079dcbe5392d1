"""Reliable, in-order, exactly-once delivery over a transport that may lose, duplicate, reorder or
corrupt frames (the simulated WAN, or any transport wrapped in link faults).

Each data frame carries a per-link sequence number and a CRC-32; the receiver acknowledges with
the next sequence number it expects plus the out-of-order ones it holds (a selective ack), drops
duplicates and frames whose checksum fails (as TCP's checksum would), and releases frames to the
caller in order. The sender keeps every unacknowledged frame and retransmits it when its timer
expires, with an adaptive timeout (RFC 6298: smoothed RTT + 4 x variance, Karn's rule) doubled on
every retry up to ``rto_max``. So loss, duplication and reordering alone can never change what the
protocol above sees: only when and, if a peer stays silent past ``give_up_after``, an error.

No background task: the caller's receive loop drives retransmission (``receive`` waits for the
next frame *or* the next retransmission deadline). A party always has a receive loop; a crashed
party has none, which is exactly a crashed party's behaviour. ``receive`` must be called from one
task at a time; ``send`` may be called from any task.
"""

from __future__ import annotations

import contextlib
import math
import struct
import zlib
from collections import deque
from dataclasses import dataclass, field

import trio

from coopetition.transports.base import Frame, Transport
from coopetition.transports.errors import ConfigError, ConnectionClosed, PartyId, UnknownPeer

DATA = 1
ACK = 2
_HEADER = struct.Struct(">BQI")  # kind, sequence (cumulative ack for ACK), crc32
HEADER_BYTES = _HEADER.size
MAX_SACK = 128


def _crc(kind: int, seq: int, body: bytes) -> int:
    return zlib.crc32(body, zlib.crc32(struct.pack(">BQ", kind, seq)))


def encode(kind: int, seq: int, body: bytes) -> bytes:
    return _HEADER.pack(kind, seq, _crc(kind, seq, body)) + body


def decode(frame: bytes) -> tuple[int, int, bytes] | None:
    """``(kind, seq, body)``, or ``None`` if the frame is malformed or its checksum fails."""
    if len(frame) < HEADER_BYTES:
        return None
    kind, seq, crc = _HEADER.unpack_from(frame)
    body = frame[HEADER_BYTES:]
    if kind not in (DATA, ACK) or crc != _crc(kind, seq, body):
        return None
    return kind, seq, body


@dataclass(slots=True)
class _Pending:
    #: the whole DATA frame (header and body) as handed to the inner transport: kept once and
    #: resent as is, so a queued frame is one object shared with the link's queue, not a
    #: second copy of a possibly multi-megabyte body (docs/simulation.md, "Memory")
    frame: bytes
    sent_at: float
    deadline: float
    rto: float
    retries: int = 0
    #: when the copy in flight was handed to the inner transport
    handed_over: float = 0.0
    #: the timer has been moved to run from when that copy left the sender's own queue
    departed: bool = False


@dataclass(slots=True)
class _PeerState:
    next_seq: int = 0
    unacked: dict[int, _Pending] = field(default_factory=dict)
    expected: int = 0
    held: dict[int, bytes] = field(default_factory=dict)
    srtt: float | None = None
    rttvar: float = 0.0
    rto: float = 1.0
    last_progress: float = 0.0  # last ack that acknowledged something, or start of waiting


@dataclass(slots=True)
class ReliableStats:
    data_frames: int = 0
    retransmissions: int = 0
    acks_sent: int = 0
    duplicates_dropped: int = 0
    corrupt_dropped: int = 0
    delivered: int = 0


class ReliableTransport(Transport):
    """Wraps ``inner``; peers must wrap theirs in ``ReliableTransport`` too (same framing)."""

    def __init__(
        self,
        inner: Transport,
        *,
        rto_initial: float = 1.0,
        rto_min: float = 0.2,
        rto_max: float = 8.0,
        backoff: float = 2.0,
        window: int = 4096,
        give_up_after: float | None = None,
    ) -> None:
        if not 0 < rto_min <= rto_initial <= rto_max or backoff < 1 or window < 1:
            raise ConfigError(
                "need 0 < rto_min <= rto_initial <= rto_max, backoff >= 1, window >= 1"
            )
        self.inner = inner
        self.local_id = inner.local_id
        self.peers = inner.peers
        self.max_frame = inner.max_frame - HEADER_BYTES
        self.rto_min, self.rto_max, self.backoff = rto_min, rto_max, backoff
        self.window = window
        self.give_up_after = give_up_after
        self._state = {p: _PeerState(rto=rto_initial) for p in sorted(self.peers)}
        self._ready: deque[Frame] = deque()
        self._acked = trio.Condition()
        self._closed = False
        self._draining = False
        self._earliest = math.inf  # no unacknowledged frame is due before this time
        # The cancel scope of the receive loop's current wait, so that a send from another task
        # can move its deadline earlier (else a lost frame sent meanwhile waits for traffic).
        self._wait_scope: trio.CancelScope | None = None
        self.stats = ReliableStats()
        self._departure = getattr(inner, "departure", _no_departure)

    async def connect(self) -> None:
        await self.inner.connect()

    async def aclose(self) -> None:
        self._closed = True
        await self.inner.aclose()

    async def drain(self, timeout: float) -> bool:
        """Keep the receive loop going (discarding what arrives) until every frame we sent is
        acknowledged, for at most ``timeout`` seconds; ``True`` if all were acknowledged.

        Called after a run ends so that our last frames (a "done", an abort) survive loss:
        without it a party that stops receiving also stops retransmitting."""
        self._draining = True
        with trio.move_on_after(timeout):
            while any(s.unacked for s in self._state.values()):
                self._ready.clear()
                with trio.move_on_at(self._next_deadline()) as scope:
                    self._wait_scope = scope
                    try:
                        frame = await self.inner.receive()
                    except ConnectionClosed as exc:
                        if exc.peer is None:
                            break  # our own transport is closed: nothing more can be sent
                        gone = self._state.get(exc.peer)
                        if gone is not None:
                            gone.unacked.clear()  # that peer is gone
                        continue
                    finally:
                        self._wait_scope = None
                    await self._handle(frame)
                await self._retransmit_due()
        return not any(s.unacked for s in self._state.values())

    # -- sending ---------------------------------------------------------------------------

    async def send(self, peer: PartyId, data: bytes) -> None:
        if self._closed:
            raise ConnectionClosed("transport is closed", peer=peer)
        if peer not in self.peers:
            raise UnknownPeer(f"party {peer} is not a peer of party {self.local_id}", peer=peer)
        self.check_frame_size(len(data), peer=peer)
        state = self._state[peer]
        async with self._acked:
            while len(state.unacked) >= self.window:
                await self._acked.wait()  # back-pressure until the receive loop sees acks
        seq = state.next_seq
        state.next_seq += 1
        now = trio.current_time()
        if not state.unacked:
            state.last_progress = now  # a new waiting period starts
        frame = encode(DATA, seq, data)
        state.unacked[seq] = _Pending(frame, now, now + state.rto, state.rto, handed_over=now)
        self._set_earliest(now + state.rto)
        self.stats.data_frames += 1
        await self.inner.send(peer, frame)

    # -- receiving -------------------------------------------------------------------------

    async def receive(self) -> Frame:
        while not self._ready:
            if self._closed:
                raise ConnectionClosed("transport is closed")
            frame = None
            with trio.move_on_at(self._next_deadline()) as scope:
                self._wait_scope = scope
                try:
                    frame = await self.inner.receive()
                finally:
                    self._wait_scope = None
            if frame is not None:
                await self._handle(frame)
            await self._retransmit_due()
        self.stats.delivered += 1
        return self._ready.popleft()

    def _set_earliest(self, deadline: float) -> None:
        """Lower the next retransmission time, waking a receive loop already waiting past it."""
        if deadline < self._earliest:
            self._earliest = deadline
        scope = self._wait_scope
        if scope is not None and deadline < scope.deadline:
            scope.deadline = deadline

    def _next_deadline(self) -> float:
        # May be early (an ack removed the frame since): then one scan recomputes it.
        return self._earliest

    async def _handle(self, frame: Frame) -> None:
        state = self._state.get(frame.peer)
        decoded = decode(frame.data)
        if state is None:
            raise UnknownPeer(f"frame from party {frame.peer}, not a peer", peer=frame.peer)
        if decoded is None:
            self.stats.corrupt_dropped += 1
            return
        kind, seq, body = decoded
        if kind == ACK:
            await self._on_ack(frame.peer, state, seq, body)
            return
        if seq < state.expected or seq in state.held:
            self.stats.duplicates_dropped += 1
        elif seq - state.expected < self.window:
            state.held[seq] = body
            while state.expected in state.held:
                self._ready.append(Frame(frame.peer, state.held.pop(state.expected)))
                state.expected += 1
        # else: beyond our window; the sender retransmits it later.
        sack = sorted(state.held)[:MAX_SACK]
        self.stats.acks_sent += 1
        # A gone peer is noticed by the failure detector, not here.
        with contextlib.suppress(ConnectionClosed):
            await self.inner.send(frame.peer, encode(ACK, state.expected, _pack_sack(sack)))

    async def _on_ack(self, peer: PartyId, state: _PeerState, cumulative: int, body: bytes) -> None:
        sack = _unpack_sack(body)
        if sack is None:
            self.stats.corrupt_dropped += 1
            return
        now = trio.current_time()
        acked = [s for s in state.unacked if s < cumulative or s in sack]
        for seq in acked:
            pending = state.unacked.pop(seq)
            if pending.retries == 0:  # Karn: only unambiguous samples
                self._sample_rtt(state, now - pending.sent_at)
        if acked:
            if now - state.last_progress >= self.rto_max and state.unacked:
                # The first ack after a silence (a healed partition): the peer is back, and the
                # frames held behind the probe were timed for a dead link. Send them now, or the
                # peer's in-order release keeps everything after them (heartbeats included)
                # waiting for up to rto_max more.
                for pending in state.unacked.values():
                    pending.deadline = min(pending.deadline, now)
                self._set_earliest(now)
            state.last_progress = now
            async with self._acked:
                self._acked.notify_all()

    def _time_from_departure(self, peer: PartyId, state: _PeerState, pending: _Pending) -> None:
        """When a frame's timer first fires, restart it from the time the frame left this host
        if the inner transport can tell (the simulated WAN queues frames behind a slow uplink:
        a 13.9 MB frame takes 2.8 s at 40 Mbit/s, so a broadcast of them waits minutes in the
        sender's own queue, and a timer counted from hand-over would retransmit frames that
        were never lost, each copy queueing behind the rest). Transports that cannot tell
        (memory, TCP) keep the timer from hand-over. Asked once per copy, about the copy sent
        last (``sent_at`` stays the first hand-over, for Karn's rule).

        The peer's silence (``last_progress``, which decides probing and the burst after a
        healed partition) moves to the departure only if it started no earlier than this
        copy's hand-over (the wait began with this frame, or an ack came while it was queued):
        the peer could not acknowledge a frame still in our queue. A silence that began before
        (older frames unanswered, a partition) keeps running."""
        pending.departed = True
        left = self._departure(peer, pending.handed_over)
        if left + pending.rto > pending.deadline:
            pending.deadline = left + pending.rto
            if state.last_progress >= pending.handed_over:
                state.last_progress = max(state.last_progress, left)

    def _sample_rtt(self, state: _PeerState, rtt: float) -> None:
        if state.srtt is None:
            state.srtt, state.rttvar = rtt, rtt / 2
        else:
            state.rttvar = 0.75 * state.rttvar + 0.25 * abs(state.srtt - rtt)
            state.srtt = 0.875 * state.srtt + 0.125 * rtt
        state.rto = min(self.rto_max, max(self.rto_min, state.srtt + 4 * state.rttvar))

    async def _retransmit_due(self) -> None:
        now = trio.current_time()
        if now < self._earliest:
            return
        self._earliest = math.inf
        for peer, state in self._state.items():
            due = []
            for seq in sorted(state.unacked):
                pending = state.unacked[seq]
                if pending.deadline <= now and not pending.departed:
                    self._time_from_departure(peer, state, pending)
                if pending.deadline > now:
                    self._earliest = min(self._earliest, pending.deadline)
                else:
                    due.append((seq, pending))
            if not due:
                continue
            oldest = due[0][1]
            if self.give_up_after is not None and now - oldest.sent_at >= self.give_up_after:
                raise ConnectionClosed(
                    f"party {peer} acknowledged nothing for {now - oldest.sent_at:.3f}s "
                    f"after {oldest.retries} retransmissions",
                    peer=peer,
                )
            held_back: list[tuple[int, _Pending]] = []
            if now - state.last_progress >= self.rto_max:
                # The peer has acknowledged nothing for a while (crashed, partitioned): probe
                # with the oldest unacknowledged frame only, as TCP does, rather than flood a
                # dead link; every other frame waits for the probe's timer.
                first = min(state.unacked)
                probe = [(seq, p) for seq, p in due if seq == first]
                held_back = [(seq, p) for seq, p in due if seq != first]
                due = probe
                oldest = state.unacked[first]
            for _seq, pending in due:
                pending.retries += 1
                pending.departed = False  # the new copy queues behind whatever is queued now
                pending.handed_over = now
                pending.rto = min(self.rto_max, pending.rto * self.backoff)
                pending.deadline = now + pending.rto
                self._set_earliest(pending.deadline)
                self.stats.retransmissions += 1
                # Keep retrying until give_up_after; the failure detector decides about the peer.
                try:
                    await self.inner.send(peer, pending.frame)
                except ConnectionClosed:
                    if self._draining:  # the run is over and the peer has gone: nobody to wait for
                        state.unacked.clear()
                        break
            for _, pending in held_back:
                pending.deadline = max(pending.deadline, oldest.deadline)
                self._earliest = min(self._earliest, pending.deadline)


def _no_departure(peer: PartyId, handed_over: float) -> float:
    return -math.inf


def _pack_sack(seqs: list[int]) -> bytes:
    return struct.pack(f">{len(seqs)}Q", *seqs)


def _unpack_sack(body: bytes) -> set[int] | None:
    if len(body) % 8 or len(body) > 8 * MAX_SACK:
        return None
    return set(struct.unpack(f">{len(body) // 8}Q", body))
