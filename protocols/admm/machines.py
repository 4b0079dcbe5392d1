"""ADMM's phases as sans-IO machines: setup, local optimize, coordinate, release.

Every party broadcasts and gathers the same things and computes the consensus from all parties'
contributions summed in party-id order, so every honest party gets bit-identical z. Broadcast
rounds are checked for consistency (digest echo) by the driver before a machine sees them.
"""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from coopetition.engine.errors import (
    ConfigMismatch,
    LocalFailure,
    MalformedMessage,
    PartyId,
    ProtocolAborted,
    ProtocolViolation,
)
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
    Started,
)
from coopetition.engine.schema import Array, Bytes
from coopetition.engine.wire import encode_payload
from coopetition.protocols.admm.local import LocalSummary, local_step, summarise
from coopetition.protocols.admm.objective import Objective
from coopetition.protocols.admm.residuals import Consensus


class SetupState(enum.Enum):
    START = "start"
    AGREEING = "agreeing"
    SUMMARISING = "summarising"
    DONE = "done"
    ABORTED = "aborted"


@dataclass
class Setup(PhaseMachine):
    """Agree on the public training parameters, then summarise local data into (A_i, b_i)."""

    phase: ClassVar[str] = "setup"
    State: ClassVar[type[enum.Enum]] = SetupState
    TRANSITIONS: ClassVar[dict[tuple[Any, type], Any]] = {
        (SetupState.START, Started): (SetupState.AGREEING, "_announce"),
        (SetupState.AGREEING, Received): (SetupState.SUMMARISING, "_agree"),
        (SetupState.SUMMARISING, Computed): (SetupState.DONE, "_summarised"),
    }

    public_parameters: dict[str, Any] = field(default_factory=dict)
    X: np.ndarray | None = None
    y: np.ndarray | None = None
    rho: float = 1.0

    def _announce(self, _: Started) -> list[Action]:
        return [
            Broadcast(tag="parameters", payload=self.public_parameters),
            Gather(tag="parameters", senders=tuple(self.parties), consistent=True),
        ]

    def _agree(self, event: Received) -> list[Action]:
        mine = encode_payload(self.public_parameters)
        differing = sorted(p for p, v in event.messages.items() if not _same_encoding(v, mine))
        if differing:
            return [Abort(error=self._mismatch(event.messages, differing))]
        return [Compute(label="summarise", fn=summarise, args=(self.X, self.y, self.rho))]

    def _summarised(self, event: Computed) -> list[Action]:
        return [Done(result=event.result)]

    def _mismatch(self, announced: dict[PartyId, Any], differing: list[PartyId]) -> ProtocolAborted:
        """``ConfigMismatch`` naming the first parameter on which parties disagree.

        An announcement that is not a map of the same keys is not a configuration a party could
        hold: that one is a protocol violation by its sender.
        """
        mine_flat = _flatten(self.public_parameters)
        for sender in differing:
            theirs = announced[sender]
            if not isinstance(theirs, dict) or set(_flatten(theirs)) != set(mine_flat):
                return MalformedMessage(
                    f"party {sender} announced training parameters that are not a map of "
                    f"{sorted(mine_flat)}",
                    culprit=sender,
                    phase=self.phase,
                )
        theirs_flat = {p: _flatten(v) for p, v in announced.items()}
        for name in sorted(mine_flat):
            mine = encode_payload(mine_flat[name])
            if any(not _same_encoding(theirs_flat[p].get(name), mine) for p in differing):
                values = {p: _readable(flat.get(name)) for p, flat in theirs_flat.items()}
                return ConfigMismatch.between(name, values, phase=self.phase)
        return ConfigMismatch.between("parameters", announced, phase=self.phase)


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Nested parameter maps as ``{"objective.lam": value}``, so a mismatch names the leaf."""
    if not isinstance(value, dict):
        return {prefix: value}
    flat: dict[str, Any] = {}
    for key in sorted(value, key=str):
        flat.update(_flatten(value[key], f"{prefix}.{key}" if prefix else str(key)))
    return flat


def _readable(value: Any) -> Any:
    """Parameters travel as ``float.hex`` text; show them as numbers again."""
    if isinstance(value, str):
        try:
            return float.fromhex(value)
        except ValueError:
            return value
    return value


def _same_encoding(value: Any, encoded: bytes) -> bool:
    """Compare by canonical bytes: ``!=`` on arbitrary received values can raise (numpy arrays)."""
    try:
        return encode_payload(value) == encoded
    except TypeError:
        return False


class LocalState(enum.Enum):
    START = "start"
    OPTIMIZING = "optimizing"
    DONE = "done"
    ABORTED = "aborted"


@dataclass
class LocalOptimize(PhaseMachine):
    """w_i^{k+1} = A_i (b_i + rho (z^k - u_i^k)): local, no messages."""

    phase: ClassVar[str] = "local_optimize"
    State: ClassVar[type[enum.Enum]] = LocalState
    TRANSITIONS: ClassVar[dict[tuple[Any, type], Any]] = {
        (LocalState.START, Started): (LocalState.OPTIMIZING, "_optimize"),
        (LocalState.OPTIMIZING, Computed): (LocalState.DONE, "_optimized"),
    }

    summary: LocalSummary | None = None
    z: np.ndarray | None = None
    u: np.ndarray | None = None
    rho: float = 1.0

    def _optimize(self, _: Started) -> list[Action]:
        return [
            Compute(
                label="local_step", fn=local_step, args=(self.summary, self.z, self.u, self.rho)
            )
        ]

    def _optimized(self, event: Computed) -> list[Action]:
        return [Done(result=event.result)]


class CoordinateState(enum.Enum):
    START = "start"
    COLLECTING = "collecting"
    COMBINING = "combining"
    DONE = "done"
    ABORTED = "aborted"


def _consensus(contributions: list[np.ndarray], objective: Objective, rho: float) -> np.ndarray:
    total = np.zeros_like(contributions[0])
    for vector in contributions:  # fixed order: every party gets identical bits
        total = total + vector
    return objective.consensus(total / len(contributions), len(contributions), rho)


@dataclass
class Coordinate(PhaseMachine):
    """z^{k+1} = prox(mean_i(w_i^{k+1} + u_i^k)) from every party's broadcast contribution."""

    phase: ClassVar[str] = "coordinate"
    State: ClassVar[type[enum.Enum]] = CoordinateState
    TRANSITIONS: ClassVar[dict[tuple[Any, type], Any]] = {
        (CoordinateState.START, Started): (CoordinateState.COLLECTING, "_contribute"),
        (CoordinateState.COLLECTING, Received): (CoordinateState.COMBINING, "_collected"),
        (CoordinateState.COMBINING, Computed): (CoordinateState.DONE, "_combined"),
    }

    SCHEMAS: ClassVar[dict[str, Any]] = {"w_plus_u": Array("float64", ndim=1)}

    contribution: np.ndarray | None = None
    objective: Objective = field(default_factory=Objective)
    rho: float = 1.0
    bound: float = 1e12
    received: tuple[np.ndarray, ...] = ()

    def _contribute(self, _: Started) -> list[Action]:
        assert self.contribution is not None
        if not np.isfinite(self.contribution).all() or np.abs(self.contribution).max() > self.bound:
            # our own value blew up: a consequence of earlier inputs, never evidence against us
            return [
                Abort(
                    error=LocalFailure(
                        f"this party's contribution left the agreed bound {self.bound:g}",
                        phase=self.phase,
                        round=self.round,
                    )
                )
            ]
        return [
            Broadcast(tag="w_plus_u", payload=self.contribution),
            Gather(tag="w_plus_u", senders=tuple(self.parties), consistent=True),
        ]

    def _collected(self, event: Received) -> list[Action]:
        assert self.contribution is not None
        expected = self.contribution.shape
        vectors = []
        for sender in sorted(event.messages):
            value = event.messages[sender]
            if sender == self.party:
                vectors.append(value)
                continue
            if not (
                value.shape == expected
                and np.isfinite(value).all()
                and (value.size == 0 or np.abs(value).max() <= self.bound)
            ):
                return [
                    Abort(
                        error=ProtocolViolation(
                            f"party {sender} sent a contribution that is not a float64 vector of "
                            f"shape {expected} with entries within the agreed bound {self.bound:g}",
                            culprit=sender,
                            phase=self.phase,
                            round=self.round,
                        )
                    )
                ]
            vectors.append(value)
        self.received = tuple(vectors)
        return [Compute(label="consensus", fn=_consensus, args=(vectors, self.objective, self.rho))]

    def _combined(self, event: Computed) -> list[Action]:
        return [Done(result=Consensus(z=event.result, contributions=self.received))]


