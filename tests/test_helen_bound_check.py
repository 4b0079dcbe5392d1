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
