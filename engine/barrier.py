"""The end of a run as sans-IO machines: the finish barrier and the failure detector.

``FinishBarrier``: a party that finished its last phase says ``done`` and waits until every peer
said so before connections may close; an abort a peer reports meanwhile (a *late abort*: the
peer failed after this party finished) still ends the run, as the peer's word (hearsay). Silence
past the finish deadline is ``DeadlineExceeded`` naming the one missing party, if only one is.

``FailureDetector``: fed the times a peer was last heard and last greeted, it says at each tick
which peer has been silent too long and whether to send a heartbeat. Both are plain objects fed
by the party's tasks, so each case is a unit test without a clock or a network.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from coopetition.engine.errors import DeadlineExceeded, PartyId, PeerUnreachable, ProtocolAborted
from coopetition.engine.machine import (
    Abort,
    Action,
    Broadcast,
    Done,
    PhaseMachine,
    Started,
    TimedOut,
)

__all__ = [
    "DONE_TAG",
    "FailureDetector",
    "FinishBarrier",
    "FinishState",
    "PeerAborted",
    "PeerDone",
    "Tick",
]

#: the control message a party sends when it has finished its last phase
DONE_TAG = "done"


@dataclass(frozen=True, slots=True, kw_only=True)
class PeerDone:
    """``peer`` said it finished its last phase."""

    peer: PartyId


@dataclass(frozen=True, slots=True, kw_only=True)
class PeerAborted:
    """``error`` is the abort a peer reported (already judged: see ``engine.evidence``)."""

    error: ProtocolAborted


class FinishState(enum.Enum):
    START = "start"
    WAITING = "waiting"
    DONE = "done"
    ABORTED = "aborted"


@dataclass
class FinishBarrier(PhaseMachine):
    """Say ``done``, then wait for every peer's ``done`` (``Broadcast`` here is a control send)."""

    phase: ClassVar[str] = "finish"
    State: ClassVar[type[enum.Enum]] = FinishState
    TRANSITIONS: ClassVar[dict[tuple[Any, type], Any]] = {
        (FinishState.START, Started): ((FinishState.WAITING, FinishState.DONE), "_announce"),
        (FinishState.START, PeerDone): (FinishState.START, "_early"),
        (FinishState.START, PeerAborted): ((), "_aborted"),
        (FinishState.WAITING, PeerDone): ((FinishState.WAITING, FinishState.DONE), "_arrived"),
        (FinishState.WAITING, PeerAborted): ((), "_aborted"),
        (FinishState.WAITING, TimedOut): ((), "_late"),
    }

    finish_timeout: float = 60.0
    done_peers: set[PartyId] = field(default_factory=set, init=False)

    @property
    def missing(self) -> list[PartyId]:
        return sorted(set(self.peers) - self.done_peers)

    def _announce(self, _: Started) -> list[Action]:
        if not self.missing:
            return [Broadcast(tag=DONE_TAG, payload=None), Done()]
        self.move(FinishState.WAITING)
        return [Broadcast(tag=DONE_TAG, payload=None)]

    def _early(self, event: PeerDone) -> list[Action]:
        """A peer may finish before this party does: remember it."""
        self._note(event.peer)
        return []

    def _arrived(self, event: PeerDone) -> list[Action]:
        self._note(event.peer)
        if self.missing:
            self.move(FinishState.WAITING)
            return []
        return [Done()]

    def _note(self, peer: PartyId) -> None:
        if peer not in self.peers:
            raise ValueError(f"party {peer} is not a peer of party {self.party}")
        self.done_peers.add(peer)

    def _aborted(self, event: PeerAborted) -> list[Action]:
        return [Abort(error=event.error)]

    def _late(self, _: TimedOut) -> list[Action]:
        missing = self.missing
        return [
            Abort(
                error=DeadlineExceeded(
                    f"parties {missing} did not finish within {self.finish_timeout}s",
                    culprit=missing[0] if len(missing) == 1 else None,
                    phase="finish",
                )
            )
        ]


@dataclass(frozen=True, slots=True)
class Tick:
    """What the detector decided at one tick: a peer to give up on, and whether to greet."""

    suspect: PartyId | None
    greet: bool


@dataclass
class FailureDetector:
    """Heartbeat bookkeeping: silent for ``timeout`` seconds means unreachable.

    Peers in ``exempt`` (they said ``done`` and this party is finishing too) may fall silent and
    close their connections without being suspected.
    """

    peers: tuple[PartyId, ...]
    interval: float
    timeout: float
    start: float = 0.0
    last_seen: dict[PartyId, float] = field(default_factory=dict)
    last_sent: dict[PartyId, float] = field(default_factory=dict)
    exempt: set[PartyId] = field(default_factory=set)

    def __post_init__(self) -> None:
        for peer in self.peers:
            self.last_seen.setdefault(peer, self.start)

    def heard(self, peer: PartyId, now: float) -> None:
        self.last_seen[peer] = now

    def sent(self, peer: PartyId, now: float) -> None:
        self.last_sent[peer] = now

    def excuse(self, peers: Iterable[PartyId]) -> None:
        self.exempt.update(peers)

    def tick(self, now: float) -> Tick:
        """Check every peer first, then decide whether any peer needs a heartbeat."""
        for peer in self.peers:
            if peer not in self.exempt and now - self.last_seen[peer] > self.timeout:
                return Tick(suspect=peer, greet=False)
        greet = any(now - self.last_sent.get(p, -math.inf) >= self.interval for p in self.peers)
        return Tick(suspect=None, greet=greet)

    def unreachable(self, peer: PartyId, phase: str) -> PeerUnreachable:
        return PeerUnreachable(
            f"nothing heard from party {peer} for {self.timeout}s", culprit=peer, phase=phase
        )
