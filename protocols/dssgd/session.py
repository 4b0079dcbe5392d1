"""The DSSGD protocol object a ``Party`` runs: participants and one parameter server."""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

import numpy as np

from coopetition.engine.errors import ConfigError, PartyId
from coopetition.engine.machine import PhaseMachine
from coopetition.protocols.admm.local import check_data
from coopetition.protocols.admm.machines import Release
from coopetition.protocols.dssgd.machines import Agree, Share
from coopetition.protocols.dssgd.mechanism import DssgdConfig


@dataclass(frozen=True)
class DssgdResult:
    model: np.ndarray
    iterations: int
    role: str
    #: the global model after each iteration (broadcast to every party)
    history: tuple[np.ndarray, ...] = ()


class DssgdRun:
    """DSSGD for one party; ``X``/``y`` for participants, ``features`` for the server."""

    name = "dssgd"

    def __init__(
        self,
        config: DssgdConfig,
        *,
        party: PartyId,
        parties: tuple[PartyId, ...],
        server: PartyId | None,
        X: np.ndarray | None = None,
        y: np.ndarray | None = None,
        features: int | None = None,
    ) -> None:
        self.config = config
        self.parties = tuple(sorted(parties))
        if server is None or server not in self.parties:
            raise ConfigError("DSSGD needs a parameter server among the parties (role missing)")
        self.server, self.party = server, party
        self.participants = tuple(p for p in self.parties if p != server)
        if len(self.participants) < 2:
            raise ConfigError("DSSGD needs at least two participants besides the server")
        self.X = self.y = None
        if party != server:
            if X is None or y is None:
                raise ConfigError(f"participant {party} needs data")
            self.X, self.y = check_data(X, y)
            self.features = self.X.shape[1]
        elif features is None or features < 1:
            raise ConfigError("the server needs the number of features")
        else:
            self.features = features

    def phases(self) -> Generator[PhaseMachine, Any, DssgdResult]:
        cfg, me, everyone, d = self.config, self.party, self.parties, self.features
        params = {**cfg.public_parameters(d), "server": self.server}
        yield Agree(party=me, parties=everyone, public_parameters=params)
        bound = cfg.clip + 60.0 * cfg.laplace_scale(d)
        model = np.zeros(d)
        history = []
        for k in range(cfg.iterations):
            model = yield Share(
                party=me,
                parties=everyone,
                round=k,
                server=self.server,
                participants=self.participants,
                config=cfg,
                features=d,
                model=model,
                X=self.X,
                y=self.y,
                bound=bound,
            )
            history.append(model)
        model = yield Release(party=me, parties=everyone, round=0, model=model)
        role = "server" if me == self.server else "participant"
        return DssgdResult(
            model=model, iterations=cfg.iterations, role=role, history=tuple(history)
        )
