"""Simulated wide-area network: latency, jitter, bandwidth, loss and reordering on trio's clock.

A :class:`WanSimulator` wraps the transports of one or more local parties. ``send`` never touches
the wire directly: it queues the frame, and once every task is blocked at that virtual instant
the simulator decides the instant's frames in a canonical order (so link sequence numbers and
the per-link random draws, from generators derived from the master seed, never depend on how
trio happens to order the tasks), computes each delivery time with the textbook formula::

    done       = max(now, link_free) + size * 8 / rate
    deliver_at = max(done + latency + jitter, previous arrival on the link) (+ reorder hold)

(a link is first-in first-out unless a reorder hold is drawn) and pushes the frame onto one
time-ordered event queue. A single simulator task pops that queue
in ``(time, src, dst, link_seq, copy)`` order and hands each frame to the wrapped transport at its
delivery time. Run under ``trio.testing.MockClock(autojump_threshold=0)`` this is a
discrete-event simulation: a 50-party experiment over a 40 Mbit/s WAN costs only the wall time of
its arithmetic. Run on the real clock (for example around TCP), it adds real delays.

It is a message-level model: it reproduces propagation, serialisation and queueing, not TCP slow
start or congestion control. Link faults from :mod:`coopetition.transports.faults` are consulted
by the same task, so one seed fixes every decision.
"""

from __future__ import annotations

import bisect
import hashlib
import heapq
import math
import random
from collections import deque
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import trio
import trio.testing

from coopetition.transports.base import Transport
from coopetition.transports.errors import ConfigError, ConnectionClosed, PartyId
from coopetition.transports.schedule import FaultSchedule
from coopetition.transports.topology import (
    IDEAL,
    PRESETS,
    Fate,
    Link,
    LinkPolicy,
    LinkSpec,
    Topology,
    derive_rng,
    preset,
)
from coopetition.transports.wan_transport import WanTransport

#: ``LinkSpec``, ``Topology``, ``preset`` and friends live in ``topology``; re-exported here
#: because callers have always found them in this module.
__all__ = [
    "IDEAL",
    "PRESETS",
    "Fate",
    "LinkSpec",
    "LinkStats",
    "Topology",
    "WanSimulator",
    "WanTransport",
    "derive_rng",
    "open_wan",
    "preset",
]


@dataclass(order=True, slots=True)
class _Event:
    at: float
    src: PartyId
    dst: PartyId
    link_seq: int
    copy: int
    data: bytes = field(compare=False)


@dataclass(slots=True)
class LinkStats:
    frames_sent: int = 0
    bytes_sent: int = 0
    frames_delivered: int = 0
    frames_lost: int = 0


