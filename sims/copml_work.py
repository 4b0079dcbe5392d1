"""COPML runs for simulations, tests, the demo and the benchmark: data split, dealer, factory."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from coopetition.engine.errors import ConfigError, PartyId
from coopetition.protocols.copml.coding import LagrangeCode
from coopetition.protocols.copml.dealer import Dealer
from coopetition.protocols.copml.dealer_node import DealerRun
from coopetition.protocols.copml.params import CopmlParams
from coopetition.protocols.copml.session import CopmlRun, CopmlSetup, check_inputs

DATA_DIR = Path("/work/shared/data")
CIFAR_FILE = DATA_DIR / "cifar10_plane_car_copml.npz"
#: public centring of pixel values: x/255 - 1/2 (a constant every party knows; no statistic of
#: anyone's data), then a bias column of 1/2 so that |x| <= 1/2 holds for every entry
PIXEL_SHIFT = 0.5


def cifar_plane_car(
    path: Path = CIFAR_FILE,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """COPML's CIFAR-10 plane/car split, pixels/255 centred at 1/2, bias column: d = 3073."""
    if not path.exists():
        raise ConfigError(f"dataset {path} is missing (it is kept offline; see its README)")
    data = np.load(path)

    def prep(raw: np.ndarray) -> np.ndarray:
        X = raw.astype(np.float64) / 255.0 - PIXEL_SHIFT
        return np.hstack([X, np.full((X.shape[0], 1), 0.5)])

    return (
        prep(data["X_train"]),
        data["y_train"].astype(np.int64),
        prep(data["X_test"]),
        data["y_test"].astype(np.int64),
    )


@dataclass
class CopmlWorkload:
    """Everything a simulated COPML run needs; ``factory`` plugs into ``sims.runner``."""

    params: CopmlParams
    parts: list[tuple[np.ndarray, np.ndarray]]
    dealer_seed: int | None = None
    seed: int = 0
    #: the dealer as its own node (the last of N + 1 party ids) instead of an in-process object
    dealer_node: bool = False

    def __post_init__(self) -> None:
        if len(self.parts) != self.params.N:
            raise ConfigError(f"rule: {len(self.parts)} data parts for N = {self.params.N} parties")
        for X, y in self.parts:
            check_inputs(X, y, self.params)
        features = {X.shape[1] for X, _ in self.parts}
        if len(features) != 1:
            raise ConfigError("rule: every party's data have the same number of features")
        self.setup = CopmlSetup(self.params, tuple(len(y) for _, y in self.parts), features.pop())
        plan = self.setup.plan()  # refuses data that do not fit the field, before any run
        self.plan = plan
        self.dealer = Dealer(
            plan.field,
            LagrangeCode(plan.field, self.params.N, self.params.K, self.params.T),
            features=self.setup.features,
            block_rows=self.setup.block_rows,
            k=plan.k,
            k1=plan.k1,
            kappa=plan.kappa,
            threshold=self.params.threshold,
            seed=self.dealer_seed,
        )

    def factory(self, party: PartyId, parties: tuple[PartyId, ...]) -> CopmlRun | DealerRun:
        roster = sorted(parties)
        if not self.dealer_node:
            pos = roster.index(party)
            X, y = self.parts[pos]
            return CopmlRun(
                self.setup,
                X,
                y,
                self.dealer,
                party=party,
                parties=parties,
                seed=self.seed * 1000 + pos,
            )
        if len(roster) != self.params.N + 1:
            raise ConfigError(
                f"rule: a run with a dealer node has N + 1 = {self.params.N + 1} parties"
            )
        owners, dealer_id = tuple(roster[:-1]), roster[-1]
        if party == dealer_id:
            return DealerRun(
                self.dealer,
                party=party,
                parties=owners,
                iterations=self.params.iterations,
                quorum=self.params.quorum,
            )
        pos = owners.index(party)
        X, y = self.parts[pos]
        return CopmlRun(
            self.setup, X, y, dealer_id, party=party, parties=owners, seed=self.seed * 1000 + pos
        )


