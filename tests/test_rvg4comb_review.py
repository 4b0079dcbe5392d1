"""Adversarial review of Gadget 4 on one random combination (8167cdd): cheaters whose errors
would cancel under the coefficients, masks at the ends of their ranges, extreme in-range
records, negative alpha, the budget arithmetic, the record-count and key-size guards, the
leakage of the opened combinations, and the two refactorings next to it (``_combine`` by
multi-exponentiation, ``_open_packed`` by Horner's rule).

Records are built directly (``Conversion`` with chosen plaintexts) so that every value can be
put at the edge of what the range proofs allow; only ``setup`` and ``verify_conversions`` run.
"""

from __future__ import annotations

import random

import gmpy2
import pytest

from coopetition.protocols import fixedpoint
from coopetition.protocols.paillier import ops
from coopetition.protocols.paillier.keys import insecure_test_keypair
from coopetition.protocols.paillier.threshold import TrustedDealerKeyGeneration
from coopetition.protocols.spdz import conversion as conv_mod
from coopetition.protocols.spdz import field as F
from coopetition.protocols.spdz import gadgets as g
from coopetition.protocols.spdz.conversion import Conversion, PaillierParty
from coopetition.protocols.spdz.errors import ConversionRejected
from coopetition.protocols.spdz.harness import run_local
from coopetition.protocols.spdz.packing import Packing, pack_slots
from coopetition.protocols.spdz.shares import Share
from coopetition.protocols.spdz.testing import TEST_BITS, dealer, paillier_parties

P = F.P


# -- helpers ---------------------------------------------------------------------------------


def _parties(m, tag, cheat=None, cls=PaillierParty):
    ps = paillier_parties(m, b"rvg4-" + tag.encode(), cls=cls, cheat=cheat)
    run_local([p.setup() for p in ps])
    return ps


def _alpha(ps):
    return sum(p.alpha_share for p in ps)


def _consistent_row(rng, a, alpha, m):
    """(a, [b_j], [c_j]): shares in [0, P) with sum b = a and sum c = alpha a (mod P)."""
    bs = [rng.randrange(P) for _ in range(m - 1)]
    bs.append((a - sum(bs)) % P)
    cs = [rng.randrange(P) for _ in range(m - 1)]
    cs.append((alpha * a - sum(cs)) % P)
    return a, bs, cs


def _extreme_row(a_bits, alpha, m, sign):
    """Every share and MAC share at P - 1 (but the last MAC share), |a| just below 2**a_bits
    with a = sum b (mod P): the widest |a - sum b| and alpha sum b the proofs allow."""
    bs = [P - 1] * m
    target = sum(bs) % P
    if sign > 0:
        a = (1 << a_bits) - 1
        a -= (a - target) % P
    else:
        a = -((1 << a_bits) - 1)
        a += (target - a) % P
    assert a % P == target and abs(a) < 1 << a_bits
    cs = [P - 1] * (m - 1)
    cs.append((alpha * sum(bs) - sum(cs)) % P)
    return a, bs, cs


def _record(pk, rows, value_bits):
    m = len(rows[0][1])
    n = len(rows)
    return Conversion(
        share=Share(F.vec([0] * n), F.vec([0] * n)),
        ciphertexts=[pk.encrypt(a) for a, _, _ in rows],
        value_bits=value_bits,
        enc_shares={j: [pk.encrypt(bs[j]) for _, bs, _ in rows] for j in range(m)},
        enc_mac_shares={j: [pk.encrypt(cs[j]) for _, _, cs in rows] for j in range(m)},
    )


def _verify(ps, records):
    return run_local([g.verify_conversions(p, None, records) for p in ps])


def _transcript_lists(pk, records, m):
    enc_a, sum_b, sum_c = [], [], []
    for rec in records:
        for t in range(len(rec)):
            enc_a.append(rec.ciphertexts[t])
            sum_b.append(ops.sum_ct(pk, [rec.enc_shares[j][t] for j in range(m)]))
            sum_c.append(ops.sum_ct(pk, [rec.enc_mac_shares[j][t] for j in range(m)]))
    return enc_a, sum_b, sum_c


class TopMasks(PaillierParty):
    """A cheater whose Gadget 4 masks sit at the top of their proved range."""

    def mask(self, bits):
        return (1 << bits) - 1


class ZeroMasks(PaillierParty):
    """A cheater whose Gadget 4 masks are all zero (the bottom of the range)."""

    def mask(self, bits):
        return 0