class WanSimulator:
    """The single task that owns every delivery decision for the parties it wraps.

    Use as ``async with WanSimulator(topology, seed=s) as sim:`` then ``sim.wrap(inner)`` per
    party (or :func:`open_wan`). ``events`` is the wire-level log (deliveries and losses, with
    virtual times); ``wire_digest()`` hashes it so two runs of one seed can be compared.
    """

    def __init__(
        self,
        topology: Topology,
        *,
        seed: int = 0,
        faults: Sequence[LinkPolicy] = (),
        max_backlog: float | None = None,
        backlog_min_bytes: int = 0,
        schedule: FaultSchedule | None = None,
    ) -> None:
        self.topology = topology
        self.seed = seed
        self.faults = list(faults)
        self.max_backlog = max_backlog
        #: frames below this size never wait for the backlog (acknowledgements, heartbeats:
        #: a kernel does not hold those behind a full send buffer either)
        self.backlog_min_bytes = backlog_min_bytes
        self._inner: dict[PartyId, Transport] = {}
        self._heap: list[_Event] = []
        self._link_seq: dict[Link, int] = {}
        self._link_free: dict[Link, float] = {}
        self._uplink_free: dict[PartyId, float] = {}
        #: per link, (hand-over time, departure time) of recent frames (see ``departure``)
        self._departures: dict[Link, deque[tuple[float, float]]] = {}
        self._rngs: dict[Link, random.Random] = {}
        self._link_arrival: dict[Link, float] = {}  # latest in-order arrival on each link
        # Submissions and close requests of the current instant, processed together once every
        # task is blocked (see _settle_loop).
        self._pending: list[tuple[float, PartyId, Any, PartyId, bytes]] = []
        self._closing: dict[PartyId, Transport] = {}
        self._work = trio.Event()
        self._settled = trio.Event()  # set (and replaced) each time the queue is processed
        self._changed = trio.Event()
        self._outboxes: dict[PartyId, trio.MemorySendChannel[_Event]] = {}
        self._nursery: trio.Nursery | None = None
        self._running = False
        self.stats: dict[Link, LinkStats] = {}
        self.events: list[tuple[Any, ...]] = []
        self._closed_dst: set[PartyId] = set()
        self._closed_src: set[PartyId] = set()
        self.schedule = schedule if schedule is not None else FaultSchedule(seed)
        self.t0 = 0.0

    # -- lifecycle -------------------------------------------------------------------------

    async def __aenter__(self) -> WanSimulator:
        self._nursery_cm = trio.open_nursery()
        self._nursery = await self._nursery_cm.__aenter__()
        self.t0 = trio.current_time()
        for index, fault in enumerate(self.faults):
            fault.bind(self, index)
        self._nursery.start_soon(self._dispatch_loop)
        self._nursery.start_soon(self._settle_loop)
        self._running = True
        return self

    async def __aexit__(self, *exc_info: Any) -> bool | None:
        assert self._nursery is not None
        self._nursery.cancel_scope.cancel()
        self._process_pending()  # frames sent at the last instant still count in the stats
        self._running = False
        with trio.CancelScope(shield=True):
            await self._apply_closes()
        for outbox in self._outboxes.values():
            outbox.close()
        # Join the (cancelled) tasks without handing them the body's exception, so that an
        # error raised inside ``async with`` propagates as itself, not wrapped in a group.
        await self._nursery_cm.__aexit__(None, None, None)
        return None

    def wrap(self, inner: Transport) -> WanTransport:
        """A transport for ``inner.local_id`` whose sends go through this simulator."""
        if inner.local_id in self._inner:
            raise ConfigError(f"party {inner.local_id} is already wrapped by this simulator")
        if self._nursery is None:
            raise ConfigError("enter the simulator (async with) before wrapping transports")
        self._inner[inner.local_id] = inner
        return WanTransport(self, inner)

    def now(self) -> float:
        return trio.current_time()

    # -- sending ---------------------------------------------------------------------------

    def _rng(self, link: Link) -> random.Random:
        rng = self._rngs.get(link)
        if rng is None:
            rng = self._rngs[link] = derive_rng(self.seed, "wan", *link)
        return rng

    async def submit(self, src: PartyId, dst: PartyId, data: bytes) -> None:
        """Queue a frame; its fate is decided when every task is blocked at this instant.

        Tasks acting at one virtual instant run in trio's random order, so deciding at once
        would hand link sequence numbers and random draws out in that order: instead the
        instant's submissions are processed together in a canonical order (see _settle_loop).
        """
        link = (src, dst)
        self.topology.link(src, dst)  # UnknownPeer for a link the topology lacks
        if dst in self._closed_dst:
            raise ConnectionClosed(f"party {dst} has closed its transport", peer=dst)
        now = trio.current_time()
        self._pending.append((now, src, trio.lowlevel.current_task(), dst, bytes(data)))
        self._work.set()
        if self.max_backlog is None or len(data) < self.backlog_min_bytes:
            return  # no checkpoint: a broadcast's m-1 sends cost no task switches
        # Back-pressure: once the frame is queued, hold the sender while the link's backlog
        # exceeds the limit (like a full socket buffer). The link's backlog includes the wait
        # behind the sender's uplink, so this also bounds what one party has queued on all its
        # links together: a one-process simulation of many parties then holds at most about
        # max_backlog x uplink rate of queued bytes per sender, not every frame a protocol step
        # produced at once (docs/simulation.md, "Memory").
        await self._settled.wait()
        backlog = self._link_free.get(link, now) - trio.current_time()
        if backlog > self.max_backlog:
            await trio.sleep(backlog - self.max_backlog)

    async def _settle_loop(self) -> None:
        """Once all tasks are blocked (the instant's activity is over, before the clock moves),
        apply the instant's closes, then decide every submitted frame's fate in a canonical
        order: one seed gives one wire log whatever trio's task order."""
        while True:
            await self._work.wait()
            self._work = trio.Event()
            await trio.testing.wait_all_tasks_blocked()
            await self._apply_closes()
            self._process_pending()
            settled, self._settled = self._settled, trio.Event()
            settled.set()

    def _process_pending(self) -> None:
        """Decide the queued frames in a canonical order. Trio decides at random only how the
        tasks of one party interleave, and even which task ends up sending a frame (an
        acknowledgement goes out from whichever task drives the receive loop); what one task
        sends on one link keeps its order. So per sending party and link, the tasks' sequences
        are merged by always taking the smallest next frame (ties broken by the rest of the
        sequence): a result that depends on the frames, not on the tasks."""
        pending, self._pending = self._pending, []
        batches: dict[tuple[float, PartyId], dict[PartyId, dict[int, list[bytes]]]] = {}
        for now, src, task, dst, data in pending:
            per_link = batches.setdefault((now, src), {}).setdefault(dst, {})
            per_link.setdefault(id(task), []).append(data)
        for (now, src), links in sorted(batches.items(), key=lambda item: item[0]):
            for dst in sorted(links):
                queues = [tuple(q) for q in links[dst].values()]
                while queues:
                    queues.sort()
                    head, *rest = queues[0]
                    self._decide(now, src, dst, head)
                    queues[0] = tuple(rest)
                    if not rest:
                        queues.pop(0)

    def _decide(self, now: float, src: PartyId, dst: PartyId, data: bytes) -> None:
        link = (src, dst)
        spec = self.topology.link(src, dst)
        seq = self._link_seq.get(link, 0)
        self._link_seq[link] = seq + 1
        stats = self.stats.setdefault(link, LinkStats())
        stats.frames_sent += 1
        stats.bytes_sent += len(data)

        # Every frame consumes the same number of draws, so a link's stream stays aligned
        # whatever the outcome of earlier frames.
        rng = self._rng(link)
        u_loss, u_reorder, gauss = rng.random(), rng.random(), rng.gauss(0.0, 1.0)

        # Serialisation: FIFO behind earlier frames on this link and (if modelled) the uplink.
        rate = spec.bandwidth
        start = max(now, self._link_free.get(link, now))
        up = self.topology.uplink.get(src)
        if up is not None:
            start = max(start, self._uplink_free.get(src, now))
            rate = up if rate is None else min(rate, up)
        done = start + (0.0 if rate is None else len(data) * 8 / rate)
        self._link_free[link] = done
        if up is not None:
            self._uplink_free[src] = done
        queue = self._departures.setdefault(link, deque())
        queue.append((now, done))
        while len(queue) > 1 and queue[1][1] <= now:
            queue.popleft()  # keep one departed frame: the answer for everything before it

        if u_loss < spec.loss:
            stats.frames_lost += 1
            self._log("lost", done, src, dst, seq, data, "link loss")
            self.schedule.add(now - self.t0, "loss", src=src, dst=dst, seq=seq)
            return
        delay = spec.latency
        if spec.jitter:
            delay = max(spec.latency / 2, delay + gauss * spec.jitter)
        fate = Fate(((0.0, data),), hold=spec.reorder_delay if u_reorder < spec.reorder else 0.0)
        for fault in self.faults:
            fate = fault.apply(src, dst, seq, now, fate)
            if not fate.copies:
                stats.frames_lost += 1
                self._log("dropped", now, src, dst, seq, data, fate.reason)
                return
        # A link is first-in first-out: jitter or an added delay never lets a frame arrive
        # before the one sent ahead of it. Only a deliberate hold (reordering) breaks that.
        floor = self._link_arrival.get(link, -math.inf)
        head = self._heap[0].at if self._heap else math.inf
        for copy, (extra, payload) in enumerate(fate.copies):
            at = max(done + delay + extra, floor)
            if copy == 0:
                self._link_arrival[link] = at
            heapq.heappush(self._heap, _Event(at + fate.hold, src, dst, seq, copy, payload))
        if self._heap[0].at < head:  # only an earlier head changes when the dispatcher wakes
            self._changed.set()

    def departure(self, src: PartyId, dst: PartyId, handed_over: float) -> float:
        """The virtual time by which every frame ``src`` handed over for ``dst`` at or before
        ``handed_over`` (an earlier instant: frames of the current instant are decided only
        once every task is blocked) has left ``src``, i.e. finished serialisation behind the
        link's and the uplink's queue; ``-inf`` if that was long enough ago to be forgotten
        (before the oldest still-remembered frame's departure, itself in the past).

        The reliable layer uses it so that a frame still waiting in its sender's own queue on a
        slow uplink is not taken for lost: its retransmission timer runs from departure, as
        TCP's does (a kernel starts the timer when a segment goes on the wire, not when it is
        written into the socket buffer)."""
        queue = self._departures.get((src, dst))
        if not queue:
            return -math.inf
        index = bisect.bisect_right(queue, handed_over, key=lambda entry: entry[0])
        return queue[index - 1][1] if index else -math.inf

    # -- closing ---------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._running

    def note_closed(self, party: PartyId) -> None:
        """A wrapped transport closed after the simulator stopped."""
        self._closed_src.add(party)

    def request_close(self, inner: Transport) -> None:
        """Close ``inner`` at the end of this instant (with the instant's other closes), so
        whether a frame delivered at the same instant is refused does not depend on task order."""
        self._closed_src.add(inner.local_id)
        self._closing[inner.local_id] = inner
        self._work.set()

    async def _apply_closes(self) -> None:
        closing, self._closing = self._closing, {}
        for pid in sorted(closing):
            await closing[pid].aclose()

    # -- delivering ------------------------------------------------------------------------

    async def _dispatch_loop(self) -> None:
        while True:
            if not self._heap:
                await self._changed.wait()
                self._changed = trio.Event()
                continue
            head = self._heap[0].at
            if trio.current_time() < head:
                with trio.move_on_at(head):
                    await self._changed.wait()
                    self._changed = trio.Event()
                continue
            now = trio.current_time()
            while self._heap and self._heap[0].at <= now:
                event = heapq.heappop(self._heap)
                await self._outbox(event.dst).send(event)

    def _outbox(self, dst: PartyId) -> trio.MemorySendChannel[_Event]:
        outbox = self._outboxes.get(dst)
        if outbox is None:
            # Unbounded on purpose: back-pressure belongs to the link model (max_backlog) and to
            # the destination's own inbox, which the per-destination task blocks on, so one slow
            # receiver never stalls deliveries to everyone else.
            send, recv = trio.open_memory_channel[_Event](math.inf)
            self._outboxes[dst] = outbox = send
            assert self._nursery is not None
            self._nursery.start_soon(self._deliver_loop, dst, recv)
        return outbox

    async def _deliver_loop(self, dst: PartyId, recv: trio.MemoryReceiveChannel[_Event]) -> None:
        async for event in recv:
            inner = self._inner[event.src]
            stats = self.stats.setdefault((event.src, event.dst), LinkStats())
            try:
                await inner.send(dst, event.data)
            except ConnectionClosed:
                if event.src in self._closed_src:
                    # The sender closed its end while this frame was in flight (a linger
                    # retransmission, an ack): the wrapped transport no longer sends for it.
                    note = "sender closed"
                else:
                    self._closed_dst.add(dst)
                    note = "destination closed"
                self._log(
                    "refused", trio.current_time(), event.src, dst, event.link_seq, event.data, note
                )
                continue
            stats.frames_delivered += 1
            self._log(
                "delivered",
                trio.current_time(),
                event.src,
                dst,
                event.link_seq,
                event.data,
                f"copy {event.copy}",
            )

    def _log(
        self, kind: str, at: float, src: PartyId, dst: PartyId, seq: int, data: bytes, note: str
    ) -> None:
        digest = hashlib.sha256(data).hexdigest()[:16]
        self.events.append(
            (round((at - self.t0) * 1e9), src, dst, seq, kind, len(data), digest, note)
        )

    def wire_digest(self) -> str:
        """SHA-256 over the sorted wire-level log: every loss and delivery with its time in
        nanoseconds since the simulator started. Sorted, because deliveries to different
        parties at one instant are handed over by concurrent tasks in trio's random order."""
        h = hashlib.sha256()
        for entry in sorted(self.events):
            h.update(repr(entry).encode())
        return h.hexdigest()


@asynccontextmanager
async def open_wan(
    inners: Iterable[Transport],
    topology: Topology | str,
    *,
    seed: int = 0,
    faults: Sequence[LinkPolicy] = (),
    max_backlog: float | None = None,
    backlog_min_bytes: int = 0,
) -> AsyncIterator[tuple[WanSimulator, list[WanTransport]]]:
    """Wrap every transport in ``inners`` in one simulator; topology may be a preset name."""
    inners = list(inners)
    if isinstance(topology, str):
        topology = preset(topology, [t.local_id for t in inners])
    async with WanSimulator(
        topology,
        seed=seed,
        faults=faults,
        max_backlog=max_backlog,
        backlog_min_bytes=backlog_min_bytes,
    ) as sim:
        yield sim, [sim.wrap(t) for t in inners]
