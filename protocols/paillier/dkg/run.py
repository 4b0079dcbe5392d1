"""The DKG as an engine protocol: batches (one phase each) until a key passes every check.

``DkgRun`` is a ``ProtocolRun``: ``Party.run(DkgRun(...))`` returns a ``DkgResult`` holding this
party's ``KeyShare`` (whose ``threshold_public`` is the same at every party) or raises one
``ProtocolAborted``. Each batch is its own phase ``dkg`` with the batch number as round, so the
engine's per-phase deadline bounds a batch, not the whole (random-length) search.
``DistributedKeyGeneration`` wraps the result behind ``ThresholdKeyGeneration``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any

from coopetition.engine.errors import ProtocolAborted
from coopetition.engine.machine import PhaseMachine
from coopetition.protocols.paillier.threshold import (
    KeyShare,
    ThresholdKeyGeneration,
    ThresholdPublicKey,
)

from .machine import StepMachine
from .params import DkgParams
from .program import BatchOutcome, BatchStats, DkgContext, Tamper, batch_program
from .program_additive import AdditiveSetup, additive_batch_program


@dataclass(frozen=True)
class DkgProgress:
    """Reported after every batch (no secrets: counts and timings only)."""

    party: int
    batch: int
    candidates_tried: int
    survivors: int
    passed_first_test: int
    audited: int
    seconds: float
    done: bool


@dataclass
class DkgResult:
    key_share: KeyShare
    candidates_tried: int
    batches: int
    batch_stats: list[BatchStats] = field(default_factory=list)

    @property
    def threshold_public(self) -> ThresholdPublicKey:
        return self.key_share.threshold_public


class DkgGaveUp(ProtocolAborted):
    """No key after ``max_batches`` batches (with honest parties this is vanishingly unlikely)."""

    code = "dkg_gave_up"


@dataclass
class DkgRun:
    party: int
    parties: tuple[int, ...]
    params: DkgParams
    session: bytes = field(default_factory=lambda: os.urandom(16))
    audit_fraction: float = 0.125
    max_batches: int = 10_000
    progress: Callable[[DkgProgress], None] | None = None
    tamper: Tamper | None = None
    observe: Callable[[str, Any], None] | None = None
    name: str = "dkg"

    def phases(self) -> Generator[PhaseMachine, Any, DkgResult]:
        if tuple(self.parties) != tuple(range(self.params.parties)):
            raise ValueError("parties must be 0..m-1 and match params.parties")
        ctx = DkgContext(
            self.params, self.party, self.session, self.audit_fraction, self.tamper, self.observe
        )
        tried, history = 0, []
        additive = self.params.multiplier == "additive"
        setup = AdditiveSetup.generate(self.params) if additive else None
        for batch in range(self.max_batches):
            if setup is not None:
                program = additive_batch_program(ctx, batch, setup)
            else:
                program = batch_program(ctx, batch)
            machine = StepMachine(self.party, self.parties, round=batch, program=program)
            outcome: BatchOutcome = yield machine
            tried += outcome.stats.candidates
            history.append(outcome.stats)
            if self.progress is not None:
                s = outcome.stats
                self.progress(
                    DkgProgress(
                        self.party,
                        batch,
                        tried,
                        s.survivors,
                        s.passed_first,
                        s.audited,
                        outcome.seconds,
                        outcome.key_share is not None,
                    )
                )
            if outcome.key_share is not None:
                return DkgResult(outcome.key_share, tried, batch + 1, history)
        raise DkgGaveUp(f"no key after {self.max_batches} batches", phase="dkg")


class DistributedKeyGeneration(ThresholdKeyGeneration):
    """The local party's view of a finished DKG: the public key and only its own share."""

    def __init__(self, result: DkgResult) -> None:
        self._share = result.key_share

    @property
    def threshold_public(self) -> ThresholdPublicKey:
        return self._share.threshold_public

    def key_share(self, party: int) -> KeyShare:
        if party != self._share.party:
            raise ValueError(
                f"a distributed key generation holds only party {self._share.party}'s share"
            )
        return self._share
