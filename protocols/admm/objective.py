"""The four objectives and their consensus updates, in the Helen paper's scaling.

All share the data term ``1/2 * ||X w - y||^2`` summed over parties; they differ in the
regulariser ``lam1 * ||w||_1 + lam2 * ||w||_2^2``:

=============== =========== =============
kind            lam1        lam2
=============== =========== =============
least_squares   0           0
lasso           lam         0
ridge           0           lam
elastic_net     lam * r     lam * (1 - r)     (r = l1_ratio)
=============== =========== =============

The consensus step (eq. 5) minimises ``lam1 |z|_1 + lam2 |z|^2 + (rho m / 2) |z - v|^2`` for
``v = mean_i(w_i + u_i)``, whose solution is the soft threshold of ``v`` at ``lam1 / (rho m)``
scaled by ``rho m / (rho m + 2 lam2)``: the LASSO box's ``S_{lam/(m rho)}`` and section VII's
``rho / (2 lam / m + rho)`` are the two special cases.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from coopetition.engine.errors import ConfigError

KINDS = ("least_squares", "lasso", "ridge", "elastic_net")


@dataclass(frozen=True)
class Objective:
    kind: str = "lasso"
    lam: float = 0.0
    l1_ratio: float = 0.5

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ConfigError(f"objective must be one of {', '.join(KINDS)}, not {self.kind!r}")
        if not (np.isfinite(self.lam) and self.lam >= 0):
            raise ConfigError(f"lambda must be a finite non-negative number, got {self.lam}")
        if not 0.0 <= self.l1_ratio <= 1.0:
            raise ConfigError(f"l1_ratio must lie in [0, 1], got {self.l1_ratio}")
        if self.kind == "least_squares" and self.lam != 0:
            raise ConfigError("least_squares takes no regularisation (lambda must be 0)")

    @property
    def lam1(self) -> float:
        return {"lasso": self.lam, "elastic_net": self.lam * self.l1_ratio}.get(self.kind, 0.0)

    @property
    def lam2(self) -> float:
        return {"ridge": self.lam, "elastic_net": self.lam * (1 - self.l1_ratio)}.get(
            self.kind, 0.0
        )

    def value(self, X: np.ndarray, y: np.ndarray, w: np.ndarray) -> float:
        """The objective on (pooled) data: what training minimises."""
        residual = X @ w - y
        return float(0.5 * residual @ residual + self.lam1 * np.abs(w).sum() + self.lam2 * (w @ w))

    def consensus(self, v: np.ndarray, parties: int, rho: float) -> np.ndarray:
        """The z-update (eq. 5) from ``v = mean(w_i + u_i)``."""
        scale = rho * parties
        kappa = self.lam1 / scale
        shrunk = soft_threshold(v, kappa)
        return shrunk * (scale / (scale + 2.0 * self.lam2))


def soft_threshold(a: np.ndarray, kappa: float) -> np.ndarray:
    """S_kappa(a) of eq. 7: a - kappa above kappa, a + kappa below -kappa, 0 in between."""
    return np.sign(a) * np.maximum(np.abs(a) - kappa, 0.0)
