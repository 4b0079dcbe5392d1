"""The one exception hierarchy of coopetition.

Two families under one base, as in h11/wsproto: *local misuse* (``ConfigError``: bad
configuration or input given by the caller; nothing was sent, nothing is lost) and *protocol
aborts* (``ProtocolAborted``: the run ended without a result). Aborts are split by *whose fault*
it was, as h11 splits ``LocalProtocolError`` from ``RemoteProtocolError``:

* remote misbehaviour, ``CheatingDetected`` (alias ``RemoteMisbehaviour``) and its children:
  a peer provably deviated; ``culprit`` names it and ``evidence`` holds signed frames;
* ``ConfigMismatch``: parties run with different public parameters; names the parameter and
  every party's value, blames nobody (who is "right" is not the engine's call);
* availability, ``Unavailable``: a peer went silent or crashed, or a deadline passed;
* ``LocalFailure``: this party's own bug or resource error (an unexpected exception in a
  handler is this, never cheating).

An abort received from a peer is re-raised locally as the same type with ``reported_by`` set; it
is then *hearsay* (``hearsay`` is true) and a cheating claim keeps its culprit only if the
evidence proves it (``coopetition.engine.evidence``).

Transport errors (``coopetition.transports.errors``, re-exported here) are their own family:
drivers translate them into aborts at the boundary.
"""

from __future__ import annotations

from typing import Any, ClassVar

from coopetition.transports.errors import (
    ConfigError,
    ConnectionClosed,
    CoopetitionError,
    FrameTooLarge,
    HandshakeFailed,
    PartyId,
    TransportError,
    UnknownPeer,
)

__all__ = [
    "ABORT_TYPES",
    "BroadcastInconsistent",
    "CheatingDetected",
    "ConfigError",
    "ConfigMismatch",
    "ConnectionClosed",
    "CoopetitionError",
    "DeadlineExceeded",
    "Equivocation",
    "FrameTooLarge",
    "HandshakeFailed",
    "LocalFailure",
    "MalformedMessage",
    "PartyId",
    "PeerCrashed",
    "PeerUnreachable",
    "ProtocolAborted",
    "ProtocolViolation",
    "RemoteMisbehaviour",
    "TransportError",
    "Unavailable",
    "UnknownPeer",
]

#: Every abort type by its wire code, filled in as classes are defined (see ``__init_subclass__``),
#: so an abort received from a peer is re-raised locally as the same type.
ABORT_TYPES: dict[str, type[ProtocolAborted]] = {}


class ProtocolAborted(CoopetitionError):
    """A run ended without a result.

    ``code`` is a stable snake_case name used on the wire; ``culprit`` is the party blamed (if
    any); ``evidence`` is a list of signed frames (bytes) that prove the blame to anyone holding
    the roster; ``reported_by`` is set when the abort was received from another party rather than
    detected here.
    """

    code: ClassVar[str] = "aborted"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "code" in cls.__dict__:  # only classes that name their own wire code
            existing = ABORT_TYPES.get(cls.code)
            if existing is not None and existing is not cls:
                raise TypeError(f"abort code {cls.code!r} is already used by {existing.__name__}")
            ABORT_TYPES[cls.code] = cls

    def __init__(
        self,
        reason: str,
        *,
        culprit: PartyId | None = None,
        evidence: list[bytes] | None = None,
        reported_by: PartyId | None = None,
        phase: str | None = None,
        round: int | None = None,
    ) -> None:
        self.reason = reason
        self.culprit = culprit
        self.evidence = list(evidence or [])
        self.reported_by = reported_by
        self.phase = phase
        self.round = round
        #: a culprit named by another party that this party could not verify
        self.claimed_culprit: PartyId | None = None
        super().__init__(self._describe())

    @property
    def hearsay(self) -> bool:
        """True for an abort another party reported: its claims are that party's word."""
        return self.reported_by is not None

    def _describe(self) -> str:
        parts = [self.reason]
        if self.culprit is not None:
            parts.append(f"culprit=party {self.culprit}")
        if self.claimed_culprit is not None:
            parts.append(f"party {self.claimed_culprit} accused without proof")
        if self.phase is not None:
            parts.append(f"phase={self.phase}")
        if self.round is not None:
            parts.append(f"round={self.round}")
        if self.reported_by is not None:
            parts.append(f"reported by party {self.reported_by}")
        return "; ".join(parts)

    def to_wire(self) -> dict[str, Any]:
        """The abort as a CBOR-encodable map (text keys only, no floats)."""
        return {
            "code": self.code,
            "reason": self.reason,
            "culprit": -1 if self.culprit is None else self.culprit,
            "evidence": self.evidence,
            "phase": self.phase or "",
            "round": -1 if self.round is None else self.round,
        }

    @staticmethod
    def from_wire(data: dict[str, Any], *, reported_by: PartyId) -> ProtocolAborted:
        """Rebuild a received abort as the matching local type (unknown codes stay generic)."""
        cls = ABORT_TYPES.get(str(data.get("code")), ProtocolAborted)
        extra = cls.extra_from_wire(data)
        culprit = data.get("culprit", -1)
        rnd = data.get("round", -1)
        evidence = data.get("evidence", [])
        return cls(
            str(data.get("reason", "")),
            culprit=None if not isinstance(culprit, int) or culprit < 0 else culprit,
            evidence=[e for e in evidence if isinstance(e, bytes)]
            if isinstance(evidence, list)
            else [],
            reported_by=reported_by,
            phase=str(data.get("phase") or "") or None,
            round=None if not isinstance(rnd, int) or rnd < 0 else rnd,
            **extra,
        )

    @classmethod
    def extra_from_wire(cls, data: dict[str, Any]) -> dict[str, Any]:
        """Constructor arguments of a subclass's own wire fields (none here)."""
        return {}


