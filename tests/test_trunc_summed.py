"""Truncation with a summed low mask (docs/crypto.md, "Truncation with a summed low mask").

Checked against integer arithmetic (Python's floor shift), never against the code's own
output: the result minus floor(x / 2^m) must lie in ``carry_range(parties)`` for every x in
range and every low mask a sum of in-range contributions can give, including a cheater's
extreme ones; with the offline phase's masks (INSECURE small keys) the MAC check passes; and
with honest contributions the carry is centred (its mean error is x's fraction, as TruncPr's).
"""

from __future__ import annotations

import secrets

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from coopetition.protocols.spdz import field as F
from coopetition.protocols.spdz.harness import run_local
from coopetition.protocols.spdz.online import DEFAULT_KAPPA, SpdzParty
from coopetition.protocols.spdz.preprocessing import InsecureDealerPreprocessing
from coopetition.protocols.spdz.testing import offline_parties
from coopetition.protocols.spdz.trunc_summed import (
    carry_range,
    centre,
    needs_trunc_summed,
    trunc_pr_summed,
)

K, SHIFT = 12, 5
EDGES = [-(1 << (K - 1)), -(1 << (K - 1)) + 1, -33, -32, -31, -1, 0, 1, 31, 32, (1 << (K - 1)) - 1]


class ChosenLowMasks(InsecureDealerPreprocessing):
    """INSECURE dealer whose m-bit masks take chosen values (a cheater's extremes)."""

    def chosen(self, values: list[int], bits: int) -> None:
        self._deal("bounded", [F.vec(values)], bits=bits)


def _run(m: int, values: list[int], k: int, shift: int, low: list[int] | None) -> list[list[int]]:
    n = len(values)
    d = ChosenLowMasks(m)
    high_bits = k + 1 + DEFAULT_KAPPA - shift
    d.bounded(n, high_bits)
    if low is None:
        d.bounded(n, shift)
    else:
        d.chosen(low, shift)
    d.input_masks(0, n)
    return _truncate_everywhere(d.stores, values, k, shift, b"trunc-summed")


def _truncate_everywhere(stores, values: list[int], k: int, shift: int, session: bytes):
    """Party 0 inputs ``values``; every party truncates, outputs and MAC-checks; signed ints."""

    def prog(store):
        p = SpdzParty(store, session=session)
        x = yield from p.input(0, len(values), F.vec(values) if p.party == 0 else None)
        t = yield from trunc_pr_summed(p, x, k, shift)
        out = yield from p.output(t)
        yield from p.mac_check()
        return out

    return [[int(v) for v in F.signed(r)] for r in run_local([prog(s) for s in stores])]


def test_needs_are_two_masks_per_value_and_no_bits() -> None:
    need = needs_trunc_summed(7, 80, 70)
    assert need.bits == 0 and need.triples == 0
    assert need.bounded == ((80 + 1 + DEFAULT_KAPPA - 70, 7), (70, 7))


def test_carry_range_against_its_definition() -> None:
    """Brute force over every x mod 2^m and every R' a sum of in-range contributions gives."""
    for m in (2, 3, 4, 5):
        for shift in (1, 2, 3, 5):
            c, top = centre(m, shift), m * ((1 << shift) - 1)
            errors = {(xl - c + r) >> shift for xl in range(1 << shift) for r in range(top + 1)}
            assert carry_range(m, shift) == (min(errors), max(errors))
            assert -m <= min(errors) and max(errors) <= m  # fixedpoint.w_trunc_bound's slack


def test_a_cheaters_extreme_low_masks_reach_but_do_not_leave_the_range() -> None:
    """R' = 0 (every contribution 0) and R' = m (2^s - 1) (every contribution at the top)."""
    for m in (2, 3, 4):
        low_edge, high_edge = carry_range(m, SHIFT)
        for low, edge in ((0, low_edge), (m * ((1 << SHIFT) - 1), high_edge)):
            for got in _run(m, EDGES, K, SHIFT, [low] * len(EDGES)):
                errors = [g - (x >> SHIFT) for g, x in zip(got, EDGES, strict=True)]
                assert all(low_edge <= e <= high_edge for e in errors)
                assert edge in errors  # x mod 2^5 = 0 reaches the low edge, 31 the high one


@settings(max_examples=15, deadline=None)
@given(
    st.lists(st.integers(-(2**60), 2**60 - 1), min_size=1, max_size=5),
    st.integers(1, 40),
    st.integers(2, 5),
    st.data(),
)
def test_any_in_range_low_mask_gives_the_stated_floor(values, shift, m, data) -> None:
    k = 62
    top = m * ((1 << shift) - 1)
    low = data.draw(st.lists(st.integers(0, top), min_size=len(values), max_size=len(values)))
    low_edge, high_edge = carry_range(m, shift)
    for got in _run(m, values, k, shift, low):
        for g, x, r in zip(got, values, low, strict=True):
            assert g == (x - centre(m, shift) + r) >> shift  # Python's >> floors
            assert low_edge <= g - (x >> shift) <= high_edge


def test_honest_contributions_give_truncprs_mean() -> None:
    """x with fraction 1/2 (x mod 2^6 = 32): TruncPr's mean error is 1/2; the dealer's masks
    are honest sums of m draws, and the centre brings this one's mean to 1/2 as well."""
    m, n, shift = 4, 400, 6
    values = [(secrets.randbits(20) << shift) + (1 << (shift - 1)) for _ in range(n)]
    got = _run(m, values, 40, shift, None)[0]
    mean = float(np.mean([g - (x >> shift) for g, x in zip(got, values, strict=True)]))
    assert abs(mean - 0.5) < 0.2  # standard error about 0.04


def test_with_the_offline_phases_masks_the_mac_check_passes() -> None:
    """The masks Helen uses: sums of range-proved contributions, carrying ciphertexts."""
    m, n = 3, len(EDGES)
    offline = offline_parties(m, b"trunc-summed-offline")
    widths = ((K + 1 + DEFAULT_KAPPA - SHIFT, n), (SHIFT, n))
    stores = run_local([o.fill(bounded=widths) for o in offline])
    dealt = InsecureDealerPreprocessing(m, alpha_shares=[s.alpha_share for s in stores])
    dealt.input_masks(0, n)
    dealt.transfer_to(stores)

    low_edge, high_edge = carry_range(m, SHIFT)
    for got in _truncate_everywhere(stores, EDGES, K, SHIFT, b"trunc-summed-offline"):
        errors = [g - (x >> SHIFT) for g, x in zip(got, EDGES, strict=True)]
        assert all(low_edge <= e <= high_edge for e in errors)
