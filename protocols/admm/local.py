"""A party's local ADMM arithmetic (eq. 4 and 6): pure functions, so workers can run them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from coopetition.engine.errors import ConfigError


@dataclass(frozen=True)
class LocalSummary:
    """``X^T X = Q diag(eigenvalues) Q^T`` and ``b = X^T y``: all a party needs after setup.

    ADMM iterates on this d x d summary rather than on the n rows, which is why it needs so few
    rounds and why Helen encrypts only these. Keeping the eigendecomposition instead of
    ``A = (X^T X + rho I)^-1`` lets residual balancing change rho without a new inversion:
    ``A(rho) = Q diag(1 / (eigenvalues + rho)) Q^T``.
    """

    eigenvalues: np.ndarray
    eigenvectors: np.ndarray
    b: np.ndarray
    rows: int

    @property
    def features(self) -> int:
        return int(self.b.shape[0])

    def inverse(self, rho: float) -> np.ndarray:
        """``A_i = (X_i^T X_i + rho I)^-1`` (eq. 4's constant), e.g. for Helen to encrypt."""
        Q = self.eigenvectors
        return (Q / (self.eigenvalues + rho)) @ Q.T


def check_data(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if X.ndim != 2 or y.ndim != 1:
        raise ConfigError(
            f"expected X of shape (n, d) and y of shape (n,), got {X.shape}, {y.shape}"
        )
    if X.shape[0] != y.shape[0]:
        raise ConfigError(f"X has {X.shape[0]} rows but y has {y.shape[0]}")
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise ConfigError("a party needs at least one row and one feature")
    if not (np.isfinite(X).all() and np.isfinite(y).all()):
        raise ConfigError("data contains NaN or infinite values")
    return X, y


def summarise(X: np.ndarray, y: np.ndarray, rho: float) -> LocalSummary:
    """The summary of (X, y); ``rho`` is unused (any rho works later) but kept for callers."""
    del rho
    X, y = check_data(X, y)
    eigenvalues, eigenvectors = np.linalg.eigh(X.T @ X)
    eigenvalues = np.maximum(eigenvalues, 0.0)  # X^T X is positive semi-definite; drop -1e-16s
    return LocalSummary(eigenvalues, eigenvectors, b=X.T @ y, rows=X.shape[0])


def local_step(summary: LocalSummary, z: np.ndarray, u: np.ndarray, rho: float) -> np.ndarray:
    """w_i^{k+1} = A_i (b_i + rho (z^k - u_i^k)), with A_i applied through its eigenbasis."""
    Q = summary.eigenvectors
    return Q @ ((Q.T @ (summary.b + rho * (z - u))) / (summary.eigenvalues + rho))
