"""Seeded, composable fault injection: link faults for the WAN simulator and party faults for runs.

*Link faults* (:class:`Drop`, :class:`BurstDrop`, :class:`Delay`, :class:`Duplicate`, :class:`Reorder`,
:class:`Corrupt`, :class:`Partition`, :class:`Slow`) are pure decisions consulted by the
:class:`~coopetition.transports.wan.WanSimulator` task for every frame, in the order given, each
drawing from its own generator keyed by ``(seed, fault index, link)``: so a fault's decisions for
a link depend only on the seed and the frame's position on that link, never on trio's scheduling.
Wrap any transport in them alone with ``open_wan(inners, ideal_topology(ids), faults=[...])``.

*Party faults* act on a party rather than a link: :class:`Crash` (at a phase/round seen on the
party's outgoing envelopes, at a virtual time, or at a seeded random time; silently or with a
connection reset) is applied with :class:`CrashTrigger`, a transport wrapper the runner places on
top of the party's stack; :class:`Slow` also multiplies the party's compute cost; the Byzantine
hook is a ``payload_hook`` given to the party runtime (see ``coopetition.sims.runner``).

Every fault that fires appends to one :class:`FaultSchedule`, printed and saved with the run, so a
seed and a scenario identify the schedule and the transcript exactly.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import trio

from coopetition.engine.errors import ConfigError, PartyId
from coopetition.transports.base import Frame, Transport
from coopetition.transports.schedule import FaultSchedule
from coopetition.transports.wan import Fate, LinkSpec, Topology, WanSimulator, derive_rng

Link = tuple[PartyId, PartyId]


@dataclass
class LinkFault:
    """Base of link faults: which links (``src``/``dst`` party sets, ``None`` = all) and when
    (``start``/``stop`` in seconds of the simulator's clock) the fault is active."""

    probability: float = 1.0
    src: Iterable[PartyId] | None = None
    dst: Iterable[PartyId] | None = None
    start: float = 0.0
    stop: float = float("inf")

    name = "fault"
    _numbers: ClassVar[tuple[str, ...]] = ()  # further numeric fields of a subclass
    _non_negative: ClassVar[tuple[str, ...]] = ()  # ... of which these must be >= 0

    def __post_init__(self) -> None:
        for key in ("probability", "start", "stop", *self._numbers):
            if not _is_number(getattr(self, key)):
                raise ConfigError(
                    f"{self.name}: {key} must be a number, got {getattr(self, key)!r}"
                )
        if not 0.0 <= self.probability <= 1.0:
            raise ConfigError(f"{self.name}: probability must be in [0, 1]")
        if self.start < 0 or self.stop < self.start:
            raise ConfigError(f"{self.name}: need 0 <= start <= stop")
        for key in self._non_negative:
            if getattr(self, key) < 0:
                raise ConfigError(
                    f"{self.name}: {key} must be non-negative, got {getattr(self, key)}"
                )
        self._src = None if self.src is None else frozenset(self.src)
        self._dst = None if self.dst is None else frozenset(self.dst)
        self._rngs: dict[tuple[Any, ...], Any] = {}
        self._sim: WanSimulator | None = None
        self._index = 0
        self._t0 = 0.0

    def bind(self, sim: WanSimulator, index: int) -> None:
        """Called by the simulator when it starts: times are relative to ``sim.t0``, and every
        generator and state is reset, so one fault object can serve run after run (not two
        simulators at once) and each run depends on its own seed only."""
        self._sim, self._index, self.schedule = sim, index, sim.schedule
        self._t0 = sim.t0
        self._rngs = {}
        self._reset()
        sim.schedule.plan.append(self.describe())

    def _reset(self) -> None:
        """Forget per-run state (subclasses that keep some override this)."""

    def describe(self) -> str:
        where = ""
        if self._src is not None:
            where += f" from {sorted(self._src)}"
        if self._dst is not None:
            where += f" to {sorted(self._dst)}"
        return (
            f"{self.name} p={self.probability}{where} during "
            f"[{self.start}, {self.stop})s{self._extra()}"
        )

    def _extra(self) -> str:
        return ""

    def _applies(self, src: PartyId, dst: PartyId, now: float) -> bool:
        t = now - self._t0
        return (
            (self._src is None or src in self._src)
            and (self._dst is None or dst in self._dst)
            and self.start <= t < self.stop
        )

    def _rng(self, link: tuple[Any, ...]) -> Any:
        rng = self._rngs.get(link)
        if rng is None:
            assert self._sim is not None, "fault used before bind()"
            rng = self._rngs[link] = derive_rng(
                self._sim.seed, "fault", self._index, self.name, *link
            )
        return rng

    def apply(self, src: PartyId, dst: PartyId, seq: int, now: float, fate: Fate) -> Fate:
        rng = self._rng((src, dst))
        u, v = rng.random(), rng.random()  # fixed number of draws per frame on this link
        if not self._applies(src, dst, now) or u >= self.probability:
            return fate
        new = self.transform(fate, v)
        self.schedule.add(now - self._t0, self.name, src=src, dst=dst, seq=seq)
        return new

    def transform(self, fate: Fate, v: float) -> Fate:
        """What this fault does to a frame it hits; every concrete fault overrides it."""
        raise NotImplementedError(f"{type(self).__name__} must define transform")


@dataclass
class Drop(LinkFault):
    name = "drop"

    def transform(self, fate: Fate, v: float) -> Fate:
        return Fate((), "drop")


@dataclass
class BurstDrop(LinkFault):
    """Bursty loss (a Gilbert-Elliott channel in time): each link alternates between *good*
    and *bad* periods of exponentially distributed length (means ``mean_good`` and
    ``mean_bad`` seconds); frames sent during a bad period are lost with ``probability``.

    Periods are timed rather than counted in frames so that a burst is an outage of the link,
    whatever its traffic: a per-frame chain would keep a quiet link "bad" for as long as it
    stays quiet. The period boundaries are drawn lazily from the link's generator, in time
    order, so they depend only on the seed and the link's send times.
    """

    mean_good: float = 2.0
    mean_bad: float = 0.1
    name = "burst_drop"
    _numbers = ("mean_good", "mean_bad")

    def __post_init__(self) -> None:
        super().__post_init__()
        if not (self.mean_good > 0 and self.mean_bad > 0):
            raise ConfigError("burst_drop: mean_good and mean_bad must be positive seconds")
        self._period: dict[Link, tuple[bool, float]] = {}  # (bad?, period end)

    def _reset(self) -> None:
        self._period = {}

    def _extra(self) -> str:
        return f" mean_good={self.mean_good}s mean_bad={self.mean_bad}s"

    def _state_at(self, link: Link, t: float) -> bool:
        periods = self._rng((*link, "periods"))
        if link not in self._period:
            self._period[link] = (False, periods.expovariate(1 / self.mean_good))
        bad, end = self._period[link]
        while end <= t:
            bad = not bad
            end += periods.expovariate(1 / (self.mean_bad if bad else self.mean_good))
        self._period[link] = (bad, end)
        return bad

    def apply(self, src: PartyId, dst: PartyId, seq: int, now: float, fate: Fate) -> Fate:
        u = self._rng((src, dst)).random()
        bad = self._state_at((src, dst), now - self._t0)
        if not bad or not self._applies(src, dst, now) or u >= self.probability:
            return fate
        self.schedule.add(now - self._t0, self.name, src=src, dst=dst, seq=seq)
        return Fate((), self.name)


@dataclass
class Delay(LinkFault):
    """Adds ``delay`` plus up to ``jitter`` (uniform) seconds to the frame; the link stays
    first-in first-out, so frames sent after a delayed one queue behind it."""

    delay: float = 0.1
    jitter: float = 0.0
    name = "delay"
    _numbers = ("delay", "jitter")
    _non_negative = ("delay", "jitter")  # a negative delay would deliver before the send

    def _extra(self) -> str:
        return f" delay={self.delay}s jitter={self.jitter}s"

    def transform(self, fate: Fate, v: float) -> Fate:
        extra = self.delay + v * self.jitter
        return Fate(tuple((d + extra, b) for d, b in fate.copies), fate.reason)


@dataclass
class Reorder(Delay):
    """Holds a frame back so that frames sent after it overtake it (the one fault allowed to
    break a link's first-in first-out order; :class:`Delay` and :class:`Slow` keep it)."""

    delay: float = 0.05
    name = "reorder"

    def transform(self, fate: Fate, v: float) -> Fate:
        return Fate(fate.copies, fate.reason, fate.hold + self.delay + v * self.jitter)


@dataclass
class Duplicate(LinkFault):
    """Delivers a second copy of the frame ``gap`` seconds (times a uniform draw) later."""

    gap: float = 0.01
    name = "duplicate"
    _numbers = ("gap",)
    _non_negative = ("gap",)

    def transform(self, fate: Fate, v: float) -> Fate:
        if not fate.copies:
            return fate
        d, data = fate.copies[-1]
        return Fate((*fate.copies, (d + v * self.gap, data)), fate.reason)


@dataclass
class Corrupt(LinkFault):
    """Flips one bit at a seeded position of every copy of the frame."""

    name = "corrupt"

    def transform(self, fate: Fate, v: float) -> Fate:
        out = []
        for d, data in fate.copies:
            if not data:
                out.append((d, data))
                continue
            bit = int(v * len(data) * 8) % (len(data) * 8)
            buf = bytearray(data)
            buf[bit // 8] ^= 1 << (bit % 8)
            out.append((d, bytes(buf)))
        return Fate(tuple(out), fate.reason)


@dataclass
class Partition(LinkFault):
    """Cuts every link between ``side_a`` and ``side_b`` (both directions unless ``one_way``)
    from ``start`` until ``stop`` (the heal); frames on a cut link are lost."""

    side_a: Iterable[PartyId] = ()
    side_b: Iterable[PartyId] = ()
    one_way: bool = False
    name = "partition"

    def __post_init__(self) -> None:
        super().__post_init__()
        self._a, self._b = frozenset(self.side_a), frozenset(self.side_b)
        if not self._a or not self._b or self._a & self._b:
            raise ConfigError("partition: sides must be non-empty and disjoint")

    def _extra(self) -> str:
        return f" between {sorted(self._a)} and {sorted(self._b)}" + (
            " one-way" if self.one_way else ""
        )

    def _applies(self, src: PartyId, dst: PartyId, now: float) -> bool:
        cut = (src in self._a and dst in self._b) or (
            not self.one_way and src in self._b and dst in self._a
        )
        t = now - self._t0
        return cut and self.start <= t < self.stop

    def transform(self, fate: Fate, v: float) -> Fate:
        return Fate((), "partition")


@dataclass
class Slow(Delay):
    """A slow party: every frame it sends is held ``delay`` seconds; the runner also multiplies
    its compute cost by ``compute_factor``."""

    party: PartyId = 0
    compute_factor: float = 1.0
    name = "slow"

    _numbers = ("delay", "jitter", "compute_factor")

    def __post_init__(self) -> None:
        if self.src is not None and set(self.src) != {self.party}:
            # Slow is a property of one party: every frame *it* sends is held. A src that
            # names another party would slow someone else and charge this one's compute.
            raise ConfigError("slow: the slowed party is 'party'; do not give 'src'")
        self.src = [self.party]
        super().__post_init__()
        if not self.compute_factor > 0:
            raise ConfigError(f"slow: compute_factor must be positive, got {self.compute_factor}")


@dataclass
class Crash:
    """Crash ``party``: when it first sends an envelope of ``phase`` (and ``round``, if given),
    at virtual second ``at``, or at a seeded random time in ``[0, random_within)``.

    ``mode="silent"`` stops the party without closing anything (peers learn by timeouts);
    ``mode="reset"`` also closes its transport (peers' sends fail at once, like a TCP reset).
    """

    party: PartyId
    phase: str | None = None
    round: int | None = None
    at: float | None = None
    random_within: float | None = None
    mode: str = "silent"

    def __post_init__(self) -> None:
        if self.mode not in ("silent", "reset"):
            raise ConfigError("crash: mode must be 'silent' or 'reset'")
        if sum(x is not None for x in (self.phase, self.at, self.random_within)) != 1:
            raise ConfigError("crash: give exactly one of phase, at, random_within")
        if self.round is not None and self.phase is None:
            raise ConfigError("crash: round applies only with phase (it would be ignored)")
        if self.phase is not None and not isinstance(self.phase, str):
            raise ConfigError(f"crash: phase must be a string, got {self.phase!r}")
        if self.round is not None and (
            isinstance(self.round, bool) or not isinstance(self.round, int) or self.round < 0
        ):
            raise ConfigError(f"crash: round must be a non-negative integer, got {self.round!r}")
        if self.at is not None and not (_is_number(self.at) and self.at >= 0):
            raise ConfigError(f"crash: at must be a non-negative number, got {self.at!r}")
        if self.random_within is not None and not (
            _is_number(self.random_within) and self.random_within > 0
        ):
            raise ConfigError(
                f"crash: random_within must be a positive number, got {self.random_within!r}"
            )

    def time(self, seed: int) -> float | None:
        if self.at is not None:
            return self.at
        if self.random_within is not None:
            return derive_rng(seed, "crash", self.party).random() * self.random_within
        return None

    def describe(self, seed: int) -> str:
        when = (
            f"on sending phase {self.phase!r}"
            + ("" if self.round is None else f" round {self.round}")
            if self.phase is not None
            else f"at t={self.time(seed):.6f}s"
        )
        return f"crash party {self.party} ({self.mode}) {when}"


class CrashTrigger(Transport):
    """Top of a party's stack: calls ``on_crash`` (which cancels the party) when its crash fires.

    A phase/round crash fires on the first outgoing envelope whose header matches, before that
    envelope leaves; a timed crash is armed by the runner with :meth:`arm_timer`.
    """

    def __init__(
        self,
        inner: Transport,
        crash: Crash,
        on_crash: Callable[[], None],
        schedule: FaultSchedule,
        peek: Callable[[bytes], Any] | None = None,
    ) -> None:
        self.inner, self.crash, self.on_crash, self.schedule = inner, crash, on_crash, schedule
        self.local_id, self.peers, self.max_frame = inner.local_id, inner.peers, inner.max_frame
        self.crashed = False
        if peek is None:
            from coopetition.engine.wire import peek_header as peek
        self._peek = peek
        self._t0 = trio.current_time()

    async def connect(self) -> None:
        await self.inner.connect()

    async def send(self, peer: PartyId, data: bytes) -> None:
        if not self.crashed and self.crash.phase is not None:
            header = self._peek(data)
            if header.phase == self.crash.phase and (
                self.crash.round is None or header.round == self.crash.round
            ):
                await self.fire(f"phase {header.phase} round {header.round}")
        if self.crashed:
            await trio.sleep_forever()  # a crashed party never sends (cancelled by on_crash)
        await self.inner.send(peer, data)

    async def receive(self) -> Frame:
        if self.crashed:
            await trio.sleep_forever()
        return await self.inner.receive()

    async def aclose(self) -> None:
        await self.inner.aclose()

    async def fire(self, why: str) -> None:
        if self.crashed:
            return
        self.crashed = True
        self.schedule.add(
            trio.current_time() - self._t0,
            "crash",
            party=self.local_id,
            mode=self.crash.mode,
            trigger=why,
        )
        if self.crash.mode == "reset":
            with trio.CancelScope(shield=True):
                await self.inner.aclose()
        self.on_crash()

    async def arm_timer(self) -> None:
        """Run in the party's nursery: fires a timed crash."""
        when = self.crash.time(self.schedule.seed)
        if when is None:
            return
        await trio.sleep_until(self._t0 + when)
        await self.fire(f"t={when:.6f}s")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def ideal_topology(party_ids: Sequence[PartyId]) -> Topology:
    """A lossless, instantaneous network: wraps a transport in faults only (``open_wan(...,
    ideal_topology(ids), faults=[...])``)."""
    return Topology.uniform(party_ids, LinkSpec(latency=1e-6), name="ideal")


def perturb(payload: Any) -> Any:
    """A payload of the same shape and type that differs from ``payload`` (for Byzantine tests):
    numbers moved by one (NaN and infinities become 0), bytes bit-flipped, strings extended,
    containers changed in their first element (by sorted key for maps), ``None`` replaced by 0.

    A Byzantine event is logged only when the payload really changed, so this raises
    ``ConfigError`` for a type it cannot change rather than hand the payload back untouched.
    """
    changed = _perturbed(payload)
    if _same(changed, payload):
        raise ConfigError(f"perturb: cannot change a payload of type {type(payload).__name__}")
    return changed


def _perturbed(payload: Any) -> Any:
    import numpy as np

    if isinstance(payload, np.ndarray):
        if payload.dtype == np.bool_:
            return ~payload
        if payload.size == 0:
            return np.zeros(1, dtype=payload.dtype)
        if not np.issubdtype(payload.dtype, np.number):
            out = payload.copy()
            out.reshape(-1)[0] = _perturbed(out.reshape(-1)[0])
            return out
        out = payload + 1
        # x + 1 is x again for NaN, infinities and floats beyond 2**53: those become 0.
        stuck = ~np.isfinite(out) | (out == payload)
        out[stuck] = 0
        return out
    if isinstance(payload, (bool, np.bool_)):
        return type(payload)(not payload)
    if isinstance(payload, (int, np.integer)):
        return payload + 1
    if isinstance(payload, (float, np.floating)):
        if not np.isfinite(payload) or payload + 1 == payload:
            return type(payload)(0.0 if payload != 0 else 1.0)
        return payload + 1
    if isinstance(payload, complex):
        return payload + 1
    if payload is None:
        return 0
    if isinstance(payload, (bytes, bytearray)):
        return type(payload)(bytes([payload[0] ^ 1]) + bytes(payload[1:]) if payload else b"\x00")
    if isinstance(payload, str):
        return payload + "!"
    if isinstance(payload, (list, tuple)):
        items = [_perturbed(payload[0]), *payload[1:]] if payload else [0]
        return type(payload)(items) if type(payload) in (list, tuple) else items
    if isinstance(payload, dict):
        if not payload:
            return {"x": 0}
        first = sorted(payload, key=repr)[0]
        return {**payload, first: _perturbed(payload[first])}
    raise ConfigError(f"perturb: cannot change a payload of type {type(payload).__name__}")


def _same(a: Any, b: Any) -> bool:
    """Structural equality that treats NaN as equal to NaN (so NaN -> NaN counts as unchanged)."""
    import numpy as np

    if type(a) is not type(b):
        return False
    if isinstance(a, np.ndarray):
        if a.shape != b.shape or a.dtype != b.dtype:
            return False
        if np.issubdtype(a.dtype, np.inexact):
            return bool(np.array_equal(a, b, equal_nan=True))
        return bool(np.array_equal(a, b))
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (float, np.floating)) and a != a and b != b:
        return True
    return bool(a == b)


@dataclass
class Byzantine:
    """A payload rewrite on ``party``'s outgoing messages of ``phase`` (and ``round``/``tag`` if
    given), applied after the protocol built the payload and before signing.

    ``action``: ``equivocate`` sends the perturbed payload only to ``targets`` (default: the
    lower half of the other parties) and the true one to the rest; ``tamper`` sends the perturbed
    payload to every peer; ``nan`` sends float arrays replaced by NaNs (a malformed value). In
    every action the sender's own record (the hook called with ``peer == party``) keeps the true
    payload: that is what a cheater signs as "sent", and what honest parties catch it with.
    """

    party: PartyId
    phase: str
    round: int | None = None
    tag: str | None = None
    action: str = "equivocate"
    targets: Sequence[PartyId] | None = None

    def __post_init__(self) -> None:
        if self.action not in ("equivocate", "tamper", "nan"):
            raise ConfigError("byzantine: action must be equivocate, tamper or nan")
        if not isinstance(self.phase, str):
            raise ConfigError(f"byzantine: phase must be a string, got {self.phase!r}")
        if self.round is not None and (
            isinstance(self.round, bool) or not isinstance(self.round, int) or self.round < 0
        ):
            raise ConfigError(
                f"byzantine: round must be a non-negative integer, got {self.round!r}"
            )
        if self.tag is not None and not isinstance(self.tag, str):
            raise ConfigError(f"byzantine: tag must be a string, got {self.tag!r}")
        if self.targets is not None:
            if self.action != "equivocate":
                raise ConfigError("byzantine: targets apply only to action 'equivocate'")
            if self.party in self.targets:
                raise ConfigError("byzantine: targets must not include the Byzantine party")

    def check_peers(self, peers: Sequence[PartyId]) -> None:
        """Raise ``ConfigError`` unless the targets make sense for a run of ``peers``."""
        others = sorted(p for p in peers if p != self.party)
        targets = set(self.targets if self.targets is not None else others[: len(others) // 2])
        if not targets <= set(others):
            raise ConfigError(f"byzantine: targets {sorted(targets - set(others))} are not peers")
        if self.action == "equivocate" and not (targets and set(others) - targets):
            raise ConfigError(
                "byzantine equivocation needs a non-empty proper subset of peers "
                "as targets (some peers must get the true payload)"
            )

    def describe(self) -> str:
        where = f"phase {self.phase!r}" + ("" if self.round is None else f" round {self.round}")
        return f"byzantine party {self.party}: {self.action} on {where}"

    def hook(
        self, schedule: FaultSchedule, peers: Sequence[PartyId]
    ) -> Callable[[Any, Any, PartyId], Any]:
        import numpy as np

        self.check_peers(peers)
        others = sorted(p for p in peers if p != self.party)
        targets = set(self.targets if self.targets is not None else others[: len(others) // 2])

        def rewrite(header: Any, payload: Any, peer: PartyId) -> Any:
            if header.phase != self.phase or (
                self.round is not None and header.round != self.round
            ):
                return payload
            if self.tag is not None and header.tag != self.tag:
                return payload
            if self.tag is None and "#" in header.tag:
                return payload  # leave the runtime's echo/evidence messages alone by default
            if peer == self.party:
                # The engine asks for the copy the sender records (and signs as what it sent):
                # a Byzantine party keeps the true one, so what peers receive differs from it
                # and the echo round can prove the equivocation.
                return payload
            if self.action == "equivocate" and peer not in targets:
                return payload
            schedule.add(
                trio.current_time() - schedule_t0,
                "byzantine",
                party=self.party,
                peer=peer,
                action=self.action,
                phase=header.phase,
                round=header.round,
                tag=header.tag,
            )
            if self.action == "nan" and isinstance(payload, np.ndarray):
                return np.full_like(payload, np.nan, dtype=np.float64)
            return perturb(payload)

        schedule_t0 = trio.current_time()
        return rewrite
