"""Estimators in scikit-learn's conventions, one per protocol and objective.

Names are ``<Protocol><Objective>``: ``AdmmLasso``, ``AdmmRidge``, ``AdmmElasticNet`` and
``AdmmLinearRegression`` train by plaintext ADMM; ``HelenLasso`` and friends will subclass the
same base with ``protocol = "helen"`` once Helen exists. ``fit(X, y)`` deals the rows among
``parties`` simulated parties (so the estimators work in pipelines and cross-validation);
``fit_parties([(X0, y0), (X1, y1), ...])`` takes one dataset per party. Both run every party in
this process over the memory transport (``api.simulate``). Hyperparameters are stored unchanged;
fitted attributes end in ``_``; ``lam`` is Helen's scaling (the penalty on the summed, not the
mean, squared error: scikit-learn's ``Lasso(alpha)`` is ``lam = alpha * n_rows``).
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from coopetition.api import Fit, simulate
from coopetition.engine.errors import ConfigError
from coopetition.protocols.admm import AdmmConfig, Objective


class _FederatedLinearModel:
    """Shared by every protocol's estimators: params, fit, predict, score."""

    protocol: ClassVar[str] = "admm"
    objective: ClassVar[str] = "lasso"
    # hyperparameters every subclass's __init__ sets
    parties: int
    rho: float
    max_iter: int
    tol: float
    adaptive_rho: bool
    scaling: str
    random_state: int

    # -- scikit-learn's parameter protocol (what BaseEstimator does, without importing it) --

    @classmethod
    def _param_names(cls) -> list[str]:
        signature = inspect.signature(cls.__init__)
        return [p for p in signature.parameters if p != "self"]

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params: Any) -> _FederatedLinearModel:
        for name, value in params.items():
            if name not in self._param_names():
                raise ValueError(f"{type(self).__name__} has no parameter {name!r}")
            setattr(self, name, value)
        return self

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    # -- training ---------------------------------------------------------------------------

    def _config(self) -> AdmmConfig:
        lam = 0.0 if self.objective == "least_squares" else float(getattr(self, "lam", 0.0))
        return AdmmConfig(
            Objective(self.objective, lam=lam, l1_ratio=float(getattr(self, "l1_ratio", 0.5))),
            rho=float(self.rho),
            iterations=int(self.max_iter),
            tolerance=float(self.tol) if self.tol else None,
            adaptive_rho=bool(self.adaptive_rho),
            scaling=self.scaling,
        )

    def fit(self, X: Any, y: Any) -> _FederatedLinearModel:
        """Deal the rows of (X, y) among ``parties`` simulated parties and train."""
        names = _names(X)
        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        if X.ndim != 2 or y.shape != (X.shape[0],):
            raise ConfigError(
                f"expected X of shape (n, d) and y of shape (n,), got {X.shape}, {y.shape}"
            )
        parties = int(self.parties)
        if not 2 <= parties <= X.shape[0]:
            raise ConfigError(f"parties must be between 2 and the {X.shape[0]} rows, got {parties}")
        order = np.random.default_rng(self.random_state).permutation(X.shape[0])
        parts = [(X[idx], y[idx]) for idx in np.array_split(order, parties)]
        return self.fit_parties(parts, feature_names=names)

    def fit_parties(
        self, parts: Sequence[tuple[Any, Any]], *, feature_names: Sequence[str] | None = None
    ) -> _FederatedLinearModel:
        """Train with one ``(X_i, y_i)`` per party, all simulated in this process."""
        if feature_names is None and parts:
            feature_names = _names(parts[0][0])
        fit = simulate(parts, self._config(), feature_names=feature_names)
        self._store(fit)
        return self

    def _store(self, fit: Fit) -> None:
        self.coef_ = fit.coef
        self.intercept_ = fit.intercept
        self.feature_names_in_ = np.asarray(fit.feature_names, dtype=object)
        self.n_features_in_ = len(fit.feature_names)
        self.n_iter_ = fit.iterations
        self.converged_ = fit.converged
        self.history_ = fit.history
        self.fit_ = fit

    # -- using the model ------------------------------------------------------------------

    def predict(self, X: Any) -> np.ndarray:
        if not hasattr(self, "coef_"):
            raise ConfigError(f"this {type(self).__name__} is not fitted yet; call fit first")
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.n_features_in_:
            raise ConfigError(f"expected {self.n_features_in_} features, got shape {X.shape}")
        return X @ self.coef_ + self.intercept_

    def score(self, X: Any, y: Any) -> float:
        """R^2 of the prediction, as scikit-learn's regressors report it."""
        y = np.asarray(y, dtype=np.float64)
        residual = y - self.predict(X)
        spread = float(((y - y.mean()) ** 2).sum())
        return 1.0 - float(residual @ residual) / spread if spread > 0 else 0.0


def _names(X: Any) -> list[str] | None:
    columns = getattr(X, "columns", None)
    return [str(c) for c in columns] if columns is not None else None


class AdmmLinearRegression(_FederatedLinearModel):
    """Least squares by plaintext consensus ADMM: ``1/2 ||Xw - y||^2``."""

    objective = "least_squares"

    def __init__(
        self,
        *,
        parties: int = 3,
        rho: float = 1.0,
        max_iter: int = 1000,
        tol: float = 1e-10,
        adaptive_rho: bool = True,
        scaling: str = "standardize",
        random_state: int = 0,
    ) -> None:
        self.parties = parties
        self.rho = rho
        self.max_iter = max_iter
        self.tol = tol
        self.adaptive_rho = adaptive_rho
        self.scaling = scaling
        self.random_state = random_state


class AdmmLasso(AdmmLinearRegression):
    """LASSO by plaintext consensus ADMM: ``1/2 ||Xw - y||^2 + lam ||w||_1``."""

    objective = "lasso"

    def __init__(
        self,
        lam: float = 1.0,
        *,
        parties: int = 3,
        rho: float = 1.0,
        max_iter: int = 1000,
        tol: float = 1e-10,
        adaptive_rho: bool = True,
        scaling: str = "standardize",
        random_state: int = 0,
    ) -> None:
        self.lam = lam
        super().__init__(
            parties=parties, rho=rho, max_iter=max_iter, tol=tol, adaptive_rho=adaptive_rho,
            scaling=scaling, random_state=random_state,
        )  # fmt: skip


class AdmmRidge(AdmmLasso):
    """Ridge by plaintext consensus ADMM: ``1/2 ||Xw - y||^2 + lam ||w||^2``."""

    objective = "ridge"


class AdmmElasticNet(AdmmLasso):
    """Elastic net: ``1/2 ||Xw - y||^2 + lam r ||w||_1 + lam (1 - r) ||w||^2`` (r = l1_ratio)."""

    objective = "elastic_net"

    def __init__(
        self,
        lam: float = 1.0,
        l1_ratio: float = 0.5,
        *,
        parties: int = 3,
        rho: float = 1.0,
        max_iter: int = 1000,
        tol: float = 1e-10,
        adaptive_rho: bool = True,
        scaling: str = "standardize",
        random_state: int = 0,
    ) -> None:
        self.l1_ratio = l1_ratio
        super().__init__(
            lam, parties=parties, rho=rho, max_iter=max_iter, tol=tol, adaptive_rho=adaptive_rho,
            scaling=scaling, random_state=random_state,
        )  # fmt: skip


ESTIMATORS = {
    cls.__name__: cls for cls in (AdmmLasso, AdmmRidge, AdmmElasticNet, AdmmLinearRegression)
}
