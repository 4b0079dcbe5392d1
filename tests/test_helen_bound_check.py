"""The |z|, |u_j| <= w_bound check inside SPDZ (coordinate_phase.check_bound).

A cheater may pick its A_i and b_i anywhere inside their proved ranges; its truncated w_i can
then be far larger than w_bound, and u_i += w_i - z grows past the bound that HelenScales.k_w
and Gadget 1's budget assume. The check must let every value with |x| <= w_int through
(both ends included) and abort on x = w_int + 1 or -(w_int + 1), and on a huge u. Triples and
bits come from the INSECURE dealer (it knows the MAC key; tests only).
"""

from __future__ import annotations

import pytest

from coopetition.protocols.fixedpoint import HelenScales
from coopetition.protocols.helen.coordinate_phase import (
    WeightBoundViolated,
    check_bits,
    check_bound,
    needs_per_iteration,
)
from coopetition.protocols.spdz import field as F
from coopetition.protocols.spdz.harness import run_local
from coopetition.protocols.spdz.online import SpdzParty, needs_ltz
from coopetition.protocols.spdz.preprocessing import (
    InsecureDealerPreprocessing,
    PreprocessingStore,
)

SCALES = HelenScales(
    features=2, rows=4, parties=2, rho=1.0, x_bound=1.0, y_bound=1.0, w_bound=16.0, precision=8
)


def run_check(values: list[int], session: bytes) -> list[None]:
    m, n = SCALES.parties, len(values)
    need = needs_ltz(2 * n, check_bits(SCALES))
    dealer = InsecureDealerPreprocessing(m)
    dealer.triples(need.triples).bits(need.bits)
    for bits, count in need.bounded:
        dealer.bounded(count, bits)
    stores = dealer.stores

    def prog(store: PreprocessingStore):
        spdz = SpdzParty(store, session=session)
        x = spdz.public(F.vec(values))
        return (yield from check_bound(spdz, x, SCALES))

    return run_local([prog(s) for s in stores])


def test_values_up_to_the_bound_pass():
    w = SCALES.w_int_bound
    assert run_check([w, -w, 0, 1, -1, w - 1], b"bound-ok") == [None, None]


def largest_update() -> int:
    """The largest |w_j - z| a cheater can reach in one iteration (``check_bits``' model)."""
    return SCALES.w_trunc_bound + SCALES.z_trunc_bound


@pytest.mark.parametrize("largest", [False, True])
@pytest.mark.parametrize("sign", [1, -1])
def test_a_value_past_the_bound_aborts(sign, largest):
    """One past the bound, and u at the bound plus a cheater's largest possible step."""
    w = SCALES.w_int_bound
    offset = largest_update() if largest else 1
    with pytest.raises(WeightBoundViolated, match="1 of 3 entries"):
        run_check([0, sign * (w + offset), w], b"bound-bad")


def test_the_check_width_covers_a_cheaters_largest_update():
    """|w_int -+ (u + w - z)| < 2^(k-1) for the largest u, w, z the budgets allow."""
    k = check_bits(SCALES)
    assert 2 * SCALES.w_int_bound + largest_update() < 1 << (k - 1)
    assert k + 40 + 8 < F.P_BITS


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
    assert big >> scales.w_shift > 3 * scales.w_int_bound  # so u_1 = w_1 - z > 1.5 w_int
    w_full = {0: [pk.encrypt(3), pk.encrypt(-3)], 1: [pk.encrypt(big), pk.encrypt(0)]}

    def prog(p, store):  # type: ignore[no-untyped-def]
        spdz = SpdzParty(store, session=b"bound-e2e")
        u = {j: zero_shares(spdz, d) for j in range(m)}
        return (
            yield from coordinate_program(p, spdz, tuple(range(m)), w_full, u, scales, objective)
        )

    with pytest.raises(WeightBoundViolated):
        run_local([prog(p, s) for p, s in zip(ps, gen.stores, strict=True)])
