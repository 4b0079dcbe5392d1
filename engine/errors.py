"""The one exception hierarchy of coopetition.

Two families under one base, as in h11/wsproto: *local misuse* (bad configuration or input given
by the caller: nothing was sent, nothing is lost) and *protocol aborts* (the run ended because a
peer misbehaved, vanished or a deadline passed). An abort carries the reason, the culprit when
one is known (a party id) and evidence a third party can check (signed frames), so that an abort
received from a peer can be re-raised locally as the same type with ``reported_by`` set.

Transport errors are their own family: drivers translate them into aborts at the boundary.
"""

from __future__ import annotations

from typing import Any, ClassVar

PartyId = int


class CoopetitionError(Exception):
    """Base of every error this package raises on purpose."""


class ConfigError(CoopetitionError, ValueError):
    """The caller gave a bad configuration, key, dataset or argument; nothing was run."""


class TransportError(CoopetitionError):
    """A transport failed; ``peer`` names the far end when there is one."""

    def __init__(self, message: str, *, peer: PartyId | None = None) -> None:
        super().__init__(message)
        self.peer = peer


class FrameTooLarge(TransportError):
    """A frame's announced length exceeds the transport's maximum; it was not read."""


class UnknownPeer(TransportError):
    """A connection or frame came from (or was addressed to) a party outside the roster."""


class HandshakeFailed(TransportError):
    """Mutual authentication with a peer failed (bad signature, wrong identity, timeout)."""


class ConnectionClosed(TransportError):
    """The connection to ``peer`` (or the whole transport) is closed."""


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
        )


ABORT_TYPES[ProtocolAborted.code] = ProtocolAborted


class CheatingDetected(ProtocolAborted):
    """A party provably deviated from the protocol (bad proof, bad MAC, bad signature...)."""

    code = "cheating_detected"


class Equivocation(CheatingDetected):
    """A party signed two different messages under one delivery key."""

    code = "equivocation"


class BroadcastInconsistent(CheatingDetected):
    """Parties received different contents for one broadcast round."""

    code = "broadcast_inconsistent"


class ProtocolViolation(CheatingDetected):
    """A party sent something the protocol does not allow (malformed payload, wrong phase)."""

    code = "protocol_violation"


class PeerUnreachable(ProtocolAborted):
    """A peer could not be reached or stopped answering heartbeats."""

    code = "peer_unreachable"


class PeerCrashed(PeerUnreachable):
    """A peer's connection broke mid-run (process died, socket reset)."""

    code = "peer_crashed"


class DeadlineExceeded(ProtocolAborted):
    """A phase or a wait did not finish within its deadline."""

    code = "deadline_exceeded"


class LocalFailure(ProtocolAborted):
    """This party failed on its own (a bug or resource error) and aborted the run."""

    code = "local_failure"
