"""The released model in scikit-learn's conventions: ``coef_``, ``predict``, ``score``.

Helen trains on standardised features and a centred target without an intercept (section
III), so ``intercept_`` is 0 unless the caller passes the one its scaling implies.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class HelenModel:
    coef_: np.ndarray
    intercept_: float = 0.0
    feature_names_in_: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        if self.feature_names_in_ and len(self.feature_names_in_) != len(self.coef_):
            raise ValueError(
                f"{len(self.feature_names_in_)} feature names for {len(self.coef_)} coefficients"
            )

    @property
    def n_features_in_(self) -> int:
        return len(self.coef_)

    def predict(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != len(self.coef_):
            raise ValueError(f"X must have shape (n, {len(self.coef_)}), got {X.shape}")
        return X @ self.coef_ + self.intercept_

    def score(self, X: np.ndarray, y: np.ndarray) -> float:
        """Coefficient of determination R^2, as scikit-learn's regressors define it."""
        y = np.asarray(y, dtype=np.float64)
        residual = float(np.sum((y - self.predict(X)) ** 2))
        total = float(np.sum((y - y.mean()) ** 2))
        return 1.0 - residual / total if total > 0 else 0.0


def model_of(
    coef: np.ndarray, feature_names: Sequence[str] = (), intercept: float = 0.0
) -> HelenModel:
    return HelenModel(np.asarray(coef, dtype=np.float64), float(intercept), tuple(feature_names))
