"""COPML's MPC baselines (Appendix C, D of So et al. 2020): the same logistic regression computed
directly on Shamir shares, with multiplication by BGW degree reduction (Ben-Or, Goldwasser and
Wigderson 1988) or by double-degree random pairs (Beerliova-Trubiniova and Hirt 2008, "BH08").

The paper's optimisation: the parties form three groups, each group Shamir-shares (degree T,
``T = floor((N-3)/6)``, the privacy of COPML's Case 2) the data of its members and computes the
sub-gradient of its third of the data; the sub-gradients are reshared to every group, summed, and
every group applies the same truncated update (the truncation masks are shared in every group, so
the opened values and thus the models agree). Per iteration: ``z = X w`` and ``X^T g(z)`` are
products of shares (degree 2T) and need one degree reduction each.

BGW: the first 2T+1 members reshare their degree-2T product shares with degree T; the new
share is the Lagrange combination (at 0) of those 2T+1 reshares: O(n^2) messages of the vector.
BH08: with a pair ([rho]_T, [rho]_2T) from the offline phase, members open ``ab - rho`` (degree
2T) and add it to [rho]_T: one opening, no resharing. The pairs come from the trusted dealer
(as in the paper's code), like COPML's masks.

``reduction`` chooses where the degree is reduced: ``"inner-product"`` (the default; the two
vectors above) or ``"per-product"`` (the paper's Appendix C read literally: every element product
``X_ij w_j`` and ``g_i X_ij`` reduced on its own, see :mod:`.baseline_products`).
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

import numpy as np

from coopetition.engine.errors import ConfigError, PartyId
from coopetition.engine.machine import PhaseMachine
from coopetition.protocols.shamir.field import PrimeField, SplitMatrix
from coopetition.protocols.shamir.sharing import lagrange_matrix, reconstruct, share

from .approx import fit_sigmoid, quantised_coefficients
from .arith import checked_reconstruct, quantise, truncation_mask
from .baseline_products import REDUCTIONS, per_product_subgradient
from .params import CopmlParams, FieldPlan
from .steps import Collect, Scatter, StepMachine, Work

GROUPS = 3


class BaselineInput(StepMachine):
    phase = "mpc-input"


class BaselineGradient(StepMachine):
    phase = "mpc-gradient"


class BaselineUpdate(StepMachine):
    phase = "mpc-update"


class BaselineRelease(StepMachine):
    phase = "mpc-release"


def baseline_T(N: int) -> int:
    return max(1, (N - 3) // 6)


def groups_of(N: int) -> list[list[int]]:
    """Positions 0..N-1 split into three consecutive groups of sizes as equal as possible."""
    return [list(g) for g in np.array_split(np.arange(N), GROUPS)]


@dataclass(frozen=True)
class BaselineSetup:
    mode: str  # "bgw" or "bh08"
    params: CopmlParams  # N, iterations and the fixed-point scales (K and T unused)
    rows: tuple[int, ...]
    features: int
    reduction: str = "inner-product"  # or "per-product" (Appendix C, see baseline_products)

    def __post_init__(self) -> None:
        if self.mode not in ("bgw", "bh08"):
            raise ConfigError(f"baseline mode is bgw or bh08, got {self.mode!r}")
        if self.reduction not in REDUCTIONS:
            raise ConfigError(
                f"baseline reduction is {' or '.join(REDUCTIONS)}, got {self.reduction!r}"
            )
        T = baseline_T(self.params.N)
        if min(len(g) for g in groups_of(self.params.N)) < 2 * T + 1:
            raise ConfigError(f"rule: each of the 3 groups needs 2T+1 = {2 * T + 1} parties")

    @property
    def T(self) -> int:
        return baseline_T(self.params.N)

    def plan(self) -> FieldPlan:
        p = self.params
        coeffs = fit_sigmoid(1, p.fit_range)
        spread = float(sum(abs(c) * p.fit_range**i for i, c in enumerate(coeffs)))
        return FieldPlan(p, sum(self.rows), self.features, spread)


class BaselineDealer:
    """Trusted offline randomness for the baselines: model init, truncation pairs (the same
    values shared in every group), and BH08's double-degree pairs per group and iteration.

    The pairs come from their own stream: their number depends on the reduction mode, and the
    model's masks must not (so both modes release the same model for the same seed)."""

    def __init__(self, setup: BaselineSetup, plan: FieldPlan, seed: int | None = None) -> None:
        self.setup, self.plan, self.field = setup, plan, plan.field
        self.rng = np.random.default_rng(seed)
        self.pair_rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(1)[0])
        self.groups = groups_of(setup.params.N)
        self._cache: dict[tuple[str, int], dict[int, Any]] = {}

    def _group_points(self, g: int) -> list[int]:
        return list(range(1, len(self.groups[g]) + 1))

    def _per_position(self, key: tuple[str, int], make: Any) -> dict[int, Any]:
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]

    def model0(self, pos: int) -> np.ndarray:
        def make() -> dict[int, Any]:
            out = {}
            for g, members in enumerate(self.groups):
                s = share(
                    self.field,
                    np.zeros(self.setup.features, dtype=np.int64),
                    self._group_points(g),
                    self.setup.T,
                    self.rng,
                )
                out.update({m: s[i] for i, m in enumerate(members)})
            return out

        return self._per_position(("w0", 0), make)[pos]

    def truncation(self, pos: int, t: int) -> tuple[np.ndarray, np.ndarray]:
        plan, d = self.plan, self.setup.features

        def make() -> dict[int, Any]:
            low = self.rng.integers(0, 1 << plan.k1, size=d, dtype=np.int64)
            high = self.rng.integers(
                0, 1 << (plan.k + plan.kappa - plan.k1), size=d, dtype=np.int64
            )
            out = {}
            for g, members in enumerate(self.groups):
                pts = self._group_points(g)
                sl = share(self.field, low, pts, self.setup.T, self.rng)
                sh = share(self.field, high, pts, self.setup.T, self.rng)
                out.update({m: (sl[i], sh[i]) for i, m in enumerate(members)})
            return out

        return self._per_position(("trunc", t), make)[pos]

    def double(self, pos: int, t: int, size: int, tag: str) -> tuple[np.ndarray, np.ndarray]:
        """BH08's pair ([rho]_T, [rho]_2T) of ``size`` random elements for this party's group
        (groups may hold different numbers of rows, so each group gets its own size)."""
        g = next(i for i, members in enumerate(self.groups) if pos in members)
        members = self.groups[g]

        def make() -> dict[int, Any]:
            pts, rng = self._group_points(g), self.pair_rng
            rho = self.field.random(rng, size)
            lo = share(self.field, rho, pts, self.setup.T, rng)
            hi = share(self.field, rho, pts, 2 * self.setup.T, rng)
            return {m: (lo[i], hi[i]) for i, m in enumerate(members)}

        # each member takes its pair once; the entry goes when the last one has (per-product
        # pairs are (m/3) d elements per member, too many to keep for the whole run)
        key = (f"{tag}/{g}", t)
        pairs = self._per_position(key, make)
        mine = pairs.pop(pos)
        if not pairs:
            del self._cache[key]
        return mine


