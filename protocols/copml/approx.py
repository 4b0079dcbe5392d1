"""The sigmoid as a polynomial: least squares over the range the data's x.w takes.

COPML computes only polynomials on coded data, so ``g(z) = 1/(1+e^-z)`` is replaced by
``c_0 + c_1 z + ... + c_r z^r`` fitted by least squares on a uniform grid of ``[-R, R]``
(So et al. 2020, eq. 5). ``r`` is 1 or 3; the fit is odd around 1/2 in exact arithmetic, and the
tiny even coefficients that rounding leaves are kept (they are part of the public polynomial).
"""

from __future__ import annotations

import numpy as np


def fit_sigmoid(degree: int, fit_range: float, points: int = 2001) -> np.ndarray:
    """Coefficients ``c_0..c_degree`` (lowest first) of the least-squares fit on [-R, R]."""
    z = np.linspace(-fit_range, fit_range, points)
    target = 1.0 / (1.0 + np.exp(-z))
    design = np.vander(z, degree + 1, increasing=True)
    coeffs, *_ = np.linalg.lstsq(design, target, rcond=None)
    return coeffs


def quantised_coefficients(coeffs: np.ndarray, lc: int) -> list[int]:
    return [round(float(c) * (1 << lc)) for c in coeffs]


def evaluate(coeffs: np.ndarray, z: np.ndarray) -> np.ndarray:
    return np.polynomial.polynomial.polyval(z, coeffs)
