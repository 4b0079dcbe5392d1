"""Review of ce21788 (lowmask): Helen's w_j truncation with a summed low mask
(``spdz.trunc_summed``; docs/crypto.md, "Truncation with a summed low mask").

Every expectation is recomputed here from integer arithmetic (Python's floor shift, brute
force over small widths, interval arithmetic over Helen's widths, Paillier decryption of the
masks' public ciphertexts), never taken from the code under review. INSECURE parameters for
speed: the 1280-bit test key of ``spdz.testing`` and, for the exact hiding enumeration, a
tiny statistical parameter.
"""

from __future__ import annotations

import re
from collections import Counter
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_rvpm_review import stat_cheater

from coopetition.engine.errors import CheatingDetected
from coopetition.protocols.admm.objective import Objective
from coopetition.protocols.fixedpoint import HelenScales
from coopetition.protocols.helen import coordinate_phase as cp
from coopetition.protocols.spdz import field as F
from coopetition.protocols.spdz.errors import MacCheckFailed
from coopetition.protocols.spdz.harness import run_local
from coopetition.protocols.spdz.offline import OfflineParty
from coopetition.protocols.spdz.online import DEFAULT_KAPPA, MASK_HEADROOM_BITS, SpdzParty
from coopetition.protocols.spdz.preprocessing import InsecureDealerPreprocessing
from coopetition.protocols.spdz.shares import Share
from coopetition.protocols.spdz.testing import dealer, offline_parties, paillier_parties
from coopetition.protocols.spdz.trunc_summed import (
    carry_range,
    needs_trunc_summed,
    trunc_pr_summed,
)

DOC = Path(__file__).resolve().parents[1] / "docs" / "crypto.md"
K, SHIFT = 12, 5
EDGES = [-(1 << (K - 1)), -(1 << (K - 1)) + 1, -33, -32, -31, -1, 0, 1, 31, 32, (1 << (K - 1)) - 1]


def ref_centre(parties: int, m: int) -> int:
    """The doc's C = floor((parties - 1)(2^m - 1) / 2), recomputed."""
    return (parties - 1) * (2**m - 1) // 2


