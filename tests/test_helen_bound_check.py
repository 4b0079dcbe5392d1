"""The bound check on z and the u_j inside SPDZ (coordinate_phase.check_bound).

A cheater may pick its A_i and b_i anywhere inside their proved ranges; its truncated w_i can
then be far larger than w_bound, and u_i += w_i - z grows past the bound that HelenScales.k_w
and Gadget 1's budget assume. The check is a truncation of x + W by s = b - 3 bits with a
summed low mask and a product vanishing on V small integers, per entry. It must let every x in
[-W, W - 1] through (W = ``w_window`` = 2^(b-1) > w_int, so the honest |x| <= w_int pass)
whatever the low masks, abort on every x outside [-W_e, W_e - 1] (W_e = ``w_enforced``)
whatever the low masks, including a cheater's extreme contributions, and in the band between
decide exactly as the integer formula floor((x + W - C + R') / 2^s) - lo < V says. Triples
and masks come from the INSECURE dealer (it knows the MAC key; tests only).
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coopetition.protocols.fixedpoint import HelenScales
from coopetition.protocols.helen.coordinate_phase import (
    WeightBoundViolated,
    check_bits,
    check_bound,
    needs_bound_check,
    needs_per_iteration,
    window_bits,
)
from coopetition.protocols.spdz import field as F
from coopetition.protocols.spdz.harness import run_local
from coopetition.protocols.spdz.online import Needs, SpdzParty
from coopetition.protocols.spdz.preprocessing import (
    InsecureDealerPreprocessing,
    PreprocessingStore,
)
from coopetition.protocols.spdz.trunc_summed import carry_range, centre

SCALES = HelenScales(
    features=2, rows=4, parties=2, rho=1.0, x_bound=1.0, y_bound=1.0, w_bound=16.0, precision=8
)
W = SCALES.w_window
WE = SCALES.w_enforced
SHIFT = SCALES.window_shift


class ChosenLowMasks(InsecureDealerPreprocessing):
    """INSECURE dealer whose low masks R' (sums of the parties' s-bit contributions) take
    chosen values, e.g. every party's contribution at an end of its proved range."""

    def chosen(self, values: list[int], bits: int) -> None:
        self._deal("bounded", [F.vec(values)], bits=bits)


def left_over(stores: list[PreprocessingStore], need: Needs) -> int:
    return sum(
        s.available("triple")
        + s.available("bit")
        + sum(s.available("bounded", bits=b) for b, _ in need.bounded)
        for s in stores
    )


def run_check(
    values: list[int],
    session: bytes,
    scales: HelenScales = SCALES,
    low: list[int] | None = None,
) -> list[int]:
    """Run check_bound on public values with exactly the planned items; all must be drawn.
    ``low``: the R' of every entry (padding entries included), else honest random ones."""
    m = scales.parties
    need = needs_bound_check(scales)
    values = values + [0] * ((m + 1) * scales.features - len(values))
    dealer = ChosenLowMasks(m)
    dealer.triples(need.triples).bits(need.bits)
    for bits, count in need.bounded:
        if low is not None and bits == scales.window_shift:
            assert len(low) == count
            dealer.chosen(low, bits)
        else:
            dealer.bounded(count, bits)
    stores = dealer.stores

    def prog(store: PreprocessingStore):  # type: ignore[no-untyped-def]
        spdz = SpdzParty(store, session=session)
        x = spdz.public(F.vec(values))
        return (yield from check_bound(spdz, x, scales))

    try:
        return run_local([prog(s) for s in stores])
    finally:
        # honest or not, the check draws exactly what needs_per_iteration plans for it
        assert left_over(stores, need) == 0


def passes(x: int, low: int, scales: HelenScales = SCALES) -> bool:
    """The integer rule: t = floor((x + W - C + R') / 2^s), pass iff t - lo is in 0 .. V - 1."""
    s, m = scales.window_shift, scales.parties
    lo, _ = carry_range(m, s)
    t = (x + scales.w_window - centre(m, s) + low) >> s
    return 0 <= t - lo < scales.window_values


def extreme_lows(scales: HelenScales = SCALES) -> tuple[int, int]:
    """R' when every party's s-bit contribution is 0, and when every one is 2^s - 1."""
    return 0, scales.parties * ((1 << scales.window_shift) - 1)


def test_the_window_is_a_power_of_two_above_the_honest_bound():
    w = SCALES.w_int_bound
    assert 2 ** (window_bits(SCALES) - 1) == W and w < W <= 2 * w
    assert 1 << (SHIFT + 2) == W


@pytest.mark.parametrize(
    ("parties", "ratio", "count"), [(2, 1.75, 11), (3, 1.75, 11), (4, 2.25, 13)]
)
def test_the_enforced_bound_and_the_set_size_follow_the_carry_range(parties, ratio, count):
    scales = HelenScales(
        features=2, rows=4, parties=parties, rho=1.0, x_bound=1.0, y_bound=1.0, w_bound=16.0
    )
    assert scales.w_enforced == ratio * scales.w_window
    assert scales.window_values == count


