"""A party: one trio nursery running a protocol's phase machines over a transport.

``Party.run(protocol)`` opens a nursery holding a receive task (transport → bus), a heartbeat
task, a failure detector and the main task, which drives the protocol's phase machines one after
another. Whatever goes wrong anywhere (a bad frame, equivocation, a missing message at a
deadline, a broken connection, an abort received from a peer, a bug) is funnelled into one
``ProtocolAborted``: the first error wins, every task is cancelled, a signed abort carrying the
reason, culprit and evidence is broadcast (shielded, with its own deadline) when the error was
found here, and that single typed error is raised to the caller: no exception groups, no hang.

A protocol is an object whose ``phases()`` generator yields phase machines and receives each
machine's result; its return value is the run's result. The generator is plain Python: it holds
the protocol's state between phases without doing any I/O.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any, Protocol

import trio
from nacl.signing import VerifyKey

from coopetition.engine.bus import CONTROL_PHASE, Bus
from coopetition.engine.compute import Compute, InlineCompute
from coopetition.engine.errors import (
    BroadcastInconsistent,
    CheatingDetected,
    ConfigError,
    ConnectionClosed,
    DeadlineExceeded,
    Equivocation,
    FrameTooLarge,
    LocalFailure,
    PartyId,
    PeerCrashed,
    PeerUnreachable,
    ProtocolAborted,
    ProtocolViolation,
    TransportError,
)
from coopetition.engine.identity import Identity
from coopetition.engine.logging import resolve
from coopetition.engine.machine import (
    Abort,
    Broadcast,
    Computed,
    Done,
    Gather,
    PhaseMachine,
    Received,
    Send,
    Started,
)
from coopetition.engine.machine import (
    Compute as ComputeAction,
)
from coopetition.engine.stats import RunStats
from coopetition.engine.wire import (
    BROADCAST,
    EnvelopeHeader,
    WireError,
    frame_digest,
    open_frame,
    seal,
)
from coopetition.transports.base import Transport

#: Byzantine test hook: ``hook(header, payload, destination) -> payload`` rewrites what this party
#: sends after the protocol built it and before signing. It is called once per destination, and for
#: a broadcast also with ``destination == own id`` for the copy the party records as what it said;
#: returning the payload object unchanged keeps the honest (signed-once) path.
PayloadHook = Callable[[EnvelopeHeader, Any, PartyId], Any]
PhaseObserver = Callable[[PartyId, str, int, str], None]

ECHO_SUFFIX = "#echo"
EVIDENCE_SUFFIX = "#evidence"


class ProtocolRun(Protocol):
    """What ``Party.run`` drives."""

    name: str

    def phases(self) -> Generator[PhaseMachine, Any, Any]: ...


@dataclass(frozen=True)
class Deadlines:
    """Every wait of a run is bounded by one of these (seconds on trio's clock)."""

    phase: float = 600.0
    heartbeat_interval: float = 2.0
    heartbeat_timeout: float = 60.0
    finish: float = 60.0
    abort_send: float = 5.0
    #: bound on one send; by default the largest value that keeps heartbeats to the other peers
    #: on time while a send to one peer is blocked, capped at 20 s
    send: float = None  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.send is None:
            spare = (self.heartbeat_timeout - self.heartbeat_interval) / 2
            object.__setattr__(self, "send", min(20.0, spare) if spare > 0 else 1.0)
        for name in (
            "phase",
            "heartbeat_interval",
            "heartbeat_timeout",
            "finish",
            "abort_send",
            "send",
        ):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and value > 0):
                raise ConfigError(f"deadline {name} must be a positive number of seconds")
        if self.heartbeat_timeout <= self.heartbeat_interval:
            raise ConfigError("heartbeat_timeout must exceed heartbeat_interval")
        if self.send + self.heartbeat_interval >= self.heartbeat_timeout:
            # a send blocked on one peer delays heartbeats to the others by up to `send`; they
            # must not time out on us before we time out on the blocking peer
            raise ConfigError("send + heartbeat_interval must be below heartbeat_timeout")


