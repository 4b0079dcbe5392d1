"""A party: one trio nursery driving a protocol's phase machines over a transport.

``Party.run(protocol)`` opens a nursery holding a receive task (transport -> bus), a liveness
task (heartbeats and the failure detector) and the main task, which hands the protocol's phase
machines one after another to the phase driver (``engine.driver``) and ends with the finish
barrier. The rules live in sans-IO pieces this module only feeds: the echo/dispute machine
(``engine.consistency``), the finish barrier and failure detector (``engine.barrier``) and the
judgement of peers' aborts (``engine.evidence``).

Whatever goes wrong anywhere (a bad frame, equivocation, a missing message at a deadline, a
broken connection, an abort received from a peer, a bug) is funnelled into one
``ProtocolAborted``: the first error wins, every task is cancelled, a signed abort carrying the
reason, culprit and evidence is broadcast (shielded, with its own deadline) when the error was
found here, and that single typed error is raised to the caller: no exception groups, no hang.

A protocol is an object whose ``phases()`` generator yields phase machines and receives each
machine's result; its return value is the run's result.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable
from typing import Any

import trio

from coopetition.engine.barrier import (
    DONE_TAG,
    FailureDetector,
    FinishBarrier,
    PeerAborted,
    PeerDone,
)
from coopetition.engine.bus import Bus
from coopetition.engine.compute import Compute, InlineCompute, Offload, ThreadCompute
from coopetition.engine.config import (
    Deadlines,
    PartyConfig,
    PayloadHook,
    PhaseObserver,
    ProtocolRun,
)
from coopetition.engine.driver import DEFAULT_MAX_CONCURRENT, PhaseDriver
from coopetition.engine.errors import (
    ConfigError,
    ConnectionClosed,
    LocalFailure,
    PartyId,
    PeerCrashed,
    PeerUnreachable,
    ProtocolAborted,
    ProtocolViolation,
    TransportError,
)
from coopetition.engine.evidence import EvidenceJudge, abort_message
from coopetition.engine.logging import resolve
from coopetition.engine.machine import Abort, Action, Done, Started, TimedOut
from coopetition.engine.outbox import Outbox
from coopetition.engine.stats import RunStats
from coopetition.engine.tags import ECHO_SUFFIX, EVIDENCE_SUFFIX
from coopetition.engine.wire import EnvelopeHeader
from coopetition.transports.base import Transport

#: ``Deadlines``, ``PartyConfig``, ``ProtocolRun`` and the hook types moved to
#: ``engine.config`` and the tag suffixes to ``engine.tags``; re-exported from here.
__all__ = [
    "ECHO_SUFFIX",
    "EVIDENCE_SUFFIX",
    "Deadlines",
    "Party",
    "PartyConfig",
    "PayloadHook",
    "PhaseObserver",
    "ProtocolRun",
]


class Party:
    def __init__(
        self,
        config: PartyConfig,
        transport: Transport,
        *,
        logger: Any = None,
        compute: Compute | None = None,
        payload_hook: PayloadHook | None = None,
        observer: PhaseObserver | None = None,
        max_concurrent: int = DEFAULT_MAX_CONCURRENT,
        offload: Offload | None = None,
    ) -> None:
        if transport.local_id != config.party_id:
            raise ConfigError("transport and config disagree on the local party id")
        if set(transport.peers) | {config.party_id} != set(config.verify_keys):
            raise ConfigError("transport peers and roster differ")
        self.config = config
        self.id = config.party_id
        self.peers = tuple(p for p in config.parties if p != self.id)
        self.transport = transport
        self.compute = compute or InlineCompute()
        #: runs the handlers of ``offload`` machines (proof programs) off the event loop
        self.offload = offload or ThreadCompute()
        self.payload_hook = payload_hook
        self.observer = observer
        self.max_concurrent = max_concurrent
        self.stats = RunStats()
        self._log = resolve(logger).bind(party=self.id, session=config.session.hex()[:12])
        deadlines = config.deadlines
        self._detector = FailureDetector(
            self.peers, deadlines.heartbeat_interval, deadlines.heartbeat_timeout
        )
        self._outbox = Outbox(
            config, transport, self.stats, payload_hook=payload_hook, on_sent=self._detector.sent
        )
        self._barrier = FinishBarrier(self.id, config.parties, finish_timeout=deadlines.finish)
        self._bus: Bus | None = None
        self._driver: PhaseDriver | None = None
        self._judge: EvidenceJudge | None = None
        self._error: ProtocolAborted | None = None
        self._error_is_local = False
        self._cancel: trio.CancelScope | None = None
        self._all_done = trio.Event()
        self._finishing = False
        self._result: Any = None

    # -- public ----------------------------------------------------------------------------

    @property
    def transcript_digest(self) -> str:
        """SHA-256 over every protocol message consumed, in the (deterministic) order consumed."""
        if self._driver is None:
            return hashlib.sha256().hexdigest()
        return self._driver.transcript.hexdigest()

    async def run(self, protocol: ProtocolRun) -> Any:
        """Run ``protocol`` to completion and return its result, or raise one ``ProtocolAborted``.

        A ``Party`` runs once: its bus, sequence numbers and transcript belong to that run.
        """
        if self._bus is not None:
            raise ConfigError("this Party has already run; make a new one for another run")
        config = self.config
        self._outbox.protocol = protocol.name
        self._bus = Bus(
            local_id=self.id,
            session=config.session,
            protocol=protocol.name,
            verify_keys=config.verify_keys,
        )
        self._judge = EvidenceJudge(config.session, protocol.name, config.verify_keys)
        self._driver = PhaseDriver(
            config=config,
            bus=self._bus,
            outbox=self._outbox,
            compute=self.compute,
            stats=self.stats,
            judge=self._judge,
            observe=self._observe,
            max_concurrent=self.max_concurrent,
            offload=self.offload,
        )
        if getattr(protocol, "tolerates_crashes", False):
            self._driver.crash_tolerant = True
            self._outbox.on_dead = self._peer_died
        now = trio.current_time()
        for peer in self.peers:
            self._detector.heard(peer, now)
        self._log.info("run_started", protocol=protocol.name, parties=len(config.parties))
        async with trio.open_nursery() as nursery:
            self._cancel = nursery.cancel_scope
            nursery.start_soon(self._guard, self._receive_loop)
            nursery.start_soon(self._guard, self._liveness_loop)
            nursery.start_soon(self._guard, self._main, protocol)
        if self._error is not None:
            if self._error_is_local:
                await self._broadcast_abort(self._error)
            self._log.warning(
                "run_aborted",
                code=self._error.code,
                culprit=self._error.culprit,
                reported_by=self._error.reported_by,
            )
            raise self._error
        self._log.info("run_completed", transcript=self.transcript_digest[:16])
        return self._result

    # -- failure funnel --------------------------------------------------------------------

    @property
    def _phase_name(self) -> str:
        return self._outbox.phase_name

    async def _guard(self, fn: Callable[..., Any], *args: Any) -> None:
        try:
            await fn(*args)
        except ProtocolAborted as exc:
            self._fail(exc, local=exc.reported_by is None)
        except ConnectionClosed as exc:
            self._fail(self._connection_lost(exc), local=True)
        except TransportError as exc:
            self._fail(
                PeerUnreachable(str(exc), culprit=exc.peer, phase=self._phase_name), local=True
            )
        except Exception as exc:  # a bug must still end the run everywhere, loudly
            failure = LocalFailure(f"{type(exc).__name__}: {exc}", phase=self._phase_name)
            failure.__cause__ = exc
            self._fail(failure, local=True)

    def _fail(self, error: ProtocolAborted, *, local: bool) -> None:
        """The first error wins, except that this party's own finding naming a culprit replaces
        a peer's report naming nobody (hearsay), e.g. when a check that was running as the
        report arrived (an offloaded step, see ``PhaseDriver._feed``) finds the cheater, or
        when the phase holds a ``Finding`` whose verdict was due later (``machine.Finding``)."""
        held = self._driver.finding if self._driver is not None else None
        if not local and error.culprit is None and held is not None and held.culprit is not None:
            error, local = held, True
        hearsay = (
            self._error is not None and not self._error_is_local and self._error.culprit is None
        )
        if self._error is None or (hearsay and local and error.culprit is not None):
            self._error = error
            self._error_is_local = local
        if self._cancel is not None:
            self._cancel.cancel()

    def _connection_lost(self, exc: ConnectionClosed) -> ProtocolAborted:
        if exc.peer is None:
            return LocalFailure(f"this party's transport failed: {exc}", phase=self._phase_name)
        return PeerCrashed(f"connection lost: {exc}", culprit=exc.peer, phase=self._phase_name)

    def _peer_died(self, peer: PartyId) -> None:
        """Crash-tolerant protocols only (``tolerates_crashes``): a peer whose connection broke,
        who stopped reading or who fell silent past the heartbeat timeout is written off instead
        of ending the run. Quorum gathers go on without it while enough senders remain (the
        driver aborts with ``Unavailable`` once they cannot); it is excused from the finish
        barrier and no longer sent to."""
        assert self._driver is not None
        if peer in self._outbox.dead:
            return
        self._log.warning("peer_declared_dead", peer=peer, phase=self._phase_name)
        self._outbox.dead.add(peer)
        self._detector.excuse({peer})
        self._driver.peer_died(peer)
        if peer not in self._barrier.done_peers and not self._barrier.finished:
            self._feed_barrier(self._barrier.handle(PeerDone(peer=peer)))

    # -- main task -------------------------------------------------------------------------

    async def _main(self, protocol: ProtocolRun) -> None:
        assert self._driver is not None
        phases = protocol.phases()
        try:
            machine = next(phases)
            while True:
                result = await self._driver.drive(machine)
                machine = phases.send(result)
        except StopIteration as stop:
            self._result = stop.value
        await self._finish()
        assert self._cancel is not None
        self._cancel.cancel()

    async def _finish(self) -> None:
        """Barrier: say we are done and wait until every peer said so, then connections may close."""
        self._outbox.phase_name = "finish"
        self._finishing = True
        self._detector.excuse(self._barrier.done_peers)
        if not self.peers:
            return
        with trio.move_on_after(self.config.deadlines.finish):
            if self._feed_barrier(self._barrier.handle(Started())):
                await self._outbox.send_control(DONE_TAG, None, gone=self._barrier.done_peers)
            await self._all_done.wait()
        if not self._all_done.is_set():
            missing = tuple(self._barrier.missing)
            self._feed_barrier(self._barrier.handle(TimedOut(tag=DONE_TAG, missing=missing)))

    def _feed_barrier(self, actions: list[Action]) -> bool:
        """Apply the barrier's verdict; whether it asked to announce ``done``."""
        for action in actions:
            if isinstance(action, Abort):
                raise action.error
            if isinstance(action, Done):
                self._all_done.set()
        return any(not isinstance(a, Abort | Done) for a in actions)

    # -- background tasks ------------------------------------------------------------------

    async def _receive_loop(self) -> None:
        assert self._bus is not None
        while True:
            try:
                frame = await self.transport.receive()
            except ConnectionClosed as exc:
                if exc.peer in self._barrier.done_peers and self._finishing:
                    continue
                if exc.peer is None:
                    raise LocalFailure("this party's transport was closed during the run") from None
                if self._outbox.on_dead is not None:
                    self._outbox.on_dead(exc.peer)
                    continue
                raise
            duplicates, stale = self._bus.duplicates_dropped, self._bus.stale_dropped
            envelope = self._bus.deliver(frame.data, frame.peer)
            if (duplicates, stale) != (self._bus.duplicates_dropped, self._bus.stale_dropped):
                reason = "duplicate" if duplicates != self._bus.duplicates_dropped else "stale"
                self._log.info(
                    "frame_dropped", peer=frame.peer, reason=reason, size=len(frame.data)
                )
            self._detector.heard(frame.peer, trio.current_time())
            if envelope is not None:
                self._on_control(envelope.header, envelope.payload)

    def _on_control(self, header: EnvelopeHeader, payload: Any) -> None:
        sender = header.sender
        if header.tag == "heartbeat":
            return
        if header.tag == DONE_TAG:
            if not self._barrier.finished:
                self._feed_barrier(self._barrier.handle(PeerDone(peer=sender)))
            if self._finishing:
                self._detector.excuse({sender})
            return
        if header.tag == "abort":
            if not isinstance(payload, dict):
                raise ProtocolViolation("malformed abort message", culprit=sender)
            assert self._judge is not None and self._bus is not None
            error = self._judge.adjudicate_abort(payload, sender, self._bus.frame)
            if self._barrier.finished:  # every peer said done: the run's result stands
                self._log.warning("late_abort_ignored", code=error.code, reported_by=sender)
                return
            self._feed_barrier(self._barrier.handle(PeerAborted(error=error)))
            return
        raise ProtocolViolation(f"unknown control message {header.tag!r}", culprit=sender)

    async def _liveness_loop(self) -> None:
        """Failure detector and heartbeats in one task, so their order never depends on trio's
        scheduler: each tick first checks every peer, then greets the peers it has been quiet to."""
        beat = 0
        while True:
            await trio.sleep(self.config.deadlines.heartbeat_interval)
            tick = self._detector.tick(trio.current_time())
            if tick.suspect is not None:
                if self._outbox.on_dead is None:
                    raise self._detector.unreachable(tick.suspect, self._phase_name)
                self._outbox.on_dead(tick.suspect)
                continue
            if tick.greet:
                beat += 1
                await self._outbox.send_control(
                    "heartbeat", None, rnd=beat, gone=self._barrier.done_peers
                )

    async def _broadcast_abort(self, error: ProtocolAborted) -> None:
        """Tell every peer, concurrently, so one stalled peer cannot keep it from the others."""
        frame = self._outbox.seal_control("abort", abort_message(error, self.transport.max_frame))

        async def tell(peer: PartyId) -> None:
            with contextlib.suppress(TransportError, ProtocolAborted):
                await self._outbox.send_frame(peer, frame)

        with trio.move_on_after(self.config.deadlines.abort_send) as scope:
            scope.shield = True
            async with trio.open_nursery() as nursery:
                for peer in self.peers:
                    nursery.start_soon(tell, peer)
        if scope.cancelled_caught:
            self._log.warning("abort_broadcast_timed_out")

    def _observe(self, phase: str, rnd: int, event: str) -> None:
        if self.observer is not None:
            self.observer(self.id, phase, rnd, event)
        self._log.debug("phase_" + event, phase=phase, round=rnd)
