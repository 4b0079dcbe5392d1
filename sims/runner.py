"""Run m parties of one protocol in one process over a simulated WAN, with faults, and report.

Each party gets the stack ``Party -> [CrashTrigger] -> ReliableTransport -> WanTransport ->
MemoryTransport``: link faults act below the reliable layer (so loss, duplication, reordering and
corruption are repaired there, as TCP repairs them), party faults act on the party. Identities and
the session id are derived from the seed, so frames (Ed25519 signatures are deterministic) and
therefore transcripts repeat exactly for a repeated seed.

Call :func:`run_parties` inside a trio run (tests use the ``autojump_clock`` fixture), or
:func:`simulate` to get a fresh virtual-time run. The result's ``transcript_sha256`` combines every
party's digest of the protocol messages it consumed (keyed, hence independent of arrival order);
``wire_sha256`` hashes the timed wire log, which repeats too when compute is charged from a cost
model rather than measured.
"""

from __future__ import annotations

import contextlib
import hashlib
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import trio
import trio.testing
from nacl.signing import SigningKey

from coopetition.engine.compute import CostModel, InlineCompute
from coopetition.engine.errors import ConfigError, PartyId, ProtocolAborted, TransportError
from coopetition.engine.identity import Identity
from coopetition.engine.party import Deadlines, Party, PartyConfig, PayloadHook, ProtocolRun
from coopetition.engine.stats import PhaseStats, RunStats
from coopetition.engine.wire import peek_header
from coopetition.sims.byzantine import Byzantine
from coopetition.sims.transcript import RecordingTransport, TranscriptLog
from coopetition.transports.faults import Crash, CrashTrigger, LinkFault, Slow
from coopetition.transports.memory import MemoryNetwork
from coopetition.transports.reliable import ReliableTransport
from coopetition.transports.schedule import FaultSchedule
from coopetition.transports.wan import Topology, WanSimulator, preset

ProtocolFactory = Callable[[PartyId, tuple[PartyId, ...]], ProtocolRun]


def identity_for(seed: int, party: PartyId) -> Identity:
    """A party's signing key derived from the run seed: simulations only, never real runs."""
    raw = hashlib.sha256(f"coopetition-sim:{seed}:identity:{party}".encode()).digest()
    return Identity(party, SigningKey(raw))


def session_for(seed: int) -> bytes:
    return hashlib.sha256(f"coopetition-sim:{seed}:session".encode()).digest()[:16]


@dataclass
class PartyOutcome:
    party: PartyId
    result: Any = None
    error: ProtocolAborted | None = None
    crashed: bool = False
    stats: RunStats = field(default_factory=RunStats)
    transcript: str = ""
    finished_at: float = 0.0


@dataclass
class PhaseSpans:
    """Virtual time per phase round: from the first party starting it to the last one ending it
    (an observer the runner gives every party)."""

    spans: dict[tuple[str, int], list[float]] = field(default_factory=dict)

    def observe(self, party: PartyId, phase: str, rnd: int, event: str) -> None:
        now = trio.current_time()
        span = self.spans.setdefault((phase, rnd), [now, now])
        span[0] = min(span[0], now) if event == "start" else span[0]
        span[1] = max(span[1], now)

    def seconds(self) -> dict[str, float]:
        """Per phase, the virtual seconds of its rounds added up."""
        out: dict[str, float] = {}
        for (phase, _), (start, end) in self.spans.items():
            out[phase] = out.get(phase, 0.0) + end - start
        return out