def test_values_in_the_window_pass_and_the_opened_value_is_zero():
    w = SCALES.w_int_bound
    assert run_check([-W, W - 1, 0, w, -w, 1], b"bound-ok") == [0, 0]
    assert run_check([-W + 1, W - 2, -1, w - 1, 1 - w, 2], b"bound-ok2") == [0, 0]


@pytest.mark.parametrize("which", [0, 1])
def test_the_window_passes_whatever_the_low_masks(which):
    """Every contribution at the bottom (or top) of its proved range: the carry is at its
    lowest (highest), and the window's edges still pass."""
    n = (SCALES.parties + 1) * SCALES.features
    low = [extreme_lows()[which]] * n
    assert run_check([-W, W - 1, 0, W - 2, -W + 1, 1], b"bound-lows", low=low) == [0, 0]


@pytest.mark.parametrize("which", [0, 1])
def test_beyond_the_enforced_bound_aborts_whatever_the_low_masks(which):
    n = (SCALES.parties + 1) * SCALES.features
    low = [extreme_lows()[which]] * n
    for bad in (WE, -WE - 1):
        with pytest.raises(WeightBoundViolated, match="left the window"):
            run_check([0, bad], b"bound-lows-bad", low=low)


def tight_edges(scales: HelenScales = SCALES) -> tuple[int, int]:
    """The smallest and largest x that pass for SOME low masks: the largest with R' = 0 (the
    lowest carry), the smallest with every contribution at 2^s - 1 (the highest)."""
    s, m = scales.window_shift, scales.parties
    lo, _ = carry_range(m, s)
    c, w = centre(m, s), scales.w_window
    top = (scales.window_values + lo << s) + c - 1 - w
    bottom = (lo << s) + c - m * ((1 << s) - 1) - w
    return bottom, top


