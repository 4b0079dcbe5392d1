"""Run PPADMM with m in-process participants plus S1 and S2 over any transports."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from nacl.public import PrivateKey

from coopetition.engine.errors import ConfigError, PartyId
from coopetition.engine.local import LocalRun, local_configs, run_parties
from coopetition.engine.party import Deadlines
from coopetition.protocols.ppadmm.session import PpadmmConfig, PpadmmRun
from coopetition.transports.base import Transport
from coopetition.transports.memory import MemoryNetwork


def ppadmm_ids(participants: int) -> tuple[list[PartyId], PartyId, PartyId]:
    """Participants are 0..m-1, S1 is m and S2 is m+1."""
    return list(range(participants)), participants, participants + 1


async def train_ppadmm(
    parts: Sequence[tuple[np.ndarray, np.ndarray]],
    config: PpadmmConfig,
    *,
    transports: list[Transport] | None = None,
    deadlines: Deadlines | None = None,
    session: bytes | None = None,
    auxiliary_key: PrivateKey | None = None,
    pinned_auxiliary: dict[PartyId, bytes] | None = None,
    party_options: Callable[[PartyId], dict[str, Any]] | None = None,
) -> LocalRun:
    """One party per ``(X_i, y_i)`` plus the two servers; results keyed by party id."""
    if len(parts) < 2:
        raise ConfigError("PPADMM needs at least two participants")
    participants, s1, s2 = ppadmm_ids(len(parts))
    ids = [*participants, s1, s2]
    session = session or os.urandom(16)
    if transports is None:
        transports = list(MemoryNetwork(ids).transports())
    configs = local_configs(ids, session=session, deadlines=deadlines)
    features = int(np.asarray(parts[0][0]).shape[1])
    pins = pinned_auxiliary or {}
    protocols = []
    for pid in ids:
        X, y = parts[pid] if pid < len(parts) else (None, None)
        protocols.append(
            PpadmmRun(
                config,
                party=pid,
                parties=tuple(ids),
                primary=s1,
                auxiliary=s2,
                session=session,
                X=X,
                y=y,
                features=features,
                x25519=auxiliary_key if pid == s2 else None,
                auxiliary_public=pins.get(pid),
            )
        )
    return await run_parties(configs, transports, protocols, party_options=party_options)
