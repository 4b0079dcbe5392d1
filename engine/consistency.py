"""Consistent broadcast as a sans-IO machine: the digest echo and, on a difference, the dispute.

After a broadcast round delivered one message per sender, every party broadcasts the digests
it holds (the *echo*, under ``echo_tag(tag)``). When party j reports a digest for sender s that
differs from ours, both sides show the signed frame they hold (the *evidence*, under
``evidence_tag(tag)``): a validly signed second frame proves that s equivocated
(``Equivocation``, culprit s, both frames as evidence); an accuser that cannot back its echo
with a frame signed by s, or stays silent, lied about what it received
(``BroadcastInconsistent``, culprit j). A peer that sends no echo at all is unavailable
(``DeadlineExceeded`` naming it). The driver runs this machine inside every
``Gather(consistent=True)``, with the outer phase's name and round on its messages.

It is fed events like any phase machine, so each case is a unit test without a network:
an equivocating sender, a lying echoer, a silent peer, a peer that refuses the dispute.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, ClassVar

from coopetition.engine.errors import (
    BroadcastInconsistent,
    DeadlineExceeded,
    Equivocation,
    MalformedMessage,
    PartyId,
)
from coopetition.engine.evidence import EvidenceJudge
from coopetition.engine.machine import (
    Abort,
    Action,
    Broadcast,
    Done,
    Gather,
    PhaseMachine,
    Received,
    Started,
    TimedOut,
)
from coopetition.engine.schema import Bytes, Int, ListOf, Pair
from coopetition.engine.tags import ECHO_SUFFIX, EVIDENCE_SUFFIX, echo_tag, evidence_tag

__all__ = ["EchoCheck", "EchoState"]


class EchoState(enum.Enum):
    START = "start"
    ECHOING = "echoing"
    DISPUTING = "disputing"
    DONE = "done"
    ABORTED = "aborted"


@dataclass
class EchoCheck(PhaseMachine):
    """Check that every party received the same messages for ``(outer_phase, round, tag)``.

    ``held`` maps each sender of the round to ``(digest, frame)`` as this party holds them;
    ``judge`` verifies frames shown in a dispute; ``dispute_patience`` bounds the wait for them.
    """

    phase: ClassVar[str] = "echo"
    State: ClassVar[type[enum.Enum]] = EchoState
    TRANSITIONS: ClassVar[dict[tuple[Any, type], Any]] = {
        (EchoState.START, Started): (EchoState.ECHOING, "_echo"),
        (EchoState.ECHOING, Received): ((EchoState.DONE, EchoState.DISPUTING), "_compare"),
        (EchoState.ECHOING, TimedOut): ((), "_silent"),
        (EchoState.DISPUTING, Received): ((), "_judge"),
        (EchoState.DISPUTING, TimedOut): ((), "_refused"),
    }

    SCHEMAS: ClassVar[dict[str, Any]] = {
        ECHO_SUFFIX: ListOf(Pair(Int(), Bytes())),
        EVIDENCE_SUFFIX: ListOf(Pair(Int(), Bytes())),
    }

    outer_phase: str = ""
    tag: str = ""
    held: dict[PartyId, tuple[bytes, bytes]] = field(default_factory=dict)
    judge: EvidenceJudge | None = None
    dispute_patience: float = 5.0
    disputes: dict[PartyId, dict[PartyId, bytes]] = field(default_factory=dict, init=False)

    @property
    def senders(self) -> list[PartyId]:
        return sorted(self.held)

    def _where(self) -> dict[str, Any]:
        return {"phase": self.outer_phase, "round": self.round}

    def _echo(self, _: Started) -> list[Action]:
        mine = [[s, self.held[s][0]] for s in self.senders]
        tag = echo_tag(self.tag)
        return [
            Broadcast(tag=tag, payload=mine),
            Gather(tag=tag, senders=self.peers, broadcast=True, report_timeout=True),
        ]

    def _compare(self, event: Received) -> list[Action]:
        senders = self.senders
        for peer, theirs in sorted(event.messages.items()):
            if not _is_digest_list(theirs) or [s for s, _ in theirs] != senders:
                return [
                    Abort(
                        error=MalformedMessage(
                            f"malformed broadcast echo for tag {self.tag!r}",
                            culprit=peer,
                            **self._where(),
                        )
                    )
                ]
            for sender, their_digest in theirs:
                if self.held[sender][0] != their_digest:
                    self.disputes.setdefault(peer, {})[sender] = their_digest
        if not self.disputes:
            return [Done()]
        self.move(EchoState.DISPUTING)
        disputed = sorted({s for claims in self.disputes.values() for s in claims})
        tag = evidence_tag(self.tag)
        return [
            Broadcast(tag=tag, payload=[[s, self.held[s][1]] for s in disputed]),
            Gather(
                tag=tag,
                senders=tuple(sorted(self.disputes)),
                broadcast=True,
                patience=self.dispute_patience,
                report_timeout=True,
            ),
        ]

    def _silent(self, event: TimedOut) -> list[Action]:
        missing = sorted(event.missing)
        return [
            Abort(
                error=DeadlineExceeded(
                    f"no broadcast echo for {self.tag!r} from parties {missing} before the deadline",
                    culprit=missing[0] if len(missing) == 1 else None,
                    **self._where(),
                )
            )
        ]

    def _refused(self, event: TimedOut) -> list[Action]:
        culprit = sorted(event.missing)[0]
        return [
            Abort(
                error=BroadcastInconsistent(
                    f"parties disagree on broadcast {self.tag!r} and party {culprit} showed no "
                    "evidence",
                    culprit=culprit,
                    **self._where(),
                )
            )
        ]

    def _judge(self, event: Received) -> list[Action]:
        assert self.judge is not None, "EchoCheck needs a judge to settle a dispute"
        for accuser in sorted(self.disputes):
            frames = dict(_evidence_items(event.messages.get(accuser)))
            for sender, claimed in sorted(self.disputes[accuser].items()):
                frame = frames.get(sender)
                key = (self.outer_phase, self.round, self.tag, sender)
                if frame is None or not self.judge.proves(frame, key, claimed):
                    return [
                        Abort(
                            error=BroadcastInconsistent(
                                f"party {accuser} claimed a broadcast {self.tag!r} from party "
                                f"{sender} that it cannot show signed",
                                culprit=accuser,
                                **self._where(),
                            )
                        )
                    ]
                mine = self.held[sender][1]
                return [
                    Abort(
                        error=Equivocation(
                            f"party {sender} sent different signed broadcasts {self.tag!r} to "
                            "different parties",
                            culprit=sender,
                            evidence=[f for f in (mine, frame) if f],
                            **self._where(),
                        )
                    )
                ]
        raise AssertionError("a dispute without accusers")  # _compare only disputes with some


def _evidence_items(value: Any) -> list[tuple[PartyId, bytes]]:
    if not isinstance(value, list):
        return []
    return [(item[0], item[1]) for item in value if _is_pair(item)]


def _is_pair(item: Any) -> bool:
    return (
        isinstance(item, list)
        and len(item) == 2
        and isinstance(item[0], int)
        and isinstance(item[1], bytes)
    )


def _is_digest_list(value: Any) -> bool:
    return isinstance(value, list) and all(_is_pair(item) for item in value)
