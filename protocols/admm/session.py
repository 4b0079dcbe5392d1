"""The ADMM protocol object a ``Party`` runs: phase machines in order, state between them."""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from coopetition.engine.errors import ConfigError, PartyId
from coopetition.engine.machine import PhaseMachine
from coopetition.protocols.admm.local import check_data
from coopetition.protocols.admm.machines import Coordinate, LocalOptimize, Release, Setup
from coopetition.protocols.admm.objective import Objective


@dataclass(frozen=True)
class AdmmConfig:
    """Public training parameters every party must agree on (checked in the setup phase)."""

    objective: Objective = field(default_factory=lambda: Objective("lasso", lam=1.0))
    rho: float = 1.0
    iterations: int = 10
    #: largest |entry| of a party's w_i + u_i; agreed in setup, so no party can push another's
    #: arithmetic to overflow (inputs beyond it abort naming their sender)
    contribution_bound: float = 1e12

    def __post_init__(self) -> None:
        if not (np.isfinite(self.rho) and self.rho > 0):
            raise ConfigError(f"rho must be a positive number, got {self.rho}")
        if not (
            isinstance(self.iterations, int)
            and not isinstance(self.iterations, bool)
            and 1 <= self.iterations <= 100_000
        ):
            raise ConfigError(
                f"iterations must be an integer in [1, 100000], got {self.iterations}"
            )
        if not (np.isfinite(self.contribution_bound) and self.contribution_bound > 0):
            raise ConfigError("contribution_bound must be a positive number")

    def public_parameters(self, features: int) -> dict[str, Any]:
        """A float-free description (floats travel as their exact hex form)."""
        objective = {
            k: (float(v).hex() if isinstance(v, float) else v)
            for k, v in asdict(self.objective).items()
        }
        return {
            "objective": objective,
            "rho": float(self.rho).hex(),
            "iterations": self.iterations,
            "contribution_bound": float(self.contribution_bound).hex(),
            "features": features,
        }


@dataclass(frozen=True)
class AdmmResult:
    model: np.ndarray
    iterations: int
    local_rows: int


class AdmmRun:
    """Plaintext consensus ADMM over the bus; ``phases()`` is the whole protocol."""

    name = "admm"

    def __init__(
        self,
        config: AdmmConfig,
        X: np.ndarray,
        y: np.ndarray,
        *,
        party: PartyId,
        parties: tuple[PartyId, ...],
    ) -> None:
        self.config = config
        self.X, self.y = check_data(X, y)
        self.party = party
        self.parties = tuple(sorted(parties))

    def phases(self) -> Generator[PhaseMachine, Any, AdmmResult]:
        cfg = self.config
        me, everyone = self.party, self.parties
        d = self.X.shape[1]
        summary = yield Setup(
            party=me,
            parties=everyone,
            public_parameters=cfg.public_parameters(d),
            X=self.X,
            y=self.y,
            rho=cfg.rho,
        )
        z = np.zeros(d)
        u = np.zeros(d)
        for k in range(cfg.iterations):
            w = yield LocalOptimize(
                party=me, parties=everyone, round=k, summary=summary, z=z, u=u, rho=cfg.rho
            )
            z = yield Coordinate(
                party=me,
                parties=everyone,
                round=k,
                contribution=w + u,
                objective=cfg.objective,
                rho=cfg.rho,
                bound=cfg.contribution_bound,
            )
            u = u + w - z
        model = yield Release(party=me, parties=everyone, round=0, model=z)
        return AdmmResult(model=model, iterations=cfg.iterations, local_rows=summary.rows)
