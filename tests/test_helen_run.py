"""Helen end to end in memory: an honest 3-party run against the integer reference and ADMM.

INSECURE parameters for speed (named as such): a 1024-bit trusted-dealer test key (Gadget 4
needs 818 bits with tight range proofs, docs/crypto.md), the dealer's common 512-bit ring-Pedersen modulus and the
insecure-dealer SPDZ preprocessing for triples and bits (the MAC key and Gadget 3's dual masks
come from the real offline phase). The reference is ``numerics.run_fixed_point`` (the integer arithmetic, with its own random
truncation) and plaintext ADMM in float64 (``numerics.run_plaintext``) with the same quantised
rho, objective and iterations.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from coopetition.protocols.admm.objective import Objective
from coopetition.protocols.helen import numerics as H
from coopetition.protocols.helen.config import HelenConfig
from coopetition.protocols.helen.local_run import train_locally

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
FEATURES = (0, 1, 10)  # fixed acidity, volatile acidity, alcohol
PARTIES, ROWS, ITERATIONS = 3, 30, 2


def wine_parts(features=FEATURES, parties=PARTIES, rows=ROWS):
    path = DATA / "wine_student/winequality-red.csv"
    if not path.exists():
        pytest.skip(f"{path} not available")
    table = np.loadtxt(path, delimiter=",", skiprows=1)[: parties * rows]
    X, y = table[:, list(features)], table[:, -1]
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    y = y - y.mean()
    return [(X[i * rows : (i + 1) * rows], y[i * rows : (i + 1) * rows]) for i in range(parties)]


def insecure_config(objective: Objective, iterations: int = ITERATIONS) -> HelenConfig:
    return HelenConfig(
        objective=objective,
        rho=0.1 * PARTIES * ROWS,
        iterations=iterations,
        x_bound=8.0,
        y_bound=8.0,
        w_bound=2.0**10,
        precision=20,
        key_bits=1024,
        insecure=True,
        interval_repetitions=16,
        preprocessing="insecure-dealer",
    )


async def test_honest_three_party_lasso_matches_references():
    parts = wine_parts()
    objective = Objective("lasso", lam=0.02 * PARTIES * ROWS)
    config = insecure_config(objective)
    run = await train_locally(parts, config, session=b"helen-test-honest")
    assert run.completed, run.errors
    models = [r.model for r in run.results.values()]
    assert all(np.array_equal(models[0], mdl) for mdl in models)
    scales = config.scales(len(FEATURES), ROWS, PARTIES)
    fixed = H.run_fixed_point(parts, objective, scales, ITERATIONS).model
    plain = H.run_plaintext(parts, objective, scales.rho_quantised, ITERATIONS)
    # SPDZ's truncation rounds at random (+-1 unit per truncation), the reference with its own
    # coins: a few units of 2^-F per iteration.
    np.testing.assert_allclose(models[0], fixed, atol=16 * 2.0**-scales.z_bits)
    assert H.relative_l2(models[0], plain) <= 1e-3
    record = run.results[0].record
    assert record["key_generation"].startswith("trusted-dealer")
    assert record["conversions_verified"] == ITERATIONS * (2 * PARTIES + 1) * len(FEATURES)


@pytest.mark.long
@pytest.mark.parametrize("kind", ["ridge", "least_squares", "elastic_net"])
async def test_honest_run_other_objectives(kind):
    parts = wine_parts()
    lam = 0.0 if kind == "least_squares" else 0.02 * PARTIES * ROWS
    objective = (
        Objective(kind, lam=lam, l1_ratio=0.5)
        if kind == "elastic_net"
        else Objective(kind, lam=lam)
    )
    config = insecure_config(objective)
    run = await train_locally(parts, config, session=b"helen-test-" + kind.encode())
    assert run.completed, run.errors
    model = run.results[0].model
    scales = config.scales(len(FEATURES), ROWS, PARTIES)
    fixed = H.run_fixed_point(parts, objective, scales, ITERATIONS).model
    plain = H.run_plaintext(parts, objective, scales.rho_quantised, ITERATIONS)
    np.testing.assert_allclose(model, fixed, atol=16 * 2.0**-scales.z_bits)
    assert H.relative_l2(model, plain) <= 1e-3
