"""The baselines' sub-gradient with one degree reduction per element product (the paper's
Appendix C), beside :mod:`.baseline`'s one reduction per inner product.

Appendix C of So, Guler and Avestimehr (2020) describes a secure multiplication ``ab`` as a local
product of shares (degree 2T) followed by a degree reduction -- BGW by resharing, BH08 by opening
``ab - rho`` against a double-degree pair ([rho]_T, [rho]_2T). Applied literally to the gradient
``X^T g(X w)``, every element product ``X_ij w_j`` and ``g_i X_ij`` is one such multiplication:
``2 (m/3) d`` reductions per group per iteration (2 x 9.24 M at full CIFAR size), after which the
reduced degree-T shares are summed locally (addition needs no communication). The paper's baseline
figures (Table I: 21 142 s of BGW communication) fit this count; a Shamir MPC framework would
instead reduce once per inner product (``reduction="inner-product"``, the default), moving
``m/3 + d`` values per group per iteration.

Both modes compute degree-T shares of the same secrets (a sum of reduced shares shares the sum of
the products), so with the same dealer they open the same masked values and release the same
model; only the traffic and the work differ.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any, Protocol

import numpy as np

from coopetition.protocols.shamir.field import PrimeField

from .steps import Work

REDUCTIONS = ("inner-product", "per-product")


class GroupRun(Protocol):
    """What the per-product gradient needs of ``baseline.BaselineRun`` (named structurally, so
    this module does not import ``baseline``, which imports it)."""

    field: PrimeField
    params: Any
    coeffs: Any

    def _reduce(self, tag: str, value: np.ndarray, t: int) -> Generator[Any, Any, np.ndarray]: ...


def _row_sums(field: PrimeField, products: np.ndarray) -> np.ndarray:
    """``sum_j products[i, j] mod p`` (exact: the field's limbed matrix product with ones)."""
    return field.matmul(products, np.ones(products.shape[1], dtype=np.int64))


def _column_sums(field: PrimeField, products: np.ndarray) -> np.ndarray:
    ones = np.ones((1, products.shape[0]), dtype=np.int64)
    return field.matmul(ones, products)[0]


def per_product_subgradient(
    run: GroupRun, X: np.ndarray, w: np.ndarray, t: int
) -> Generator[Any, Any, np.ndarray]:
    """Degree-T shares of this group's ``X^T g(X w)`` (before subtracting ``X^T y``), with one
    degree reduction per element product. ``X`` is the group's (rows x d) share matrix."""
    f, p = run.field, run.params
    rows, d = X.shape
    s = p.lx + p.lw

    # z_i = sum_j X_ij w_j: rows x d multiplications, each reduced, then summed locally
    zprod = yield Work("gradient", f.mul, (X, w[None, :]))
    zred = yield from run._reduce("z", zprod.reshape(-1), t)
    z = yield Work("gradient", _row_sums, (f, zred.reshape(rows, d)))

    def products_of_g(z: np.ndarray) -> np.ndarray:
        c0 = run.coeffs[0] * pow(2, s, f.p) % f.p
        gz = f.add(f.scale(z, run.coeffs[1] % f.p), c0)
        return f.mul(X, gz[:, None])

    # (X^T g)_j = sum_i g_i X_ij: again rows x d multiplications, reduced, summed locally
    gprod = yield Work("gradient", products_of_g, (z,))
    gred = yield from run._reduce("g", gprod.reshape(-1), t)
    return (yield Work("gradient", _column_sums, (f, gred.reshape(rows, d))))
