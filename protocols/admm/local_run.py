"""Train with m in-process parties over any transports (memory by default)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from coopetition.engine.errors import ConfigError, PartyId
from coopetition.engine.local import LocalRun, local_configs, run_parties
from coopetition.engine.party import Deadlines
from coopetition.protocols.admm.session import AdmmConfig, AdmmRun
from coopetition.transports.base import Transport
from coopetition.transports.memory import MemoryNetwork


async def train_locally(
    parts: Sequence[tuple[np.ndarray, np.ndarray]],
    config: AdmmConfig,
    *,
    transports: Sequence[Transport] | None = None,
    deadlines: Deadlines | None = None,
    session: bytes | None = None,
    party_options: Callable[[PartyId], dict[str, Any]] | None = None,
) -> LocalRun:
    """Run plaintext ADMM with one party per ``(X_i, y_i)``; parties are numbered 0..m-1."""
    if len(parts) < 2:
        raise ConfigError("training needs at least two parties")
    ids = list(range(len(parts)))
    if transports is None:
        transports = MemoryNetwork(ids).transports()
    configs = local_configs(ids, session=session, deadlines=deadlines)
    protocols = [
        AdmmRun(config, X, y, party=pid, parties=tuple(ids))
        for pid, (X, y) in zip(ids, parts, strict=True)
    ]
    return await run_parties(configs, transports, protocols, party_options=party_options)