class ReleaseState(enum.Enum):
    START = "start"
    CONFIRMING = "confirming"
    DONE = "done"
    ABORTED = "aborted"


def model_digest(z: np.ndarray) -> bytes:
    return hashlib.sha256(np.ascontiguousarray(z, dtype="<f8").tobytes()).digest()


@dataclass
class Release(PhaseMachine):
    """Everyone confirms it holds the same final model before anyone uses it."""

    phase: ClassVar[str] = "release"
    State: ClassVar[type[enum.Enum]] = ReleaseState
    TRANSITIONS: ClassVar[dict[tuple[Any, type], Any]] = {
        (ReleaseState.START, Started): (ReleaseState.CONFIRMING, "_confirm"),
        (ReleaseState.CONFIRMING, Received): (ReleaseState.DONE, "_confirmed"),
    }

    SCHEMAS: ClassVar[dict[str, Any]] = {"model_digest": Bytes(size=32)}

    model: np.ndarray | None = None

    def _confirm(self, _: Started) -> list[Action]:
        assert self.model is not None
        return [
            Broadcast(tag="model_digest", payload=model_digest(self.model)),
            Gather(tag="model_digest", senders=tuple(self.parties), consistent=True),
        ]

    def _confirmed(self, event: Received) -> list[Action]:
        assert self.model is not None
        mine = model_digest(self.model)
        differing = sorted(p for p, digest in event.messages.items() if digest != mine)
        if differing:
            return [
                Abort(
                    error=ProtocolViolation(
                        f"parties {differing} hold a different final model than party {self.party}",
                        culprit=differing[0] if len(differing) == 1 else None,
                        phase=self.phase,
                    )
                )
            ]
        return [Done(result=self.model)]
