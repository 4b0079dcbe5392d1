"""Secure SGD in SPDZ: against scikit-learn's SGD and a numpy mini-batch loop, real preprocessing."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from coopetition.engine.errors import ConfigError, ProtocolViolation
from coopetition.protocols.sgd_spdz import SgdConfig, SgdPlan
from coopetition.protocols.sgd_spdz.local_run import train_sgd_spdz
from coopetition.protocols.sgd_spdz.program import sgd_program
from coopetition.protocols.sgd_spdz.sources import deal
from coopetition.protocols.spdz.errors import MacCheckFailed
from coopetition.protocols.spdz.harness import run_local
from coopetition.protocols.spdz.online import SpdzParty
from coopetition.protocols.spdz.testing import TEST_REPETITIONS, dealer


def _parts(m: int, n: int, d: int, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(seed)
    true = rng.normal(size=d)
    out = []
    for _ in range(m):
        X = rng.normal(size=(n, d))
        out.append((X, X @ true + 0.1 * rng.normal(size=n)))
    return out


def _pooled(parts: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    return np.vstack([X for X, _ in parts]), np.concatenate([y for _, y in parts])


def _run_dealt(parts, config: SgdConfig) -> np.ndarray:  # type: ignore[no-untyped-def]
    """INSECURE dealer preprocessing (tests only), all parties through the local harness."""
    plan = SgdPlan(tuple(len(y) for _, y in parts), parts[0][0].shape[1], config)
    d = deal(*plan.needs(), len(parts))
    programs = [
        sgd_program(SpdzParty(d.stores[i], session=b"t"), plan, X, y)
        for i, (X, y) in enumerate(parts)
    ]
    results = run_local(programs)
    assert all(np.array_equal(results[0], r) for r in results)
    return results[0]


def _fixed_point_bound(config: SgdConfig, updates: int) -> float:
    """Truncation and encoding error: a few units of 2^-f per update, accumulated."""
    return 4 * updates * 2.0**-config.frac_bits


def test_matches_scikit_learn_sgd_with_the_same_schedule() -> None:
    from sklearn.linear_model import SGDRegressor

    parts = _parts(m=3, n=10, d=3)
    config = SgdConfig(learning_rate=0.05, batch_size=1)  # sklearn's SGD updates per row
    model = _run_dealt(parts, config)
    X, y = _pooled(parts)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # one pass does not "converge"
        sk = SGDRegressor(
            loss="squared_error",
            penalty=None,
            learning_rate="constant",
            eta0=0.05,
            fit_intercept=False,
            max_iter=1,
            shuffle=False,
            tol=None,
        ).fit(X, y)
    assert np.max(np.abs(model - sk.coef_)) < _fixed_point_bound(config, len(y))


def test_batch_of_d_rows_matches_a_numpy_minibatch_loop() -> None:
    parts = _parts(m=2, n=13, d=4, seed=3)  # 26 rows: 6 batches of 4 and one of 2
    config = SgdConfig(learning_rate=0.1)
    model = _run_dealt(parts, config)
    X, y = _pooled(parts)
    w = np.zeros(4)
    for s in range(0, 26, 4):
        xb, yb = X[s : s + 4], y[s : s + 4]
        w = w - 0.1 / len(yb) * xb.T @ (xb @ w - yb)
    assert np.max(np.abs(model - w)) < _fixed_point_bound(config, 7)


async def test_real_paillier_preprocessing_over_the_engine() -> None:
    """Every item from the threshold-Paillier offline phase (small INSECURE test key)."""
    parts = _parts(m=2, n=1, d=2, seed=5)
    config = SgdConfig(learning_rate=0.2, frac_bits=8, k=48, data_bound=8, model_bound=8)
    run = await train_sgd_spdz(
        parts,
        config,
        key_generation=dealer(2),
        interval_repetitions=TEST_REPETITIONS,
    )
    assert run.completed, run.errors
    result = run.results[0]
    assert result.preprocessing == "paillier" and result.preprocessing_secure
    X, y = _pooled(parts)
    w = -0.2 / 2 * X.T @ (X @ np.zeros(2) - y)  # one batch of 2 rows from w = 0
    assert np.max(np.abs(result.model - w)) < _fixed_point_bound(config, 1)
    assert np.array_equal(result.model, run.results[1].model)


async def test_data_outside_the_fixed_point_range_is_refused_before_anything_runs() -> None:
    parts = _parts(m=2, n=3, d=2)
    parts[1] = (parts[1][0] * 1000, parts[1][1])
    with pytest.raises(ConfigError, match="fixed-point range"):
        await train_sgd_spdz(parts, SgdConfig(), preprocessing="insecure-dealer")
    with pytest.raises(ConfigError, match="do not fit"):
        SgdConfig(k=40).check_range(16)


async def test_different_parameters_abort_naming_the_sender() -> None:
    parts = _parts(m=2, n=2, d=2)

    def options(pid: int):  # type: ignore[no-untyped-def]
        if pid != 1:
            return {}

        def hook(header, payload, destination):  # type: ignore[no-untyped-def]
            if header.tag == "parameters":
                return {"p": {**payload["p"], "learning_rate": "0x1p-1"}}
            return payload

        return {"payload_hook": hook}

    run = await train_sgd_spdz(
        parts, SgdConfig(), preprocessing="insecure-dealer", party_options=options
    )
    error = run.errors[0]
    assert isinstance(error, ProtocolViolation) and error.culprit == 1


def test_a_tampered_opening_fails_the_mac_check() -> None:
    parts = _parts(m=2, n=2, d=2)
    config = SgdConfig(learning_rate=0.1)
    plan = SgdPlan((2, 2), 2, config)
    d = deal(*plan.needs(), 2)

    def tamper(sender: int, receiver: int, tag: str, payload: dict) -> dict:  # type: ignore[type-arg]
        if sender == 1 and tag == "open/5":
            raw = bytearray(payload["v"])
            raw[-1] ^= 1
            return {**payload, "v": bytes(raw)}
        return payload

    programs = [
        sgd_program(SpdzParty(d.stores[i], session=b"t"), plan, X, y)
        for i, (X, y) in enumerate(parts)
    ]
    with pytest.raises(MacCheckFailed):
        run_local(programs, tamper=tamper)