ABORT_TYPES[ProtocolAborted.code] = ProtocolAborted


class CheatingDetected(ProtocolAborted):
    """A party provably deviated from the protocol (bad proof, bad MAC, bad signature...)."""

    code = "cheating_detected"


#: The h11-style name of the family: the peer did it.
RemoteMisbehaviour = CheatingDetected


class Equivocation(CheatingDetected):
    """A party signed two different messages under one delivery key."""

    code = "equivocation"


class BroadcastInconsistent(CheatingDetected):
    """Parties received different contents for one broadcast round."""

    code = "broadcast_inconsistent"


class ProtocolViolation(CheatingDetected):
    """A party sent something the protocol does not allow (malformed payload, wrong phase)."""

    code = "protocol_violation"


class MalformedMessage(ProtocolViolation):
    """A received payload does not fit its tag's schema; ``culprit`` is the sender.

    On the wire it is a ``protocol_violation`` (it names no code of its own), so peers and
    scenario expectations see the same code as before schemas existed.
    """


class ConfigMismatch(ProtocolAborted):
    """Parties announced different values for a public parameter.

    ``parameter`` names it and ``values`` holds every party's value (as text), so a typo in one
    party's configuration reads as such rather than as cheating. Nobody is blamed.
    """

    code = "config_mismatch"

    def __init__(
        self,
        reason: str,
        *,
        parameter: str = "",
        values: dict[PartyId, str] | None = None,
        **kwargs: Any,
    ) -> None:
        self.parameter = parameter
        self.values = dict(values or {})
        super().__init__(reason, **kwargs)

    @classmethod
    def between(
        cls, parameter: str, values: dict[PartyId, Any], *, phase: str | None = None
    ) -> ConfigMismatch:
        """The mismatch for ``parameter`` given each party's value."""
        shown = {p: repr(v) for p, v in sorted(values.items())}
        listing = ", ".join(f"party {p}: {v}" for p, v in shown.items())
        return cls(
            f"parties disagree on parameter {parameter!r} ({listing})",
            parameter=parameter,
            values=shown,
            phase=phase,
        )

    def to_wire(self) -> dict[str, Any]:
        wire = super().to_wire()
        wire["parameter"] = self.parameter
        wire["values"] = [[p, v] for p, v in sorted(self.values.items())]
        return wire

    @classmethod
    def extra_from_wire(cls, data: dict[str, Any]) -> dict[str, Any]:
        values = data.get("values", [])
        pairs = {
            item[0]: str(item[1])
            for item in (values if isinstance(values, list) else [])
            if isinstance(item, list) and len(item) == 2 and isinstance(item[0], int)
        }
        return {"parameter": str(data.get("parameter", "")), "values": pairs}


class Unavailable(ProtocolAborted):
    """Availability: a peer went silent or crashed, or a deadline passed (not provable cheating)."""

    code = "unavailable"


class PeerUnreachable(Unavailable):
    """A peer could not be reached or stopped answering heartbeats."""

    code = "peer_unreachable"


class PeerCrashed(PeerUnreachable):
    """A peer's connection broke mid-run (process died, socket reset)."""

    code = "peer_crashed"


class DeadlineExceeded(Unavailable):
    """A phase or a wait did not finish within its deadline."""

    code = "deadline_exceeded"


class LocalFailure(ProtocolAborted):
    """This party failed on its own (a bug or resource error) and aborted the run.

    An unexpected exception in a machine's handler is this, never cheating. Received from a
    peer (``reported_by`` set) it names that peer as culprit: by its own word it ended the run.
    """

    code = "local_failure"
