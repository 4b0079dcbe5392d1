"""What the simulated parties compute: a protocol plus each party's data, built from a seed.

Only plaintext ADMM is wired in so far (the yardstick protocol; the secure protocols plug in the
same way: a factory ``(party, parties) -> ProtocolRun``). The data is a synthetic sparse linear
model with Gaussian noise, drawn from the seed, split evenly across parties.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from coopetition.engine.errors import ConfigError, PartyId
from coopetition.protocols.admm import AdmmConfig, AdmmRun, Objective
from coopetition.protocols.paillier.dkg import DkgParams, DkgRun
from coopetition.sims.runner import ProtocolFactory


@dataclass(frozen=True)
class AdmmWorkload:
    config: AdmmConfig
    parts: dict[PartyId, tuple[np.ndarray, np.ndarray]]
    true_model: np.ndarray

    def factory(self) -> ProtocolFactory:
        def make(pid: PartyId, parties: tuple[PartyId, ...]) -> AdmmRun:
            X, y = self.parts[pid]
            return AdmmRun(self.config, X, y, party=pid, parties=parties)

        return make

    def pooled(self) -> tuple[np.ndarray, np.ndarray]:
        order = sorted(self.parts)
        return (
            np.vstack([self.parts[p][0] for p in order]),
            np.concatenate([self.parts[p][1] for p in order]),
        )


def synthetic_admm(
    parties: int,
    *,
    rows_per_party: int = 50,
    features: int = 8,
    objective: str = "lasso",
    lam: float = 1.0,
    l1_ratio: float = 0.5,
    rho: float = 1.0,
    iterations: int = 10,
    noise: float = 0.1,
    seed: int = 0,
) -> AdmmWorkload:
    if parties < 2 or rows_per_party < 1 or features < 1:
        raise ConfigError("need at least 2 parties, 1 row per party and 1 feature")
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0xADA]))
    true = rng.normal(size=features)
    true[rng.random(features) < 0.3] = 0.0  # sparse, so lasso has something to find
    parts = {}
    for pid in range(parties):
        X = rng.normal(size=(rows_per_party, features))
        y = X @ true + noise * rng.normal(size=rows_per_party)
        parts[pid] = (X, y)
    config = AdmmConfig(
        objective=Objective(
            objective, lam=0.0 if objective == "least_squares" else lam, l1_ratio=l1_ratio
        ),
        rho=rho,
        iterations=iterations,
    )
    return AdmmWorkload(config, parts, true)


@dataclass(frozen=True)
class DkgWorkload:
    """Distributed key generation among the simulated parties (no data). The DKG's own
    randomness comes from ``secrets``, so its transcript differs between runs of one seed."""

    params: DkgParams
    session: bytes

    def factory(self) -> ProtocolFactory:
        def make(pid: PartyId, parties: tuple[PartyId, ...]) -> DkgRun:
            return DkgRun(pid, parties, self.params, session=self.session)

        return make


def dkg_workload(
    parties: int, *, bits: int, batch: int, insecure_allow_small: bool, seed: int
) -> DkgWorkload:
    params = DkgParams(bits, parties, batch=batch, insecure_allow_small=insecure_allow_small)
    return DkgWorkload(
        params, hashlib.sha256(b"coopetition/sim/dkg" + seed.to_bytes(8, "big")).digest()[:16]
    )
