"""Adversarial review of Gadget 4 on one random combination (8167cdd), what is left of it: the
budget arithmetic (``gadget4_budget`` is still Helen's key floor) and the two refactorings next
to it (``_combine`` by multi-exponentiation, ``_open_packed`` by Horner's rule). The tests of
the combination itself went with it (docs/crypto.md, "Gadget 3 without published shares"); the
cheats they played, shares inconsistent with the converted ciphertexts, are now caught by the
MAC check (``tests/test_g3_no_publication.py``)."""

from __future__ import annotations

import random

import gmpy2
import pytest

from coopetition.protocols import fixedpoint
from coopetition.protocols.paillier import ops
from coopetition.protocols.paillier.keys import insecure_test_keypair
from coopetition.protocols.spdz import conversion as conv_mod
from coopetition.protocols.spdz import field as F
from coopetition.protocols.spdz import gadgets as g
from coopetition.protocols.spdz.packing import Packing, pack_slots
from coopetition.protocols.spdz.testing import TEST_BITS, dealer

P = F.P


def _test_bounds(diff_bits, mask_bits, m, n):
    """Proved interval of diff + P * sum_j r_j (the former ``gadgets._test_bounds``)."""
    high = (1 << diff_bits) - 1
    return [(-high, high + P * m * ((1 << mask_bits) - 1))] * n


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
            layout = Packing.plan(_test_bounds(diff, mask, m, 1), b.key_bits - 2)
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
