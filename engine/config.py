"""What a party is configured with: its identity and roster, the session, and every deadline.

Also the shape of what ``Party.run`` drives (``ProtocolRun``) and of the hooks a party takes.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any, Protocol

from nacl.signing import VerifyKey

from coopetition.engine.errors import ConfigError, PartyId
from coopetition.engine.identity import Identity
from coopetition.engine.machine import PhaseMachine
from coopetition.engine.wire import EnvelopeHeader

__all__ = ["Deadlines", "PartyConfig", "PayloadHook", "PhaseObserver", "ProtocolRun"]

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
    send: float | None = None

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
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and value > 0):
                raise ConfigError(f"deadline {name} must be a positive number of seconds")
        if self.heartbeat_timeout <= self.heartbeat_interval:
            raise ConfigError("heartbeat_timeout must exceed heartbeat_interval")
        if self.send_limit + self.heartbeat_interval >= self.heartbeat_timeout:
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