def split_rows(X: np.ndarray, y: np.ndarray, N: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Split evenly across N owners, in order (COPML distributes the data evenly)."""
    idx = np.array_split(np.arange(len(y)), N)
    return [(X[i], y[i]) for i in idx]


def plaintext_fixed_reference(X: np.ndarray, y: np.ndarray, params: CopmlParams) -> np.ndarray:
    """Float gradient descent with COPML's polynomial, step and iterations (no quantisation):
    what the secure run approximates."""
    from coopetition.protocols.copml.approx import fit_sigmoid

    coeffs = fit_sigmoid(params.r, params.fit_range)
    step = 2.0 ** (-params.eta_exp)  # eta / m
    w = np.zeros(X.shape[1])
    for _ in range(params.iterations):
        z = X @ w
        g = np.polynomial.polynomial.polyval(z, coeffs)
        w = w - step * (X.T @ (g - y))
    return w


GISETTE_DIR = DATA_DIR / "gisette_subset"


def gisette_subset(directory: Path = GISETTE_DIR) -> tuple[np.ndarray, np.ndarray]:
    """The GISETTE rows kept offline (168 x 5000), values/999 centred at 1/2, labels -1/1 -> 0/1,
    plus a bias column of 1/2 (d = 5001). A smoke-test subset: the full 6000 rows are not here."""
    table = directory / "gisette_train_first168_h2o.csv"
    if not table.exists():
        raise ConfigError(f"dataset {table} is missing (it is kept offline; see its README)")
    raw = np.loadtxt(table, delimiter=",", skiprows=1)[:, :5000]
    labels = np.loadtxt(directory / "gisette_train.labels")[: raw.shape[0]]
    X = raw / 999.0 - PIXEL_SHIFT
    X = np.hstack([X, np.full((X.shape[0], 1), 0.5)])
    return X, (labels > 0).astype(np.int64)


@dataclass
class BaselineWorkload:
    """The paper's MPC baselines (``mode`` bgw or bh08) on the same data split."""

    mode: str
    params: CopmlParams
    parts: list[tuple[np.ndarray, np.ndarray]]
    dealer_seed: int | None = None
    seed: int = 0
    reduction: str = "inner-product"  # or "per-product" (protocols.copml.baseline_products)

    def __post_init__(self) -> None:
        from coopetition.protocols.copml.baseline import BaselineDealer, BaselineSetup

        for X, y in self.parts:
            check_inputs(X, y, self.params)
        self.setup = BaselineSetup(
            self.mode,
            self.params,
            tuple(len(y) for _, y in self.parts),
            self.parts[0][0].shape[1],
            self.reduction,
        )
        self.plan = self.setup.plan()
        self.dealer = BaselineDealer(self.setup, self.plan, seed=self.dealer_seed)

    def factory(self, party: PartyId, parties: tuple[PartyId, ...]) -> object:
        from coopetition.protocols.copml.baseline import BaselineRun

        pos = sorted(parties).index(party)
        X, y = self.parts[pos]
        return BaselineRun(
            self.setup, X, y, self.dealer, party=party, parties=parties, seed=self.seed * 1000 + pos
        )


class _Factory:
    def __init__(self, work: CopmlWorkload) -> None:
        self.work = work

    def factory(self) -> object:
        return self.work.factory


def synthetic_copml(
    parties: int,
    *,
    preset: str = "case1",
    iterations: int = 10,
    rows_per_party: int = 50,
    features: int = 8,
    seed: int = 0,
) -> _Factory:
    """A scenario's COPML workload: a noisy linear classifier's labels on uniform features in
    [-1/2, 1/2] (bias column included), drawn from the seed."""
    rng = np.random.default_rng(seed)
    m = parties * rows_per_party
    X = rng.uniform(-0.5, 0.5, (m, features))
    X[:, -1] = 0.5
    y = (X @ rng.normal(size=features) * 4 + rng.normal(size=m) * 0.3 > 0).astype(np.int64)
    params = CopmlParams.preset(
        preset, parties, iterations=iterations, lx=8, lw=12, lc=6, eta_exp=5
    )
    return _Factory(CopmlWorkload(params, split_rows(X, y, parties), seed=seed))


def fixed_point_model(
    X: np.ndarray, y: np.ndarray, params: CopmlParams, seed: int = 0
) -> np.ndarray:
    """COPML's arithmetic without the parties: the same quantised data, polynomial, exact integer
    gradient and stochastic truncation by ``k1`` bits (uniform ``r'``), in int64/object integers.

    The protocol decodes exactly this gradient in the field (decoding is exact interpolation), so
    the trained model has the same distribution; used to measure accuracy at sizes the one-process
    simulation of all N parties cannot reach on a small machine. Not a protocol run.
    """
    from coopetition.protocols.copml.approx import fit_sigmoid, quantised_coefficients
    from coopetition.protocols.copml.arith import quantise

    setup = CopmlSetup(params, (len(y),), X.shape[1])
    plan = setup.plan()
    coeffs = quantised_coefficients(fit_sigmoid(params.r, params.fit_range), params.lc)
    s = params.lx + params.lw
    r = params.r
    Xq = quantise(X, params.lx)
    xty = (Xq.T @ y.astype(np.int64)) << (r * s + params.lc)
    rng = np.random.default_rng(seed)
    w = np.zeros(X.shape[1], dtype=np.int64)
    # int64 is exact here: the plan bounds |X^T g| (and every partial sum) by 2^(k-1) <= 2^57
    for _ in range(params.iterations):
        z = Xq @ w
        g = np.zeros_like(z)
        for i, c in enumerate(coeffs):
            g = g + c * z**i * (1 << ((r - i) * s))
        grad = Xq.T @ g - xty
        low = rng.integers(0, 1 << plan.k1, size=len(w), dtype=np.int64)
        w = w - ((grad + low) >> plan.k1)
    return w.astype(np.float64) / float(1 << params.lw)