class Recording(PaillierParty):
    """Records the masks it draws and the values Gadget 4 opens."""

    def mask(self, bits):
        v = super().mask(bits)
        self.drawn = [*getattr(self, "drawn", []), (bits, v)]
        return v

    def open_bounded(self, cts, bounds, phase):
        out = yield from super().open_bounded(cts, bounds, phase)
        self.opened = [*getattr(self, "opened", []), (phase, out)]
        return out


class NegativeAlpha(PaillierParty):
    """Sees alpha as alpha - m P (the same key mod P, negative as interval proofs allow)."""

    def joint_decrypt(self, cts, phase):
        out = yield from super().joint_decrypt(cts, phase)
        if phase == "gadget4-alpha":
            return [out[0] - self.parties * P]
        return out


# -- honest extremes: no false abort, no wrap-around -------------------------------------------


@pytest.mark.parametrize("cheat_cls", [TopMasks, ZeroMasks], ids=["top-masks", "zero-masks"])
def test_extreme_in_range_records_and_masks_at_range_ends_pass(cheat_cls):
    """Widest |a - sum b| and alpha sum b - sum c the proofs allow (both signs), wide a_bits,
    a party's masks at either end of their range: consistent records still pass."""
    m, a_bits = 3, 400
    ps = _parties(m, "extreme-" + cheat_cls.__name__, cheat={2: cheat_cls})
    alpha = _alpha(ps)
    rows = [_extreme_row(a_bits, alpha, m, (-1) ** t) for t in range(6)]
    rec = _record(ps[0].pk, rows, a_bits)
    assert _verify(ps, [rec]) == [alpha % P] * m


def test_back_records_with_a_wider_than_their_value_bits_are_covered():
    """Gadget 3 back: a = c - 2**(k-1) - R has |a| up to ~m 2**(k+kappa) + P > 2**k; the
    budget's max(a_bits, S) covers it (|a| < 2**S), even with value_bits = 1."""
    m = 2
    ps = _parties(m, "back-wide")
    alpha = _alpha(ps)
    s_bits = F.P_BITS + m.bit_length()
    rows = [_extreme_row(s_bits, alpha, m, (-1) ** t) for t in range(4)]
    assert _verify(ps, [_record(ps[0].pk, rows, 1)]) == [alpha % P] * m


def test_negative_alpha_is_handled_by_the_sign_branch():
    """alpha decrypted as alpha - m P (the same key mod P; interval proofs admit negative
    alpha_j): alpha * sum b - sum c stays a multiple of P, the MAC test passes."""
    m = 2
    ps = _parties(m, "neg-alpha", cls=NegativeAlpha)
    alpha = _alpha(ps)
    rng = random.Random(7)
    rows = [_consistent_row(rng, rng.randrange(-(1 << 60), 1 << 60), alpha, m) for _ in range(5)]
    assert _verify(ps, [_record(ps[0].pk, rows, 61)]) == [alpha % P] * m


# -- cheaters ----------------------------------------------------------------------------------


def _honest_rows(ps, n, seed):
    rng = random.Random(seed)
    alpha = _alpha(ps)
    return [
        _consistent_row(rng, rng.randrange(-(1 << 60), 1 << 60), alpha, len(ps)) for _ in range(n)
    ]


def _cancelling(ps, rows, which):
    """A cheater (party 1) adds errors to two records' value (which=1) or MAC (which=2) shares
    that cancel under the rho of the *honest* transcript: e0 rho0 + e1 rho1 = 0 (mod P)."""
    pk, m = ps[0].pk, len(ps)
    honest = _record(pk, rows, 61)
    rho = g._combiners(ps[0], *_transcript_lists(pk, [honest], m))
    e0 = 12345
    e1 = -e0 * rho[0] * pow(rho[1], -1, P) % P
    assert (e0 * rho[0] + e1 * rho[1]) % P == 0
    bad = [list(map(list, r[1:])) for r in rows]
    for t, e in ((0, e0), (1, e1)):
        bad[t][which - 1][1] = (bad[t][which - 1][1] + e) % P
    tampered = [(a, bs, cs) for (a, _, _), (bs, cs) in zip(rows, bad, strict=True)]
    rec = _record(pk, tampered, 61)
    assert g._combiners(ps[0], *_transcript_lists(pk, [rec], m)) != rho  # rho binds them
    return rec


@pytest.mark.parametrize(
    ("which", "reason", "seed", "tag"),
    [(1, "a - sum of shares", 1, "cancel-values"), (2, "MAC shares", 2, "cancel-macs")],
    ids=["values", "macs"],
)
def test_errors_cancelling_under_the_honest_rho_are_caught(which, reason, seed, tag):
    ps = _parties(2, tag)
    rec = _cancelling(ps, _honest_rows(ps, 4, seed), which=which)
    with pytest.raises(ConversionRejected) as err:
        _verify(ps, [rec])
    assert reason in err.value.reason
    if which == 1:  # the value test fails before alpha is released
        assert not any(p.alpha_released for p in ps)


