"""Mini-batch SGD for linear regression as one SPDZ program (Helen's "secure baseline").

Every party secret-shares its rows (SPDZ input with preprocessed masks); then, per mini-batch
of b rows, with w shared at scale 2**f:

* residuals r = X_b w - y_b: b d multiplications, local row sums, one truncation by f;
* update w <- w - (eta / b) X_b^T r: b d multiplications, local column sums, scaling by the
  public c = round(eta / b * 2**f) and one truncation by 2f.

Only the final model is opened (with the MAC check). Truncation is Catrina-Saxena's
probabilistic TruncPr, so each truncated value is off by at most one unit of 2**-f.
"""

from __future__ import annotations

import numpy as np

from coopetition.engine.errors import LocalFailure
from coopetition.protocols.fixedpoint import encode
from coopetition.protocols.spdz import field as F
from coopetition.protocols.spdz.online import Program, SpdzParty
from coopetition.protocols.spdz.shares import Share

from .plan import SgdPlan


def _rows_to_field(X: np.ndarray, y: np.ndarray, frac_bits: int) -> np.ndarray:
    """Row-major [x_1, y_1, x_2, y_2, ...] encoded at 2**f, as field elements."""
    rows = np.hstack([X, y.reshape(-1, 1)])
    return F.vec(encode(rows, frac_bits).reshape(-1))


def sgd_program(
    spdz: SpdzParty, plan: SgdPlan, X: np.ndarray, y: np.ndarray
) -> Program[np.ndarray]:
    """This party's side of secure SGD; returns the opened model (reals)."""
    cfg, d = plan.config, plan.features
    f, k = cfg.frac_bits, cfg.k
    shared_rows: list[Share] = []
    for owner, n in enumerate(plan.rows):
        mine = _rows_to_field(X, y, f) if owner == spdz.party else None
        shared_rows.append((yield from spdz.input(owner, n * (d + 1), mine)))
    table = Share.concat(shared_rows)  # all rows, row-major, (d + 1) entries each
    w = spdz.public(F.zeros(d))
    for start, b in plan.batches():
        block = table[slice(start * (d + 1), (start + b) * (d + 1))]
        xs = Share.concat([block[slice(i * (d + 1), i * (d + 1) + d)] for i in range(b)])
        ys = Share.concat([block[slice(i * (d + 1) + d, i * (d + 1) + d + 1)] for i in range(b)])
        products = yield from spdz.mul(xs, Share.concat([w] * b))
        dots = Share.concat([_sum(products[slice(i * d, (i + 1) * d)]) for i in range(b)])
        residual = yield from spdz.trunc_pr(dots - ys.scale(1 << f), k, f)
        spread = Share.concat([residual[slice(i, i + 1)] for i in range(b) for _ in range(d)])
        terms = yield from spdz.mul(xs, spread)
        gradient = Share.concat(
            [_sum(terms[np.arange(j, b * d, d)]) for j in range(d)]
        )  # sum over rows, per feature: scale 2f
        step = yield from spdz.trunc_pr(gradient.scale(cfg.step_constant(b)), k, 2 * f)
        w = w - step
    opened = yield from spdz.output(w)
    model = np.array([int(v) / 2**f for v in F.signed(opened)])
    if not np.abs(model).max(initial=0.0) <= cfg.model_bound:
        # inputs are not range-checked inside SPDZ: a party beyond data_bound (or an honest
        # divergence) wraps the fixed-point arithmetic; refuse the wrapped model, naming nobody
        raise LocalFailure(
            f"the opened model leaves model_bound {cfg.model_bound:g}: training diverged or a "
            "party input data beyond data_bound; the model is not released"
        )
    return model


def _sum(x: Share) -> Share:
    """The sum of a shared vector's entries, as a length-1 share (local)."""
    return Share(F.vec([int(np.sum(x.value) % F.P)]), F.vec([int(np.sum(x.mac) % F.P)]))
