"""The library's front door: train one party of a real session, or simulate all parties at once.

* ``await coopetition.train(config, X, y)``: this host's party of a real session under trio
  (``config`` is a party's TOML file, as for ``coopetition train --config``); returns the
  outcome dict with ``coef``, ``intercept``, ``feature_names``... or raises ``ProtocolAborted``.
* ``coopetition.train_in_asyncio(config, X, y)``: the same inside a running asyncio loop (trio
  guest mode, ``engine.embed``); ``await run.result``.
* ``coopetition.simulate(parts, config)``: every party in this process over the memory
  transport, one ``(X_i, y_i)`` per party; returns a ``Fit``.

The estimators (``coopetition.AdmmLasso`` ...) wrap ``simulate`` in scikit-learn's conventions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import trio

from coopetition.engine.embed import GuestRun, start_in_asyncio
from coopetition.engine.errors import ConfigError
from coopetition.engine.party import Deadlines
from coopetition.party_config import PartyFile, load_party_file
from coopetition.party_run import Timeline, run_party_file
from coopetition.protocols.admm import AdmmConfig
from coopetition.protocols.admm.local_run import train_locally
from coopetition.protocols.admm.residuals import RoundCheck
from coopetition.protocols.admm.session import AdmmResult
from coopetition.tabular import Table


@dataclass(frozen=True)
class Fit:
    """A simulated run's released model (identical at every party) and how it got there."""

    coef: np.ndarray
    intercept: float
    model: np.ndarray
    iterations: int
    converged: bool
    history: tuple[RoundCheck, ...]
    feature_names: tuple[str, ...]
    stats: dict[int, dict[str, Any]]
    timeline: list[dict[str, Any]]


def _as_table(X: Any, y: Any, feature_names: Sequence[str] | None = None) -> Table:
    names = getattr(X, "columns", None)
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if X.ndim != 2 or y.ndim != 1 or X.shape[0] != y.shape[0]:
        raise ConfigError(
            f"expected X of shape (n, d) and y of shape (n,), got {X.shape}, {y.shape}"
        )
    if feature_names is None:
        feature_names = [str(c) for c in names] if names is not None else None
    if feature_names is None:
        feature_names = [f"x{i}" for i in range(X.shape[1])]
    if len(feature_names) != X.shape[1]:
        raise ConfigError(f"{len(feature_names)} feature names for {X.shape[1]} columns")
    return Table(X, y, tuple(feature_names), "y")


async def simulate_async(
    parts: Sequence[tuple[Any, Any]],
    config: AdmmConfig,
    *,
    feature_names: Sequence[str] | None = None,
    deadlines: Deadlines | None = None,
    observer: Any = None,
) -> Fit:
    tables = [_as_table(X, y, feature_names) for X, y in parts]
    widths = {t.X.shape[1] for t in tables}
    if len(widths) != 1:
        raise ConfigError(f"every party needs the same number of features, got {sorted(widths)}")
    timeline = Timeline()

    def options(_pid: int) -> dict[str, Any]:
        observe = timeline if observer is None else _both(observer, timeline)
        return {"observer": observe}

    run = await train_locally(
        [(t.X, t.y) for t in tables], config, deadlines=deadlines, party_options=options
    )
    if not run.completed:
        error = run.first_error()
        assert error is not None
        raise error
    result: AdmmResult = run.results[0]
    assert result.coef is not None
    return Fit(
        coef=result.coef,
        intercept=result.intercept,
        model=result.model,
        iterations=result.iterations,
        converged=result.converged,
        history=result.history,
        feature_names=tables[0].feature_names,
        stats={pid: party.stats.as_dict() for pid, party in run.parties.items()},
        timeline=timeline.as_list(),
    )


def _both(first: Any, second: Any) -> Any:
    def observe(*args: Any) -> None:
        first(*args)
        second(*args)

    return observe


def simulate(
    parts: Sequence[tuple[Any, Any]],
    config: AdmmConfig,
    *,
    feature_names: Sequence[str] | None = None,
    deadlines: Deadlines | None = None,
    observer: Any = None,
) -> Fit:
    """Run every party in this process (one ``(X_i, y_i)`` each); blocks until released."""
    return trio.run(
        lambda: simulate_async(
            parts, config, feature_names=feature_names, deadlines=deadlines, observer=observer
        )
    )


async def train(
    config: str | Path | PartyFile,
    X: Any,
    y: Any,
    *,
    feature_names: Sequence[str] | None = None,
    logger: Any = None,
) -> dict[str, Any]:
    """This host's party of a real session, under trio. Raises ``ProtocolAborted`` on abort."""
    spec = config if isinstance(config, PartyFile) else load_party_file(Path(config))
    return await run_party_file(spec, _as_table(X, y, feature_names), log=logger)


def train_in_asyncio(
    config: str | Path | PartyFile,
    X: Any,
    y: Any,
    *,
    feature_names: Sequence[str] | None = None,
) -> GuestRun[dict[str, Any]]:
    """``train`` inside a running asyncio loop; ``await run.result`` gives the outcome."""

    async def main() -> dict[str, Any]:
        return await train(config, X, y, feature_names=feature_names)

    return start_in_asyncio(main)