def test_one_wrong_mac_share_passes_the_value_test_and_fails_the_mac_test():
    ps = _parties(3, "one-mac", cls=Recording)
    rows = _honest_rows(ps, 5, 3)
    a, bs, cs = rows[4]
    rows[4] = (a, bs, [*cs[:2], (cs[2] + 1) % P])
    with pytest.raises(ConversionRejected) as err:
        _verify(ps, [_record(ps[0].pk, rows, 61)])
    assert "MAC shares" in err.value.reason
    assert [ph for ph, _ in ps[0].opened] == ["gadget4-values", "gadget4-macs"]


def test_value_error_across_two_records_of_different_conversions_is_caught():
    """Errors spread over two records (two conversions), the sum of the errors zero mod P."""
    ps = _parties(2, "two-records")
    r1, r2 = _honest_rows(ps, 3, 4), _honest_rows(ps, 3, 5)
    a, bs, cs = r1[2]
    r1[2] = (a, [bs[0], (bs[1] + 1) % P], cs)
    a, bs, cs = r2[0]
    r2[0] = (a, [bs[0], (bs[1] - 1) % P], cs)
    pk = ps[0].pk
    with pytest.raises(ConversionRejected):
        _verify(ps, [_record(pk, r1, 61), _record(pk, r2, 61)])
    assert not any(p.alpha_released for p in ps)


def test_rho_binds_record_order_and_session():
    ps = _parties(2, "order")
    pk = ps[0].pk
    rows = _honest_rows(ps, 3, 6)
    lists = _transcript_lists(pk, [_record(pk, rows, 61)], 2)
    rho = g._combiners(ps[0], *lists)
    swapped = [[x[1], x[0], x[2]] for x in lists]
    rho_swapped = g._combiners(ps[0], *swapped)
    assert rho_swapped[:2] != [rho[1], rho[0]]
    other = paillier_parties(2, b"rvg4-order-other")
    assert g._combiners(other[0], *lists) != rho


# -- guards ------------------------------------------------------------------------------------


def test_record_count_limit_refuses_before_anything_is_sent(monkeypatch):
    monkeypatch.setattr(g, "COUNT_BITS", 2)
    ps = _parties(2, "count")
    rec = _record(ps[0].pk, _honest_rows(ps, 4, 8), 61)
    sent = []

    def seen(sender, receiver, tag, payload):
        sent.append(tag)
        return payload

    with pytest.raises(ValueError, match="fewer than"):
        run_local([g.verify_conversions(p, None, [rec]) for p in ps], tamper=seen)
    assert not sent and not any(p.alpha_released for p in ps)


def test_key_too_small_for_wide_records_refuses_before_alpha():
    ps = _parties(2, "too-small")
    rec = _record(ps[0].pk, _honest_rows(ps, 2, 9), 1000)  # needs 1286 bits (the mask's proof)
    with pytest.raises(ValueError, match="too small for Gadget 4"):
        _verify(ps, [rec])
    assert not any(p.alpha_released for p in ps)


# -- the key sizes the budget admits: the masks' range proof must fit -------------------------
# Finding 1 (fixed): the tight range proof encrypts its link mask alpha_l of
# |hi| + 1 + 2 * 128 + 80 + log2(statements) bits, which must be < N. With full-width masks
# (rm_bits = 717 at m <= 3) it needed |N| >= 1057 while the budget admitted 978, so every
# 1024-bit run failed in helen-verify. Now the masks hide the quotient by P only
# (rm_bits = 462) and ``gadget4_budget`` counts the proof (``proof_key_bits``).


def _parties_at(bits, m, tag, interval_repetitions=16):
    kg = TrustedDealerKeyGeneration(
        m, bits, insecure_allow_small=True, keypair=insecure_test_keypair(bits)
    )
    ps = [
        PaillierParty(
            kg.key_share(i), b"rvg4-" + tag.encode(), interval_repetitions=interval_repetitions
        )
        for i in range(m)
    ]
    run_local([p.setup() for p in ps])
    return ps


def test_gadget4_runs_at_the_1024_bit_key_helen_config_admits():
    m = 3
    assert g.gadget4_budget(61, m, 40).key_bits <= 1024
    ps = _parties_at(1024, m, "1024")
    rec = _record(ps[0].pk, _honest_rows(ps, 3, 11), 61)
    assert _verify(ps, [rec]) == [_alpha(ps) % P] * m


