"""Agreed standardisation: every party scales its data by the pooled column statistics.

Helen and plaintext ADMM fit a model without intercept on normalised data. For a real session the
parties therefore agree on one scaling before training: each broadcasts its row count and its
columns' means and centred sums of squares (Chan et al.'s pairwise form, which combines exactly
without the cancellation of sum-of-squares formulas), and every party combines them in party-id
order into the same pooled means and standard deviations. What this reveals is stated in
docs/deployment.md: each party's row count and per-column mean and variance, of features and
target. The training parameters travel in the same broadcast and are compared first, so a party
with different parameters is refused before anyone uses its statistics.

The model trained on scaled data is mapped back to the original units (``unscale``): with
``x' = (x - mean_x) / scale_x`` and ``y' = y - mean_y``, ``y = intercept + x . coef`` holds for
``coef = w / scale_x`` and ``intercept = mean_y - mean_x . coef``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from coopetition.engine.errors import ProtocolViolation
from coopetition.engine.machine import (
    Abort,
    Action,
    Broadcast,
    Done,
    Gather,
    PhaseMachine,
    Received,
    Started,
)
from coopetition.engine.wire import encode_payload

#: how a session prepares the data: no change, centre (for an intercept), or standardise
SCALINGS = ("none", "center", "standardize")


@dataclass(frozen=True)
class ColumnStats:
    """Row count, column means and centred sums of squares of ``[X | y]``."""

    rows: int
    mean: np.ndarray
    m2: np.ndarray

    @classmethod
    def of(cls, X: np.ndarray, y: np.ndarray) -> ColumnStats:
        table = np.column_stack([X, y])
        mean = table.mean(axis=0)
        return cls(rows=table.shape[0], mean=mean, m2=((table - mean) ** 2).sum(axis=0))

    def payload(self) -> dict[str, Any]:
        return {"rows": self.rows, "mean": self.mean, "m2": self.m2}

    def merge(self, other: ColumnStats) -> ColumnStats:
        n = self.rows + other.rows
        delta = other.mean - self.mean
        mean = self.mean + delta * (other.rows / n)
        m2 = self.m2 + other.m2 + delta * delta * (self.rows * other.rows / n)
        return ColumnStats(n, mean, m2)


@dataclass(frozen=True)
class Scaling:
    """The agreed affine map of features and target (identity for ``none``)."""

    kind: str
    x_mean: np.ndarray
    x_scale: np.ndarray
    y_mean: float

    @classmethod
    def identity(cls, features: int) -> Scaling:
        return cls("none", np.zeros(features), np.ones(features), 0.0)

    @classmethod
    def from_pooled(cls, kind: str, pooled: ColumnStats) -> Scaling:
        mean_x, mean_y = pooled.mean[:-1], float(pooled.mean[-1])
        if kind == "center":
            return cls(kind, mean_x, np.ones_like(mean_x), mean_y)
        std = np.sqrt(pooled.m2[:-1] / pooled.rows)
        std[std == 0] = 1.0  # a constant column carries no signal; leave it centred
        return cls(kind, mean_x, std, mean_y)

    def apply(self, X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return (X - self.x_mean) / self.x_scale, y - self.y_mean

    def unscale(self, w: np.ndarray) -> tuple[np.ndarray, float]:
        """The model in the original units: (coefficients, intercept)."""
        coef = w / self.x_scale
        return coef, float(self.y_mean - self.x_mean @ coef)


def _valid_stats(value: Any, width: int) -> ColumnStats | None:
    if not isinstance(value, dict) or set(value) != {"rows", "mean", "m2"}:
        return None
    rows, mean, m2 = value["rows"], value["mean"], value["m2"]
    if isinstance(rows, bool) or not isinstance(rows, int) or rows < 1:
        return None
    for array in (mean, m2):
        if not (
            isinstance(array, np.ndarray)
            and array.dtype == np.float64
            and array.shape == (width,)
            and np.isfinite(array).all()
        ):
            return None
    if (m2 < 0).any():
        return None
    return ColumnStats(rows, mean, m2)


def _encodes_as(value: Any, encoded: bytes) -> bool:
    try:
        return encode_payload(value) == encoded
    except TypeError:
        return False


def _differing_keys(theirs: Any, mine: dict[str, Any], prefix: str = "") -> str:
    """Which parameters differ, by name only (values may be anything a peer chose to send)."""
    if not isinstance(theirs, dict):
        return prefix.rstrip(".") or "not a table"
    names = []
    for key in sorted(set(theirs) | set(mine), key=str):
        if key in theirs and key in mine:
            if isinstance(theirs[key], dict) and isinstance(mine[key], dict):
                inner = _differing_keys(theirs[key], mine[key], f"{prefix}{key}.")
                names += [inner] if inner else []
                continue
            if _encodes_as(theirs[key], encode_payload(mine[key])):
                continue
        names.append(f"{prefix}{key}")
    return ", ".join(names[:8])


class ScalingState(enum.Enum):
    START = "start"
    POOLING = "pooling"
    DONE = "done"
    ABORTED = "aborted"


@dataclass
class AgreeScaling(PhaseMachine):
    """Broadcast (parameters, local stats); check the parameters, pool the stats in id order."""

    phase: ClassVar[str] = "scaling"
    State: ClassVar[type[enum.Enum]] = ScalingState
    TRANSITIONS: ClassVar[dict[tuple[Any, type], Any]] = {
        (ScalingState.START, Started): (ScalingState.POOLING, "_announce"),
        (ScalingState.POOLING, Received): (ScalingState.DONE, "_pool"),
    }

    kind: str = "standardize"
    public_parameters: dict[str, Any] = field(default_factory=dict)
    local: ColumnStats | None = None

    def _announce(self, _: Started) -> list[Action]:
        assert self.local is not None
        self.move(ScalingState.POOLING)
        payload = {"parameters": self.public_parameters, "stats": self.local.payload()}
        return [
            Broadcast(tag="stats", payload=payload),
            Gather(tag="stats", senders=tuple(self.parties), consistent=True),
        ]

    def _pool(self, event: Received) -> list[Action]:
        assert self.local is not None
        mine = encode_payload(self.public_parameters)
        width = self.local.mean.shape[0]
        pooled: ColumnStats | None = None
        for sender in sorted(event.messages):
            value = event.messages[sender]
            params = value.get("parameters") if isinstance(value, dict) else None
            if params is None or not _encodes_as(params, mine):
                keys = _differing_keys(params, self.public_parameters) or "encoding"
                what = f"announced training parameters ({keys}) different from"
                return [self._refuse(sender, what)]
            stats = _valid_stats(value.get("stats"), width)
            if stats is None:
                return [self._refuse(sender, "sent malformed column statistics, unlike")]
            pooled = stats if pooled is None else pooled.merge(stats)
        assert pooled is not None
        return [Done(result=Scaling.from_pooled(self.kind, pooled))]

    def _refuse(self, sender: int, what: str) -> Abort:
        return Abort(
            error=ProtocolViolation(
                f"party {sender} {what} party {self.party}'s", culprit=sender, phase=self.phase
            )
        )
