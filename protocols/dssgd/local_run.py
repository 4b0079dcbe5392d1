"""Run DSSGD with m in-process participants (0..m-1) and the server (m) over any transports."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from coopetition.engine.errors import ConfigError, PartyId
from coopetition.engine.local import LocalRun, local_configs, run_parties
from coopetition.engine.party import Deadlines
from coopetition.protocols.dssgd.mechanism import DssgdConfig
from coopetition.protocols.dssgd.session import DssgdRun
from coopetition.transports.base import Transport
from coopetition.transports.memory import MemoryNetwork


async def train_dssgd(
    parts: Sequence[tuple[np.ndarray, np.ndarray]],
    config: DssgdConfig,
    *,
    transports: list[Transport] | None = None,
    deadlines: Deadlines | None = None,
    session: bytes | None = None,
    party_options: Callable[[PartyId], dict[str, Any]] | None = None,
) -> LocalRun:
    if len(parts) < 2:
        raise ConfigError("DSSGD needs at least two participants")
    server = len(parts)
    ids = [*range(len(parts)), server]
    if transports is None:
        transports = list(MemoryNetwork(ids).transports())
    configs = local_configs(ids, session=session, deadlines=deadlines)
    features = int(np.asarray(parts[0][0]).shape[1])
    protocols = [
        DssgdRun(
            config,
            party=pid,
            parties=tuple(ids),
            server=server,
            X=parts[pid][0] if pid < server else None,
            y=parts[pid][1] if pid < server else None,
            features=features,
        )
        for pid in ids
    ]
    return await run_parties(configs, transports, protocols, party_options=party_options)