def test_gadget4_runs_wherever_its_budget_says_the_key_suffices():
    """a_bits = 800: the budget asks 1086 bits, now the value mask's range proof
    (r_bits + 340 with r_bits = 961 - 255 + 40); the 1280-bit test key holds it."""
    ps = _parties(2, "budget-800")
    assert g.gadget4_budget(800, 2, 40).key_bits <= TEST_BITS
    rec = _record(ps[0].pk, _honest_rows(ps, 2, 12), 800)
    assert _verify(ps, [rec]) == [_alpha(ps) % P] * 2


# -- leakage of the opened combinations --------------------------------------------------------


def test_opened_combinations_are_multiples_of_p_masked_with_kappa_spare_bits():
    """Honest run: opened = P (K + sum_j r_j) with K = sum rho_t k_t, and the honest masks are
    at least kappa bits wider than K (statistical hiding), for both tests."""
    m = 2
    ps = _parties(m, "leak", cls=Recording)
    alpha = _alpha(ps)
    rows = _honest_rows(ps, 6, 10)
    rec = _record(ps[0].pk, rows, 61)
    _verify(ps, [rec])
    rho = g._combiners(ps[0], *_transcript_lists(ps[0].pk, [rec], m))
    budget = g.gadget4_budget(61, m, ps[0].kappa)
    k_val = sum(r * (a - sum(bs)) for r, (a, bs, _) in zip(rho, rows, strict=True))
    k_mac = sum(r * (alpha * sum(bs) - sum(cs)) for r, (a, bs, cs) in zip(rho, rows, strict=True))
    assert k_val % P == 0 and k_mac % P == 0
    opened = dict(ps[0].opened)
    for phase, k, bits in (
        ("gadget4-values", k_val // P, budget.r_bits),
        ("gadget4-macs", k_mac // P, budget.rm_bits),
    ):
        (value,) = opened[phase]
        assert value % P == 0
        masks = [v for p in ps for b, v in p.drawn if b == bits]
        assert len(masks) == m
        assert value // P == k + sum(masks)
        assert abs(k).bit_length() + ps[0].kappa <= bits


# -- budget arithmetic -------------------------------------------------------------------------


@pytest.mark.parametrize("slack", [0, 80])
@pytest.mark.parametrize("m", [2, 3, 4, 7, 8, 15, 16, 100, 1000])
@pytest.mark.parametrize("a_bits", [1, 63, 257, 258, 259, 300, 600])
def test_budget_holds_the_worst_adversarial_combination(a_bits, m, slack):
    """|sum rho_t x_t + P sum_j r_j| for n = 2**32 - 1 values at their extremes, rho_t at
    2**128 - 1, masks at their extremes (either sign with slack), stays below
    2**(key_bits - 2) <= N / 2, and the proved interval fits one plaintext."""
    kappa = 40
    b = g.gadget4_budget(a_bits, m, kappa, slack)
    n, rho = (1 << g.COUNT_BITS) - 1, (1 << g.COMBINER_BITS) - 1
    if slack:
        share = m * ((1 << (F.P_BITS + slack)) - 1)  # |sum_j b_j|, either sign
        alpha = share
        d = (1 << a_bits) - 1 + share
        e = alpha * share + share
        lo_mask = -m * ((1 << (b.r_bits + slack)) - 1)
        hi_mask = m * ((1 << (b.r_bits + slack)) - 1)
        lo_mac_mask = -m * ((1 << (b.rm_bits + slack)) - 1)
        hi_mac_mask = m * ((1 << (b.rm_bits + slack)) - 1)
    else:
        share = m * (P - 1)
        d = (1 << a_bits) - 1 + share
        e = share * share  # alpha in [0, m (P-1)]; alpha sum b - sum c in [-share, share**2]
        lo_mask, hi_mask = 0, m * ((1 << b.r_bits) - 1)
        lo_mac_mask, hi_mac_mask = 0, m * ((1 << b.rm_bits) - 1)
    assert d < 1 << (b.d_bits - g.COMBINER_BITS - g.COUNT_BITS)
    assert e < 1 << (b.e_bits - g.COMBINER_BITS - g.COUNT_BITS)
    half = 1 << (b.key_bits - 2)
    for x, lo, hi in ((d, lo_mask, hi_mask), (e, lo_mac_mask, hi_mac_mask)):
        combined = n * rho * x
        assert combined + P * hi < half and -combined + P * lo > -half
    if not slack:  # packed opening: the proved interval fits the capacity
        for diff, mask in ((b.d_bits, b.r_bits), (b.e_bits, b.rm_bits)):
            layout = Packing.plan(g._test_bounds(diff, mask, m, 1), b.key_bits - 2)
            assert len(layout) == 1
        assert fixedpoint.gadget4_key_bits(m, a_bits, kappa) == b.key_bits


# -- _combine by multi-exponentiation ----------------------------------------------------------


def _textbook(values, exps, modulus):
    out = 1
    for v, e in zip(values, exps, strict=True):
        out = out * pow(int(v), int(e), modulus) % modulus
    return out


@pytest.mark.parametrize("n", [0, 1, 3, 4, 5, 17, 70, 300])
def test_conversion_combine_equals_the_textbook_product(n):
    pk = dealer(2).threshold_public.public
    rng = random.Random(n)
    cts = [pk.encrypt(rng.randrange(1 << 64)) for _ in range(min(n, 8))]
    values = [cts[i % len(cts)] for i in range(n)] if cts else []  # duplicates
    if n:
        values[0] += pk.n_square  # an unreduced base
    exps = [rng.choice([0, 1, (1 << 128) - 1, rng.randrange(1 << 128)]) for _ in range(n)]
    for modulus in (pk.n_square, pk.n):
        assert conv_mod._combine(pk, values, exps, modulus) == _textbook(values, exps, modulus)


def test_conversion_combine_negative_exponents_and_length_mismatch():
    pk = dealer(2).threshold_public.public
    cts = [pk.encrypt(v) for v in range(1, 6)]
    exps = [-3, 5, -(1 << 127), 0, 9]
    want = 1
    for c, e in zip(cts, exps, strict=True):
        want = want * int(gmpy2.powmod(c, e, pk.n_square)) % pk.n_square
    assert conv_mod._combine(pk, cts, exps, pk.n_square) == want
    with pytest.raises(ValueError):
        conv_mod._combine(pk, cts, exps[:-1], pk.n_square)


def test_conversion_combine_non_unit_base_with_negative_exponent_raises():
    """Before: ValueError from parallel._require_invertible; now ZeroDivisionError from
    gmpy2.invert (unreachable: the exponents are non-negative 128-bit coefficients)."""
    pk = dealer(2).threshold_public.public
    with pytest.raises((ValueError, ZeroDivisionError)):
        conv_mod._combine(pk, [pk.n, 2, 3, 5], [-1, 1, 1, 1], pk.n_square)


# -- Horner packing in _open_packed ------------------------------------------------------------


def _old_pack(pk, groups, slots, cts):
    """The per-slot formula before 8167cdd."""
    n2 = pk.n_square
    out = []
    for group in groups:
        acc, const = 1, 0
        for i, off in group:
            bound = slots[i][0]
            c = cts[i]
            acc = acc * (int(gmpy2.powmod(c, 1 << off, n2)) if off else c) % n2
            const += (1 << bound) << off
        out.append(ops.add_plain(pk, acc, const))
    return out


@pytest.mark.parametrize("seed", range(4))
def test_horner_packing_equals_the_old_per_slot_packing(seed):
    pk = dealer(2).threshold_public.public
    rng = random.Random(seed)
    pad = 40 + 2 + 2
    slots = []
    for _ in range(rng.randrange(1, 9)):
        bits = rng.choice([1, 63, 200, 700, TEST_BITS - 2 - pad])  # the last fills a plaintext
        slots.append((bits, bits + pad))
    groups = pack_slots([w for _, w in slots], pk.bits - 2)
    cts = [pk.encrypt(rng.randrange(-(1 << b), 1 << b)) for b, _ in slots]
    layout = Packing(groups, [-(1 << b) for b, _ in slots], [w for _, w in slots])
    assert layout.pack(pk, cts) == _old_pack(pk, groups, slots, cts)


def test_packing_centres_a_constant_beyond_half_n():
    """A low end far wider than its slot: the centred constant gives the same plaintext."""
    pk, sk = insecure_test_keypair(TEST_BITS)
    assert pk.n == dealer(2).threshold_public.public.n
    lows = [-(pk.n - 5), -3]  # shifts N - 5 and 3: their packed sum exceeds N / 2
    layout = Packing([[(0, 0), (1, 10)]], lows, [8, 8])
    xs = [-(pk.n - 5) + 7, 0]
    cts = [pk.encrypt(pk.decode(xs[0])), pk.encrypt(xs[1])]
    (packed,) = layout.pack(pk, cts)
    want = (sum((x - lo) << off for x, lo, off in zip(xs, lows, (0, 10), strict=True))) % pk.n
    assert sk.raw_decrypt(packed) == want
