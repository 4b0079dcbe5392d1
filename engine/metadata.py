"""What a protocol says about itself, so simulations and the CLI need not know its names.

A protocol module declares one ``ProtocolInfo``: its phases in order, the tags each phase
sends, how many rounds each runs (once, or once per value of a scenario parameter such as
``iterations``), which phase marks progress, and the scenario parameters it accepts with their
defaults. ``sims/`` checks fault targets against it (a crash aimed at a phase that never sends
is refused at load time) and ``cli/`` prints progress from it. Adding a protocol adds one
``ProtocolInfo``; nothing in ``sims/`` or ``cli/`` names its phases.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from coopetition.engine.errors import ConfigError
from coopetition.engine.tags import echo_tag, evidence_tag

__all__ = ["PhaseInfo", "ProtocolInfo"]


@dataclass(frozen=True)
class PhaseInfo:
    """One phase: its name, the tags it sends, and ``repeat``: the scenario parameter giving its
    number of rounds (rounds ``0..n-1``), or ``None`` for a phase run once, as round 0."""

    name: str
    tags: tuple[str, ...] = ()
    repeat: str | None = None
    #: ``"round"``: a progress line per finished round; ``"milestone"``: one line when done
    progress: str | None = None

    def __post_init__(self) -> None:
        if self.progress not in (None, "round", "milestone"):
            raise ValueError(f"progress must be None, 'round' or 'milestone': {self.progress!r}")


@dataclass(frozen=True)
class ProtocolInfo:
    name: str
    phases: tuple[PhaseInfo, ...]
    #: scenario parameters the protocol accepts, with their defaults
    parameters: Mapping[str, Any] = field(default_factory=dict)
    #: checks a scenario's parameters (types, ranges, combinations), raising ``ConfigError``
    #: naming the key; ``None`` where ``sims/`` still checks them itself
    check: Callable[[Mapping[str, Any]], None] | None = None

    def phase(self, name: str) -> PhaseInfo:
        for info in self.phases:
            if info.name == name:
                return info
        raise KeyError(name)

    @property
    def sending_phases(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.phases if p.tags)

    def rounds(self, phase: str, parameters: Mapping[str, Any]) -> int:
        """How many rounds ``phase`` runs with these scenario parameters."""
        info = self.phase(phase)
        if info.repeat is None:
            return 1
        return int(parameters.get(info.repeat, self.parameters.get(info.repeat, 1)))

    def known_tags(self, phase: str) -> list[str]:
        """The phase's tags and the engine's echo/evidence tags derived from them."""
        tags = self.phase(phase).tags
        return [*tags, *(derive(t) for t in tags for derive in (echo_tag, evidence_tag))]

    def check_target(
        self,
        phase: str,
        round_: int | None,
        tag: str | None,
        parameters: Mapping[str, Any],
    ) -> None:
        """Refuse a phase, round or tag this protocol never sends: a fault there never fires."""
        if phase not in self.sending_phases:
            raise ConfigError(
                f"phase {phase!r} never sends a message in {self.name} (phases that do: "
                f"{', '.join(self.sending_phases)})"
            )
        info = self.phase(phase)
        rounds = self.rounds(phase, parameters)
        if round_ is not None and not 0 <= round_ < rounds:
            suffix = f" with {rounds} {info.repeat})" if info.repeat else ")"
            raise ConfigError(
                f"round {round_} never occurs in phase {phase!r} (rounds 0..{rounds - 1}" + suffix
            )
        if tag is not None and tag not in self.known_tags(phase):
            known = ", ".join(self.known_tags(phase))
            raise ConfigError(f"tag {tag!r} is never sent in phase {phase!r} (tags: {known})")
