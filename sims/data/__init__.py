"""Real datasets that ship with the package, so every default works offline.

* ``wine-red``: UCI wine quality, red (1599 rows, 11 physico-chemical features, target: quality
  score). CC BY 4.0 (Cortez et al., 2009).
* ``gas-methane``: UCI gas sensor array under dynamic gas mixtures, ethylene–methane, normalised
  and filtered (349 rows; 16 sensor channels, target: methane concentration) — the shape of
  Helen's gas-sensor task (d = 16) at small n.
* ``diabetes``: scikit-learn's bundled diabetes data (442 rows, 10 features).

Helen assumes data is normalised before training; ``load`` standardises features and centres
the target using pooled statistics; ``load_raw`` keeps the original units (in a real deployment
the parties agree on the scaling in the protocol's ``scaling`` phase).
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

import numpy as np

from coopetition.engine.errors import ConfigError

DATASETS = ("wine-red", "gas-methane", "diabetes")


@dataclass(frozen=True)
class Dataset:
    name: str
    X: np.ndarray
    y: np.ndarray
    feature_names: tuple[str, ...]

    def split(self, parties: int, *, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
        """Shuffle rows with ``seed`` and deal them into ``parties`` nearly equal parts."""
        if parties < 1 or parties > self.X.shape[0]:
            raise ConfigError(f"cannot split {self.X.shape[0]} rows among {parties} parties")
        order = np.random.default_rng(seed).permutation(self.X.shape[0])
        return [(self.X[idx], self.y[idx]) for idx in np.array_split(order, parties)]


def _raw(name: str) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    folder = resources.files(__name__)
    if name == "wine-red":
        with folder.joinpath("winequality-red.csv").open() as handle:
            header = handle.readline().strip().replace('"', "").split(",")
            table = np.loadtxt(handle, delimiter=",")
        return table[:, :-1], table[:, -1], tuple(header[:-1])
    if name == "gas-methane":
        with folder.joinpath("gas_methane_349.txt").open() as handle:
            table = np.loadtxt(handle, comments="#")
        names = tuple(f"sensor_{i}" for i in range(16))
        return table[:, 3:], table[:, 1], names
    if name == "diabetes":
        from sklearn.datasets import load_diabetes

        bunch = load_diabetes()
        return bunch.data, bunch.target, tuple(bunch.feature_names)
    raise ConfigError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")


def load_raw(name: str = "wine-red") -> Dataset:
    """The dataset in its original units (what a party's CSV would hold), not standardised."""
    X, y, names = _raw(name)
    return Dataset(name, X, y, names)


def load(name: str = "wine-red") -> Dataset:
    X, y, names = _raw(name)
    std = X.std(axis=0)
    std[std == 0] = 1.0
    X = (X - X.mean(axis=0)) / std
    return Dataset(name, X, y - y.mean(), names)