def test_the_band_decides_as_the_integer_formula_at_the_cheaters_extremes():
    """The tight edges of what can pass lie inside [-W_e, W_e - 1]; just beyond them nothing
    passes whatever R', at them the extreme R' passes, and SPDZ agrees with the rule."""
    low_min, low_max = extreme_lows()
    bottom, top = tight_edges()
    assert -WE <= bottom < -W and W - 1 < top <= WE - 1
    assert passes(top, low_min) and passes(bottom, low_max)
    for low in range(low_min, low_max + 1, max(1, low_max // 64)):
        assert not passes(top + 1, low) and not passes(bottom - 1, low)
    n = (SCALES.parties + 1) * SCALES.features
    cases = [(top, low_min), (bottom, low_max), (top + 1, low_min), (bottom - 1, low_max)]
    cases += [(W, low_max), (-W - 1, low_min), (W + (1 << SHIFT), low_max // 2)]
    for x, low in cases:
        if passes(x, low):
            assert run_check([x], b"bound-band", low=[low] * n) == [0, 0]
        else:
            with pytest.raises(WeightBoundViolated):
                run_check([x], b"bound-band", low=[low] * n)


def largest_update() -> int:
    """The largest |w_j - z| a cheater can reach in one iteration (``check_bits``' model)."""
    return SCALES.w_trunc_bound + SCALES.z_trunc_bound


def argument_edges() -> tuple[int, int]:
    """Smallest and largest x whose argument x + W is in the truncation's range."""
    half = 1 << (check_bits(SCALES) - 1)
    return -half - W, half - 1 - W


@pytest.mark.parametrize(
    "bad",
    [
        WE,
        -WE - 1,
        WE + 1,
        2 * WE,
        -2 * WE - 1,
        WE + largest_update(),
        -WE - largest_update(),
        *argument_edges(),
    ],
)
def test_a_value_beyond_the_enforced_bound_aborts(bad):
    """Just outside, a cheater's largest step from the edge, and the argument range's edges."""
    with pytest.raises(WeightBoundViolated, match="left the window"):
        run_check([0, bad, W - 1], b"bound-bad")


def test_the_check_width_covers_a_cheaters_largest_update():
    """|x + W| < 2^(k-1) for x = u + w - z with |u| <= W_e and the largest w, z the budgets
    allow; every downstream width is sized for |z|, |u| <= W_e, the check's real bound."""
    k = check_bits(SCALES)
    lo, hi = argument_edges()
    assert hi >= WE + largest_update() and lo <= -WE - largest_update()
    assert k + 1 + 40 + 8 < F.P_BITS
    s, m = SCALES, SCALES.parties
    assert m * (s.w_trunc_bound + WE) + 2 < 1 << (s.k_sum - 2)
    assert s.k_w == (s.features * s.a_bound * (s.b_bound + s.rho_int * 2 * WE)).bit_length() + 1


def test_the_plan_counts_one_truncation_and_one_product_per_entry_and_one_zero_test():
    """Two bounded masks and 6 triples per entry (V = 11 at two parties: the square and a
    tree over five pair factors and u), no bits."""
    n = (SCALES.parties + 1) * SCALES.features
    k, s = check_bits(SCALES), SHIFT
    assert SCALES.window_values == 11
    assert needs_bound_check(SCALES) == Needs(
        triples=n * 6 + 1, bits=0, bounded=tuple(sorted(((k + 1 + 40 - s, n), (s, n))))
    )


def test_a_party_whose_w_full_drives_u_past_the_bound_aborts_the_coordination():
    """End to end through ``coordinate_program`` (review addition): party 1 publishes an
    Enc(w_full_1) inside k_w (so Gadget 3 and TruncPr accept it) but far above what w_bound
    allows; the run aborts with ``WeightBoundViolated`` before z or u leave SPDZ."""
    from coopetition.protocols.admm.objective import Objective
    from coopetition.protocols.helen.coordinate_phase import coordinate_program, zero_shares
    from coopetition.protocols.spdz.testing import dealer, paillier_parties

    scales, objective = SCALES, Objective("least_squares")
    m, d = scales.parties, scales.features
    ps = paillier_parties(m, b"bound-e2e")
    run_local([p.setup() for p in ps])
    need = needs_per_iteration(scales, objective)
    gen = InsecureDealerPreprocessing(m, alpha_shares=[p.alpha_share for p in ps])
    gen.triples(need.triples).bits(need.bits)
    for bits, count in need.bounded:
        gen.bounded(count, bits)
    pk = dealer(m).threshold_public.public
    big = (1 << (scales.k_w - 2)) - 1  # |w_full| < 2^(k_w - 1): Gadget 3's bound holds
    # z is about the mean of w_0, w_1, so u_1 = w_1 - z is about w_1 / 2 > W_e
    assert big >> scales.w_shift > 2 * scales.w_enforced + 64
    w_full = {0: [pk.encrypt(3), pk.encrypt(-3)], 1: [pk.encrypt(big), pk.encrypt(0)]}

    def prog(p, store):  # type: ignore[no-untyped-def]
        spdz = SpdzParty(store, session=b"bound-e2e")
        u = {j: zero_shares(spdz, d) for j in range(m)}
        return (
            yield from coordinate_program(p, spdz, tuple(range(m)), w_full, u, scales, objective)
        )

    with pytest.raises(WeightBoundViolated):
        run_local([prog(p, s) for p, s in zip(ps, gen.stores, strict=True)])
    # the check is the iteration's last consumer of SPDZ items: the plan was drawn exactly
    assert left_over(gen.stores, need) == 0


@settings(max_examples=12, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.integers(-WE - 3, -W + 3),
            st.integers(W - 4, WE + 2),
            st.integers(argument_edges()[0], argument_edges()[1]),
        ),
        min_size=1,
        max_size=6,
    ),
    st.sampled_from(extreme_lows()) | st.integers(*extreme_lows()),
)
def test_the_check_passes_exactly_when_the_integer_rule_says_so(values, low):
    """Against the plaintext rule for one R' shared by every entry, near W, near W_e, across
    the argument range."""
    n = (SCALES.parties + 1) * SCALES.features
    inside = all(passes(v, low) for v in values)
    if inside:
        assert run_check(values, b"bound-hyp", low=[low] * n) == [0, 0]
    else:
        with pytest.raises(WeightBoundViolated):
            run_check(values, b"bound-hyp", low=[low] * n)


def test_at_production_widths_the_window_edges_hold():
    """Default precision 24 and w_bound 2^16 (w_int = 2^40, W = 2^41, b = 42, s = 39), as in
    the song and bench runs, at 4 parties (W_e = 2.25 W): the edges behave as at small scales."""
    scales = HelenScales(features=2, rows=4, parties=4, rho=1.0, x_bound=1.0, y_bound=1.0)
    w, big, enforced = scales.w_int_bound, scales.w_window, scales.w_enforced
    assert (w, big, window_bits(scales), scales.window_shift) == (2**40, 2**41, 42, 39)
    assert enforced == 9 * 2**39
    assert run_check([-big, big - 1, w, -w, 0, 1], b"bound-prod", scales) == [0] * 4
    for bad in (enforced, -enforced - 1):
        with pytest.raises(WeightBoundViolated):
            run_check([0, bad], b"bound-prod-bad", scales)


def test_more_parties_than_the_masks_headroom_allows_are_refused_at_setup():
    """Review finding (rv-window): masks are sums of one contribution per party and keep 8 bits
    of headroom below the prime, so 128 parties or more must be refused by ``check`` before a
    run starts, not discovered as a wrapped opening."""
    ok = HelenScales(
        features=2, rows=4, parties=127, rho=1.0, x_bound=1.0, y_bound=1.0, w_bound=16.0
    )
    ok.check()
    too_many = HelenScales(
        features=2, rows=4, parties=128, rho=1.0, x_bound=1.0, y_bound=1.0, w_bound=16.0
    )
    with pytest.raises(ValueError, match="at most 127 parties"):
        too_many.check()
