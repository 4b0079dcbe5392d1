"""DSSGD's arithmetic: local SGD for linear regression, clipping and the Laplace mechanism.

Shokri and Shmatikov (CCS 2015) let participants share (a selection of) their local updates
with Laplace noise. As in the PPADMM paper's comparison, each participant here shares its whole
local parameter vector every iteration (their theta_u = 1) and the server averages.

Sensitivity, stated: the shared vector is clipped coordinatewise to [-clip, clip], so replacing
one participant's data changes each coordinate by at most 2 * clip and the vector by at most
``2 * clip * d`` in L1 norm. Laplace noise of scale ``2 * clip * d / epsilon`` per coordinate makes
one upload epsilon-differentially private (Dwork et al. 2006); T uploads compose to T * epsilon
(basic composition). The noise is drawn with numpy's floating-point Laplace sampler, which is
not a hardened DP implementation (Mironov, CCS 2012, shows floating-point Laplace samplers leak
through their low bits). By default the generator is seeded from the OS for every upload; a
configured seed reproduces benchmarks but gives no privacy against anyone who knows the seed.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import numpy as np

from coopetition.engine.errors import ConfigError

#: The privacy parameters of the PPADMM paper's Figs. 3-5.
PAPER_EPSILONS = (0.01, 0.1, 1.0, 10.0)


@dataclass(frozen=True)
class DssgdConfig:
    """Public parameters of a DSSGD run (every participant must agree; checked in setup)."""

    epsilon: float = 1.0
    clip: float = 10.0
    learning_rate: float = 0.01
    batch_size: int = 10
    iterations: int = 20
    #: seed of the noise generators. None (the default) draws fresh OS randomness for every
    #: upload; a fixed seed makes runs repeat (benchmarks) but voids the privacy: it is shared
    #: configuration, so whoever knows it (the server) regenerates and subtracts the noise.
    seed: int | None = None

    def __post_init__(self) -> None:
        if not (np.isfinite(self.epsilon) and self.epsilon > 0):
            raise ConfigError(f"epsilon must be a positive number, got {self.epsilon}")
        if not (np.isfinite(self.clip) and self.clip > 0):
            raise ConfigError(f"clip must be a positive number, got {self.clip}")
        if not (np.isfinite(self.learning_rate) and self.learning_rate > 0):
            raise ConfigError(f"learning_rate must be a positive number, got {self.learning_rate}")
        if not (isinstance(self.batch_size, int) and self.batch_size >= 1):
            raise ConfigError(f"batch_size must be a positive integer, got {self.batch_size}")
        if not (isinstance(self.iterations, int) and 1 <= self.iterations <= 100_000):
            raise ConfigError(
                f"iterations must be an integer in [1, 100000], got {self.iterations}"
            )

    def laplace_scale(self, features: int) -> float:
        """b = L1 sensitivity / epsilon = 2 * clip * d / epsilon."""
        return 2.0 * self.clip * features / self.epsilon

    def public_parameters(self, features: int) -> dict[str, object]:
        return {
            "epsilon": float(self.epsilon).hex(),
            "clip": float(self.clip).hex(),
            "learning_rate": float(self.learning_rate).hex(),
            "batch_size": self.batch_size,
            "iterations": self.iterations,
            "features": features,
        }


def local_sgd(X: np.ndarray, y: np.ndarray, w: np.ndarray, lr: float, batch: int) -> np.ndarray:
    """One pass of mini-batch SGD on 1/2 |Xw - y|^2 from w, in row order."""
    w = w.copy()
    for start in range(0, X.shape[0], batch):
        Xb, yb = X[start : start + batch], y[start : start + batch]
        w -= (lr / Xb.shape[0]) * (Xb.T @ (Xb @ w - yb))
    return w


def noise_generator(seed: int | None, party: int, iteration: int) -> np.random.Generator:
    base = secrets.randbits(64) if seed is None else seed
    return np.random.default_rng(np.random.SeedSequence([base, party, iteration, 0xD55]))


def perturb(w: np.ndarray, config: DssgdConfig, rng: np.random.Generator) -> np.ndarray:
    """clip to [-clip, clip] coordinatewise, then add Laplace(2 clip d / epsilon) noise."""
    clipped = np.clip(w, -config.clip, config.clip)
    return clipped + rng.laplace(0.0, config.laplace_scale(w.shape[0]), size=w.shape)


def noisy_local_update(
    X: np.ndarray, y: np.ndarray, w: np.ndarray, config: DssgdConfig, party: int, iteration: int
) -> np.ndarray:
    """What a participant uploads in one iteration (a pure function, so workers can run it)."""
    local = local_sgd(X, y, w, config.learning_rate, config.batch_size)
    return perturb(local, config, noise_generator(config.seed, party, iteration))
