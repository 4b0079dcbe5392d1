"""What a party is configured with: its identity and roster, the session, and every deadline.

Also the shape of what ``Party.run`` drives (``ProtocolRun``) and of the hooks a party takes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from nacl.signing import VerifyKey

from coopetition.engine.errors import ConfigError, PartyId
from coopetition.engine.identity import Identity
from coopetition.engine.machine import PhaseMachine
from coopetition.engine.wire import EnvelopeHeader

__all__ = [
    "MAX_DECLARED_PHASE_SECONDS",
    "Deadlines",
    "PartyConfig",
    "PayloadHook",
    "PhaseObserver",
    "ProtocolRun",
]

#: Byzantine test hook: ``hook(header, payload, destination) -> payload`` rewrites what this party
#: sends after the protocol built it and before signing. It is called once per destination, and for
#: a broadcast also with ``destination == own id`` for the copy the party records as what it said;
#: returning the payload object unchanged keeps the honest (signed-once) path.
PayloadHook = Callable[[EnvelopeHeader, Any, PartyId], Any]
PhaseObserver = Callable[[PartyId, str, int, str], None]


class ProtocolRun(Protocol):
    """What ``Party.run`` drives."""

    name: str

    def phases(self) -> Generator[PhaseMachine, Any, Any]: ...


#: Ceiling on a budget a protocol declares for one of its phases (one week): whatever shape a
#: run agrees on, every wait stays bounded. An explicit ``Deadlines.phases`` entry is not capped.
MAX_DECLARED_PHASE_SECONDS = 7 * 24 * 3600.0


@dataclass(frozen=True)
class Deadlines:
    """Every wait of a run is bounded by one of these (seconds on trio's clock).

    A phase's limit (``phase_limit``) is, in this order: the user's explicit entry for that
    phase name in ``phases``; else the budget the protocol declared on the phase machine
    (``PhaseMachine.budget``, derived from the run's agreed public shape) times
    ``budget_scale``, never below ``phase`` and never above ``MAX_DECLARED_PHASE_SECONDS``;
    else ``phase``. docs/faults.md ("Phase budgets") gives the reasons.
    """

    phase: float = 600.0
    heartbeat_interval: float = 2.0
    heartbeat_timeout: float = 60.0
    finish: float = 60.0
    abort_send: float = 5.0
    #: bound on one send; by default the largest value that keeps heartbeats to the other peers
    #: on time while a send to one peer is blocked, capped at 20 s
    send: float | None = None
    #: multiplies every budget a protocol declares (``[deadlines] budget_scale``)
    budget_scale: float = 1.0
    #: explicit limits by phase name (``[deadlines.phases]``), e.g. ``{"helen-input": 7200}``
    phases: Mapping[str, float] = field(default_factory=dict, hash=False)

    @property
    def send_limit(self) -> float:
        """``send`` once defaulted (always a number after construction)."""
        assert self.send is not None
        return self.send

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
            _check_seconds(f"deadline {name}", getattr(self, name))
        _check_seconds("deadline budget_scale", self.budget_scale, unit="factor")
        if not isinstance(self.phases, Mapping):
            raise ConfigError("deadline phases must be a table of phase name = seconds")
        for name, value in self.phases.items():
            if not (isinstance(name, str) and name):
                raise ConfigError(f"deadline phases: {name!r} is not a phase name")
            _check_seconds(f"deadline phases.{name}", value)
        object.__setattr__(self, "phases", dict(self.phases))
        if self.heartbeat_timeout <= self.heartbeat_interval:
            raise ConfigError("heartbeat_timeout must exceed heartbeat_interval")
        if self.send_limit + self.heartbeat_interval >= self.heartbeat_timeout:
            # a send blocked on one peer delays heartbeats to the others by up to `send`; they
            # must not time out on us before we time out on the blocking peer
            raise ConfigError("send + heartbeat_interval must be below heartbeat_timeout")

    def phase_limit(self, phase: str, declared: float | None = None) -> tuple[float, str]:
        """Seconds phase ``phase`` may take, and where that figure came from.

        ``declared`` is the machine's own budget (``PhaseMachine.budget``). The source is
        ``"configured"`` (an explicit ``phases`` entry), ``"declared"`` (the protocol's budget
        after ``budget_scale`` and the floor/ceiling) or ``"default"`` (``phase``).
        """
        if phase in self.phases:
            return float(self.phases[phase]), "configured"
        if declared is None:
            return float(self.phase), "default"
        _check_seconds(f"the budget declared for phase {phase}", declared)
        scaled = min(declared * self.budget_scale, MAX_DECLARED_PHASE_SECONDS)
        return max(float(self.phase), scaled), "declared"


def _check_seconds(what: str, value: object, *, unit: str = "number of seconds") -> None:
    """A positive, finite number (bools are not numbers here); one-line ``ConfigError``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{what} must be a positive {unit}, got {value!r}")
    if not (math.isfinite(value) and value > 0):
        raise ConfigError(f"{what} must be a positive, finite {unit}, got {value!r}")


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