@dataclass
class SimResult:
    """What one run produced; ``as_dict()`` is the JSON the ``sim`` command prints."""

    outcome: str
    parties: dict[PartyId, PartyOutcome]
    abort_code: str | None
    abort_reason: str | None
    culprit: PartyId | None
    virtual_seconds: float
    wall_seconds: float
    transcript_sha256: str
    party_transcripts_sha256: str
    wire_sha256: str
    schedule: FaultSchedule
    network: str
    seed: int
    link_frames: int = 0
    link_bytes: int = 0
    retransmissions: int = 0
    #: virtual seconds per phase (first start to last end, rounds added up)
    phase_seconds: dict[str, float] = field(default_factory=dict)

    @property
    def errors(self) -> dict[PartyId, ProtocolAborted]:
        return {p: o.error for p, o in self.parties.items() if o.error is not None}

    @property
    def results(self) -> dict[PartyId, Any]:
        return {p: o.result for p, o in self.parties.items() if o.error is None and not o.crashed}

    def per_phase(self) -> dict[str, dict[str, float]]:
        """Per phase: compute and network seconds (maximum over parties, i.e. the critical path),
        and bytes/messages sent (summed over parties)."""
        out: dict[str, dict[str, float]] = {}
        for outcome in self.parties.values():
            for name, stats in outcome.stats.phases.items():
                row = out.setdefault(
                    name,
                    {
                        "compute_seconds": 0.0,
                        "network_seconds": 0.0,
                        "bytes_sent": 0,
                        "messages_sent": 0,
                        "virtual_seconds": self.phase_seconds.get(name, 0.0),
                    },
                )
                row["compute_seconds"] = max(row["compute_seconds"], stats.compute_seconds)
                row["network_seconds"] = max(row["network_seconds"], stats.network_wait_seconds)
                row["bytes_sent"] += stats.bytes_sent
                row["messages_sent"] += stats.messages_sent
        return dict(sorted(out.items()))

    def per_party(self) -> dict[str, dict[str, float]]:
        out = {}
        for pid, outcome in sorted(self.parties.items()):
            total: PhaseStats = outcome.stats.total()
            out[str(pid)] = {
                "compute_seconds": total.compute_seconds,
                "network_seconds": total.network_wait_seconds,
                "bytes_sent": total.bytes_sent,
                "messages_sent": total.messages_sent,
                "status": (
                    "crashed"
                    if outcome.crashed
                    else outcome.error.code
                    if outcome.error
                    else "completed"
                ),
            }
        return out

    def as_dict(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome,
            "abort_reason": self.abort_reason,
            "abort_code": self.abort_code,
            "culprit": self.culprit,
            "virtual_seconds": self.virtual_seconds,
            "wall_seconds": self.wall_seconds,
            "phases": self.per_phase(),
            "parties": self.per_party(),
            "bytes_sent": sum(int(r["bytes_sent"]) for r in self.per_phase().values()),
            "link_frames": self.link_frames,
            "link_bytes": self.link_bytes,
            "retransmissions": self.retransmissions,
            "transcript_sha256": self.transcript_sha256,
            "party_transcripts_sha256": self.party_transcripts_sha256,
            "wire_sha256": self.wire_sha256,
            "network": self.network,
            "seed": self.seed,
            "faults": self.schedule.summary(),
            "fault_plan": self.schedule.plan,
        }