def _reshare(
    field: PrimeField, value: np.ndarray, points: list[int], T: int, rng: Any
) -> np.ndarray:
    return share(field, value, points, T, rng)


def _combine(field: PrimeField, weights: np.ndarray, stacked: np.ndarray) -> np.ndarray:
    return field.matmul(weights[None, :], stacked)[0]


class BaselineRun:
    name = "mpc-baseline"

    def __init__(
        self,
        setup: BaselineSetup,
        X: np.ndarray,
        y: np.ndarray,
        dealer: BaselineDealer,
        *,
        party: PartyId,
        parties: tuple[PartyId, ...],
        seed: int | None = None,
    ) -> None:
        self.setup, self.dealer = setup, dealer
        self.params = p = setup.params
        self.X, self.y = X, y.astype(np.int64)
        self.parties = tuple(sorted(parties))
        self.party, self.pos = party, self.parties.index(party)
        self.plan = setup.plan()
        self.field = self.plan.field
        self.T = setup.T
        self.groups = groups_of(p.N)
        self.g = next(i for i, members in enumerate(self.groups) if self.pos in members)
        self.members = self.groups[self.g]
        self.rank = self.members.index(self.pos)
        self.points = list(range(1, len(self.members) + 1))
        self.coeffs = quantised_coefficients(fit_sigmoid(1, p.fit_range), p.lc)
        self.rng = np.random.default_rng(seed)
        # Lagrange weights at 0 over the first 2T+1 group points (degree-2T values)
        self.lam2 = lagrange_matrix(self.field, self.points[: 2 * self.T + 1], [0])[0]

    def _ids(self, positions: list[int]) -> tuple[PartyId, ...]:
        return tuple(self.parties[i] for i in positions if i != self.pos)

    def phases(self) -> Generator[PhaseMachine, Any, np.ndarray]:
        me, everyone = self.party, self.parties
        Xs, xty = yield BaselineInput(me, everyone, program=self._input())
        w = self.dealer.model0(self.pos)
        for t in range(self.params.iterations):
            g = yield BaselineGradient(me, everyone, round=t, program=self._gradient(Xs, xty, w, t))
            w = yield BaselineUpdate(me, everyone, round=t, program=self._update(w, g, t))
        model = yield BaselineRelease(me, everyone, program=self._release(w))
        return model

    # -- phases ----------------------------------------------------------------------------

    def _input(self) -> Generator[Any, Any, Any]:
        p, f = self.params, self.field
        g_scale = (p.lx + p.lw) + p.lc

        def make() -> tuple[np.ndarray, np.ndarray]:
            Xq = quantise(self.X, p.lx)
            xty = (Xq.T @ self.y) << g_scale
            return (
                share(f, f.encode_signed(Xq), self.points, self.T, self.rng),
                share(f, f.encode_signed(xty), self.points, self.T, self.rng),
            )

        xs, ys = yield Work("share-input", make)
        others = [m for m in self.members if m != self.pos]
        yield Scatter("data", {self.parties[m]: xs[self.members.index(m)] for m in others})
        yield Scatter("xty", {self.parties[m]: ys[self.members.index(m)] for m in others})
        got_x = yield Collect("data", self._ids(self.members))
        got_y = yield Collect("xty", self._ids(self.members))
        by = {self.pos: (xs[self.rank], ys[self.rank])}
        for sender in got_x:
            by[self.parties.index(sender)] = (got_x[sender], got_y[sender])

        def stack() -> tuple[SplitMatrix | np.ndarray, np.ndarray]:
            rows = np.concatenate([by[m][0] for m in sorted(by)], axis=0)
            total = by[self.pos][1]
            for m in sorted(by):
                if m != self.pos:
                    total = f.add(total, by[m][1])
            if self.setup.reduction == "per-product":
                return rows, total  # multiplied element by element, not as a matrix
            return f.split(rows), total  # limbs cut once: every iteration multiplies by it twice

        return (yield Work("stack-input", stack))

    def _reduce(self, tag: str, value: np.ndarray, t: int) -> Generator[Any, Any, np.ndarray]:
        """Degree 2T -> T for this group's product shares ``value``."""
        f, T = self.field, self.T
        first = self.members[: 2 * T + 1]
        if self.setup.mode == "bgw":
            if self.pos in first:
                parts = yield Work("reshare", _reshare, (f, value, self.points, T, self.rng))
                yield Scatter(
                    tag,
                    {
                        self.parties[m]: parts[i]
                        for i, m in enumerate(self.members)
                        if m != self.pos
                    },
                )
                mine = parts[self.rank]
            got = yield Collect(tag, self._ids(first))
            stacked = np.stack([mine if m == self.pos else got[self.parties[m]] for m in first])
            return (yield Work("combine", _combine, (f, self.lam2, stacked)))
        lo, hi = self.dealer.double(self.pos, t, value.shape[0], tag)
        masked = f.sub(value, hi)
        yield Scatter(tag, {self.parties[m]: masked for m in self.members if m != self.pos})
        got = yield Collect(tag, self._ids(self.members))
        stacked = np.stack([masked if m == self.pos else got[self.parties[m]] for m in first])

        def unmask() -> np.ndarray:
            opened = reconstruct(f, stacked, self.points[: 2 * T + 1])
            return f.add(lo, opened)

        return (yield Work("open", unmask))

    def _gradient(
        self, Xs: Any, xty: np.ndarray, w: np.ndarray, t: int
    ) -> Generator[Any, Any, Any]:
        f = self.field
        if self.setup.reduction == "per-product":
            sub = yield from per_product_subgradient(self, Xs, w, t)
        else:
            sub = yield from self._inner_product_subgradient(Xs, w, t)
        sub = f.sub(sub, xty)
        return (yield from self._cross_group_sum(sub))

    def _inner_product_subgradient(
        self, Xs: SplitMatrix, w: np.ndarray, t: int
    ) -> Generator[Any, Any, np.ndarray]:
        """One reduction for the m/3-vector ``X w`` and one for the d-vector ``X^T g``."""
        p, f = self.params, self.field
        s = p.lx + p.lw
        zprod = yield Work("gradient", f.matmul, (Xs, w))
        z = yield from self._reduce("z", zprod, t)

        def poly_and_back(z: np.ndarray) -> np.ndarray:
            c0 = self.coeffs[0] * pow(2, s, f.p) % f.p
            gz = f.add(f.scale(z, self.coeffs[1] % f.p), c0)
            return f.matmul(gz[None, :], Xs)[0]

        gprod = yield Work("gradient", poly_and_back, (z,))
        return (yield from self._reduce("g", gprod, t))

    def _cross_group_sum(self, sub: np.ndarray) -> Generator[Any, Any, np.ndarray]:
        f = self.field
        # reshare the group's sub-gradient share to every group; combine at 0 per source group
        parts = {}
        for members in self.groups:
            if self.rank <= self.T:  # T+1 members of each group suffice
                sh = yield Work(
                    "reshare",
                    _reshare,
                    (f, sub, list(range(1, len(members) + 1)), self.T, self.rng),
                )
                parts.update({m: sh[i] for i, m in enumerate(members)})
        if parts:
            yield Scatter("cross", {self.parties[m]: v for m, v in parts.items() if m != self.pos})
        sources = [m for members in self.groups for m in members[: self.T + 1]]
        got = yield Collect("cross", self._ids(sources))

        def total() -> np.ndarray:
            acc = np.zeros_like(sub)
            lam = lagrange_matrix(f, list(range(1, self.T + 2)), [0])[0]
            for members in self.groups:
                src = members[: self.T + 1]
                stacked = np.stack(
                    [parts[self.pos] if m == self.pos else got[self.parties[m]] for m in src]
                )
                acc = f.add(acc, _combine(f, lam, stacked))
            return acc

        return (yield Work("combine", total))

    def _update(self, w: np.ndarray, g: np.ndarray, t: int) -> Generator[Any, Any, Any]:
        f, plan = self.field, self.plan
        low, high = self.dealer.truncation(self.pos, t)
        c = yield Work("mask", truncation_mask, (f, g, low, high, plan.k, plan.k1))
        yield Scatter("c", {self.parties[m]: c for m in self.members if m != self.pos})
        got = yield Collect("c", self._ids(self.members))
        stacked = np.stack([c if m == self.pos else got[self.parties[m]] for m in self.members])

        def finish() -> np.ndarray:
            opened = checked_reconstruct(
                f,
                stacked,
                self.points,
                [self.parties[m] for m in self.members],
                self.T,
                self.rng,
                "the masked gradient",
            )
            a_low = f.sub(np.bitwise_and(opened, (1 << plan.k1) - 1), low)
            step = f.scale(f.sub(g, a_low), f.inverse(1 << plan.k1))
            return f.sub(w, step)

        return (yield Work("truncate-update", finish))

    def _release(self, w: np.ndarray) -> Generator[Any, Any, np.ndarray]:
        f, p = self.field, self.params
        yield Scatter("model", {self.parties[m]: w for m in self.members if m != self.pos})
        got = yield Collect("model", self._ids(self.members))
        stacked = np.stack([w if m == self.pos else got[self.parties[m]] for m in self.members])
        w_q = yield Work(
            "reconstruct-model",
            checked_reconstruct,
            (
                f,
                stacked,
                self.points,
                [self.parties[m] for m in self.members],
                self.T,
                self.rng,
                "the final model",
            ),
        )
        return f.decode_signed(w_q).astype(np.float64) / float(1 << p.lw)
