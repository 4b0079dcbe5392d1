"""DSSGD's sharing round as a sans-IO machine: participants upload, the server averages.

A participant's noisy parameters go point to point to the server; the average comes back as a
consistent broadcast, so every party holds the same global model.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from coopetition.engine.errors import PartyId, ProtocolViolation
from coopetition.engine.machine import (
    Abort,
    Action,
    Broadcast,
    Compute,
    Computed,
    Done,
    Gather,
    PhaseMachine,
    Received,
    Send,
    Started,
)
from coopetition.engine.wire import encode_payload
from coopetition.protocols.dssgd.mechanism import DssgdConfig, noisy_local_update


class AgreeState(enum.Enum):
    START = "start"
    AGREEING = "agreeing"
    DONE = "done"
    ABORTED = "aborted"


@dataclass
class Agree(PhaseMachine):
    """Everyone broadcasts the public parameters; any difference aborts naming the sender."""

    phase: ClassVar[str] = "setup"
    State: ClassVar[type[enum.Enum]] = AgreeState
    TRANSITIONS: ClassVar[dict[tuple[Any, type], Any]] = {
        (AgreeState.START, Started): (AgreeState.AGREEING, "_announce"),
        (AgreeState.AGREEING, Received): (AgreeState.DONE, "_compare"),
    }

    public_parameters: dict[str, Any] = field(default_factory=dict)

    def _announce(self, _: Started) -> list[Action]:
        self.move(AgreeState.AGREEING)
        return [
            Broadcast(tag="parameters", payload=self.public_parameters),
            Gather(tag="parameters", senders=tuple(self.parties), consistent=True),
        ]

    def _compare(self, event: Received) -> list[Action]:
        mine = encode_payload(self.public_parameters)
        for sender, value in sorted(event.messages.items()):
            try:
                same = encode_payload(value) == mine
            except TypeError:
                same = False
            if not same:
                return [
                    Abort(
                        error=ProtocolViolation(
                            f"party {sender} announced other DSSGD parameters than party "
                            f"{self.party}",
                            culprit=sender,
                            phase=self.phase,
                        )
                    )
                ]
        return [Done(result=None)]


class ShareState(enum.Enum):
    START = "start"
    UPDATING = "updating"  # participant: local SGD and noise
    COLLECTING = "collecting"  # server: noisy uploads
    AWAITING = "awaiting"  # everyone: the global model
    DONE = "done"
    ABORTED = "aborted"


def _vector_ok(value: object, features: int, bound: float) -> bool:
    return (
        isinstance(value, np.ndarray)
        and value.dtype == np.float64
        and value.shape == (features,)
        and bool(np.isfinite(value).all())
        and bool(np.abs(value).max() <= bound)
    )


@dataclass
class Share(PhaseMachine):
    """One DSSGD iteration for a participant (``X``, ``y`` given) or the server (no data)."""

    phase: ClassVar[str] = "share"
    State: ClassVar[type[enum.Enum]] = ShareState
    TRANSITIONS: ClassVar[dict[tuple[Any, type], Any]] = {
        (ShareState.START, Started): (
            (ShareState.COLLECTING, ShareState.UPDATING),
            "_start",
        ),
        (ShareState.UPDATING, Computed): (ShareState.AWAITING, "_upload"),
        (ShareState.COLLECTING, Received): (ShareState.AWAITING, "_average"),
        (ShareState.AWAITING, Received): (ShareState.DONE, "_received"),
    }

    server: PartyId = 0
    participants: tuple[PartyId, ...] = ()
    config: DssgdConfig = field(default_factory=DssgdConfig)
    features: int = 0
    model: np.ndarray | None = None
    X: np.ndarray | None = None
    y: np.ndarray | None = None
    #: uploads beyond this are malformed (clip plus 60 noise scales: probability < e^-60)
    bound: float = 0.0

    def _start(self, _: Started) -> list[Action]:
        if self.party == self.server:
            self.move(ShareState.COLLECTING)
            return [Gather(tag="noisy_model", senders=self.participants)]
        self.move(ShareState.UPDATING)
        return [
            Compute(
                label="local_sgd",
                fn=noisy_local_update,
                args=(self.X, self.y, self.model, self.config, self.party, self.round),
            )
        ]

    def _upload(self, event: Computed) -> list[Action]:
        self.move(ShareState.AWAITING)
        return [
            Send(to=self.server, tag="noisy_model", payload=event.result),
            Gather(tag="global", senders=(self.server,), consistent=True),
        ]

    def _average(self, event: Received) -> list[Action]:
        total = np.zeros(self.features)
        for sender in self.participants:  # fixed order: reproducible bits
            value = event.messages[sender]
            if not _vector_ok(value, self.features, self.bound):
                return [self._violation(sender, "an upload that is not a bounded float64 vector")]
            total = total + value
        self.move(ShareState.AWAITING)
        return [
            Broadcast(tag="global", payload=total / len(self.participants)),
            Gather(tag="global", senders=(self.server,), consistent=True),
        ]

    def _received(self, event: Received) -> list[Action]:
        value = event.messages.get(self.server)
        if not _vector_ok(value, self.features, self.bound):
            return [self._violation(self.server, "a global model that is not a float64 vector")]
        return [Done(result=value)]

    def _violation(self, sender: PartyId, what: str) -> Abort:
        return Abort(
            error=ProtocolViolation(
                f"party {sender} sent {what}", culprit=sender, phase=self.phase, round=self.round
            )
        )