async def run_parties(
    make_protocol: ProtocolFactory,
    party_ids: Sequence[PartyId],
    *,
    network: Topology | str = "lan",
    seed: int = 0,
    link_faults: Sequence[LinkFault] = (),
    crashes: Sequence[Crash] = (),
    byzantine: Sequence[Byzantine] = (),
    deadlines: Deadlines | None = None,
    cost_model: CostModel | None = None,
    reliable_options: Mapping[str, Any] | None = None,  # default: rto_max=2s
    linger: float = 30.0,
    logger: Any = None,
    max_backlog: float | None = None,
    backlog_min_bytes: int = 0,
) -> SimResult:
    """Run one protocol on every party in ``party_ids`` and collect outcomes (never raises an
    abort: aborts are outcomes). Must be called inside a trio run; under an autojump
    ``MockClock`` it is a discrete-event simulation."""
    ids = tuple(sorted(party_ids))
    if len(ids) < 2:
        raise ConfigError("a simulation needs at least two parties")
    topology = preset(network, ids) if isinstance(network, str) else network
    if set(topology.party_ids) != set(ids):
        raise ConfigError("the topology's parties differ from the run's parties")
    deadlines = deadlines or Deadlines()
    if len({b.party for b in byzantine}) != len(byzantine):
        raise ConfigError("at most one Byzantine rewrite per party")
    crash_of = {c.party: c for c in crashes}
    if len(crash_of) != len(crashes) or not set(crash_of) <= set(ids):
        raise ConfigError("at most one crash per party, and only of parties in the run")
    slow_factor = {f.party: f.compute_factor for f in link_faults if isinstance(f, Slow)}
    identities = {p: identity_for(seed, p) for p in ids}
    roster = {p: i.verify_key for p, i in identities.items()}
    session = session_for(seed)
    schedule = FaultSchedule(seed)
    outcomes = {p: PartyOutcome(p) for p in ids}
    log = TranscriptLog()
    spans = PhaseSpans()
    wall0 = time.perf_counter()
    t0 = trio.current_time()

    # max_backlog: a sender of a frame of at least backlog_min_bytes waits while its link's
    # queue holds more than that many seconds (a socket buffer; bounds the simulation's memory)
    async with WanSimulator(
        topology,
        seed=seed,
        faults=link_faults,
        schedule=schedule,
        max_backlog=max_backlog,
        backlog_min_bytes=backlog_min_bytes,
    ) as sim:
        for crash in crashes:
            schedule.plan.append(crash.describe(seed))
        hooks: dict[PartyId, PayloadHook] = {}
        for byz in byzantine:
            schedule.plan.append(byz.describe())
            hooks[byz.party] = byz.hook(schedule, ids)
        memory = MemoryNetwork(ids)
        reliables = {
            p: ReliableTransport(
                sim.wrap(memory.transport(p)), **{"rto_max": 2.0, **dict(reliable_options or {})}
            )
            for p in ids
        }

        async def one(pid: PartyId) -> None:
            outcome = outcomes[pid]
            rt = reliables[pid]
            transport: Any = RecordingTransport(rt, log)
            async with trio.open_nursery() as party_nursery:
                with trio.CancelScope() as scope:
                    trigger = None
                    if pid in crash_of:
                        trigger = CrashTrigger(
                            transport, crash_of[pid], scope.cancel, schedule, peek_header
                        )
                        transport = trigger
                        party_nursery.start_soon(trigger.arm_timer)
                    # the same backend charges Compute actions and offloaded handlers (proofs)
                    compute = InlineCompute(
                        charge_virtual_time=True,
                        cost_model=cost_model,
                        speed_factor=slow_factor.get(pid, 1.0),
                    )
                    party = Party(
                        PartyConfig(identities[pid], roster, session, deadlines),
                        transport,
                        logger=logger,
                        compute=compute,
                        offload=compute,
                        payload_hook=hooks.get(pid),
                        observer=spans.observe,
                    )
                    outcome.stats = party.stats
                    try:
                        outcome.result = await party.run(make_protocol(pid, ids))
                    except ProtocolAborted as exc:
                        outcome.error = exc
                    outcome.transcript = party.transcript_digest
                    outcome.finished_at = trio.current_time() - t0
                party_nursery.cancel_scope.cancel()
            if scope.cancelled_caught or (trigger is not None and trigger.crashed):
                outcome.crashed = True
                outcome.error = None
                outcome.transcript = party.transcript_digest
                outcome.finished_at = trio.current_time() - t0
                return  # a crashed party neither lingers nor closes (silent) - see Crash.mode
            # Linger: keep acknowledging and retransmitting until our last frames (the finish
            # barrier's "done", an abort) are acknowledged, like a socket's SO_LINGER.
            with contextlib.suppress(TransportError):
                await rt.drain(linger)
            await rt.aclose()

        async with trio.open_nursery() as nursery:
            for pid in ids:
                nursery.start_soon(one, pid)
        # The run's length is when its last party finished, not when the lingering ended.
        virtual = max(o.finished_at for o in outcomes.values())

    return _summarise(
        outcomes,
        sim,
        schedule,
        topology,
        seed,
        virtual,
        time.perf_counter() - wall0,
        reliables,
        log,
        spans,
    )


