"""Network descriptions shared by the WAN simulator and the link faults.

``LinkSpec``/``Topology`` say what a link is (latency, jitter, rate, loss), ``Fate`` is what
happens to one frame on a link, and ``LinkPolicy`` is the interface a link fault offers the
simulator. Kept apart from both ``wan`` and ``faults`` so that neither imports the other.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

from coopetition.transports.errors import ConfigError, PartyId, UnknownPeer
from coopetition.transports.schedule import FaultSchedule

__all__ = [
    "IDEAL",
    "PRESETS",
    "Fate",
    "Link",
    "LinkPolicy",
    "LinkSpec",
    "SimulatorView",
    "Topology",
    "derive_rng",
    "preset",
]

Link = tuple[PartyId, PartyId]


def derive_rng(seed: int, *parts: object) -> random.Random:
    """An independent generator for one component, keyed by hashing (seed, parts).

    Hashing rather than ``Random(seed + i)`` keeps streams of different links unrelated, and a
    string key never depends on Python's per-process hash randomisation.
    """
    key = ":".join(str(p) for p in (seed, *parts)).encode()
    return random.Random(int.from_bytes(hashlib.sha256(key).digest()[:16], "big"))


@dataclass(frozen=True, slots=True)
class LinkSpec:
    """Parameters of one directed link.

    ``latency`` is one-way propagation in seconds; ``jitter`` the standard deviation of a normal
    perturbation of it (truncated so the delay never goes below ``latency / 2``); ``bandwidth`` in
    bit/s (``None`` = infinite), shared by every frame on the link (FIFO serialisation);
    ``loss`` the probability a frame vanishes; ``reorder`` the probability a frame is held back
    by an extra ``reorder_delay`` so that later frames overtake it (otherwise the link is FIFO:
    jitter delays the frames behind a late one rather than letting them pass it).
    """

    latency: float = 0.0
    jitter: float = 0.0
    bandwidth: float | None = None
    loss: float = 0.0
    reorder: float = 0.0
    reorder_delay: float = 0.0

    def __post_init__(self) -> None:
        if self.latency < 0 or self.jitter < 0 or self.reorder_delay < 0:
            raise ConfigError("latency, jitter and reorder_delay must be non-negative")
        if self.bandwidth is not None and not self.bandwidth > 0:
            raise ConfigError("bandwidth must be positive (or None for unlimited)")
        for name in ("loss", "reorder"):
            value = getattr(self, name)
            if not 0.0 <= value < 1.0:
                raise ConfigError(f"{name} must be a probability in [0, 1), got {value}")

    def serialisation(self, size: int) -> float:
        return 0.0 if self.bandwidth is None else size * 8 / self.bandwidth


IDEAL = LinkSpec()


@dataclass(frozen=True)
class Topology:
    """Link parameters for every ordered pair of parties, plus optional per-host uplinks.

    ``uplink`` (bit/s per sending host) models a host whose broadcasts to m-1 peers share one
    network card: a frame's serialisation then starts only when both its link and its host's
    uplink are free, at the lower of the two rates.
    """

    party_ids: tuple[PartyId, ...]
    links: Mapping[Link, LinkSpec]
    uplink: Mapping[PartyId, float] = field(default_factory=dict)
    name: str = "custom"

    def __post_init__(self) -> None:
        for party, rate in self.uplink.items():
            if isinstance(rate, bool) or not isinstance(rate, int | float) or not rate > 0:
                raise ConfigError(
                    f"uplink of party {party} must be a positive bit rate, got {rate!r}"
                )

    def link(self, src: PartyId, dst: PartyId) -> LinkSpec:
        try:
            return self.links[(src, dst)]
        except KeyError:
            raise UnknownPeer(f"no link from party {src} to party {dst}", peer=dst) from None

    @classmethod
    def uniform(
        cls,
        party_ids: Iterable[PartyId],
        spec: LinkSpec,
        *,
        uplink: float | None = None,
        name: str = "uniform",
    ) -> Topology:
        ids = _check_ids(party_ids)
        links = {(a, b): spec for a in ids for b in ids if a != b}
        return cls(ids, links, {p: uplink for p in ids} if uplink is not None else {}, name)

    @classmethod
    def from_matrix(
        cls,
        party_ids: Iterable[PartyId],
        latency_ms: Sequence[Sequence[float]],
        *,
        bandwidth_mbps: float | Sequence[Sequence[float]] | None = None,
        jitter_ms: float = 0.0,
        loss: float = 0.0,
        uplink_mbps: float | None = None,
    ) -> Topology:
        """A topology from an m x m matrix of one-way latencies (row = sender) in milliseconds."""
        ids = _check_ids(party_ids)
        m = len(ids)
        if len(latency_ms) != m or any(len(row) != m for row in latency_ms):
            raise ConfigError(f"latency matrix must be {m}x{m} for parties {list(ids)}")
        if isinstance(bandwidth_mbps, Sequence) and (
            len(bandwidth_mbps) != m or any(len(row) != m for row in bandwidth_mbps)
        ):
            raise ConfigError(f"bandwidth matrix must be {m}x{m}")
        links = {}
        for i, a in enumerate(ids):
            for j, b in enumerate(ids):
                if a == b:
                    continue
                bw = (
                    bandwidth_mbps[i][j] if isinstance(bandwidth_mbps, Sequence) else bandwidth_mbps
                )
                links[(a, b)] = LinkSpec(
                    latency=float(latency_ms[i][j]) / 1e3,
                    jitter=jitter_ms / 1e3,
                    bandwidth=None if bw is None else float(bw) * 1e6,
                    loss=loss,
                )
        uplink = {p: uplink_mbps * 1e6 for p in ids} if uplink_mbps is not None else {}
        return cls(ids, links, uplink, "matrix")

    @classmethod
    def regions(
        cls,
        assignment: Mapping[PartyId, str],
        *,
        intra: LinkSpec,
        inter: LinkSpec | Mapping[tuple[str, str], LinkSpec],
        uplink: float | None = None,
        name: str = "regions",
    ) -> Topology:
        """Parties placed in named regions; ``inter`` is one spec or one per (region, region)."""
        ids = _check_ids(assignment)
        links: dict[Link, LinkSpec] = {}
        for a in ids:
            for b in ids:
                if a == b:
                    continue
                ra, rb = assignment[a], assignment[b]
                if ra == rb:
                    links[(a, b)] = intra
                elif isinstance(inter, LinkSpec):
                    links[(a, b)] = inter
                else:
                    spec = inter.get((ra, rb)) or inter.get((rb, ra))
                    if spec is None:
                        raise ConfigError(f"no inter-region link given for {ra} -> {rb}")
                    links[(a, b)] = spec
        return cls(ids, links, {p: uplink for p in ids} if uplink is not None else {}, name)

    def with_loss(self, loss: float) -> Topology:
        return replace(self, links={k: replace(v, loss=loss) for k, v in self.links.items()})


def _check_ids(party_ids: Iterable[PartyId]) -> tuple[PartyId, ...]:
    ids = tuple(party_ids)
    if len(ids) < 1 or len(set(ids)) != len(ids):
        raise ConfigError(f"party ids must be distinct and non-empty, got {list(ids)}")
    return ids


def _two_regions(party_ids: Iterable[PartyId]) -> dict[PartyId, str]:
    ids = list(party_ids)
    half = (len(ids) + 1) // 2
    return {p: ("us-west" if i < half else "us-east") for i, p in enumerate(ids)}


def preset(name: str, party_ids: Iterable[PartyId]) -> Topology:
    """Named topologies (parameters, not claims about any paper; see docs/simulation.md).

    * ``lan``: 0.1 ms one-way, 10 Gbit/s, no loss.
    * ``us-west-east``: parties split in two halves (Oregon / N. Virginia, as in Helen's
      experiments); 0.5 ms one-way and 10 Gbit/s inside a region, 35 ms +- 1 ms and 1 Gbit/s
      between regions.
    * ``wan-40mbps``: every host behind a 40 Mbit/s uplink (COPML's WAN), 20 ms +- 1 ms one-way.
    """
    ids = list(party_ids)
    if name == "lan":
        return Topology.uniform(ids, LinkSpec(latency=1e-4, bandwidth=10e9), name=name)
    if name == "us-west-east":
        return Topology.regions(
            _two_regions(ids),
            intra=LinkSpec(latency=0.5e-3, bandwidth=10e9),
            inter=LinkSpec(latency=35e-3, jitter=1e-3, bandwidth=1e9),
            name=name,
        )
    if name == "wan-40mbps":
        return Topology.uniform(
            ids, LinkSpec(latency=20e-3, jitter=1e-3, bandwidth=40e6), uplink=40e6, name=name
        )
    raise ConfigError(f"unknown network preset {name!r}; known: {', '.join(PRESETS)}")


PRESETS = ("lan", "us-west-east", "wan-40mbps")


@dataclass(frozen=True, slots=True)
class Fate:
    """What happens to one frame on a link: its copies, each ``(extra delay, bytes)``.

    An empty ``copies`` means the frame is lost; ``reason`` names the fault for the schedule.
    A copy's delay keeps the link first-in first-out (a later frame never arrives before it);
    ``hold`` is added after that, so a held-back frame is overtaken, as a reorder fault wants.
    """

    copies: tuple[tuple[float, bytes], ...]
    reason: str = ""
    hold: float = 0.0  # extra delay that lets later frames overtake (reordering on purpose)


class SimulatorView(Protocol):
    """What a link fault may read from the simulator it is bound to."""

    seed: int
    t0: float
    schedule: FaultSchedule


class LinkPolicy(Protocol):
    """A link fault as the simulator sees it: bound once per run, consulted once per frame."""

    def bind(self, sim: SimulatorView, index: int) -> None: ...

    def apply(self, src: PartyId, dst: PartyId, seq: int, now: float, fate: Fate) -> Fate: ...
