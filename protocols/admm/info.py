"""Plaintext ADMM described for simulations and the CLI (see ``engine.metadata``)."""

from __future__ import annotations

from coopetition.engine.metadata import PhaseInfo, ProtocolInfo
from coopetition.protocols.admm.machines import Coordinate, LocalOptimize, Release, Setup

__all__ = ["ADMM_INFO"]

#: Rounds: ``coordinate`` (and ``local_optimize``) run rounds 0..iterations-1, the others run
#: once, as round 0 (see ``coopetition.protocols.admm.session``).
ADMM_INFO = ProtocolInfo(
    name="admm",
    phases=(
        PhaseInfo(Setup.phase, tags=("parameters",), progress="milestone"),
        PhaseInfo(LocalOptimize.phase, repeat="iterations"),
        PhaseInfo(Coordinate.phase, tags=("w_plus_u",), repeat="iterations", progress="round"),
        PhaseInfo(Release.phase, tags=("model_digest",), progress="milestone"),
    ),
    parameters={"objective": "lasso", "lam": 1.0, "rho": 1.0, "l1_ratio": 0.5, "iterations": 10},
)
