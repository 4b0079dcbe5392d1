"""The crypto-service provider as its own node: the offline dealer speaking over the bus.

COPML's paper (footnote 3) lets a crypto-service provider make the offline randomness; in a
multi-process run it is one more party of the roster (``DealerRun``), outside the set of data
owners. It holds a :class:`~coopetition.protocols.copml.dealer.Dealer` and sends each party only
that party's shares, in signed point-to-point messages keyed by the phase that uses them:

* ``copml-encode`` round 0, tag ``dealer-setup``: the initial model share, and for the encoders
  the shares of the data-encoding masks;
* ``copml-model`` round t, tag ``dealer-rand``: iteration t's model masks, gradient-mask
  polynomial values and truncation pair.

It generates them in the order an in-process dealer is asked for them (masks, initial model,
iterations in order), so a run with the node and a run with the in-process dealer of the same
seed train exactly the same model. The dealer sends ahead (the parties' buses park the messages
until the phase that reads them); its last phase waits for the quorum's ``dealer-release``
message, which each party sends as it starts releasing the model, so the dealer stays connected
while the parties still need it and does not wait at the finish barrier for the whole training.

Trust: semi-honest and non-colluding, like the paper's provider (docs/threat-model.md). It
never receives data, coded values or the model; but it knows every mask, so together with the
shares of one more party it could unmask values. The parties check only the shape and range of
what it sends (a malformed message names it).
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any, Protocol

import numpy as np

from coopetition.engine.errors import PartyId, ProtocolViolation
from coopetition.engine.machine import PhaseMachine
from coopetition.protocols.shamir.field import PrimeField

from .dealer import Dealer, IterationRandomness
from .params import CopmlParams
from .steps import Collect, EncodePhase, ModelPhase, ReleasePhase, Scatter, Work

SETUP_TAG = "dealer-setup"
ITERATION_TAG = "dealer-rand"
RELEASE_TAG = "dealer-release"


class DealerRun:
    """The dealer node's protocol (``Party.run`` drives it like any other)."""

    name = "copml"
    #: a party written off by the others is written off here too (its sends are skipped)
    tolerates_crashes = True

    def __init__(
        self,
        dealer: Dealer,
        *,
        party: PartyId,
        parties: tuple[PartyId, ...],
        iterations: int,
        quorum: int,
    ) -> None:
        self.dealer, self.party = dealer, party
        self.parties = tuple(sorted(parties))  # the data owners, in roster order
        if party in self.parties:
            raise ValueError("the dealer node is not one of the data owners")
        self.iterations, self.quorum = iterations, quorum

    def phases(self) -> Generator[PhaseMachine, Any, None]:
        me, everyone = self.party, (*self.parties, self.party)
        yield EncodePhase(me, everyone, program=self._setup())
        for t in range(self.iterations):
            yield ModelPhase(me, everyone, round=t, program=self._iteration(t))
        yield ReleasePhase(me, everyone, program=self._wait_release())

    def _setup(self) -> Generator[Any, Any, None]:
        def make() -> dict[PartyId, list[np.ndarray]]:
            encoders = self.dealer.encoders
            masks = {e: self.dealer.data_masks(e) for e in encoders}
            out: dict[PartyId, list[np.ndarray]] = {}
            for pos, party in enumerate(self.parties):
                w0 = self.dealer.initial_model(pos)
                out[party] = [w0, masks[pos]] if pos in masks else [w0]
            return out

        payloads = yield Work("dealer-setup", make)
        yield Scatter(SETUP_TAG, payloads)

    def _iteration(self, t: int) -> Generator[Any, Any, None]:
        def make() -> dict[PartyId, list[np.ndarray]]:
            out = {}
            for pos, party in enumerate(self.parties):
                r = self.dealer.iteration(pos, t)
                out[party] = [r.model_masks, r.gradient_masks, r.r_low, r.r_high]
            return out

        payloads = yield Work("dealer-iteration", make)
        yield Scatter(ITERATION_TAG, payloads)

    def _wait_release(self) -> Generator[Any, Any, None]:
        yield Collect(RELEASE_TAG, self.parties, at_least=self.quorum)


# -- the data owners' side (called from CopmlRun's phase programs) -------------------------------


class _Setup(Protocol):
    @property
    def features(self) -> int: ...
    @property
    def block_rows(self) -> int: ...


class CopmlRun(Protocol):
    """What the owners' side needs of ``session.CopmlRun`` (a protocol, to avoid an import cycle)."""

    dealer: Dealer | PartyId
    field: PrimeField
    params: CopmlParams

    @property
    def setup(self) -> _Setup: ...


def _arrays(
    run: CopmlRun, payload: Any, shapes: list[tuple[int, ...]], what: str
) -> list[np.ndarray]:
    sender = run.dealer
    assert not isinstance(sender, Dealer)
    ok = isinstance(payload, list) and len(payload) == len(shapes)
    if ok:
        for value, shape in zip(payload, shapes, strict=True):
            ok = ok and (
                isinstance(value, np.ndarray)
                and value.dtype == np.int64
                and value.shape == shape
                and (value.size == 0 or (value.min() >= 0 and value.max() < run.field.p))
            )
    if not ok:
        raise ProtocolViolation(
            f"the dealer (party {sender}) sent malformed {what} (expected {shapes})",
            culprit=sender,
        )
    return list(payload)


def receive_setup(
    run: CopmlRun, encoder: bool
) -> Generator[Any, Any, tuple[np.ndarray | None, np.ndarray]]:
    """This party's initial model share and, for an encoder, its data-mask shares."""
    assert not isinstance(run.dealer, Dealer)
    got = yield Collect(SETUP_TAG, (run.dealer,))
    d, T, M = run.setup.features, run.params.T, run.setup.block_rows
    shapes: list[tuple[int, ...]] = [(d,), (T, M, d)] if encoder else [(d,)]
    values = _arrays(run, got[run.dealer], shapes, "setup randomness")
    return (values[1] if encoder else None), values[0]


def receive_iteration(run: CopmlRun) -> Generator[Any, Any, IterationRandomness]:
    """This party's shares of one iteration's randomness."""
    assert not isinstance(run.dealer, Dealer)
    got = yield Collect(ITERATION_TAG, (run.dealer,))
    d, T = run.setup.features, run.params.T
    values = _arrays(run, got[run.dealer], [(T, d), (T, d), (d,), (d,)], "iteration randomness")
    return IterationRandomness(*values)


def release_dealer(run: CopmlRun) -> Generator[Any, Any, None]:
    """Tell the dealer node this party no longer needs it."""
    if not isinstance(run.dealer, Dealer):
        yield Scatter(RELEASE_TAG, {run.dealer: True})
