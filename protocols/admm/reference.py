"""scikit-learn fits of exactly the objectives in ``objective``, on the pooled data.

scikit-learn scales its objectives differently, so each estimator's parameters are converted
(n = number of pooled rows):

* Lasso: ``1/(2n) |y - Xw|^2 + a |w|_1``            → a = lam / n
* Ridge: ``|y - Xw|^2 + a |w|^2``                    → a = 2 lam
* ElasticNet: ``1/(2n)|y - Xw|^2 + a r |w|_1 + a(1-r)/2 |w|^2``
  → a r = lam1 / n and a (1 - r) = 2 lam2 / n
* least squares: LinearRegression.

All without intercept: as in Helen, data is normalised before training.
"""

from __future__ import annotations

import numpy as np

from coopetition.protocols.admm.objective import Objective


def reference_fit(X: np.ndarray, y: np.ndarray, objective: Objective) -> np.ndarray:
    from sklearn.linear_model import ElasticNet, Lasso, LinearRegression, Ridge

    n = X.shape[0]
    if objective.lam1 == 0 and objective.lam2 == 0:
        return LinearRegression(fit_intercept=False).fit(X, y).coef_
    if objective.kind == "ridge":
        return (
            Ridge(alpha=2.0 * objective.lam, fit_intercept=False, solver="cholesky").fit(X, y).coef_
        )
    if objective.kind == "lasso":
        model = Lasso(alpha=objective.lam / n, fit_intercept=False, tol=1e-12, max_iter=200_000)
        return model.fit(X, y).coef_
    l1 = objective.lam1 / n
    l2 = 2.0 * objective.lam2 / n
    alpha = l1 + l2
    model = ElasticNet(
        alpha=alpha, l1_ratio=l1 / alpha, fit_intercept=False, tol=1e-12, max_iter=200_000
    )
    return model.fit(X, y).coef_
