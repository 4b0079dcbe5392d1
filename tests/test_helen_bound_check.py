"""The bound check on z and the u_j inside SPDZ (coordinate_phase.check_bound).

A cheater may pick its A_i and b_i anywhere inside their proved ranges; its truncated w_i can
then be far larger than w_bound, and u_i += w_i - z grows past the bound that HelenScales.k_w
and Gadget 1's budget assume. The check is one window test per entry: it must let every x in
[-W, W - 1] through (W = ``w_window`` = 2^(b-1) > w_int, so the honest |x| <= w_int pass) and
abort on x = W, x = -W - 1 and on anything up to the edges of its argument range. Triples
and bits come from the INSECURE dealer (it knows the MAC key; tests only).
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

SCALES = HelenScales(
    features=2, rows=4, parties=2, rho=1.0, x_bound=1.0, y_bound=1.0, w_bound=16.0, precision=8
)
W = SCALES.w_window


def left_over(stores: list[PreprocessingStore], need: Needs) -> int:
    return sum(
        s.available("triple")
        + s.available("bit")
        + sum(s.available("bounded", bits=b) for b, _ in need.bounded)
        for s in stores
    )


def run_check(values: list[int], session: bytes, scales: HelenScales = SCALES) -> list[int]:
    """Run check_bound on public values with exactly the planned items; all must be drawn."""
    m = scales.parties
    need = needs_bound_check(scales)
    values = values + [0] * ((m + 1) * scales.features - len(values))
    dealer = InsecureDealerPreprocessing(m)
    dealer.triples(need.triples).bits(need.bits)
    for bits, count in need.bounded:
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


def test_the_window_is_a_power_of_two_above_the_honest_bound():
    w = SCALES.w_int_bound
    assert 2 ** (window_bits(SCALES) - 1) == W and w < W <= 2 * w


def test_values_in_the_window_pass_and_the_opened_value_is_zero():
    w = SCALES.w_int_bound
    assert run_check([-W, W - 1, 0, w, -w, 1], b"bound-ok") == [0, 0]
    assert run_check([-W + 1, W - 2, -1, w - 1, 1 - w, 2], b"bound-ok2") == [0, 0]


def largest_update() -> int:
    """The largest |w_j - z| a cheater can reach in one iteration (``check_bits``' model)."""
    return SCALES.w_trunc_bound + SCALES.z_trunc_bound


def argument_edges() -> tuple[int, int]:
    """Smallest and largest x whose argument x + W is in the floor's exact range."""
    half = 1 << (check_bits(SCALES) - 1)
    return -half - W, half - 1 - W


@pytest.mark.parametrize(
    "bad",
    [
        W,
        -W - 1,
        W + 1,
        2 * W,
        -2 * W - 1,
        W + largest_update(),
        -W - largest_update(),
        *argument_edges(),
    ],
)
def test_a_value_outside_the_window_aborts(bad):
    """Just outside, a cheater's largest step from the edge, and the argument range's edges."""
    with pytest.raises(WeightBoundViolated, match="left the window"):
        run_check([0, bad, W - 1], b"bound-bad")


def test_the_check_width_covers_a_cheaters_largest_update():
    """|x + W| < 2^(k-1) for x = u + w - z with |u| <= W and the largest w, z the budgets allow;
    every downstream width is sized for |z|, |u| <= W, the check's real threshold."""
    k = check_bits(SCALES)
    lo, hi = argument_edges()
    assert hi >= W + largest_update() and lo <= -W - largest_update()
    assert k + 40 + 8 < F.P_BITS
    s, m = SCALES, SCALES.parties
    assert m * (s.w_trunc_bound + W) + 2 < 1 << (s.k_sum - 2)
    assert s.k_w == (s.features * s.a_bound * (s.b_bound + s.rho_int * 2 * W)).bit_length() + 1


def test_the_plan_counts_one_floor_per_entry_and_one_zero_test():
    n = (SCALES.parties + 1) * SCALES.features
    k, b = check_bits(SCALES), window_bits(SCALES)
    assert needs_bound_check(SCALES) == Needs(
        triples=n * (b - 1) + 1, bits=n * b, bounded=((k + 40 - b, n),)
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
    assert big >> scales.w_shift > 3 * scales.w_window  # so u_1 = w_1 - z > 1.5 W
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
            st.integers(-W - 3, -W + 3),
            st.integers(W - 4, W + 2),
            st.integers(argument_edges()[0], argument_edges()[1]),
        ),
        min_size=1,
        max_size=6,
    )
)
def test_the_check_passes_exactly_when_every_entry_is_in_the_window(values):
    """Against the plaintext rule -W <= x <= W - 1, near both edges and across the range."""
    inside = all(-W <= v <= W - 1 for v in values)
    if inside:
        assert run_check(values, b"bound-hyp") == [0, 0]
    else:
        with pytest.raises(WeightBoundViolated):
            run_check(values, b"bound-hyp")


def test_at_production_widths_the_window_edges_are_exact():
    """Default precision 24 and w_bound 2^16 (w_int = 2^40, W = 2^41, b = 42), as in the song
    and bench runs: the edges behave as at the small scales."""
    scales = HelenScales(features=2, rows=4, parties=2, rho=1.0, x_bound=1.0, y_bound=1.0)
    w, big = scales.w_int_bound, scales.w_window
    assert (w, big, window_bits(scales)) == (2**40, 2**41, 42)
    assert run_check([-big, big - 1, w, -w, 0, 1], b"bound-prod", scales) == [0, 0]
    for bad in (big, -big - 1):
        with pytest.raises(WeightBoundViolated):
            run_check([0, bad], b"bound-prod-bad", scales)
