"""The COPML protocol a ``Party`` runs: input sharing, Lagrange encoding, J training iterations
(model encoding, coded gradient, decoding from the fastest parties, secure truncation and model
update), and the release of the final model. Algorithm 1 of So, Guler and Avestimehr (2020).

Every party is both a data owner and a worker. Raw data are Shamir-shared (degree T) only with
the ``T + 2`` encoders (``T + 1`` suffice, one more lets the recipients detect a wrong share);
``X^T y`` needs no multiplication here because each owner shares its own ``X_j^T y_j``.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from coopetition.engine.errors import ConfigError, PartyId, ProtocolViolation
from coopetition.engine.machine import PhaseMachine
from coopetition.protocols.shamir.field import SplitMatrix

from . import arith, dealer_node
from .approx import fit_sigmoid, quantised_coefficients
from .coding import LagrangeCode
from .dealer import Dealer
from .params import CopmlParams, FieldPlan
from .steps import (
    Collect,
    DecodePhase,
    EncodePhase,
    GradientPhase,
    InputPhase,
    ModelPhase,
    ReleasePhase,
    Scatter,
    UpdatePhase,
    Work,
)

#: Recipients whose coded data shares an encoder computes and sends at a time.
ENCODE_BATCH = 5


@dataclass(frozen=True)
class CopmlResult:
    model: np.ndarray
    iterations: int
    field_prime: int
    kappa: int


@dataclass(frozen=True)
class CopmlSetup:
    """What every party must agree on before the run (public)."""

    params: CopmlParams
    rows: tuple[int, ...]  # rows held by each party, in roster order
    features: int

    @property
    def total_rows(self) -> int:
        return sum(self.rows)

    @property
    def block_rows(self) -> int:
        return -(-self.total_rows // self.params.K)

    def plan(self) -> FieldPlan:
        p = self.params
        coeffs = fit_sigmoid(p.r, p.fit_range)
        spread = float(sum(abs(c) * p.fit_range**i for i, c in enumerate(coeffs)))
        return FieldPlan(p, self.total_rows, self.features, spread)


def check_inputs(
    X: np.ndarray, y: np.ndarray, params: CopmlParams
) -> tuple[np.ndarray, np.ndarray]:
    """Refuse data COPML cannot train on, naming the rule (before anything is sent)."""
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y)
    if X.ndim != 2 or y.ndim != 1 or X.shape[0] != y.shape[0] or X.shape[0] == 0:
        raise ConfigError(
            "rule: X is a non-empty (rows, features) matrix and y has one label per row"
        )
    if not np.all(np.isfinite(X)):
        raise ConfigError("rule: the data must be finite numbers")
    if not np.all((y == 0) | (y == 1)):
        raise ConfigError("rule: labels must be 0 or 1")
    if np.max(np.abs(X)) > params.x_max:
        raise ConfigError(
            f"rule: the data do not fit the field: |x| <= x_max = {params.x_max} is required "
            f"(largest |x| is {float(np.max(np.abs(X)))})"
        )
    return X, y.astype(np.int64)


class CopmlRun:
    name = "copml"
    #: every iteration step waits only for the fastest quorum, so peers that crash beyond the
    #: recovery threshold are written off instead of aborting the run (engine.party)
    tolerates_crashes = True

    def __init__(
        self,
        setup: CopmlSetup,
        X: np.ndarray,
        y: np.ndarray,
        dealer: Dealer | PartyId,
        *,
        party: PartyId,
        parties: tuple[PartyId, ...],
        seed: int | None = None,
    ) -> None:
        self.setup = setup
        self.params = p = setup.params
        if len(parties) != p.N or len(setup.rows) != p.N:
            raise ConfigError(f"rule: the run has {len(parties)} parties but N = {p.N}")
        self.X, self.y = check_inputs(X, y, p)
        self.party, self.parties = party, tuple(sorted(parties))
        self.pos = self.parties.index(party)
        if self.X.shape != (setup.rows[self.pos], setup.features):
            raise ConfigError("this party's data do not have the agreed shape")
        self.plan = setup.plan()
        self.field = self.plan.field
        self.code = LagrangeCode(self.field, p.N, p.K, p.T)
        #: the offline randomness: an in-process ``Dealer``, or the id of the dealer node
        #: (``dealer_node.DealerRun``) whose messages carry this party's shares
        self.dealer = dealer
        self._w0: np.ndarray | None = None
        self.coeffs = quantised_coefficients(fit_sigmoid(p.r, p.fit_range), p.lc)
        self.rng = np.random.default_rng(seed)
        self.encoders = list(range(p.encoders))
        self.threshold = p.threshold
        self.quorum = p.quorum

    # -- helpers ---------------------------------------------------------------------------

    def _others(self, positions: Sequence[int]) -> tuple[PartyId, ...]:
        return tuple(self.parties[i] for i in positions if i != self.pos)

    def _expect(self, messages: dict[PartyId, Any], shape: tuple[int, ...], what: str) -> None:
        for sender, value in messages.items():
            ok = (
                isinstance(value, np.ndarray)
                and value.dtype == np.int64
                and value.shape == shape
                and (value.size == 0 or (value.min() >= 0 and value.max() < self.field.p))
            )
            if not ok:
                raise ProtocolViolation(
                    f"party {sender} sent a malformed {what} (expected {shape} field elements)",
                    culprit=sender,
                )

    def _stack(
        self, mine: np.ndarray, got: dict[PartyId, np.ndarray]
    ) -> tuple[list[int], np.ndarray]:
        """Own value plus received ones, in roster order: (positions, stacked array)."""
        by_pos = {self.pos: mine, **{self.parties.index(s): v for s, v in got.items()}}
        positions = sorted(by_pos)
        return positions, np.stack([by_pos[i] for i in positions])

    # -- the protocol ------------------------------------------------------------------------

    def phases(self) -> Generator[PhaseMachine, Any, CopmlResult]:
        p = self.params
        me, everyone = self.party, self.parties
        xty, blocks = yield InputPhase(me, everyone, program=self._input())
        encode = self._encode(blocks)
        del blocks  # the encode program owns the blocks and drops them once encoded
        coded_X = yield EncodePhase(me, everyone, program=encode)
        del encode
        w = self._w0 if self._w0 is not None else self._local_dealer.initial_model(self.pos)
        for t in range(p.iterations):
            coded_w, rand = yield ModelPhase(me, everyone, round=t, program=self._model(w, t))
            grad = yield GradientPhase(
                me, everyone, round=t, program=self._gradient(coded_X, coded_w)
            )
            g_share = yield DecodePhase(
                me, everyone, round=t, program=self._decode(grad, xty, rand)
            )
            w = yield UpdatePhase(me, everyone, round=t, program=self._update(w, g_share, rand))
        model = yield ReleasePhase(me, everyone, program=self._release(w))
        return CopmlResult(model, p.iterations, self.field.p, self.plan.kappa)

    def _input(self) -> Generator[Any, Any, Any]:
        p, f = self.params, self.field
        s = p.lx + p.lw
        g_scale = p.r * s + p.lc
        data_shares, xty_shares = yield Work(
            "share-input",
            arith.share_input,
            (f, self.X, self.y, p.lx, g_scale, self.code, self.encoders, self.rng),
        )
        yield Scatter(
            "xty", {q: xty_shares[i] for i, q in enumerate(self.parties) if i != self.pos}
        )
        yield Scatter(
            "data",
            {self.parties[e]: data_shares[k] for k, e in enumerate(self.encoders) if e != self.pos},
        )
        # keep only this party's own share: the others are sent (all N parties at once hold
        # theirs until every encoder's data arrived otherwise: 2 GB at full CIFAR size, Case 2)
        mine = (
            data_shares[self.encoders.index(self.pos)].copy() if self.pos in self.encoders else None
        )
        del data_shares
        got = yield Collect("xty", self._others(range(p.N)))
        self._expect(got, (self.setup.features,), "share of X^T y")
        xty = yield Work("sum-input", arith.sum_shares, (f, xty_shares[self.pos], got))
        if self.pos not in self.encoders:
            return xty, None
        got = yield Collect("data", self._others(range(p.N)))
        for sender, value in got.items():
            rows = self.setup.rows[self.parties.index(sender)]
            self._expect({sender: value}, (rows, self.setup.features), "data share")
        assert mine is not None
        blocks = yield Work(
            "stack-data",
            arith.stack_blocks,
            (
                mine,
                self.pos,
                {self.parties.index(s): v for s, v in got.items()},
                p.K,
                self.setup.block_rows,
            ),
        )
        return xty, blocks

    def _encode(self, blocks: np.ndarray | None) -> Generator[Any, Any, Any]:
        p, f = self.params, self.field
        shape = (self.setup.block_rows, self.setup.features)
        own = None
        masks = None
        if isinstance(self.dealer, Dealer):
            if blocks is not None:
                masks = self.dealer.data_masks(self.pos)
        else:
            masks, self._w0 = yield from dealer_node.receive_setup(self, blocks is not None)
        if blocks is not None:
            assert masks is not None
            nodes = yield Work("stack-nodes", np.concatenate, ([blocks, masks],))
            del blocks, masks
            # A few recipients at a time: the coded shares of one batch exist at once, not all
            # N (at full CIFAR size, Case 2, 50 x 22 MB per encoder); with the simulator's
            # back-pressure the next batch is made as the uplink drains (docs/simulation.md).
            for start in range(0, p.N, ENCODE_BATCH):
                rows = list(range(start, min(start + ENCODE_BATCH, p.N)))
                coded = yield Work("encode-data", self.code.encode_nodes, (nodes, rows))
                if self.pos in rows:
                    own = coded[rows.index(self.pos)].copy()
                yield Scatter(
                    "coded",
                    {self.parties[r]: coded[i] for i, r in enumerate(rows) if r != self.pos},
                )
                del coded
            del nodes
        got = yield Collect("coded", self._others(self.encoders))
        self._expect(got, shape, "coded data share")
        if own is not None:
            got = {**got, self.party: own}
        positions = sorted(self.parties.index(s) for s in got)
        stacked = np.stack([got[self.parties[i]] for i in positions])
        del got, own
        points = [self.code.alphas[i] for i in positions]
        senders = [self.parties[i] for i in positions]
        coded = yield Work(
            "reconstruct-data",
            arith.checked_reconstruct,
            (f, stacked, points, senders, p.T, self.rng, "the coded data"),
        )
        del stacked
        # cut once into float64 limbs: every iteration's gradient multiplies by it twice
        return (yield Work("split-coded-data", f.split, (coded,)))

    def _quorum_open(self, tag: str, own: np.ndarray, what: str) -> Generator[Any, Any, Any]:
        """Collect shares of one degree-T value from the fastest quorum, check, reconstruct."""
        got = yield Collect(tag, self._others(range(self.params.N)), at_least=self.quorum - 1)
        self._expect(got, own.shape, what)
        positions, stacked = self._stack(own, got)
        points = [self.code.alphas[i] for i in positions]
        senders = [self.parties[i] for i in positions]
        args = (self.field, stacked, points, senders, self.params.T, self.rng, what)
        return (yield Work("reconstruct", arith.checked_reconstruct, args))

    @property
    def _local_dealer(self) -> Dealer:
        assert isinstance(self.dealer, Dealer)
        return self.dealer

    def _model(self, w: np.ndarray, t: int) -> Generator[Any, Any, Any]:
        if isinstance(self.dealer, Dealer):
            rand = self.dealer.iteration(self.pos, t)
        else:
            rand = yield from dealer_node.receive_iteration(self)
        coded = yield Work("encode-model", self.code.encode_model, (w, rand.model_masks))
        yield Scatter("w", {q: coded[i] for i, q in enumerate(self.parties) if i != self.pos})
        opened = yield from self._quorum_open("w", coded[self.pos], "the coded model")
        return opened, rand

    def _gradient(self, coded_X: SplitMatrix, coded_w: np.ndarray) -> Generator[Any, Any, Any]:
        p = self.params
        return (
            yield Work(
                "gradient",
                arith.coded_gradient,
                (self.field, coded_X, coded_w, self.coeffs, p.lx + p.lw),
            )
        )

    def _decode(self, grad: np.ndarray, xty: np.ndarray, rand: Any) -> Generator[Any, Any, Any]:
        p, f = self.params, self.field
        shares = yield Work(
            "share-gradient",
            arith.share_gradient,
            (f, grad, rand.gradient_masks, self.code.alphas),
        )
        yield Scatter("f", {q: shares[i] for i, q in enumerate(self.parties) if i != self.pos})
        got = yield Collect("f", self._others(range(p.N)), at_least=self.quorum - 1)
        self._expect(got, grad.shape, "share of a coded gradient")
        positions, stacked = self._stack(shares[self.pos], got)
        return (
            yield Work(
                "decode",
                arith.decode_gradient,
                (
                    f,
                    self.code,
                    stacked,
                    positions,
                    [self.parties[i] for i in positions],
                    self.threshold,
                    xty,
                    self.rng,
                ),
            )
        )

    def _update(self, w: np.ndarray, g: np.ndarray, rand: Any) -> Generator[Any, Any, Any]:
        p, f, plan = self.params, self.field, self.plan
        c_share = yield Work(
            "mask", arith.truncation_mask, (f, g, rand.r_low, rand.r_high, plan.k, plan.k1)
        )
        yield Scatter("c", {q: c_share for i, q in enumerate(self.parties) if i != self.pos})
        got = yield Collect("c", self._others(range(p.N)), at_least=self.quorum - 1)
        self._expect(got, w.shape, "share of the masked gradient")
        positions, stacked = self._stack(c_share, got)
        return (
            yield Work(
                "truncate-update",
                arith.truncate_update,
                (
                    f,
                    w,
                    g,
                    rand.r_low,
                    stacked,
                    [self.code.alphas[i] for i in positions],
                    [self.parties[i] for i in positions],
                    p.T,
                    plan.k1,
                    self.rng,
                ),
            )
        )

    def _release(self, w: np.ndarray) -> Generator[Any, Any, Any]:
        yield from dealer_node.release_dealer(self)
        yield Scatter("model", {q: w for i, q in enumerate(self.parties) if i != self.pos})
        w_q = yield from self._quorum_open("model", w, "the final model")
        return self.field.decode_signed(w_q).astype(np.float64) / float(1 << self.params.lw)
