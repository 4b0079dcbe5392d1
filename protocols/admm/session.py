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
from coopetition.protocols.admm.residuals import Consensus, ResidualTracker, RoundCheck
from coopetition.protocols.admm.scaling import SCALINGS, AgreeScaling, ColumnStats, Scaling


def _positive(value: float) -> bool:
    return bool(np.isfinite(value) and value > 0)


@dataclass(frozen=True)
class AdmmConfig:
    """Public training parameters every party must agree on (checked in the setup phase).

    ``iterations`` is the number of rounds, or with ``tolerance`` set the *most* rounds: the run
    then stops as soon as the primal and dual residuals are within ``tolerance`` (relative, Boyd
    et al. eq. 3.12, plus ``absolute_tolerance``). ``adaptive_rho`` retunes rho by residual
    balancing (``residuals``). Without ``tolerance`` the count is fixed, as Helen needs it public.
    ``scaling`` prepares the data by statistics the parties pool in a first phase (``scaling``).
    """

    objective: Objective = field(default_factory=lambda: Objective("lasso", lam=1.0))
    rho: float = 1.0
    iterations: int = 10
    #: largest |entry| of a party's w_i + u_i; agreed in setup, so no party can push another's
    #: arithmetic to overflow (inputs beyond it abort naming their sender)
    contribution_bound: float = 1e12
    tolerance: float | None = None
    absolute_tolerance: float = 0.0
    adaptive_rho: bool = False
    scaling: str = "none"

    def __post_init__(self) -> None:
        if not _positive(self.rho):
            raise ConfigError(f"rho must be a positive number, got {self.rho}")
        if not (
            isinstance(self.iterations, int)
            and not isinstance(self.iterations, bool)
            and 1 <= self.iterations <= 100_000
        ):
            raise ConfigError(
                f"iterations must be an integer in [1, 100000], got {self.iterations}"
            )
        if not _positive(self.contribution_bound):
            raise ConfigError("contribution_bound must be a positive number")
        if self.tolerance is not None and not _positive(self.tolerance):
            raise ConfigError(f"tolerance must be a positive number, got {self.tolerance}")
        if not (np.isfinite(self.absolute_tolerance) and self.absolute_tolerance >= 0):
            raise ConfigError("absolute_tolerance must be a non-negative number")
        if self.scaling not in SCALINGS:
            raise ConfigError(f"scaling must be one of {', '.join(SCALINGS)}, not {self.scaling!r}")

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
            "tolerance": None if self.tolerance is None else float(self.tolerance).hex(),
            "absolute_tolerance": float(self.absolute_tolerance).hex(),
            "adaptive_rho": self.adaptive_rho,
            "scaling": self.scaling,
        }


@dataclass(frozen=True)
class AdmmResult:
    """``model`` is what the parties agreed on (in the scaled space, if scaled); ``coef`` and
    ``intercept`` are the same model in the data's original units."""

    model: np.ndarray
    iterations: int
    local_rows: int
    converged: bool = False
    history: tuple[RoundCheck, ...] = ()
    scaling: Scaling | None = None
    coef: np.ndarray | None = None
    intercept: float = 0.0


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
        parameters = cfg.public_parameters(d)
        X, y = self.X, self.y
        scaling = Scaling.identity(d)
        if cfg.scaling != "none":
            scaling = yield AgreeScaling(
                party=me,
                parties=everyone,
                kind=cfg.scaling,
                public_parameters=parameters,
                local=ColumnStats.of(X, y),
            )
            X, y = scaling.apply(X, y)
        summary = yield Setup(
            party=me, parties=everyone, public_parameters=parameters, X=X, y=y, rho=cfg.rho
        )
        tracker = ResidualTracker(
            parties=len(everyone),
            features=d,
            rho=cfg.rho,
            tolerance=cfg.tolerance,
            absolute_tolerance=cfg.absolute_tolerance,
            adaptive_rho=cfg.adaptive_rho,
        )
        position = everyone.index(me)
        z, u, rho = np.zeros(d), np.zeros(d), cfg.rho
        history: list[RoundCheck] = []
        for k in range(cfg.iterations):
            w = yield LocalOptimize(
                party=me, parties=everyone, round=k, summary=summary, z=z, u=u, rho=rho
            )
            consensus: Consensus = yield Coordinate(
                party=me,
                parties=everyone,
                round=k,
                contribution=w + u,
                objective=cfg.objective,
                rho=rho,
                bound=cfg.contribution_bound,
            )
            z = consensus.z
            check = tracker.update(consensus)
            history.append(check)
            u, rho = tracker.dual_of(position), check.rho
            if check.converged:
                break
        model = yield Release(party=me, parties=everyone, round=0, model=z)
        coef, intercept = scaling.unscale(model)
        return AdmmResult(
            model=model,
            iterations=len(history),
            local_rows=summary.rows,
            converged=bool(history and history[-1].converged),
            history=tuple(history),
            scaling=scaling if cfg.scaling != "none" else None,
            coef=coef,
            intercept=intercept,
        )