def _summarise(
    outcomes: dict[PartyId, PartyOutcome],
    sim: WanSimulator,
    schedule: FaultSchedule,
    topology: Topology,
    seed: int,
    virtual: float,
    wall: float,
    reliables: Mapping[PartyId, ReliableTransport],
    log: TranscriptLog,
    spans: PhaseSpans,
) -> SimResult:
    errors = {p: o.error for p, o in outcomes.items() if o.error is not None}
    crashed = [p for p, o in outcomes.items() if o.crashed]
    survivors = [p for p, o in outcomes.items() if not o.crashed]
    completed = all(outcomes[p].error is None for p in survivors) and not crashed
    code = reason = culprit = None
    if not completed:
        # The first locally detected error is the run's verdict; the rest echo it.
        local = [e for e in errors.values() if e.reported_by is None] or list(errors.values())
        if local:
            first = min(local, key=lambda e: (e.culprit is None, str(e.code)))
            code, reason, culprit = first.code, first.reason, first.culprit
        else:
            code, reason = "crashed", f"parties {crashed} crashed"
    party_digests = hashlib.sha256()
    for pid in sorted(outcomes):
        party_digests.update(f"{pid}:{outcomes[pid].transcript}\n".encode())
    return SimResult(
        outcome="completed" if completed else "aborted",
        parties=outcomes,
        abort_code=code,
        abort_reason=reason,
        culprit=culprit,
        virtual_seconds=virtual,
        wall_seconds=wall,
        transcript_sha256=log.digest(),
        party_transcripts_sha256=party_digests.hexdigest(),
        wire_sha256=sim.wire_digest(),
        schedule=schedule,
        network=topology.name,
        seed=seed,
        link_frames=sum(s.frames_sent for s in sim.stats.values()),
        link_bytes=sum(s.bytes_sent for s in sim.stats.values()),
        retransmissions=sum(r.stats.retransmissions for r in reliables.values()),
        phase_seconds=spans.seconds(),
    )


def simulate(
    make_protocol: ProtocolFactory, party_ids: Sequence[PartyId], **kwargs: Any
) -> SimResult:
    """:func:`run_parties` in a fresh trio run on a virtual (autojump) clock."""

    async def main() -> SimResult:
        return await run_parties(make_protocol, party_ids, **kwargs)

    return trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))


def size_cost_model(
    seconds_per_element: float = 2e-9,
    base: float = 1e-5,
    per_operation: Mapping[str, float] | None = None,
) -> CostModel:
    """A deterministic compute cost: a fixed figure per operation label when ``per_operation``
    gives one (e.g. ``{"local_step": 0.004}``), otherwise ``base`` plus a charge per array
    element in the arguments. Replayable timings; use measured CPU time when the numbers
    themselves matter."""
    fixed = dict(per_operation or {})
    if any(not (isinstance(v, int | float) and v >= 0) for v in fixed.values()):
        raise ConfigError("per-operation costs must be non-negative numbers of seconds")

    def cost(label: str, args: tuple[Any, ...]) -> float:
        if label in fixed:
            return float(fixed[label])
        elements = 0
        for arg in args:
            size = getattr(arg, "size", None)
            if isinstance(size, int):
                elements += size
        return base + seconds_per_element * elements

    return cost


__all__ = [
    "PartyOutcome",
    "SimResult",
    "identity_for",
    "run_parties",
    "session_for",
    "simulate",
    "size_cost_model",
]
