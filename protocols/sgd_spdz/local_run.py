"""Run secure SGD with m in-process parties over any transports, with a chosen preprocessing.

``preprocessing="paillier"`` (default) generates every item with the threshold-Paillier
offline phase; the threshold key comes from ``key_generation`` (a ``ThresholdKeyGeneration``;
tests pass small INSECURE keys from ``protocols.spdz.testing``). ``"insecure-dealer"`` deals
items in this process: INSECURE, for tests and smoke runs.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from coopetition.engine.errors import ConfigError, PartyId
from coopetition.engine.local import LocalRun, local_configs, run_parties
from coopetition.engine.party import Deadlines
from coopetition.protocols.paillier.threshold import ThresholdKeyGeneration
from coopetition.protocols.spdz.conversion import PaillierParty
from coopetition.protocols.spdz.offline import OfflineParty
from coopetition.protocols.zk.interval import DEFAULT_REPETITIONS
from coopetition.transports.base import Transport
from coopetition.transports.memory import MemoryNetwork

from .plan import SgdConfig, SgdPlan, check_rows
from .session import SgdSpdzRun
from .sources import InsecureDealerSource, PaillierSource, PreprocessingSource, deal

PREPROCESSING = ("paillier", "insecure-dealer")

#: SPDZ program steps (an offline batch: hundreds of Paillier operations with proofs) run inline
#: in a party's main task, so heartbeats pause while one runs; with real preprocessing the
#: liveness and phase deadlines must cover the longest step and the whole offline phase.
OFFLINE_DEADLINES = Deadlines(phase=7 * 24 * 3600.0, heartbeat_timeout=3600.0)


def make_sources(
    preprocessing: str,
    plan: SgdPlan,
    session: bytes,
    *,
    key_generation: ThresholdKeyGeneration | None = None,
    interval_repetitions: int | None = None,
) -> list[PreprocessingSource]:
    """One preprocessing source per party (the plug point for faster generators)."""
    m = len(plan.rows)
    if preprocessing == "insecure-dealer":
        needs, masks = plan.needs()
        dealer = deal(needs, masks, m)
        return [InsecureDealerSource(dealer, i) for i in range(m)]
    if preprocessing == "paillier":
        if key_generation is None:
            raise ConfigError("Paillier preprocessing needs a threshold key (key_generation)")
        reps = interval_repetitions or DEFAULT_REPETITIONS
        return [
            PaillierSource(
                OfflineParty(
                    PaillierParty(key_generation.key_share(i), session, interval_repetitions=reps)
                )
            )
            for i in range(m)
        ]
    raise ConfigError(f"preprocessing must be one of {', '.join(PREPROCESSING)}")


async def train_sgd_spdz(
    parts: Sequence[tuple[np.ndarray, np.ndarray]],
    config: SgdConfig,
    *,
    preprocessing: str = "paillier",
    key_generation: ThresholdKeyGeneration | None = None,
    interval_repetitions: int | None = None,
    transports: list[Transport] | None = None,
    deadlines: Deadlines | None = None,
    session: bytes | None = None,
    party_options: Callable[[PartyId], dict[str, Any]] | None = None,
) -> LocalRun:
    if len(parts) < 2:
        raise ConfigError("secure SGD needs at least two parties")
    ids = list(range(len(parts)))
    session = session or os.urandom(16)
    rows = tuple(int(np.asarray(X).shape[0]) for X, _ in parts)
    features = int(np.asarray(parts[0][0]).shape[1])
    plan = SgdPlan(rows, features, config)
    # data checks first, so bad input fails before any preprocessing is made
    runs_data = [(np.asarray(X), np.asarray(y)) for X, y in parts]
    for X, y in runs_data:
        config.check_range(X.shape[1])
        check_rows(X, y, config)
    sources = make_sources(
        preprocessing,
        plan,
        session,
        key_generation=key_generation,
        interval_repetitions=interval_repetitions,
    )
    protocols = [
        SgdSpdzRun(config, X, y, party=pid, rows=rows, source=sources[pid], session=session)
        for pid, (X, y) in zip(ids, runs_data, strict=True)
    ]
    if transports is None:
        transports = list(MemoryNetwork(ids).transports())
    if deadlines is None and preprocessing == "paillier":
        deadlines = OFFLINE_DEADLINES
    configs = local_configs(ids, session=session, deadlines=deadlines)
    return await run_parties(configs, transports, protocols, party_options=party_options)
