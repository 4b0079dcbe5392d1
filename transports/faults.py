"""Seeded, composable fault injection: link faults for the WAN simulator and party faults for runs.

*Link faults* (:class:`Drop`, :class:`BurstDrop`, :class:`Delay`, :class:`Duplicate`, :class:`Reorder`,
:class:`Corrupt`, :class:`Partition`, :class:`Slow`) are pure decisions consulted by the
:class:`~coopetition.transports.wan.WanSimulator` task for every frame, in the order given, each
drawing from its own generator keyed by ``(seed, fault index, link)``: so a fault's decisions for
a link depend only on the seed and the frame's position on that link, never on trio's scheduling.
Wrap any transport in them alone with ``open_wan(inners, ideal_topology(ids), faults=[...])``.

*Party faults* act on a party rather than a link: :class:`Crash` and its wrapper
:class:`CrashTrigger` live in :mod:`coopetition.transports.crash` (re-exported here);
:class:`Slow` also multiplies the party's compute cost; the Byzantine payload rewrite is
``coopetition.sims.byzantine`` (it acts on the engine's envelopes, above this layer).

Every fault that fires appends to one :class:`FaultSchedule`, printed and saved with the run, so a
seed and a scenario identify the schedule and the transcript exactly.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from coopetition.transports.crash import Crash, CrashTrigger
from coopetition.transports.errors import ConfigError, PartyId
from coopetition.transports.topology import Fate, LinkSpec, SimulatorView, Topology, derive_rng

Link = tuple[PartyId, PartyId]

#: ``Crash``/``CrashTrigger`` live in ``transports.crash`` and are re-exported here; the
#: Byzantine payload fault moved to ``coopetition.sims.byzantine`` (it acts on engine envelopes).
__all__ = [
    "BurstDrop",
    "Corrupt",
    "Crash",
    "CrashTrigger",
    "Delay",
    "Drop",
    "Duplicate",
    "LinkFault",
    "Partition",
    "Reorder",
    "Slow",
    "ideal_topology",
]


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
        self._sim: SimulatorView | None = None
        self._index = 0
        self._t0 = 0.0

    def bind(self, sim: SimulatorView, index: int) -> None:
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
    _numbers: ClassVar[tuple[str, ...]] = ("mean_good", "mean_bad")

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
    _numbers: ClassVar[tuple[str, ...]] = ("delay", "jitter")
    _non_negative: ClassVar[tuple[str, ...]] = (
        "delay",
        "jitter",
    )  # a negative delay would deliver before the send

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
    _numbers: ClassVar[tuple[str, ...]] = ("gap",)
    _non_negative: ClassVar[tuple[str, ...]] = ("gap",)

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
        out: list[tuple[float, bytes]] = []
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

    _numbers: ClassVar[tuple[str, ...]] = ("delay", "jitter", "compute_factor")

    def __post_init__(self) -> None:
        if self.src is not None and set(self.src) != {self.party}:
            # Slow is a property of one party: every frame *it* sends is held. A src that
            # names another party would slow someone else and charge this one's compute.
            raise ConfigError("slow: the slowed party is 'party'; do not give 'src'")
        self.src = [self.party]
        super().__post_init__()
        if not self.compute_factor > 0:
            raise ConfigError(f"slow: compute_factor must be positive, got {self.compute_factor}")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def ideal_topology(party_ids: Sequence[PartyId]) -> Topology:
    """A lossless, instantaneous network: wraps a transport in faults only (``open_wan(...,
    ideal_topology(ids), faults=[...])``)."""
    return Topology.uniform(party_ids, LinkSpec(latency=1e-6), name="ideal")
