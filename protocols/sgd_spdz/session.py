"""Secure SGD as a ``ProtocolRun``: agree the plan, make preprocessing, train, open.

Three SPDZ phases (``ProgramMachine``, rounds 0, 1, 2): a broadcast of the public parameters
(row counts, d, step size, fixed-point format) that aborts on any difference; the preprocessing
program of the chosen source; the SGD program. The engine's consistent broadcast carries every
SPDZ exchange.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

import numpy as np

from coopetition.engine.errors import ConfigError, PartyId, ProtocolViolation
from coopetition.engine.machine import PhaseMachine
from coopetition.engine.wire import encode_payload
from coopetition.protocols.admm.local import check_data
from coopetition.protocols.spdz.machine import ProgramMachine
from coopetition.protocols.spdz.online import Exchange, Program, SpdzParty
from coopetition.protocols.spdz.preprocessing import PreprocessingStore

from .plan import SgdConfig, SgdPlan, check_rows
from .program import sgd_program
from .sources import PreprocessingSource


@dataclass(frozen=True)
class SgdResult:
    model: np.ndarray
    iterations: int
    preprocessing: str
    preprocessing_secure: bool


def agree(party: int, parameters: dict[str, Any]) -> Program[None]:
    """Everyone broadcasts the public parameters; any difference aborts naming the sender."""
    replies = yield Exchange("parameters", {"p": parameters})
    mine = encode_payload(parameters)
    for sender, payload in sorted(replies.items()):
        theirs = payload.get("p") if isinstance(payload, dict) else None
        try:
            same = theirs is not None and encode_payload(theirs) == mine
        except TypeError:
            same = False
        if not same:
            raise ProtocolViolation(
                f"party {sender} announced other secure-SGD parameters than party {party}",
                culprit=sender,
            )
    return None


class SgdSpdzRun:
    """One party of secure SGD; parties are 0..m-1 (SPDZ numbers shares by position)."""

    name = "sgd-spdz"

    def __init__(
        self,
        config: SgdConfig,
        X: np.ndarray,
        y: np.ndarray,
        *,
        party: PartyId,
        rows: tuple[int, ...],
        source: PreprocessingSource,
        session: bytes = b"",
    ) -> None:
        self.X, self.y = check_data(X, y)
        if len(rows) < 2:
            raise ConfigError("secure SGD needs at least two parties")
        if party not in range(len(rows)):
            raise ConfigError(f"party {party} is not one of the plan's parties 0..{len(rows) - 1}")
        if rows[party] != self.X.shape[0]:
            raise ConfigError(
                f"party {party} holds {self.X.shape[0]} rows, the plan says {rows[party]}"
            )
        config.check_range(self.X.shape[1])
        check_rows(self.X, self.y, config)
        self.config, self.party, self.source, self.session = config, party, source, session
        self.plan = SgdPlan(tuple(rows), self.X.shape[1], config)
        self.parties = tuple(range(len(rows)))

    def phases(self) -> Generator[PhaseMachine, Any, SgdResult]:
        me, everyone = self.party, self.parties
        params = {
            **self.config.public_parameters(self.plan.rows, self.plan.features),
            "preprocessing": self.source.name,
        }
        yield ProgramMachine(me, everyone, round=0, program=agree(me, params))
        needs, masks = self.plan.needs()
        store: PreprocessingStore = yield ProgramMachine(
            me, everyone, round=1, program=self.source.program(needs, masks)
        )
        spdz = SpdzParty(store, session=self.session + b"/sgd-spdz")
        model = yield ProgramMachine(
            me, everyone, round=2, program=sgd_program(spdz, self.plan, self.X, self.y)
        )
        return SgdResult(
            model=model,
            iterations=len(self.plan.batches()),
            preprocessing=self.source.name,
            preprocessing_secure=self.source.secure,
        )


def plain_minibatch_sgd(
    X: np.ndarray, y: np.ndarray, learning_rate: float, batch: int
) -> np.ndarray:
    """The same schedule in float64 (one pass, consecutive batches): the benchmark's peer."""
    w = np.zeros(X.shape[1])
    for s in range(0, X.shape[0], batch):
        xb, yb = X[s : s + batch], y[s : s + batch]
        w = w - learning_rate / len(yb) * (xb.T @ (xb @ w - yb))
    return w


SourceFactory = Callable[[int], PreprocessingSource]