@dataclass(frozen=True)
class PartyConfig:
    identity: Identity
    verify_keys: dict[PartyId, VerifyKey]
    session: bytes
    deadlines: Deadlines = field(default_factory=Deadlines)

    def __post_init__(self) -> None:
        me = self.identity.party_id
        if me not in self.verify_keys:
            raise ConfigError(f"party {me} is not in its own roster")
        if bytes(self.verify_keys[me]) != bytes(self.identity.verify_key):
            raise ConfigError(f"the roster's key for party {me} is not this party's key")
        if not 1 <= len(self.session) <= 64:
            raise ConfigError("a session id is 1 to 64 bytes")

    @property
    def party_id(self) -> PartyId:
        return self.identity.party_id

    @property
    def parties(self) -> tuple[PartyId, ...]:
        return tuple(sorted(self.verify_keys))


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
        self.payload_hook = payload_hook
        self.observer = observer
        self.stats = RunStats()
        self._log = resolve(logger).bind(party=self.id, session=config.session.hex()[:12])
        self._transcript = hashlib.sha256()
        self._seq = 0  # protocol messages: the same at every run of the same inputs
        self._control_seq = 0  # heartbeats and the like: depend on timing, so counted apart
        self._bus: Bus | None = None
        self._error: ProtocolAborted | None = None
        self._error_is_local = False
        self._cancel: trio.CancelScope | None = None
        self._last_seen: dict[PartyId, float] = {}
        self._last_sent: dict[PartyId, float] = {}
        self._done_peers: set[PartyId] = set()
        self._all_done = trio.Event()
        self._finishing = False
        self._protocol_name = ""
        self._phase_name = "setup"
        self._result: Any = None

    # -- public ----------------------------------------------------------------------------

    @property
    def transcript_digest(self) -> str:
        """SHA-256 over every protocol message consumed, in the (deterministic) order consumed."""
        return self._transcript.hexdigest()

    async def run(self, protocol: ProtocolRun) -> Any:
        """Run ``protocol`` to completion and return its result, or raise one ``ProtocolAborted``.

        A ``Party`` runs once: its bus, sequence numbers and transcript belong to that run.
        """
        if self._bus is not None:
            raise ConfigError("this Party has already run; make a new one for another run")
        self._protocol_name = protocol.name
        self._bus = Bus(
            local_id=self.id,
            session=self.config.session,
            protocol=protocol.name,
            verify_keys=self.config.verify_keys,
        )
        now = trio.current_time()
        self._last_seen = dict.fromkeys(self.peers, now)
        self._log.info("run_started", protocol=protocol.name, parties=len(self.config.parties))
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
        if self._error is None:
            self._error = error
            self._error_is_local = local
        if self._cancel is not None:
            self._cancel.cancel()

    def _connection_lost(self, exc: ConnectionClosed) -> ProtocolAborted:
        if exc.peer is None:
            return LocalFailure(f"this party's transport failed: {exc}", phase=self._phase_name)
        return PeerCrashed(f"connection lost: {exc}", culprit=exc.peer, phase=self._phase_name)

    # -- main task: drive the phases -------------------------------------------------------

    async def _main(self, protocol: ProtocolRun) -> None:
        phases = protocol.phases()
        try:
            machine = next(phases)
            while True:
                result = await self._drive(machine)
                machine = phases.send(result)
        except StopIteration as stop:
            self._result = stop.value
        await self._finish()
        assert self._cancel is not None
        self._cancel.cancel()

    async def _drive(self, machine: PhaseMachine) -> Any:
        phase, rnd = machine.phase, machine.round
        self._phase_name = phase
        stats = self.stats.phase(phase)
        stats.rounds += 1
        self._observe(phase, rnd, "start")
        deadlines = self.config.deadlines
        deadline = trio.current_time() + deadlines.phase
        try:
            # Gathers stop at `deadline` and name the missing sender; the outer scope, a little
            # later, only catches what has no deadline of its own (a blocked send, a long compute).
            with trio.fail_after(deadlines.phase + deadlines.abort_send):
                events: list[Any] = [Started()]
                while True:
                    actions = []
                    for event in events:
                        actions.extend(self._handle(machine, event))
                    events = []
                    for action in actions:
                        if isinstance(action, Done):
                            self._observe(phase, rnd, "end")
                            assert self._bus is not None
                            self._bus.release(phase, rnd)
                            return action.result
                        if isinstance(action, Abort):
                            raise action.error
                        event = await self._perform(machine, action, deadline)
                        if event is not None:
                            events.append(event)
                    if not events:
                        raise LocalFailure(
                            f"{type(machine).__name__} stopped without finishing",
                            phase=phase,
                            round=rnd,
                        )
        except trio.TooSlowError:
            raise DeadlineExceeded(
                f"phase {phase} did not finish within {self.config.deadlines.phase}s",
                phase=phase,
                round=rnd,
            ) from None

    @staticmethod
    def _handle(machine: PhaseMachine, event: Any) -> list[Any]:
        """Feed one event; a machine choking on received payloads is a violation, not our bug."""
        try:
            return machine.handle(event)
        except Exception as exc:
            if not isinstance(event, Received):
                raise
            raise ProtocolViolation(
                f"received {event.tag!r} messages could not be processed "
                f"({type(exc).__name__}: {exc})",
                phase=machine.phase,
                round=machine.round,
            ) from exc

    async def _perform(self, machine: PhaseMachine, action: Any, deadline: float) -> Any:
        phase, rnd = machine.phase, machine.round
        if isinstance(action, Send):
            await self._send_protocol(phase, rnd, action.tag, action.payload, action.to)
            return None
        if isinstance(action, Broadcast):
            await self._send_protocol(phase, rnd, action.tag, action.payload, BROADCAST)
            return None
        if isinstance(action, Gather):
            return await self._gather(phase, rnd, action, deadline)
        if isinstance(action, ComputeAction):
            result, cost = await self.compute.run(action.label, action.fn, *action.args)
            self.stats.phase(phase).compute_seconds += cost
            return Computed(label=action.label, result=result)
        raise LocalFailure(f"unknown action {type(action).__name__}", phase=phase, round=rnd)

    async def _gather(self, phase: str, rnd: int, action: Gather, deadline: float) -> Received:
        assert self._bus is not None
        started = trio.current_time()
        senders = sorted(set(action.senders))
        stats = self.stats.phase(phase)
        try:
            messages = await self._bus.gather(
                phase, rnd, action.tag, senders, deadline=deadline, at_least=action.at_least
            )
            senders = sorted(messages)  # a quorum gather returns the senders that arrived
            if action.consistent:
                await self._check_consistency(phase, rnd, action.tag, senders, deadline)
        finally:  # a wait cut short by an abort still counts
            stats.network_wait_seconds += trio.current_time() - started
        for sender in senders:
            digest = self._bus.digest((phase, rnd, action.tag, sender))
            assert digest is not None
            self._transcript.update(repr((phase, rnd, action.tag, sender)).encode() + digest)
            if sender != self.id:
                stats.messages_received += 1
        return Received(tag=action.tag, messages=messages)

    async def _check_consistency(
        self, phase: str, rnd: int, tag: str, senders: list[PartyId], deadline: float
    ) -> None:
        """Echo round: every party broadcasts the digests it got; a difference is resolved by evidence.

        When party j reports a digest for sender s that differs from ours, both sides show the
        signed frame they hold. A validly signed second frame proves that s equivocated; a party
        that cannot back its echo with a frame signed by s lied about what it received.
        """
        assert self._bus is not None
        mine = [[s, self._bus.digest((phase, rnd, tag, s))] for s in senders]
        echo_tag = tag + ECHO_SUFFIX
        await self._send_protocol(phase, rnd, echo_tag, mine, BROADCAST)
        echoes = await self._bus.gather(phase, rnd, echo_tag, list(self.peers), deadline=deadline)
        disputes: dict[PartyId, dict[PartyId, bytes]] = {}
        for peer, theirs in echoes.items():
            if not _is_digest_list(theirs) or [s for s, _ in theirs] != senders:
                raise ProtocolViolation(
                    f"malformed broadcast echo for tag {tag!r}",
                    culprit=peer,
                    phase=phase,
                    round=rnd,
                )
            for (sender, my_digest), (_, their_digest) in zip(mine, theirs, strict=True):
                if my_digest != their_digest:
                    disputes.setdefault(peer, {})[sender] = their_digest
        if disputes:
            await self._resolve_disputes(phase, rnd, tag, disputes, deadline)

    async def _resolve_disputes(
        self,
        phase: str,
        rnd: int,
        tag: str,
        disputes: dict[PartyId, dict[PartyId, bytes]],
        deadline: float,
    ) -> None:
        assert self._bus is not None
        disputed = sorted({s for claims in disputes.values() for s in claims})
        mine = {s: self._bus.frame((phase, rnd, tag, s)) for s in disputed}
        evidence_tag = tag + EVIDENCE_SUFFIX
        await self._send_protocol(
            phase, rnd, evidence_tag, [[s, mine[s]] for s in disputed], BROADCAST
        )
        wait_until = min(deadline, trio.current_time() + self.config.deadlines.abort_send)
        accusers = sorted(disputes)
        try:
            shown = await self._bus.gather(phase, rnd, evidence_tag, accusers, deadline=wait_until)
        except DeadlineExceeded as exc:
            raise BroadcastInconsistent(
                f"parties disagree on broadcast {tag!r} and party {exc.culprit} showed no evidence",
                culprit=exc.culprit,
                phase=phase,
                round=rnd,
            ) from None
        for accuser in accusers:
            frames = dict(_evidence_items(shown[accuser]))
            for sender, claimed in sorted(disputes[accuser].items()):
                frame = frames.get(sender)
                if frame is None or not self._proves(frame, (phase, rnd, tag, sender), claimed):
                    raise BroadcastInconsistent(
                        f"party {accuser} claimed a broadcast {tag!r} from party {sender} "
                        "that it cannot show signed",
                        culprit=accuser,
                        phase=phase,
                        round=rnd,
                    )
                raise Equivocation(
                    f"party {sender} sent different signed broadcasts {tag!r} to different parties",
                    culprit=sender,
                    evidence=[f for f in (mine[sender], frame) if f],
                    phase=phase,
                    round=rnd,
                )

    def _proves(self, frame: bytes, key: tuple[str, int, str, PartyId], digest: bytes) -> bool:
        envelope = self._evidence_envelope(frame)
        return envelope is not None and envelope.header.key == key and frame_digest(frame) == digest

    def _evidence_envelope(self, frame: bytes) -> Any:
        """A frame offered as evidence, if it is a validly signed broadcast of *this* run.

        Frames from another session or protocol (replayed from an earlier run with the same
        keys), control frames and point-to-point frames (which legitimately differ per receiver
        under one key) prove nothing about equivocation here.
        """
        try:
            envelope = open_frame(frame, self.config.verify_keys)
        except WireError:
            return None
        header = envelope.header
        if (
            header.session != self.config.session
            or header.protocol != self._protocol_name
            or not header.is_broadcast
            or header.phase == CONTROL_PHASE
        ):
            return None
        return envelope

    # -- sending ---------------------------------------------------------------------------

    def _header(self, phase: str, rnd: int, tag: str, receiver: PartyId) -> EnvelopeHeader:
        if phase == CONTROL_PHASE:
            self._control_seq += 1
            seq = self._control_seq
        else:
            self._seq += 1
            seq = self._seq
        return EnvelopeHeader(
            session=self.config.session,
            protocol=self._protocol_name,
            phase=phase,
            round=rnd,
            tag=tag,
            sender=self.id,
            receiver=receiver,
            seq=seq,
        )

    async def _send_protocol(
        self, phase: str, rnd: int, tag: str, payload: Any, receiver: PartyId
    ) -> None:
        header = self._header(phase, rnd, tag, receiver)
        signing_key = self.config.identity.signing_key
        frame = seal(header, payload, signing_key)
        stats = self.stats.phase(phase)
        if receiver == BROADCAST:
            assert self._bus is not None
            own = frame
            if (
                self.payload_hook is not None
            ):  # a Byzantine sender keeps what it claims to have sent
                altered = self.payload_hook(header, payload, self.id)
                if altered is not payload:
                    own = seal(header, altered, signing_key)
            self._bus.record_own(own, open_frame(own, self.config.verify_keys))
            targets = self.peers
        else:
            targets = (receiver,)
        for peer in targets:
            outgoing = frame
            if self.payload_hook is not None:
                altered = self.payload_hook(header, payload, peer)
                if altered is not payload:
                    outgoing = seal(header, altered, signing_key)
            await self._send_frame(peer, outgoing)
            stats.bytes_sent += len(outgoing)
            stats.messages_sent += 1

    async def _send_control(self, tag: str, payload: Any, *, rnd: int = 0) -> None:
        frame = seal(
            self._header(CONTROL_PHASE, rnd, tag, BROADCAST),
            payload,
            self.config.identity.signing_key,
        )
        for peer in self.peers:
            try:
                await self._send_frame(peer, frame)
            except ConnectionClosed:
                if peer not in self._done_peers:
                    raise

    async def _send_frame(self, peer: PartyId, frame: bytes) -> None:
        """One send, bounded by ``Deadlines.send``: a peer that stops reading is named."""
        self._last_sent[peer] = trio.current_time()
        limit = self.config.deadlines.send
        try:
            with trio.fail_after(limit):
                await self.transport.send(peer, frame)
        except trio.TooSlowError:
            raise PeerUnreachable(
                f"party {peer} did not accept a frame within {limit}s",
                culprit=peer,
                phase=self._phase_name,
            ) from None
        except FrameTooLarge as exc:
            raise LocalFailure(
                f"this party produced a {len(frame)}-byte frame, over the transport's limit: {exc}",
                phase=self._phase_name,
            ) from None

    # -- background tasks ------------------------------------------------------------------

    async def _receive_loop(self) -> None:
        assert self._bus is not None
        while True:
            try:
                frame = await self.transport.receive()
            except ConnectionClosed as exc:
                if exc.peer is not None and exc.peer in self._done_peers and self._finishing:
                    continue
                if exc.peer is None:
                    raise LocalFailure("this party's transport was closed during the run") from None
                raise
            envelope = self._bus.deliver(frame.data, frame.peer)
            self._last_seen[frame.peer] = trio.current_time()
            if envelope is not None:
                self._on_control(envelope.header, envelope.payload)

    def _on_control(self, header: EnvelopeHeader, payload: Any) -> None:
        if header.tag == "heartbeat":
            return
        if header.tag == "done":
            self._done_peers.add(header.sender)
            if self._done_peers >= set(self.peers):
                self._all_done.set()
            return
        if header.tag == "abort":
            if not isinstance(payload, dict):
                raise ProtocolViolation("malformed abort message", culprit=header.sender)
            raise self._abort_from_peer(payload, header.sender)
        raise ProtocolViolation(f"unknown control message {header.tag!r}", culprit=header.sender)

    def _abort_from_peer(self, payload: dict[str, Any], sender: PartyId) -> ProtocolAborted:
        """A peer's abort: proven equivocation if its evidence shows one, else hearsay.

        Evidence proves equivocation when it holds two different validly signed broadcasts of
        this run under one key, or one that differs from the frame this party holds for that key.
        A claim of cheating that its evidence does not prove keeps its type but loses its culprit
        (kept as ``claimed_culprit``): an honest party never blames on another party's word.
        """
        assert self._bus is not None
        received = ProtocolAborted.from_wire(payload, reported_by=sender)
        by_key: dict[Any, bytes] = {}
        for evidence in received.evidence:
            envelope = self._evidence_envelope(evidence)
            if envelope is None:
                continue
            key = envelope.header.key
            others = [f for f in (by_key.get(key), self._bus.frame(key)) if f is not None]
            for other in others:
                if frame_digest(other) != frame_digest(evidence):
                    return Equivocation(
                        f"party {key[3]} sent different signed broadcasts for phase={key[0]} "
                        f"round={key[1]} tag={key[2]} (evidence from party {sender})",
                        culprit=key[3],
                        evidence=[other, evidence],
                        phase=key[0],
                        round=key[1],
                    )
            by_key[key] = evidence
        if isinstance(received, CheatingDetected) and received.culprit is not None:
            received.claimed_culprit, received.culprit = received.culprit, None
            received.args = (received._describe(),)
        elif isinstance(received, LocalFailure):
            # the sender says it failed on its own: by its own word it is why the run ended (and a
            # cheater cannot hide behind "my fault, nobody to blame")
            received.culprit = sender
            received.args = (received._describe(),)
        return received

    async def _liveness_loop(self) -> None:
        """Failure detector and heartbeats in one task, so their order never depends on trio's
        scheduler: each tick first checks every peer, then greets the peers it has been quiet to."""
        interval = self.config.deadlines.heartbeat_interval
        timeout = self.config.deadlines.heartbeat_timeout
        beat = 0
        while True:
            await trio.sleep(interval)
            now = trio.current_time()
            for peer in self.peers:
                if self._finishing and peer in self._done_peers:
                    continue  # both sides are done: silence (and closing) is expected now
                if now - self._last_seen[peer] > timeout:
                    raise PeerUnreachable(
                        f"nothing heard from party {peer} for {timeout}s",
                        culprit=peer,
                        phase=self._phase_name,
                    )
            if any(now - self._last_sent.get(p, -math.inf) >= interval for p in self.peers):
                beat += 1
                await self._send_control("heartbeat", None, rnd=beat)

    async def _finish(self) -> None:
        """Barrier: say we are done and wait until every peer said so, then connections may close."""
        self._phase_name = "finish"
        self._finishing = True
        if not self.peers:
            return
        with trio.move_on_after(self.config.deadlines.finish):
            await self._send_control("done", None)
            await self._all_done.wait()
        if not self._all_done.is_set():
            missing = sorted(set(self.peers) - self._done_peers)
            raise DeadlineExceeded(
                f"parties {missing} did not finish within {self.config.deadlines.finish}s",
                culprit=missing[0] if len(missing) == 1 else None,
                phase="finish",
            )

    async def _broadcast_abort(self, error: ProtocolAborted) -> None:
        """Tell every peer, concurrently, so one stalled peer cannot keep it from the others."""
        message = _abort_message(error, self.transport.max_frame)
        frame = seal(
            self._header(CONTROL_PHASE, 0, "abort", BROADCAST),
            message,
            self.config.identity.signing_key,
        )

        async def tell(peer: PartyId) -> None:
            with contextlib.suppress(TransportError, ProtocolAborted):
                await self._send_frame(peer, frame)

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


def _abort_message(error: ProtocolAborted, max_frame: int) -> dict[str, Any]:
    """The abort's wire form, dropping evidence frames until it fits in one frame."""
    message = error.to_wire()
    budget = max_frame - 4096  # envelope, signature and the abort's own fields
    kept: list[bytes] = []
    for frame in message["evidence"]:
        if sum(map(len, kept)) + len(frame) <= budget:
            kept.append(frame)
    message["evidence"] = kept
    return message


def _evidence_items(value: Any) -> list[tuple[PartyId, bytes]]:
    if not isinstance(value, list):
        return []
    return [
        (item[0], item[1])
        for item in value
        if isinstance(item, list)
        and len(item) == 2
        and isinstance(item[0], int)
        and isinstance(item[1], bytes)
    ]


def _is_digest_list(value: Any) -> bool:
    return isinstance(value, list) and all(
        isinstance(item, list)
        and len(item) == 2
        and isinstance(item[0], int)
        and isinstance(item[1], bytes)
        for item in value
    )
