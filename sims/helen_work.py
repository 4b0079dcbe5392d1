"""Helen as a simulated workload: synthetic data within Helen's bounds, parties made from a seed.

The threshold key (trusted dealer), the SPDZ MAC key and all preprocessing are made in this
process before the simulation starts (``protocols.helen.local_run.helen_runs``), so they are
not charged to virtual time; the run record says so. Inside the simulation every phase's proof
and conversion work is charged to virtual time: Helen's machines offload their steps, and the
runner's offload backend runs them inline and sleeps their measured CPU time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from coopetition.engine.errors import ConfigError, PartyId
from coopetition.protocols.helen import numerics
from coopetition.protocols.helen.config import HelenConfig
from coopetition.protocols.helen.info import config_of
from coopetition.protocols.helen.local_run import helen_runs
from coopetition.sims.runner import ProtocolFactory, session_for

__all__ = ["HelenWorkload", "synthetic_helen"]


@dataclass(frozen=True)
class HelenWorkload:
    config: HelenConfig
    parts: list[tuple[np.ndarray, np.ndarray]]
    seed: int

    def factory(self) -> ProtocolFactory:
        """Makes the key, MAC key and preprocessing now (real time), then hands out the runs."""
        runs = helen_runs(self.parts, self.config, session_for(self.seed))

        def make(pid: PartyId, parties: tuple[PartyId, ...]) -> Any:
            if tuple(parties) != tuple(range(len(runs))):
                raise ConfigError("Helen numbers its parties 0..m-1")
            return runs[pid]

        return make

    def plaintext_model(self) -> np.ndarray:
        """Plaintext ADMM (float64) with the same quantised rho, objective and iterations."""
        d = self.parts[0][0].shape[1]
        rows = max(len(X) for X, _ in self.parts)
        scales = self.config.scales(d, rows, len(self.parts))
        return numerics.run_plaintext(
            self.parts, self.config.objective, scales.rho_quantised, self.config.iterations
        )


def synthetic_helen(
    parties: int, protocol: Mapping[str, Any], data: Mapping[str, Any], seed: int
) -> HelenWorkload:
    """A sparse linear model with Gaussian noise, standardised and clipped to the bounds the
    parties prove their data lies in (``x_bound``, ``y_bound``)."""
    config = config_of(protocol)
    rows = int(data.get("rows_per_party", 50))
    d = int(data.get("features", 8))
    if rows < d:
        raise ConfigError(f"[data] Helen needs rows_per_party >= features ({rows} < {d})")
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0x4E1E]))
    true = rng.normal(size=d)
    true[rng.random(d) < 0.3] = 0.0
    X = rng.normal(size=(parties * rows, d))
    y = X @ true + float(data.get("noise", 0.1)) * rng.normal(size=parties * rows)
    X = np.clip((X - X.mean(axis=0)) / X.std(axis=0), -config.x_bound, config.x_bound)
    y = np.clip((y - y.mean()) / y.std(), -config.y_bound, config.y_bound)
    parts = [(X[i * rows : (i + 1) * rows], y[i * rows : (i + 1) * rows]) for i in range(parties)]
    return HelenWorkload(config, parts, seed)
