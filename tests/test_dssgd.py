"""DSSGD: error falls as epsilon grows, seeded runs repeat, the mechanism matches its formula."""

from __future__ import annotations

import numpy as np
import pytest

from coopetition.engine.errors import ConfigError, ProtocolViolation
from coopetition.protocols.dssgd import PAPER_EPSILONS, DssgdConfig, DssgdRun
from coopetition.protocols.dssgd.local_run import train_dssgd
from coopetition.protocols.dssgd.mechanism import noise_generator, perturb

NOISE_STD = 20.0


def _data(seed: int = 3, m: int = 4, n: int = 200, d: int = 6):
    rng = np.random.default_rng(seed)
    true = rng.uniform(-8, 8, size=d)
    parts = []
    for _ in range(m):
        X = rng.normal(size=(n, d))
        parts.append((X, X @ true + NOISE_STD * rng.normal(size=n)))
    Xt = rng.normal(size=(2000, d))
    return parts, true, Xt, Xt @ true + NOISE_STD * rng.normal(size=2000)


def _rmse(w: np.ndarray, X: np.ndarray, y: np.ndarray) -> float:
    return float(np.sqrt(np.mean((X @ w - y) ** 2)))


async def test_error_falls_as_epsilon_grows() -> None:
    parts, true, Xt, yt = _data()
    errors = []
    for eps in PAPER_EPSILONS:
        run = await train_dssgd(parts, DssgdConfig(epsilon=eps, iterations=10, seed=1))
        assert run.completed, run.errors
        models = [r.model for r in run.results.values()]
        assert all(np.array_equal(models[0], w) for w in models)
        errors.append((_rmse(models[0], Xt, yt), float(np.linalg.norm(models[0] - true))))
    rmse = [e[0] for e in errors]
    distance = [e[1] for e in errors]
    assert rmse == sorted(rmse, reverse=True) and distance == sorted(distance, reverse=True)
    assert rmse[1] > 5 * NOISE_STD  # eps = 0.1: far above the noise floor (PPADMM Fig. 3)


async def test_without_noise_it_is_federated_averaging_of_clipped_local_sgd() -> None:
    parts, *_ = _data(m=3, n=60, d=3)
    config = DssgdConfig(epsilon=1e15, clip=2.0, learning_rate=0.05, batch_size=7, iterations=4)
    run = await train_dssgd(parts, config)
    w = np.zeros(3)  # independent loop: textbook mini-batch SGD, clip, average
    for _ in range(4):
        locals_ = []
        for X, y in parts:
            v = w.copy()
            for s in range(0, len(y), 7):
                xb, yb = X[s : s + 7], y[s : s + 7]
                v = v - 0.05 * xb.T @ (xb @ v - yb) / len(yb)
            locals_.append(np.minimum(np.maximum(v, -2.0), 2.0))
        w = np.mean(locals_, axis=0)
    assert np.max(np.abs(run.results[0].model - w)) < 1e-9
    assert np.abs(run.results[0].model).max() <= 2.0 + 1e-9


async def test_same_seed_same_model_other_seed_other_model() -> None:
    parts, *_ = _data(m=2, n=40)
    a = await train_dssgd(parts, DssgdConfig(epsilon=1.0, iterations=3, seed=5))
    b = await train_dssgd(parts, DssgdConfig(epsilon=1.0, iterations=3, seed=5))
    c = await train_dssgd(parts, DssgdConfig(epsilon=1.0, iterations=3, seed=6))
    assert np.array_equal(a.results[0].model, b.results[0].model)
    assert not np.array_equal(a.results[0].model, c.results[0].model)


def test_laplace_scale_is_twice_clip_times_d_over_epsilon() -> None:
    config = DssgdConfig(epsilon=0.5, clip=3.0)
    assert config.laplace_scale(4) == 2 * 3.0 * 4 / 0.5
    noise = np.concatenate(
        [perturb(np.zeros(4), config, noise_generator(0, 0, t)) for t in range(5000)]
    )
    # Laplace(b): mean 0, E|X| = b, Var = 2 b^2 (textbook moments), within sampling error
    b = config.laplace_scale(4)
    assert abs(noise.mean()) < 0.05 * b
    assert abs(np.abs(noise).mean() / b - 1) < 0.03
    assert abs(noise.var() / (2 * b * b) - 1) < 0.08


@pytest.mark.parametrize("eps", [0.0, -1.0, float("nan"), float("inf")])
def test_bad_epsilon_is_refused(eps: float) -> None:
    with pytest.raises(ConfigError, match="epsilon"):
        DssgdConfig(epsilon=eps)


def test_missing_server_is_refused() -> None:
    X, y = np.ones((3, 2)), np.ones(3)
    with pytest.raises(ConfigError, match="server"):
        DssgdRun(DssgdConfig(), party=0, parties=(0, 1, 2), server=None, X=X, y=y)
    with pytest.raises(ConfigError, match="two participants"):
        DssgdRun(DssgdConfig(), party=0, parties=(0, 1), server=1, X=X, y=y)


async def test_oversized_upload_is_blamed_on_its_sender() -> None:
    parts, *_ = _data(m=3, n=20)

    def options(pid: int):  # type: ignore[no-untyped-def]
        if pid != 2:
            return {}
        return {"payload_hook": lambda h, p, d: p * 1e30 if h.tag == "noisy_model" else p}

    run = await train_dssgd(parts, DssgdConfig(iterations=2), party_options=options)
    error = run.errors[3]
    assert isinstance(error, ProtocolViolation) and error.culprit == 2


async def test_different_parameters_abort_naming_the_sender() -> None:
    parts, *_ = _data(m=2, n=10)

    def options(pid: int):  # type: ignore[no-untyped-def]
        if pid != 1:
            return {}
        return {
            "payload_hook": lambda h, p, d: (
                {**p, "epsilon": "0x1p+4"} if h.tag == "parameters" else p
            )
        }

    run = await train_dssgd(parts, DssgdConfig(iterations=2), party_options=options)
    assert isinstance(run.errors[0], ProtocolViolation) and run.errors[0].culprit == 1
