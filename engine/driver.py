"""The phase driver: feeds a machine events, performs its actions, checks broadcast rounds.

One batch of actions (everything the machine returned for the events of one step) is performed
as follows: sends are numbered and signed in the order given, then sent in that order; then
every wait of the batch (``Gather``, ``Compute``) runs *concurrently*, computations bounded by a
capacity limiter, so a party can verify one peer's proofs while it still waits for another's.
The resulting events are fed back in the order of the actions, never in completion order, and
the echo messages of consistent gathers are numbered in action order too: a run's messages and
transcript do not depend on trio's scheduling. ``Done``/``Abort`` end the phase after the sends
before them; a machine that finishes with events still unfed is a local bug.

Every ``Gather(consistent=True)`` runs the echo/dispute machine (``engine.consistency``)
through this same driver before the messages reach the phase machine. Any exception a handler
raises that is not a typed abort becomes ``LocalFailure``: payloads of the wrong shape are
refused before, naming their sender, by the schema check (``engine.schema``).

A machine whose class sets ``offload = True`` (Helen's proof programs) has each ``handle`` call
run through the offload backend (``engine.compute``): a worker thread in real runs, so that
heartbeats, echo rounds and the other in-process parties keep running while a proof is computed;
inline and charged to virtual time under a simulation's ``MockClock``. The phase deadline
ends that wait on time (the thread is abandoned; nothing touches the machine again); an abort
takes effect when the running step ends (see ``_feed``).
The time is added to the phase's ``compute_seconds``.

The phase's limit is ``Deadlines.phase_limit(phase, machine.budget)``: a budget the protocol
declared from the run's agreed shape, a configured per-phase value, or the default ``phase``;
the limit a phase had is recorded in its stats (``deadline_seconds``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from typing import Any

import trio

from coopetition.engine.bus import Bus
from coopetition.engine.compute import Compute, Offload, ThreadCompute
from coopetition.engine.config import PartyConfig
from coopetition.engine.consistency import EchoCheck
from coopetition.engine.errors import (
    DeadlineExceeded,
    LocalFailure,
    PartyId,
    ProtocolAborted,
    ProtocolViolation,
    Unavailable,
)
from coopetition.engine.evidence import EvidenceJudge
from coopetition.engine.machine import (
    Abort,
    Action,
    Broadcast,
    Computed,
    Done,
    Finding,
    Gather,
    PhaseMachine,
    Received,
    Send,
    Started,
    TimedOut,
)
from coopetition.engine.machine import Compute as ComputeAction
from coopetition.engine.outbox import Outbox
from coopetition.engine.schema import Schema, check_payloads
from coopetition.engine.stats import RunStats
from coopetition.engine.wire import BROADCAST

__all__ = ["DEFAULT_MAX_CONCURRENT", "PhaseDriver"]

#: computations of one batch that may run at once (the worker pool bounds them again)
DEFAULT_MAX_CONCURRENT = 8

Observer = Callable[[str, int, str], None]


class PhaseDriver:
    def __init__(
        self,
        *,
        config: PartyConfig,
        bus: Bus,
        outbox: Outbox,
        compute: Compute,
        stats: RunStats,
        judge: EvidenceJudge,
        observe: Observer,
        max_concurrent: int = DEFAULT_MAX_CONCURRENT,
        offload: Offload | None = None,
    ) -> None:
        self.config = config
        self.offload = offload or ThreadCompute()
        self.bus = bus
        self.outbox = outbox
        self.compute = compute
        self.stats = stats
        self.judge = judge
        self.observe = observe
        self.transcript = hashlib.sha256()
        self._limiter = trio.CapacityLimiter(max_concurrent)
        #: set by the party for protocols that declare ``tolerates_crashes``
        self.crash_tolerant = False
        #: peers the party declared dead (crash-tolerant protocols only; see ``peer_died``)
        self.dead: set[PartyId] = set()
        #: the current phase's first ``Finding`` (a failed check whose verdict is due later)
        self.finding: ProtocolAborted | None = None
        self._dead_changed = trio.Event()

    def peer_died(self, peer: PartyId) -> None:
        """A crash-tolerant run lost ``peer``: quorum gathers go on without it while enough
        senders remain; a gather that can no longer be met aborts at once (``Unavailable``)."""
        self.dead.add(peer)
        changed, self._dead_changed = self._dead_changed, trio.Event()
        changed.set()

    async def drive(self, machine: PhaseMachine) -> Any:
        """Run one protocol phase to its result within the phase deadline."""
        phase, rnd = machine.phase, machine.round
        self.outbox.phase_name = phase
        self.finding = None  # a finding is its phase's: that phase states it or the run ends
        self.stats.phase(phase).rounds += 1
        self.observe(phase, rnd, "start")
        deadlines = self.config.deadlines
        # the phase's own budget (declared by the protocol from the agreed shape, or configured)
        limit, source = deadlines.phase_limit(phase, machine.budget)
        self.stats.phase(phase).deadline_seconds = max(
            self.stats.phase(phase).deadline_seconds, limit
        )
        deadline = trio.current_time() + limit
        try:
            # Gathers stop at `deadline` and name the missing sender; the outer scope, a little
            # later, only catches what has no deadline of its own (a blocked send, a long compute).
            with trio.fail_after(limit + deadlines.abort_send):
                result = await self.run(machine, phase, rnd, deadline, record=True)
        except trio.TooSlowError:
            raise DeadlineExceeded(
                f"phase {phase} did not finish within {limit:g}s ({source} limit)",
                phase=phase,
                round=rnd,
            ) from None
        self.observe(phase, rnd, "end")
        self.bus.release(phase, rnd)
        return result

    async def run(
        self,
        machine: PhaseMachine,
        phase: str,
        rnd: int,
        deadline: float,
        *,
        record: bool,
        prepared: trio.Event | None = None,
    ) -> Any:
        """Feed ``machine`` until it is done; its messages go out as ``(phase, rnd)``.

        ``record`` adds the messages it consumes to the transcript (protocol phases, not the
        engine's own echo rounds); ``prepared`` is set once its first sends are numbered.
        """
        events: list[Any] = [Started()]
        while True:
            actions: list[Action] = []
            for index, event in enumerate(events):
                actions.extend(await self._feed(machine, event, phase, deadline))
                if machine.finished and index < len(events) - 1:
                    raise LocalFailure(
                        f"{type(machine).__name__} finished with events still to handle",
                        phase=phase,
                        round=rnd,
                    )
            end = actions[-1] if actions and isinstance(actions[-1], Done | Abort) else None
            body = actions[:-1] if end is not None else actions
            if end is not None and any(isinstance(a, Gather | ComputeAction) for a in body):
                raise LocalFailure(
                    f"{type(machine).__name__} finished while still waiting for events",
                    phase=phase,
                    round=rnd,
                )
            events = await self._perform(
                body, phase, rnd, deadline, record, prepared, machine.SCHEMAS
            )
            prepared = None
            if isinstance(end, Done):
                return end.result
            if isinstance(end, Abort):
                raise end.error
            if not events:
                raise LocalFailure(
                    f"{type(machine).__name__} stopped without finishing", phase=phase, round=rnd
                )

    async def _feed(
        self, machine: PhaseMachine, event: Any, phase: str, deadline: float
    ) -> list[Action]:
        """One ``handle`` call: inline, or through the offload backend for heavy machines.

        An offloaded step is shielded from the party's cancellation but not from the phase's
        deadline (``deadline + abort_send``, the outer limit of ``drive``): an abort that
        arrives while the step runs takes effect when the step ends, as it did when steps held
        the loop. So a party finishes the check it is doing and names a cheater itself rather
        than ending on a peer's unproven report (``Party._fail`` prefers its own finding).
        """
        if not machine.offload:
            return _handle(machine, event)
        label = f"{machine.phase}:{type(event).__name__}"
        with trio.CancelScope(shield=True) as step:
            step.deadline = deadline + self.config.deadlines.abort_send
            actions, cost = await self.offload.run_here(label, _handle, machine, event)
        if step.cancelled_caught:  # the phase's deadline: the outer scope raises it here
            await trio.lowlevel.checkpoint()
            raise DeadlineExceeded(
                f"a step of {phase} did not finish by the phase deadline",
                phase=phase,
                round=machine.round,
            )
        self.stats.phase(phase).compute_seconds += cost
        return list(actions)

    async def _perform(
        self,
        actions: list[Action],
        phase: str,
        rnd: int,
        deadline: float,
        record: bool,
        prepared: trio.Event | None,
        schemas: Mapping[str, Schema],
    ) -> list[Any]:
        outgoing = []
        waits: list[Gather | ComputeAction] = []
        for action in actions:
            if isinstance(action, Send | Broadcast):
                to = action.to if isinstance(action, Send) else BROADCAST
                outgoing.append(
                    self.outbox.prepare(self.bus, phase, rnd, action.tag, action.payload, to)
                )
            elif isinstance(action, Gather | ComputeAction):
                waits.append(action)
            elif isinstance(action, Finding):
                self.finding = self.finding or action.error
            else:
                raise LocalFailure(f"unknown action {type(action).__name__}", phase=phase)
        if prepared is not None:
            prepared.set()
        for message in outgoing:
            await self.outbox.send(message)
        if not waits:
            return []
        turns = [trio.Event() for _ in waits]
        results: list[Any] = [None] * len(waits)

        async def wait(index: int) -> None:
            action = waits[index]
            turn = turns[index - 1] if index else None
            if isinstance(action, Gather):
                results[index] = await self._gather(
                    phase, rnd, action, deadline, turn, turns[index], schemas
                )
            else:
                turns[index].set()
                async with self._limiter:
                    value, cost = await self.compute.run(action.label, action.fn, *action.args)
                self.stats.phase(phase).compute_seconds += cost
                results[index] = Computed(label=action.label, result=value)

        if len(waits) == 1:
            await wait(0)
        else:
            try:
                async with trio.open_nursery() as nursery:
                    for index in range(len(waits)):
                        nursery.start_soon(wait, index)
            except BaseExceptionGroup as group:
                raise _first_error(group) from None
        if record:
            for result in results:
                if isinstance(result, Received):
                    self._record(phase, rnd, result)
        return results

    async def _gather(
        self,
        phase: str,
        rnd: int,
        action: Gather,
        deadline: float,
        turn: trio.Event | None,
        mine: trio.Event,
        schemas: Mapping[str, Schema],
    ) -> Received | TimedOut:
        started = trio.current_time()
        if action.patience is not None:
            deadline = min(deadline, started + action.patience)
        senders = sorted(set(action.senders))
        try:
            try:
                messages = await self._bus_gather(phase, rnd, action, senders, deadline)
                senders = sorted(messages)  # a quorum gather returns the senders that arrived
            except DeadlineExceeded:
                if not action.report_timeout:
                    raise
                missing = [s for s in senders if not self.bus.arrived((phase, rnd, action.tag, s))]
                return TimedOut(tag=action.tag, missing=tuple(missing))
            self._count_received(phase, rnd, action.tag, senders)
            self._check_kind(phase, rnd, action, senders)
            check_payloads(schemas, action.tag, messages, phase=phase, round=rnd)
            if action.consistent:
                if turn is not None:
                    await turn.wait()
                await self._check_consistency(phase, rnd, action.tag, senders, deadline, mine)
            # the payloads now belong to the machine: the bus keeps digests of p2p messages only
            self.bus.spend(phase, rnd, action.tag, senders)
        finally:  # a wait cut short by an abort still counts
            mine.set()
            self.stats.phase(phase).network_wait_seconds += trio.current_time() - started
        return Received(tag=action.tag, messages=messages)

    async def _bus_gather(
        self, phase: str, rnd: int, action: Gather, senders: list[PartyId], deadline: float
    ) -> dict[PartyId, Any]:
        """The bus's gather; in a crash-tolerant run it is re-checked at every peer's death."""
        if not self.crash_tolerant:
            return await self.bus.gather(
                phase, rnd, action.tag, senders, deadline=deadline, at_least=action.at_least
            )
        while True:
            changed = self._dead_changed
            if self.dead:
                self._check_reachable(phase, rnd, action, senders)
            got: dict[PartyId, Any] | None = None
            try:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(_cancel_when, changed, nursery.cancel_scope)
                    got = await self.bus.gather(
                        phase, rnd, action.tag, senders, deadline=deadline, at_least=action.at_least
                    )
                    nursery.cancel_scope.cancel()
            except BaseExceptionGroup as group:  # the gather's own typed error, unwrapped
                raise _first_error(group) from None
            if got is not None:
                return got

    def _check_reachable(
        self, phase: str, rnd: int, action: Gather, senders: list[PartyId]
    ) -> None:
        gone = [
            s
            for s in senders
            if s in self.dead and not self.bus.arrived((phase, rnd, action.tag, s))
        ]
        need = len(senders) if action.at_least is None else min(action.at_least, len(senders))
        if len(senders) - len(gone) < need:
            raise Unavailable(
                f"parties {gone} are down: {len(senders) - len(gone)} of the {need} messages "
                f"tagged {action.tag!r} this step needs can still arrive",
                culprit=gone[0] if len(gone) == 1 else None,
                phase=phase,
                round=rnd,
            )

    def _check_kind(self, phase: str, rnd: int, action: Gather, senders: list[PartyId]) -> None:
        """Refuse a message signed as the wrong kind, naming its signer (the signature proves it
        here). A point-to-point frame in a broadcast round proves nothing to the others in the
        echo, who would blame this party for the digest it holds; a broadcast frame where a
        point-to-point one is due would be kept until the round ends (``Bus.spend`` lets only
        point-to-point frames go), so a sender could pin its whole OT stream at a receiver."""
        broadcast = action.consistent or action.broadcast
        for sender in senders:
            if (
                sender == self.outbox.id
                or self.bus.is_broadcast((phase, rnd, action.tag, sender)) == broadcast
            ):
                continue
            kind, due = (
                ("point-to-point", "a broadcast")
                if broadcast
                else ("as a broadcast", "a point-to-point message")
            )
            raise ProtocolViolation(
                f"party {sender} sent {action.tag!r} {kind} where {due} was due",
                culprit=sender,
                phase=phase,
                round=rnd,
            )

    async def _check_consistency(
        self,
        phase: str,
        rnd: int,
        tag: str,
        senders: list[int],
        deadline: float,
        prepared: trio.Event,
    ) -> None:
        held = {}
        for sender in senders:
            digest = self.bus.digest((phase, rnd, tag, sender))
            frame = self.bus.frame((phase, rnd, tag, sender))
            assert digest is not None and frame is not None
            held[sender] = (digest, frame)
        check = EchoCheck(
            self.outbox.id,
            self.config.parties,
            rnd,
            outer_phase=phase,
            tag=tag,
            held=held,
            judge=self.judge,
            dispute_patience=self.config.deadlines.abort_send,
        )
        await self.run(check, phase, rnd, deadline, record=False, prepared=prepared)

    def _record(self, phase: str, rnd: int, received: Received) -> None:
        for sender in sorted(received.messages):
            digest = self.bus.digest((phase, rnd, received.tag, sender))
            assert digest is not None
            self.transcript.update(repr((phase, rnd, received.tag, sender)).encode() + digest)

    def _count_received(self, phase: str, rnd: int, tag: str, senders: list[int]) -> None:
        """Count what peers sent (the echo rounds too), so ``bytes_received`` matches their sends."""
        stats = self.stats.phase(phase)
        for sender in senders:
            if sender != self.outbox.id:
                stats.messages_received += 1
                stats.bytes_received += self.bus.size((phase, rnd, tag, sender))


async def _cancel_when(event: trio.Event, scope: trio.CancelScope) -> None:
    await event.wait()
    scope.cancel()


def _handle(machine: PhaseMachine, event: Any) -> list[Action]:
    """Feed one event. A typed abort a handler raises stands; any other exception is this
    party's bug (``LocalFailure``), never blamed on a peer."""
    try:
        return machine.handle(event)
    except ProtocolAborted:
        raise
    except Exception as exc:
        raise LocalFailure(
            f"{type(machine).__name__} failed on {type(event).__name__} "
            f"({type(exc).__name__}: {exc})",
            phase=machine.phase,
            round=machine.round,
        ) from exc


def _first_error(group: BaseExceptionGroup) -> BaseException:
    """The error to report from concurrent waits: a typed abort first, else the first one."""
    flat: list[BaseException] = []

    def walk(exc: BaseException) -> None:
        if isinstance(exc, BaseExceptionGroup):
            for inner in exc.exceptions:
                walk(inner)
        elif not isinstance(exc, trio.Cancelled):
            flat.append(exc)

    walk(group)
    for exc in flat:
        if isinstance(exc, ProtocolAborted):
            return exc
    return flat[0] if flat else group