def brute_carry(parties: int, m: int) -> tuple[int, int]:
    """min/max of floor((x - C + R') / 2^m) - floor(x / 2^m) over every x mod 2^m and every
    R' a sum of ``parties`` values in [0, 2^m) can give (brute force over the draws)."""
    c = ref_centre(parties, m)
    sums = {0}
    for _ in range(parties):
        sums = {s + v for s in sums for v in range(2**m)}
    errs = {(xl - c + r) // 2**m for xl in range(2**m) for r in sums}
    return min(errs), max(errs)


# -- 1. the carry range: the code's formula is right, the doc's listing is not -------------------


def test_carry_range_matches_brute_force_and_stays_within_parties():
    """``carry_range`` agrees with a brute force over the contributions, for m >= 2."""
    for parties in (2, 3, 4, 5):
        for m in (2, 3, 4) if parties < 5 else (2, 3):
            lo, hi = brute_carry(parties, m)
            assert carry_range(parties, m) == (lo, hi)
            assert -parties <= lo and hi <= parties


#: what the brute force gives at Helen's widths (m >= 3)
TRUE_LISTING = {2: (-1, 2), 3: (-1, 2), 4: (-2, 3), 5: (-2, 3)}


def test_true_carry_ranges_at_two_to_five_parties():
    """The ranges a cheater can really reach at 2..5 parties (brute force at m = 3; the
    closed form, independent of m >= 3, checked up to Helen's w_shift widths)."""
    for parties, want in TRUE_LISTING.items():
        assert brute_carry(parties, 3) == want
        for m in (3, 10, 65, 80):
            c = ref_centre(parties, m)
            lo = -((c + 2**m - 1) // 2**m)  # x mod 2^m = 0, R' = 0
            hi = (2**m - 1 - c + parties * (2**m - 1)) // 2**m  # both at the top
            assert (lo, hi) == want == carry_range(parties, m)


def test_doc_listing_of_carry_ranges_is_the_true_one():
    """docs/crypto.md, "Correctness, exactly, for any cheater": the listing now matches the
    brute force (the first version understated the top by one at 2, 4 and 5 parties, e.g. 2
    parties, m = 3: C = 3, x mod 8 = 7, R' = 14 gives e = 2)."""
    text = " ".join(DOC.read_text().split())
    assert "[-1, 2] at 2 and 3 parties, [-2, 3] at 4 and 5" in text
    assert "[-1, 1] at 2 parties" not in text
    assert (7 - 3 + 14) // 8 - 7 // 8 == 2 == TRUE_LISTING[2][1]


# -- 2. Helen's widths hold a cheater's extreme w_j with the widened carry ---------------------


def worst_case_violations(s: HelenScales, obj: Objective) -> list[str]:
    """Interval arithmetic for one iteration from |z|, |u_j| in [-W, W - 1] and the new carry
    (recomputed from the doc's definition, not from ``carry_range``)."""
    bad = []
    window, m = s.w_window, s.parties
    full = s.features * s.a_bound * (s.b_bound + s.rho_int * (2 * window - 1))
    bad += ["k_w"] * (full >= 1 << (s.k_w - 1))
    c = ref_centre(m, s.w_shift)
    lo = -((c + 2**s.w_shift - 1) // 2**s.w_shift)
    hi = (2**s.w_shift - 1 - c + m * (2**s.w_shift - 1)) // 2**s.w_shift
    # the new no-wrap condition and the centre's precondition
    bad += ["field:truncate_w"] * (s.k_w + 1 + DEFAULT_KAPPA + MASK_HEADROOM_BITS >= F.P_BITS)
    bad += ["centre"] * (c >= 1 << (s.k_w - 1))
    w_max = max(-((-full) // 2**s.w_shift) - lo, full // 2**s.w_shift + hi)
    bad += ["w_trunc_bound"] * (w_max > s.w_trunc_bound)
    total = m * (w_max + window)
    bad += ["k_sum"] * (total >= 1 << (s.k_sum - 1))
    prod = total * s.consensus_int(obj.lam2)
    bad += ["k_consensus"] * (prod >= 1 << (s.k_consensus - 1))
    z_max = prod // 2**s.coef_bits + 1
    bad += ["z_trunc_bound"] * (z_max > s.z_trunc_bound)
    k = cp.check_bits(s)
    edge = 2 * window + w_max + z_max  # |u + w - z + W| at most
    bad += ["check_bits"] * (edge >= 1 << (k - 1))
    return bad


@settings(max_examples=80, deadline=None)
@given(
    st.sampled_from([Objective("least_squares"), Objective("lasso", lam=2000)]),
    st.integers(2, 9),
    st.integers(1, 120),
    st.sampled_from([10, 1000, 100_000]),
    st.sampled_from([1.0, 1e4]),
    st.sampled_from([1.0, 2.0**12]),
    st.sampled_from([16, 24, 32]),
)
def test_widths_hold_a_cheaters_w_j_with_the_summed_carry(obj, m, d, rows, rho, bound, prec):
    s = HelenScales(
        features=d,
        rows=max(rows, d),
        parties=m,
        rho=rho,
        x_bound=bound,
        y_bound=bound,
        precision=prec,
    )
    try:
        s.check(4096)
    except ValueError:
        return  # a shape Helen refuses anyway
    assert worst_case_violations(s, obj) == []


def test_the_field_budget_now_has_no_spare_bit_for_truncate_w():
    """``headroom['spdz.truncate_w']`` >= 1 (k_w <= 206) is exactly what the summed
    truncation's no-wrap needs (k_w + 1 + kappa + 8 < 256): no slack left, but no gap."""
    spdz_k = F.P_BITS - DEFAULT_KAPPA - MASK_HEADROOM_BITS - 1
    k_w = spdz_k - 1  # the largest k_w the headroom accepts
    assert k_w + 1 + DEFAULT_KAPPA + MASK_HEADROOM_BITS < F.P_BITS
    assert (k_w + 1) + 1 + DEFAULT_KAPPA + MASK_HEADROOM_BITS >= F.P_BITS


# -- 3. exactness at the largest width with a cheater's extreme masks ---------------------------


class Chosen(InsecureDealerPreprocessing):
    """INSECURE dealer whose bounded masks take chosen values (a cheater's extremes)."""

    def chosen(self, values: list[int], bits: int) -> None:
        self._deal("bounded", [F.vec(values)], bits=bits)


def run_chosen(parties, values, k, m, high, low, kappa=DEFAULT_KAPPA, check=True, record=None):
    d = Chosen(parties)
    d.chosen(high, k + 1 + kappa - m)
    d.chosen(low, m)

    class Rec(SpdzParty):
        def open(self, x, ids=()):
            got = yield from super().open(x, ids)
            if record is not None and self.party == 0:
                record.append([int(v) for v in got])
            return got

    def prog(store):
        p = Rec(store, session=b"rv-lowmask", kappa=kappa)
        x = p.public(F.vec([v % F.P for v in values]))
        t = yield from trunc_pr_summed(p, x, k, m)
        return (yield from (p.output(t) if check else p.open(t)))

    return [[int(v) for v in F.signed(r)] for r in run_local([prog(s) for s in d.stores])]


@pytest.mark.parametrize("parties", [2, 4])
@pytest.mark.parametrize("extreme", ["max", "zero"])
def test_largest_allowed_width_with_extreme_masks_is_exact(parties, extreme):
    """k = 206 (the largest the check allows), m = 80: every contribution to r'' and r' at
    the top (or 0), x at both edges: c < P and the result is floor((x - C + R') / 2^m)."""
    k, m = 206, 80
    hb = k + 1 + DEFAULT_KAPPA - m
    top = extreme == "max"
    high_v = parties * (2**hb - 1) if top else 0
    low_v = parties * (2**m - 1) if top else 0
    xs = [-(2 ** (k - 1)), -(2 ** (k - 1)) + 1, -1, 0, 2**m - 1, 2 ** (k - 1) - 1]
    c = ref_centre(parties, m)
    opened: list[list[int]] = []
    n = len(xs)
    for got in run_chosen(parties, xs, k, m, [high_v] * n, [low_v] * n, record=opened):
        assert got == [(x - c + low_v) >> m for x in xs]
    # the opened c is the integer sum (no reduction mod P)
    assert opened[0] == [x - c + 2**k + 2**m * high_v + low_v for x in xs]
    assert max(opened[0]) < F.P


def test_no_wrap_bound_holds_up_to_127_parties():
    """The worst c at k = 206 with 127 parties' top contributions is still below P."""
    k, m, parties = 206, 80, 127
    hb = k + 1 + DEFAULT_KAPPA - m
    worst = (2 ** (k - 1) - 1) + 2**k + 2**m * parties * (2**hb - 1) + parties * (2**m - 1)
    assert worst < 1 << (F.P_BITS - 1) < F.P


def test_widths_beyond_the_budget_and_a_centre_too_large_are_refused():
    d = Chosen(4)
    p = SpdzParty(d.stores[0])
    x = p.public(F.vec([0]))
    with pytest.raises(ValueError, match="no room"):
        next(trunc_pr_summed(p, x, 207, 80))
    # 4 parties, m = 2: C = 4 = 2^(k-1) at k = 3 would let x - C + 2^k go negative
    with pytest.raises(ValueError, match="centre"):
        next(trunc_pr_summed(p, x, 3, 2))


def test_r_high_and_r_low_of_equal_width_are_drawn_apart():
    """k + 1 + kappa = 2m: both masks come from one width; the plan merges them into 2n and
    the two takes still see distinct items (result exact against the dealt values)."""
    m, parties = 45, 2
    k = 2 * m - 1 - DEFAULT_KAPPA
    assert needs_trunc_summed(3, k, m).bounded == ((m, 6),)
    xs = [-(2 ** (k - 1)), 12345, 2 ** (k - 1) - 1]
    high, low = [7, 2**m, 2 ** (m + 1) - 2], [0, 2**m - 1, 2 ** (m + 1) - 2]
    got = run_chosen(parties, xs, k, m, high, low)[0]
    c = ref_centre(parties, m)
    assert got == [(x - c + r) >> m for x, r in zip(xs, low, strict=True)]


# -- 4. hiding: exact distribution of the opened c, given the cheater's own contributions ------


@pytest.mark.parametrize("cheat", ["zero", "max"])
def test_opened_value_hides_x_exactly_as_stated(cheat):
    """Two parties, party 1 the cheater with known contributions (0 or the top); enumerate
    every honest contribution to r'' and r' (kappa = 3, k = 6, m = 2: 256 x 4 draws) and every
    x in a spread of the range. c mod 2^m is exactly uniform for every x, and the whole c's
    distributions for any two x are within twice the doc's per-x distance
    (2^(k+1-m) + parties + 1) / 2^(k+1+kappa-m)."""
    parties, k, m, kappa = 2, 6, 2, 3
    hb = k + 1 + kappa - m
    vc_hi = 0 if cheat == "zero" else 2**hb - 1
    vc_lo = 0 if cheat == "zero" else 2**m - 1
    combos = [(h, lo) for h in range(2**hb) for lo in range(2**m)]
    xs = [-(2 ** (k - 1)), -17, -1, 0, 1, 6, 2 ** (k - 1) - 1]
    values = [x for x in xs for _ in combos]
    high = [h + vc_hi for _ in xs for h, _ in combos]
    low = [lo + vc_lo for _ in xs for _, lo in combos]
    opened: list[list[int]] = []
    results = run_chosen(parties, values, k, m, high, low, kappa=kappa, record=opened)[0]
    c_all = opened[0]
    assert len(c_all) == len(values)
    centre = ref_centre(parties, m)
    assert results == [(x - centre + r) >> m for x, r in zip(values, low, strict=True)]
    dists = []
    for i, _x in enumerate(xs):
        cs = c_all[i * len(combos) : (i + 1) * len(combos)]
        low_counts = Counter(c % 2**m for c in cs)
        assert sorted(low_counts) == list(range(2**m))
        assert set(low_counts.values()) == {len(combos) // 2**m}
        dists.append(Counter(cs))
    per_x = Fraction(2 ** (k + 1 - m) + parties + 1, 2 ** (k + 1 + kappa - m))
    worst = Fraction(0)
    for a in dists:
        for b in dists:
            sd = Fraction(sum(abs(a[v] - b[v]) for v in set(a) | set(b)), 2 * len(combos))
            worst = max(worst, sd)
    assert 0 < worst <= 2 * per_x <= Fraction(4, 2**kappa)


# -- 5. malicious parties ---------------------------------------------------------------------


def _offline_stores(m, session, widths, cheat=None, paillier_cheat=None):
    if paillier_cheat is None:
        offline = offline_parties(m, session, cheat=cheat)
    else:
        offline = [OfflineParty(p) for p in paillier_parties(m, session, cheat=paillier_cheat)]
    return run_local([o.fill(bounded=widths) for o in offline])


@pytest.mark.parametrize("how", ["one-past-2^m", "minus-one"])
def test_a_low_mask_contribution_outside_its_range_is_caught_offline(how):
    """Party 1 contributes 2^m (or -1) to the m-bit batch r' comes from, and proves it anyway:
    the offline phase's range proofs abort, naming it, before any mask reaches a store."""
    m = 3
    widths = ((K + 1 + DEFAULT_KAPPA - SHIFT, 2), (SHIFT, 2))
    value = (1 << SHIFT) if how == "one-past-2^m" else -1
    with pytest.raises(CheatingDetected) as err:
        _offline_stores(
            m,
            b"rv-lowmask-range-" + how.encode(),
            widths,
            paillier_cheat={1: stat_cheater(SHIFT, value)},
        )
    assert err.value.culprit == 1


class Top(OfflineParty):
    """In range but extreme: every contribution 2^w - 1."""

    def _sample(self, bits):
        return (1 << bits) - 1


def test_cheaters_top_contributions_with_real_masks_give_the_exact_floor():
    """Parties 1 and 2 of 3 contribute 2^w - 1 to every mask; R' decrypted from the masks'
    public ciphertexts (the dealer knows the key) gives the expected result exactly, the
    error reaches past TruncPr's {0, 1}, and stays inside the brute-force range."""
    m, n = 3, len(EDGES)
    session = b"rv-lowmask-top"
    widths = ((K + 1 + DEFAULT_KAPPA - SHIFT, n), (SHIFT, n))
    stores = _offline_stores(m, session, widths, cheat={1: Top, 2: Top})
    sk = dealer(m).dealer_private_key
    slot = next(s for s in stores[0]._slots if s.batch.kind == "bounded" and s.batch.bits == SHIFT)
    r_low = [sk.decrypt(c) for c in slot.batch.ciphertexts]
    assert all(2 * (2**SHIFT - 1) <= r < m * 2**SHIFT for r in r_low)

    def prog(store):
        p = SpdzParty(store, session=session)
        x = p.public(F.vec([v % F.P for v in EDGES]))
        t = yield from trunc_pr_summed(p, x, K, SHIFT)
        return (yield from p.output(t))

    c = ref_centre(m, SHIFT)
    lo, hi = brute_carry(m, 3)  # the same for every m >= 3
    for res in run_local([prog(s) for s in stores]):
        got = [int(v) for v in F.signed(res)]
        assert got == [(x - c + r) >> SHIFT for x, r in zip(EDGES, r_low, strict=True)]
        errs = [g - (x >> SHIFT) for g, x in zip(got, EDGES, strict=True)]
        assert all(lo <= e <= hi for e in errs) and max(errs) > 1


def _tampered(which: str, delta: int, check: bool):
    """Honest offline masks; party 1 adds ``delta`` to its value share (not its MAC share)
    of every r'' (``which`` = "high") or r' ("low")."""
    m, n = 2, len(EDGES)
    session = b"rv-lowmask-tamper-" + which.encode() + (b"-c" if check else b"-u")
    hb = K + 1 + DEFAULT_KAPPA - SHIFT
    stores = _offline_stores(m, session, ((hb, n), (SHIFT, n)))
    width = hb if which == "high" else SHIFT
    slot = next(s for s in stores[1]._slots if s.batch.kind == "bounded" and s.batch.bits == width)
    (share,) = slot.batch.parts
    slot.batch.parts = (Share(F.add(share.value, F.vec([delta % F.P] * n)), share.mac),)

    def prog(store):
        p = SpdzParty(store, session=session)
        x = p.public(F.vec([v % F.P for v in EDGES]))
        t = yield from trunc_pr_summed(p, x, K, SHIFT)
        return (yield from (p.output(t) if check else p.open(t)))

    return run_local([prog(s) for s in stores])


@pytest.mark.parametrize(("which", "delta"), [("low", 5 << SHIFT), ("low", 1), ("high", 1)])
def test_a_shifted_mask_share_aborts_at_the_mac_check(which, delta):
    """A cheater shifting its share of r' by 5 * 2^m moves every result by 5 (far outside the
    carry range, see the control below); by 1, one unit of c; of r'' by 1, c's high part.
    Each time the opening of c is forged and the MAC check aborts before any output."""
    with pytest.raises(MacCheckFailed):
        _tampered(which, delta, check=True)


def test_control_a_shifted_low_share_really_moves_the_unchecked_result():
    """Without the MAC check, a shift of 5 * 2^m in r' moves every result by exactly 5: only
    the MAC check keeps the carry range a guarantee against an online cheater."""
    res = _tampered("low", 5 << SHIFT, check=False)[0]
    got = [int(v) for v in F.signed(res)]
    lo, hi = brute_carry(2, 3)
    errs = [g - (x >> SHIFT) for g, x in zip(got, EDGES, strict=True)]
    assert all(e > hi for e in errs)
    assert all(lo + 5 <= e <= hi + 5 for e in errs)


# -- 6. stale statements elsewhere (low) -------------------------------------------------------


def test_no_stale_mention_of_truncpr_for_w_j_remains():
    """The texts that described the w_j truncation as TruncPr with w_trunc_bound's old +1
    (review finding) now describe the summed low mask."""
    crypto = " ".join(DOC.read_text().split())
    design = " ".join((DOC.parent / "helen-design.md").read_text().split())
    assert "`w_trunc_bound` = 2^(k_w - 1 - w_shift) + 1" not in crypto
    assert "`w_trunc_bound` = 2^(k_w - 1 - w_shift) + m" in crypto
    assert not re.search(r"SPDZ: `trunc_pr\(w, k_w, w_shift\)`", design)
    assert "trunc_pr_summed(w, k_w, w_shift)" in design
