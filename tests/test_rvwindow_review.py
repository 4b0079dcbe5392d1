"""Adversarial review of the window test as a truncation and a short product (issue 15).

``coordinate_phase.check_bound`` now truncates y = x + W by s bits with a summed low mask R'
(``spdz.trunc_summed``) and zero-tests 2^V prod_{v < V} (t - lo - v) (``spdz.small_set``).
Claims attacked here (docs/crypto.md, "The window test as a truncation and a short product"):
nothing outside [-W_e, W_e - 1] passes for any R' a sum of in-range contributions can give,
everything in [-W, W - 1] passes for every such R', the tight edges are as written, every width
holds once W_e replaces W, a config ``check`` accepts never fails inside the check at run time,
the dual masks never share a width with a plain one, forged shares or openings end in an
abort, and the figures of the section are true.

Items come from the INSECURE dealer (it knows the MAC key; tests only), or from the offline
phase with the INSECURE small Paillier keys of ``spdz.testing``; kappa and the field are the
production ones.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from typing import Any, ClassVar

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_helen_bound_check import ChosenLowMasks, left_over

from coopetition.engine.program import Program
from coopetition.protocols.admm.objective import Objective
from coopetition.protocols.fixedpoint import HelenScales
from coopetition.protocols.helen import coordinate_phase as cp
from coopetition.protocols.spdz import field as F
from coopetition.protocols.spdz.errors import MacCheckFailed, PreprocessingExhausted
from coopetition.protocols.spdz.harness import HarnessStats, run_local
from coopetition.protocols.spdz.offline import OfflineParty
from coopetition.protocols.spdz.online import (
    DEFAULT_KAPPA,
    MASK_HEADROOM_BITS,
    Needs,
    SpdzParty,
    needs_floor_pow2,
    needs_zero_test,
)
from coopetition.protocols.spdz.preprocessing import (
    InsecureDealerPreprocessing,
    PreprocessingStore,
)
from coopetition.protocols.spdz.shares import Share
from coopetition.protocols.spdz.small_set import multiplications, vanishing_product
from coopetition.protocols.spdz.testing import offline_parties
from coopetition.protocols.spdz.trunc_summed import carry_range, centre, trunc_pr_summed

PARTY_COUNTS = (2, 3, 4, 5, 6, 7, 8, 16)


def tiny(parties: int, exponent: int = 1, **extra: Any) -> HelenScales:
    """Scales with W = 2^exponent at precision 8 (w_int = 2^(exponent - 1)); d = 1."""
    kw: dict[str, Any] = dict(features=1, rows=1, rho=1.0, x_bound=1.0, y_bound=1.0)
    kw.update(extra)
    return HelenScales(parties=parties, w_bound=2.0 ** (exponent - 1 - 8), precision=8, **kw)


def rule(scales: HelenScales, x: Any, low: Any) -> Any:
    """The integer verdict, independent of the SPDZ code: t = floor((x + W - C + R') / 2^s),
    pass iff 0 <= t - lo < V (numpy arrays or Python ints)."""
    s, m = scales.window_shift, scales.parties
    lo, _ = carry_range(m, s)
    t = (x + scales.w_window - centre(m, s) + low) >> s
    return (t - lo >= 0) & (t - lo < scales.window_values)


def top_low(scales: HelenScales) -> int:
    """The largest R': every party's s-bit contribution at 2^s - 1."""
    return scales.parties * ((1 << scales.window_shift) - 1)


def documented_edges(scales: HelenScales) -> tuple[int, int]:
    """crypto.md's tight edges: (V + lo) 2^s + C - 1 - W and lo 2^s + C - m (2^s - 1) - W."""
    s, m, w = scales.window_shift, scales.parties, scales.w_window
    lo, _ = carry_range(m, s)
    c = centre(m, s)
    return (lo << s) + c - top_low(scales) - w, ((scales.window_values + lo) << s) + c - 1 - w


# -- 1 and 2. the enforced bound, no false alarm, the tight edges ------------------------------


@pytest.mark.parametrize("parties", PARTY_COUNTS)
def test_brute_force_every_low_mask_at_tiny_windows(parties):
    """Attack: find an x outside [-W_e, W_e - 1] and an R' in [0, m (2^s - 1)] that pass, or an
    x in [-W, W - 1] and an R' that fails. Exhaustive over x and R' for W = 2 .. 2^8 (s = 1 up
    to W = 8, then b - 3), against integer arithmetic; also the documented tight edges are
    exactly the extreme x that pass for some R'."""
    for exponent in range(1, 9):
        scales = tiny(parties, exponent)
        w, we, s = scales.w_window, scales.w_enforced, scales.window_shift
        assert w == 1 << exponent and s == max(1, exponent + 1 - 3)
        xs = np.arange(-we - 4 * (parties + 2 << s), we + 4 * (parties + 2 << s), dtype=np.int64)
        lows = np.arange(0, top_low(scales) + 1, dtype=np.int64)
        grid = rule(scales, xs[:, None], lows[None, :])
        some, every = grid.any(axis=1), grid.all(axis=1)
        passing = xs[some]
        assert passing.min() >= -we and passing.max() <= we - 1, (parties, exponent)
        inside = (xs >= -w) & (xs <= w - 1)
        assert every[inside].all(), (parties, exponent)
        assert (passing.min(), passing.max()) == documented_edges(scales), (parties, exponent)
        # the passing x for some R' form one interval (no holes a width could miss)
        assert len(passing) == passing.max() - passing.min() + 1


@pytest.mark.parametrize("parties", PARTY_COUNTS)
@pytest.mark.parametrize(("precision", "w_bound"), [(24, 2.0**16), (40, 2.0**60), (8, 1.0)])
def test_production_widths_by_monotonicity(parties, precision, w_bound):
    """The same claims where R' cannot be enumerated (s up to 97 bits). t is nondecreasing in
    R' and in x, so the extreme R' decide: x passes for some R' iff it passes at R' = 0 (top) or
    at R' = max (bottom), and for all R' iff it passes at both. Checked at the documented tight
    edges, one step beyond, the window's edges and +-W_e."""
    s = HelenScales(
        features=2,
        rows=4,
        parties=parties,
        rho=1.0,
        x_bound=1.0,
        y_bound=1.0,
        w_bound=w_bound,
        precision=precision,
    )
    w, we, top = s.w_window, s.w_enforced, top_low(s)
    bottom_edge, top_edge = documented_edges(s)
    assert -we <= bottom_edge < -w and w - 1 < top_edge <= we - 1
    assert rule(s, top_edge, 0) and not rule(s, top_edge + 1, 0)
    assert rule(s, bottom_edge, top) and not rule(s, bottom_edge - 1, top)
    for x in (-w, -w + 1, -1, 0, w - 2, w - 1):
        assert rule(s, x, 0) and rule(s, x, top), x
    for x in (we, -we - 1, we + 1, -we - 2):
        assert not rule(s, x, 0) and not rule(s, x, top), x


@pytest.mark.parametrize(
    ("parties", "carries", "ratio", "count"),
    [
        (2, (-1, 2), 1.75, 11),
        (3, (-1, 2), 1.75, 11),
        (4, (-2, 3), 2.25, 13),
        (5, (-2, 3), 2.25, 13),
        (6, (-3, 4), 2.75, 15),
        (7, (-3, 4), 2.75, 15),
        (8, (-4, 5), 3.25, 17),
    ],
)
def test_the_documented_carry_ranges_ratios_and_set_sizes(parties, carries, ratio, count):
    """crypto.md's notation paragraph: [lo, hi], W_e / W and V at realistic W (s = b - 3)."""
    s = HelenScales(features=2, rows=4, parties=parties, rho=1.0, x_bound=1.0, y_bound=1.0)
    assert carry_range(parties, s.window_shift) == carries
    assert s.w_enforced == ratio * s.w_window and s.window_values == count
    assert 1 << (s.window_shift + 2) == s.w_window  # 2^s = W / 4
    lo, top = documented_edges(s)
    if parties == 4:  # "about +-2.125 W"
        assert abs(top / s.w_window - 2.125) < 1e-9 and abs(lo / s.w_window + 2.125) < 1e-9


# -- SPDZ runs: a dealer whose low masks R' are chosen ------------------------------------------


def run_window(
    values: list[int],
    scales: HelenScales,
    session: bytes,
    low: int | list[int] | None = None,
    party_class: dict[int, type[SpdzParty]] | None = None,
    stats: HarnessStats | None = None,
) -> list[int]:
    """check_bound on public values (padded with 0) with exactly the planned items; asserts
    that every one was drawn, whether the check passed or aborted."""
    m, n = scales.parties, (scales.parties + 1) * scales.features
    values = values + [0] * (n - len(values))
    need = cp.needs_bound_check(scales)
    dealer = ChosenLowMasks(m)
    dealer.triples(need.triples).bits(need.bits)
    for bits, count in need.bounded:
        if low is not None and bits == scales.window_shift:
            dealer.chosen(low if isinstance(low, list) else [low] * count, bits)
        else:
            dealer.bounded(count, bits)
    classes = party_class or {}

    def prog(i: int, store: PreprocessingStore):  # type: ignore[no-untyped-def]
        spdz = classes.get(i, SpdzParty)(store, session=session)
        x = spdz.public(F.vec([v % F.P for v in values]))
        return (yield from cp.check_bound(spdz, x, scales))

    try:
        return run_local([prog(i, s) for i, s in enumerate(dealer.stores)], stats=stats)
    finally:
        assert left_over(dealer.stores, need) == 0


@pytest.mark.parametrize("parties", [3, 5])
def test_spdz_at_a_one_bit_shift_follows_the_rule_at_every_edge(parties):
    """s = 1 (W = 2): SPDZ agrees with the integer rule at the tight edges, one beyond, the
    window's edges and +-W_e, for the cheaters' extreme R'; every planned item is drawn in the
    passing and in the aborting runs (nothing left over, nothing short)."""
    scales = tiny(parties)
    assert scales.window_shift == 1
    w, we, top = scales.w_window, scales.w_enforced, top_low(scales)
    bottom_edge, top_edge = documented_edges(scales)
    cases = [
        ([-w, w - 1], 0),
        ([-w, w - 1], top),
        ([top_edge], 0),
        ([bottom_edge], top),
        ([top_edge + 1], 0),
        ([bottom_edge - 1], top),
        ([we], 0),
        ([-we - 1], top),
    ]
    for values, low in cases:
        if all(rule(scales, v, low) for v in values):
            assert run_window(values, scales, b"rvw-tiny", low) == [0] * parties
        else:
            with pytest.raises(cp.WeightBoundViolated):
                run_window(values, scales, b"rvw-tiny", low)


@pytest.mark.parametrize("parties", [2, 4])
def test_rounds_of_the_check(parties):
    """crypto.md: 1 (c) + 4 (the tree) + the zero test's 12 = 17 rounds (V = 11 and 13)."""
    scales = HelenScales(features=1, rows=1, parties=parties, rho=1.0, x_bound=1.0, y_bound=1.0)
    stats = HarnessStats()
    assert run_window([1], scales, b"rvw-rounds", stats=stats) == [0] * parties
    assert stats.rounds == 17


# -- 3. the product ---------------------------------------------------------------------------


def run_product(values: list[int], count: int) -> list[int]:
    dealer = InsecureDealerPreprocessing(2).triples(len(values) * multiplications(count))

    def prog(store):  # type: ignore[no-untyped-def]
        spdz = SpdzParty(store, session=b"rvw-product")
        x = spdz.public(F.vec([v % F.P for v in values]))
        out = yield from spdz.output((yield from vanishing_product(spdz, x, count)))
        return [int(v) for v in out]

    got = run_local([prog(s) for s in dealer.stores])[0]
    assert all(s.available("triple") == 0 for s in dealer.stores)
    return got


@pytest.mark.parametrize("count", list(range(2, 21)))
def test_the_product_vanishes_exactly_on_the_set_up_to_twenty(count):
    """Zero iff in {0, ..., V - 1}, for V = 2 .. 20, with t as large as the widest check allows
    (|t| < 2^(k - s) + m with k <= 206) and negative, against the integer product."""
    huge = 1 << 206
    values = [-huge, -huge + count, -(count + 1), -1, *range(count + 1), huge - 1, huge + 7]
    got = run_product(values, count)
    assert got == [(2**count * math.prod(x - v for v in range(count))) % F.P for x in values]
    assert [x for x, g in zip(values, got, strict=True) if g == 0] == list(range(count))


# -- 4. widths, field room, hiding and plan at every config check() accepts --------------------

OBJECTIVES = (Objective("least_squares"), Objective("lasso", lam=1.0), Objective("ridge", lam=2))


def worst_case(s: HelenScales) -> list[str]:
    """One iteration by interval arithmetic from |z|, |u_j| in [-W_e, W_e - 1] (the check's
    guarantee) and any party's A_i, b_i in their proved ranges; names what overflows."""
    bad: list[str] = []
    we, m = s.w_enforced, s.parties
    w_full = s.features * s.a_bound * (s.b_bound + s.rho_int * (2 * we - 1))
    bad += ["k_w"] * (w_full >= 1 << (s.k_w - 1))
    lo, hi = carry_range(m, s.w_shift)
    w_max = max((w_full >> s.w_shift) + hi, -((-w_full) >> s.w_shift) - lo)
    bad += ["w_trunc_bound"] * (w_max > s.w_trunc_bound)
    total = m * (w_max + we)
    bad += ["k_sum"] * (total >= 1 << (s.k_sum - 1))
    prod = total * s.consensus_int(0.0)
    bad += ["k_consensus"] * (prod >= 1 << (s.k_consensus - 1))
    z_max = prod // 2**s.coef_bits + 1
    bad += ["z_trunc_bound"] * (z_max > s.z_trunc_bound)
    k = cp.check_bits(s)
    y_lo, y_hi = -we - w_max - z_max + s.w_window, we - 1 + w_max + z_max + s.w_window
    bad += ["check_bits"] * (y_lo < -(1 << (k - 1)) or y_hi >= 1 << (k - 1))
    return bad


configs = st.builds(
    HelenScales,
    features=st.sampled_from([1, 2, 11, 90]),
    rows=st.sampled_from([100, 320, 10**5, 10**6]),
    parties=st.integers(2, 127),
    rho=st.floats(2.0**-10, 2.0**14),
    x_bound=st.floats(2.0**-10, 2.0**14),
    y_bound=st.floats(2.0**-10, 2.0**14),
    w_bound=st.sampled_from(
        [2.0**-30, 2.0**-8, 1.0, 2.0**16, 2.0**16 - 2.0**-20, 2.0**60, 2.0**100, 2.0**140]
    ),
    precision=st.integers(8, 40),
)


@settings(max_examples=150, deadline=None)
@given(configs)
def test_every_config_check_accepts_runs_the_check_without_a_setup_error(scales):
    """A config ``check`` accepts must not fail inside the bound check at run time: the
    truncation's preconditions (0 < s < k, C < 2^(k-1), k + 1 + kappa + 8 < 256) hold, so
    check_bound gets as far as drawing items (an empty store: PreprocessingExhausted, never
    ValueError), and the way back's width fits the field. Also: no wrap of c below P for these m, the hiding bound's condition
    m + 1 <= 2^(k + 1 - s), |t| far below P, the induction with W_e, and a dual-mask width no
    plain mask of the iteration has."""
    try:
        scales.check()
    except ValueError:
        return
    m, s, k = scales.parties, scales.window_shift, cp.check_bits(scales)
    store = InsecureDealerPreprocessing(m).stores[0]
    spdz = SpdzParty(store, session=b"rvw-setup")
    program = cp.check_bound(spdz, spdz.public(F.zeros((m + 1) * scales.features)), scales)
    with pytest.raises(PreprocessingExhausted):
        next(program)
    assert k + 1 + DEFAULT_KAPPA + MASK_HEADROOM_BITS < F.P_BITS
    high = k + 1 + DEFAULT_KAPPA - s
    assert (1 << (k + 1)) + m * ((1 << high) - 1 << s) + m * ((1 << s) - 1) < F.P
    assert m + 1 <= 1 << (k + 1 - s)
    assert (1 << (k - s)) + m + scales.window_values < F.P >> 128
    assert worst_case(scales) == []
    for objective in OBJECTIVES:
        plain = {b for b, _ in cp.needs_per_iteration(scales, objective).bounded}
        dual, count = cp.dual_masks_per_iteration(scales, objective)
        assert dual not in plain and count == (m + 1) * scales.features
        assert scales.w_enforced < 1 << (cp.back_bits(scales, objective) - 1)
        # the way back's own room (shares_to_ciphertext: back_bits + kappa + 8 < 256)
        assert cp.back_bits(scales, objective) + DEFAULT_KAPPA + MASK_HEADROOM_BITS < F.P_BITS


@pytest.mark.parametrize("parties", [2, 3, 4, 5, 8, 16])
def test_the_induction_holds_at_the_demo_shape(parties):
    """wine-red's scales (d = 11, 320 rows per party, rho = 128, x_bound 16, y_bound 4) at
    every party count: each width holds a cheater's values from inside [-W_e, W_e - 1]."""
    s = HelenScales(features=11, rows=320, parties=parties, rho=128.0, x_bound=16.0, y_bound=4.0)
    s.check()
    assert worst_case(s) == []


# -- 6. cheaters ----------------------------------------------------------------------------------


class NoMacCheck(SpdzParty):
    """Positive control only: a party that skips every MAC check (all parties use it), to
    show that the forgeries below would pass without it."""

    def mac_check(self) -> Program[None]:
        self._pending_values, self._pending_macs = [], []
        return None
        yield  # a generator, like the real one


SCALES = tiny(3, 4)  # W = 16, s = 2, three parties: carries [-1, 2], V = 11
OUT = SCALES.w_enforced  # outside [-W_e, W_e - 1]: must abort


def _t_of(x: int, low: int, scales: HelenScales = SCALES) -> int:
    s, m = scales.window_shift, scales.parties
    return (x + scales.w_window - centre(m, s) + low) >> s


def _u_of(x: int, low: int, scales: HelenScales = SCALES) -> int:
    lo, _ = carry_range(scales.parties, scales.window_shift)
    return 2 * (_t_of(x, low, scales) - lo) - (scales.window_values - 1)


@pytest.fixture
def shifted_t(monkeypatch):  # type: ignore[no-untyped-def]
    """Party 1 moves its share of t (value only) so that t - lo = 0 for an entry at OUT."""
    lo, _ = carry_range(SCALES.parties, SCALES.window_shift)
    delta = (lo - _t_of(OUT, 0)) % F.P

    def forged(spdz: SpdzParty, x: Share, k: int, m: int) -> Iterator[Any]:
        t = yield from trunc_pr_summed(spdz, x, k, m)
        if spdz.party == 1:
            t = Share(F.add(t.value, F.vec([delta] * len(t))), t.mac)
        return t

    monkeypatch.setattr(cp, "trunc_pr_summed", forged)


def test_a_forged_share_of_t_is_caught(shifted_t):
    """Attack: shift one's share of t to bring an out-of-bound entry into the set. Without
    the MAC checks it would pass (control); with them it ends in MacCheckFailed."""
    n = (SCALES.parties + 1) * SCALES.features
    values = [OUT] * n
    control = {i: NoMacCheck for i in range(SCALES.parties)}
    assert run_window(values, SCALES, b"rvw-t", 0, party_class=control) == [0] * SCALES.parties
    with pytest.raises(MacCheckFailed):
        run_window(values, SCALES, b"rvw-t", 0)


class SquareForger(SpdzParty):
    """Party 1 shifts its share of the squaring's opened eps = u - a by g, which makes the
    product's q = u^2 + g u; with g = ((V - 1)^2 - u^2) / u the first pair factor q - (V-1)^2
    is 0, so the whole product vanishes for an entry outside the set."""

    g: ClassVar[int] = 0

    def open(self, x: Share, ids: tuple[tuple[bytes, int, int], ...] = ()) -> Program[np.ndarray]:
        self._opens = getattr(self, "_opens", 0) + 1
        if self._opens == 2 and self.party == 1:  # 1: c; 2: the squaring's (eps, delta)
            half = len(x) // 2
            shift = F.vec([self.g] * half + [0] * (len(x) - half))
            x = Share(F.add(x.value, shift), x.mac)
        return (yield from super().open(x, ids))


class SquareForgerNoMac(SquareForger, NoMacCheck):
    pass


def test_a_forged_beaver_opening_in_the_product_is_caught():
    """Attack: a chosen shift of a Beaver opening in the product tree zeroes the product of an
    out-of-bound entry (the control without MAC checks passes); the MAC check before v is
    opened ends it in MacCheckFailed."""
    u = _u_of(OUT, 0)
    assert u % F.P != 0
    SquareForger.g = ((SCALES.window_values - 1) ** 2 - u * u) * F.inv(u % F.P) % F.P
    n = (SCALES.parties + 1) * SCALES.features
    values, m = [OUT] * n, SCALES.parties
    control: dict[int, type[SpdzParty]] = {i: NoMacCheck for i in range(m)}
    control[1] = SquareForgerNoMac
    assert run_window(values, SCALES, b"rvw-sq", 0, party_class=control) == [0] * m
    with pytest.raises(MacCheckFailed):
        run_window(values, SCALES, b"rvw-sq", 0, party_class={1: SquareForger})


def test_a_forged_share_of_the_product_is_caught(monkeypatch):
    """Attack: knowing the entries, subtract the product from one's own share so that every p
    is 0 in value; control without MAC checks passes, the real check ends in MacCheckFailed."""
    n = (SCALES.parties + 1) * SCALES.features
    lo, _ = carry_range(SCALES.parties, SCALES.window_shift)
    t = _t_of(OUT, 0) - lo
    p = 2**SCALES.window_values * math.prod(t - v for v in range(SCALES.window_values)) % F.P
    assert p != 0

    def forged(spdz: SpdzParty, x: Share, count: int) -> Iterator[Any]:
        out = yield from vanishing_product(spdz, x, count)
        if spdz.party == 1:
            out = Share(F.sub(out.value, F.vec([p] * len(out))), out.mac)
        return out

    monkeypatch.setattr(cp, "vanishing_product", forged)
    m = SCALES.parties
    control = {i: NoMacCheck for i in range(m)}
    assert run_window([OUT] * n, SCALES, b"rvw-p", 0, party_class=control) == [0] * m
    with pytest.raises(MacCheckFailed):
        run_window([OUT] * n, SCALES, b"rvw-p", 0)


class COpenShifter(SpdzParty):
    """Party 1 shifts its share of the truncation's opened c by ``delta``."""

    delta: ClassVar[int] = 0

    def open(self, x: Share, ids: tuple[tuple[bytes, int, int], ...] = ()) -> Program[np.ndarray]:
        self._opens = getattr(self, "_opens", 0) + 1
        if self._opens == 1 and self.party == 1:
            x = Share(F.add(x.value, F.vec([self.delta] * len(x))), x.mac)
        return (yield from super().open(x, ids))


@pytest.mark.parametrize("delta_shift", [-1, 1, 0])
def test_a_shifted_opening_of_c_never_passes(delta_shift):
    """Attack: shift c. A multiple of 2^s leaves t unchanged (only c mod 2^s enters t), any
    other shift makes t a non-integer field element; either way, out-of-bound entries abort
    (MacCheckFailed or WeightBoundViolated), never pass."""
    s = SCALES.window_shift
    n = (SCALES.parties + 1) * SCALES.features
    COpenShifter.delta = ((_t_of(OUT, 0) << s) * -1 + delta_shift) % F.P
    with pytest.raises((MacCheckFailed, cp.WeightBoundViolated)):
        run_window([OUT] * n, SCALES, b"rvw-c", 0, party_class={1: COpenShifter})


class ExtremeLow(OfflineParty):
    """A cheater in the offline phase: every low-mask contribution of ``width`` bits at one end
    of its proved range (``which``), everything else honest."""

    width: ClassVar[int] = 0
    which: ClassVar[int] = 0

    def _sample(self, bits: int) -> int:
        if bits == self.width:
            return ((1 << bits) - 1) * self.which
        return super()._sample(bits)


@pytest.mark.parametrize("which", [0, 1])
def test_a_cheaters_extreme_low_masks_from_the_offline_phase_cause_no_false_alarm(which):
    """With the real offline phase's range-proved masks (1-bit proofs at W = 2, three parties)
    and a cheater's contributions at either end of [0, 2^s), entries at the window's edges
    (and every honest |x| <= w_int) pass; and +-W_e still aborts."""
    scales = tiny(3)
    m, n, s = 3, 4 * scales.features, scales.window_shift
    need = cp.needs_bound_check(scales)
    ExtremeLow.width, ExtremeLow.which = s, which
    session = b"rvw-offline-%d" % which
    offline = offline_parties(m, session, cheat={1: ExtremeLow})
    batches = tuple((b, 2 * c) for b, c in need.bounded)
    stores = run_local([o.fill(bounded=batches) for o in offline])
    dealt = InsecureDealerPreprocessing(m, alpha_shares=[store.alpha_share for store in stores])
    dealt.triples(2 * need.triples)
    dealt.transfer_to(stores)
    w, we = scales.w_window, scales.w_enforced

    def prog(store, values):  # type: ignore[no-untyped-def]
        spdz = SpdzParty(store, session=session)
        x = spdz.public(F.vec([v % F.P for v in values]))
        return (yield from cp.check_bound(spdz, x, scales))

    edges = [-w, w - 1, -w, w - 1][:n]
    assert run_local([prog(store, edges) for store in stores]) == [0] * m
    with pytest.raises(cp.WeightBoundViolated):
        run_local([prog(store, [we, -we - 1, 0, 0][:n]) for store in stores])


# -- 7. what the check opens -----------------------------------------------------------------------


class RecordC(SpdzParty):
    """Records the first opening of the check (the truncation's c)."""

    seen: ClassVar[list[list[int]]] = []

    def open(self, x: Share, ids: tuple[tuple[bytes, int, int], ...] = ()) -> Program[np.ndarray]:
        out = yield from super().open(x, ids)
        self._opens = getattr(self, "_opens", 0) + 1
        if self._opens == 1 and self.party == 0:
            self.seen.append([int(v) for v in out])
        return out


def test_the_opened_c_is_the_entry_plus_a_mask_never_reduced():
    """Leakage: c = (y - C + 2^k) + (2^s r'' + R'), with the mask part in [0, m 2^(k+1+kappa))
    whatever the entry (never reduced mod P, so nothing of y wraps into view), even for the
    widest argument the check allows; and c mod 2^s is uniform when one s-bit contribution is
    (counted over every honest draw, the other at an extreme)."""
    scales = tiny(2, 6, features=2, rows=2)
    s, m, k = scales.window_shift, scales.parties, cp.check_bits(scales)
    half = 1 << (k - 1)
    ys = [-half, half - 1, 0, 1, -1]
    values = [y - scales.w_window for y in ys]  # the check adds W back
    RecordC.seen = []
    with pytest.raises(cp.WeightBoundViolated):
        run_window(values, scales, b"rvw-c-view", party_class={0: RecordC})
    (opened,) = RecordC.seen
    assert len(opened) == 6
    for y, c in zip(ys, opened, strict=False):
        mask = c - (y - centre(m, s) + (1 << k))
        assert 0 <= mask < m << (k + 1 + DEFAULT_KAPPA)
    counts = [0] * (1 << s)
    for y in range(1 << s):
        for honest in range(1 << s):
            for cheat in (0, (1 << s) - 1):
                counts[(y - centre(m, s) + honest + cheat) % (1 << s)] += 1
    assert len(set(counts)) == 1


# -- 8. the figures of crypto.md's section ---------------------------------------------------------


class BeforeScales(HelenScales):
    """The scales as they were before the change: every width sized with W."""

    @property
    def w_enforced(self) -> int:
        return self.w_window


def needs_exact_floor(scales: HelenScales) -> Needs:
    """The bound check before the change: one exact floor by 2^b per entry, one zero test."""
    n = (scales.parties + 1) * scales.features
    return needs_floor_pow2(n, cp.check_bits(scales), cp.window_bits(scales)) + needs_zero_test()


DEMO = dict(features=11, rows=320, parties=4, rho=128.0, x_bound=16.0, y_bound=4.0)
SONG = dict(features=90, rows=100000, parties=4, rho=1e4, x_bound=2.0**12, y_bound=2.0**12)
LASSO = Objective("lasso", lam=25.6)


def widths(s: HelenScales) -> tuple[int, ...]:
    return (s.k_w, s.k_sum, s.k_consensus, cp.check_bits(s), cp.back_bits(s, LASSO))


def counts(need: Needs) -> tuple[int, int, int]:
    return need.triples, need.bits, sum(c for _, c in need.bounded)


def test_the_demo_figures_of_the_section(monkeypatch):
    """crypto.md: at wine-red's scales one iteration goes from 3 378 triples, 3 696 bits and
    176 masks to 1 530, 1 408 and 231 (55 dual masks aside): 12 408 fewer MASCOT items and 165
    more masks over 3 iterations; widths 107 -> 108, 51 -> 52, 73 -> 74, 50 -> 51, 43 -> 44."""
    after = HelenScales(**DEMO)
    assert counts(cp.needs_per_iteration(after, LASSO)) == (1530, 1408, 231)
    assert cp.dual_masks_per_iteration(after, LASSO)[1] == 55
    assert widths(after) == (108, 52, 74, 51, 44)
    monkeypatch.setattr(cp, "needs_bound_check", needs_exact_floor)
    before = BeforeScales(**DEMO)
    assert counts(cp.needs_per_iteration(before, LASSO)) == (3378, 3696, 176)
    assert widths(before) == (107, 51, 73, 50, 43)
    assert 3 * ((3378 + 3696) - (1530 + 1408)) == 12408 and 3 * (231 - 176) == 165


def test_at_the_song_shape_only_back_bits_changes(monkeypatch):
    """Review finding (docs): crypto.md said that at the song shape no width changed. k_w,
    k_sum, k_consensus and check_bits do not (w_trunc_bound dominates W), but back_bits is
    W_e.bit_length() + 1 whatever w_trunc_bound: 43 -> 44 (dual masks of 84 bits, not 83)."""
    after = HelenScales(**SONG)
    monkeypatch.setattr(cp, "needs_bound_check", needs_exact_floor)
    before = BeforeScales(**SONG)
    before_widths = widths(before)
    monkeypatch.undo()
    assert before_widths == (141, 63, 85, 62, 43)
    assert widths(after) == (141, 63, 85, 62, 44)


def test_the_multiplication_counts_of_the_section():
    """7 triples per entry at V = 13, 6 at V = 11, floor(V / 2) + V mod 2 in general."""
    assert multiplications(13) == 7 and multiplications(11) == 6
    rng = random.Random(5)
    for v in rng.sample(range(2, 200), 20):
        assert multiplications(v) == v // 2 + v % 2
