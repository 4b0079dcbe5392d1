"""The Python API: estimators against scikit-learn, the documented examples, and one party of a
real session through ``coopetition.train`` (trio) and ``train_in_asyncio`` (asyncio guest)."""

import asyncio
import re
import threading
from pathlib import Path

import numpy as np
import pytest
import trio
from sklearn.linear_model import ElasticNet, LinearRegression, Ridge

import coopetition
from coopetition.engine.errors import ConfigError
from coopetition.main import main
from coopetition.sims.data import load

DOC = (Path(__file__).parent.parent / "docs" / "estimators.md").read_text()
WINE = load("wine-red")


def test_the_documented_example_runs():
    first = re.search(r"```python\n(.*?)```", DOC, re.S)
    assert first is not None
    exec(compile(first.group(1), "docs/estimators.md", "exec"), {})


@pytest.mark.parametrize(
    "estimator, reference",
    [
        (coopetition.AdmmRidge(lam=40.0), Ridge(alpha=80.0, solver="cholesky")),
        (coopetition.AdmmLinearRegression(), LinearRegression()),
        (
            coopetition.AdmmElasticNet(lam=32.0, l1_ratio=0.5),
            # lam1 / n = a r and 2 lam2 / n = a (1 - r): a = 48 / n, r = 1/3
            ElasticNet(alpha=48.0 / WINE.X.shape[0], l1_ratio=1 / 3, tol=1e-12, max_iter=100_000),
        ),
    ],
)
def test_estimators_match_scikit_learn(estimator, reference):
    raw_X = WINE.X * 3.0 + 1.0  # not standardised: the estimator's agreed scaling must undo it
    model = estimator.fit(raw_X, WINE.y)
    mean, std = raw_X.mean(axis=0), raw_X.std(axis=0)
    reference.fit((raw_X - mean) / std, WINE.y)
    np.testing.assert_allclose(model.coef_, reference.coef_ / std, atol=1e-6)
    np.testing.assert_allclose(
        model.predict(raw_X), reference.predict((raw_X - mean) / std), atol=1e-6
    )
    assert model.score(raw_X, WINE.y) == pytest.approx(
        reference.score((raw_X - mean) / std, WINE.y), abs=1e-8
    )
    assert model.converged_ and model.n_features_in_ == 11
    assert list(model.feature_names_in_) == [f"x{i}" for i in range(11)]


def test_params_follow_scikit_learn_conventions():
    model = coopetition.AdmmLasso(lam=2.0, parties=4)
    assert model.get_params()["lam"] == 2.0 and model.get_params()["parties"] == 4
    assert model.set_params(lam=3.0) is model and model.lam == 3.0
    with pytest.raises(ValueError, match="no parameter"):
        model.set_params(alpha=1.0)
    with pytest.raises(ConfigError, match="not fitted"):
        model.predict(WINE.X)
    with pytest.raises(ConfigError, match="parties must be between 2"):
        coopetition.AdmmLasso(parties=1).fit(WINE.X, WINE.y)


def _two_party_session(folder: Path, capsys) -> list[Path]:
    public = []
    for i in range(2):
        assert main(["keys", "new", "--out", str(folder / f"p{i}.key")]) == 0
        public.append(capsys.readouterr().out.strip())
    import socket

    ports = []
    for _ in range(2):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            ports.append(s.getsockname()[1])
    assert (
        main(
            [
                "session",
                "new",
                "--out",
                str(folder / "session.toml"),
                "--objective",
                "ridge",
                "--lam",
                "16",
                *[f"--party={i}=127.0.0.1:{ports[i]},{public[i]}" for i in (0, 1)],
            ]
        )
        == 0
    )
    paths = []
    for i in range(2):
        path = folder / f"p{i}.toml"
        path.write_text(
            f'[party]\nid = {i}\nkey_file = "p{i}.key"\ndata = "unused.csv"\n'
            f'session = "session.toml"\nlisten = "127.0.0.1:{ports[i]}"\n'
        )
        paths.append(path)
    return paths


def test_one_party_per_host_under_trio_and_asyncio(tmp_path, capsys):
    paths = _two_party_session(tmp_path, capsys)
    parts = WINE.split(2, seed=4)
    names = list(WINE.feature_names)
    other: dict = {}

    def party_one() -> None:  # as on another host: its own trio run
        other["outcome"] = trio.run(
            lambda: coopetition.train(paths[1], *parts[1], feature_names=names)
        )

    thread = threading.Thread(target=party_one)
    thread.start()

    async def service() -> dict:
        run = coopetition.train_in_asyncio(paths[0], *parts[0], feature_names=names)
        outcome = await run.result
        await run.finished
        return outcome

    mine = asyncio.run(service())
    thread.join(timeout=120)
    assert mine["coef"] == other["outcome"]["coef"] and mine["feature_names"] == names
    reference = Ridge(alpha=32.0, solver="cholesky").fit(WINE.X, WINE.y)  # wine is standardised
    np.testing.assert_allclose(mine["coef"], reference.coef_, atol=1e-6)
    assert mine["intercept"] == pytest.approx(reference.intercept_, abs=1e-6)
