"""Judging evidence: which signed frames prove what, and how much a peer's abort is worth.

Pure functions over frames and the roster, no I/O: used by the echo/dispute machine
(``engine.consistency``) and by the party when a peer's abort arrives. An honest party never
blames on another party's word: a claim of cheating keeps its culprit only if the evidence it
carries proves it here; otherwise the culprit is kept as ``claimed_culprit`` (hearsay).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from nacl.signing import VerifyKey

from coopetition.engine.bus import CONTROL_PHASE, Key
from coopetition.engine.errors import (
    CheatingDetected,
    Equivocation,
    LocalFailure,
    PartyId,
    ProtocolAborted,
)
from coopetition.engine.wire import Envelope, WireError, frame_digest, open_frame

__all__ = ["EvidenceJudge", "abort_message"]


@dataclass(frozen=True)
class EvidenceJudge:
    """What counts as evidence in one run: broadcasts of this session and protocol, signed."""

    session: bytes
    protocol: str
    verify_keys: dict[PartyId, VerifyKey]

    def envelope(self, frame: bytes) -> Envelope | None:
        """A frame offered as evidence, if it is a validly signed broadcast of *this* run.

        Frames from another session or protocol (replayed from an earlier run with the same
        keys), control frames and point-to-point frames (which legitimately differ per receiver
        under one key) prove nothing about equivocation here.
        """
        try:
            envelope = open_frame(frame, self.verify_keys)
        except WireError:
            return None
        header = envelope.header
        if (
            header.session != self.session
            or header.protocol != self.protocol
            or not header.is_broadcast
            or header.phase == CONTROL_PHASE
        ):
            return None
        return envelope

    def proves(self, frame: bytes, key: Key, digest: bytes) -> bool:
        """Whether ``frame`` is a signed broadcast under ``key`` whose digest is ``digest``."""
        envelope = self.envelope(frame)
        return envelope is not None and envelope.header.key == key and frame_digest(frame) == digest

    def adjudicate_abort(
        self,
        payload: dict[str, Any],
        sender: PartyId,
        held: Callable[[Key], bytes | None],
    ) -> ProtocolAborted:
        """A peer's abort: proven equivocation if its evidence shows one, else hearsay.

        Evidence proves equivocation when it holds two different validly signed broadcasts of
        this run under one key, or one that differs from the frame this party holds for that key
        (``held``). A claim of cheating that its evidence does not prove keeps its type but loses
        its culprit (kept as ``claimed_culprit``).
        """
        received = ProtocolAborted.from_wire(payload, reported_by=sender)
        by_key: dict[Key, bytes] = {}
        for evidence in received.evidence:
            envelope = self.envelope(evidence)
            if envelope is None:
                continue
            key = envelope.header.key
            others = [f for f in (by_key.get(key), held(key)) if f is not None]
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
            # the sender says it failed on its own: by its own word it is why the run ended (and
            # a cheater cannot hide behind "my fault, nobody to blame")
            received.culprit = sender
            received.args = (received._describe(),)
        return received


def abort_message(error: ProtocolAborted, max_frame: int) -> dict[str, Any]:
    """The abort's wire form, dropping evidence frames until it fits in one frame."""
    message = error.to_wire()
    budget = max_frame - 4096  # envelope, signature and the abort's own fields
    kept: list[bytes] = []
    for frame in message["evidence"]:
        if sum(map(len, kept)) + len(frame) <= budget:
            kept.append(frame)
    message["evidence"] = kept
    return message
