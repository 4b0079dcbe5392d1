"""Adversarial review of issue 15's decryption and conversion levers (branch helendecrypt).

Checks the packing against its own documentation (docs/crypto.md, "Levers from issue 15 in
decryption and conversion") where the plaintexts can be decrypted directly (INSECURE 512-bit
test key) and the slot layouts quoted in the docs, recomputed from the bit budgets.
"""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coopetition.protocols.paillier.keys import insecure_test_keypair
from coopetition.protocols.spdz import field as F
from coopetition.protocols.spdz.errors import ConversionRejected
from coopetition.protocols.spdz.gadgets import gadget3_key_bits, gadget4_budget
from coopetition.protocols.spdz.online import DEFAULT_KAPPA, MASK_HEADROOM_BITS
from coopetition.protocols.spdz.packing import Packing
from coopetition.protocols.zk import decryption
from coopetition.protocols.zk.transcript import ProofContext

PK, SK = insecure_test_keypair(512)


def _test_bounds(diff_bits, mask_bits, m, n):
    """Proved interval of diff + P * sum_j r_j: the former Gadget 4 test slot (its tests are
    gone, docs/crypto.md, "Gadget 3 without published shares"; the layouts stay checked)."""
    high = (1 << diff_bits) - 1
    return [(-high, high + F.P * m * ((1 << mask_bits) - 1))] * n


FOUR = [(-(1 << 99), (1 << 99) - 1)] * 4  # four 100-bit slots: one 510-bit plaintext


def _unpack(layout: Packing, values: list[int]) -> list[int]:
    packed = layout.pack(PK, [PK.encrypt(v) for v in values])
    return layout.unpack(PK, [SK.decrypt(c) for c in packed])


def test_an_overflow_of_the_last_slot_is_refused_not_dropped():
    """The docs say a value past its slot's top "adds a carry to the next slot". The last slot
    of a plaintext has no next slot: unchecked, its carry vanished and the slot silently read
    x - 2**w. Every honest packed plaintext is below 2**(end of its last slot), so bits above
    it are evidence that a premise failed."""
    layout = Packing.plan(FOUR, 510)
    assert len(layout) == 1
    assert _unpack(layout, [1, 2, 3, (1 << 99) - 1]) == [1, 2, 3, (1 << 99) - 1]
    with pytest.raises(ConversionRejected, match="outside its proved interval"):
        _unpack(layout, [1, 2, 3, 1 << 99])


def test_a_last_slot_below_its_interval_is_refused_not_read_as_garbage():
    """x_3 = lo - 1 makes the packed integer negative: unchecked, the last slot read its value
    plus 2**w (modulo N's high bits) without any error."""
    layout = Packing.plan(FOUR, 510)
    with pytest.raises(ConversionRejected, match="outside its proved interval"):
        _unpack(layout, [1, 2, 3, -(1 << 99) - 1])


def _groups(widths: list[int], capacity: int) -> int:
    return len(Packing.plan([(0, (1 << w) - 1) for w in widths], capacity))


def test_the_layouts_quoted_in_the_docs():
    """docs/crypto.md "Cost": m = 3, B = 63: Gadget 3 value slots 105 bits, MAC slots 363 bits,
    20 + 20 take 12 / 9 / 5 plaintexts at |N| = 1024 / 1280 / 2048; Gadget 4's one value test
    462 bits and one MAC test 720 bits (each a combination of up to 2^32 values with 128-bit
    coefficients, masked by quotient-wide masks), each one plaintext from |N| = 1024 on."""
    m, b, kappa = 3, 63, DEFAULT_KAPPA
    alpha_bits = F.P_BITS + m.bit_length()
    value = (1 - (1 << b), (1 << b) - 1 + m * ((1 << (b + kappa)) - 1))
    mac_b = b + alpha_bits
    mac = (1 - (1 << mac_b), (1 << mac_b) - 1 + m * ((1 << (mac_b + kappa)) - 1))
    layout = Packing.plan([value] * 20 + [mac] * 20, 1022)
    assert (layout.widths[0], layout.widths[-1]) == (105, 363)
    got = [len(Packing.plan([value] * 20 + [mac] * 20, n - 2)) for n in (1024, 1280, 2048)]
    assert got == [12, 9, 5]
    budget = gadget4_budget(b, m, kappa)
    (vt,) = _test_bounds(budget.d_bits, budget.r_bits, m, 1)
    (mt,) = _test_bounds(budget.e_bits, budget.rm_bits, m, 1)
    wv, wm = (vt[1] - vt[0]).bit_length(), (mt[1] - mt[0]).bit_length()
    assert (wv, wm) == (462, 720)
    for n in (1024, 1280, 2048):
        assert _groups([wv], n - 2) == _groups([wm], n - 2) == 1
    # the unpacked budget's key floor and the packed slot agree: a test slot fits |N| - 2
    assert wm <= budget.key_bits - 2 and wv <= budget.key_bits - 2


def test_a_way_back_record_is_inside_its_gadget4_slot_whatever_the_spdz_value():
    """Gadget 3 back: a = c - 2**(k-1) - R with c an opening in [0, P) and R a sum of m
    range-proved k + kappa bit masks. The record says |a| < 2**k, which fails when the SPDZ
    value is outside [-2**(k-1), 2**(k-1)); the Gadget 4 slot must hold d = a - sum b_j anyway
    (its width comes from max(a_bits, share bits) + 1), extreme values checked."""
    kappa = DEFAULT_KAPPA
    k_max = F.P_BITS - kappa - MASK_HEADROOM_BITS - 1  # SpdzParty._check_budget's largest k
    for m, k in itertools.product((2, 3, 127), (2, 63, k_max)):
        budget = gadget4_budget(k, m, kappa)
        (lo, hi) = _test_bounds(budget.d_bits, budget.r_bits, m, 1)[0]
        r_max = m * ((1 << (k + kappa)) - 1)
        sum_r_max = m * ((1 << budget.r_bits) - 1)
        for c, big_r, sum_b, masks in itertools.product(
            (0, F.P - 1), (0, r_max), (0, m * (F.P - 1)), (0, sum_r_max)
        ):
            d = c - (1 << (k - 1)) - big_r - sum_b
            assert lo <= d + F.P * masks <= hi


# -- the decryption proof's verifier: multi-exponentiation against a textbook product ----------


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(1, (1 << 600) - 1), min_size=1, max_size=40), st.binary(max_size=8))
def test_the_verifiers_combined_bases_are_the_textbook_products(raw, label):
    """(C**4, S**2) with C = prod c_j**rho_j, S = prod s_j**rho_j, rho_j from the transcript:
    recomputed with one powmod per base (the pre-issue-15 verifier), so the acceptance
    condition is unchanged for every input, including repeated bases and units far from
    random-looking (small integers)."""
    n2 = PK.n_square
    cts = [x % n2 or 1 for x in raw]
    shares = [pow(x, 3, n2) for x in cts]
    ctx = ProofContext(b"rv" + label, "decrypt", 0, 0)
    tpk_v, key = 4, 9  # any units: only the transcript's inputs
    t_new = decryption._transcript(PK, tpk_v, key, cts, shares, ctx)
    base, target = decryption._combined_bases(PK, t_new, cts, shares)
    rho = decryption._transcript(PK, tpk_v, key, cts, shares, ctx).challenge_ints(
        len(cts), decryption.BATCH_BITS, "batch"
    )
    c = s = 1
    for cj, sj, r in zip(cts, shares, rho, strict=True):
        c, s = c * pow(cj, r, n2) % n2, s * pow(sj, r, n2) % n2
    assert (int(base), int(target)) == (pow(c, 4, n2), pow(s, 2, n2))


@settings(max_examples=60, deadline=None)
@given(st.integers(2, 127), st.integers(1, 400), st.integers(20, 128))
def test_every_packed_slot_fits_whenever_the_unpacked_budget_admits_the_key(m, bits, kappa):
    """The packed opening refuses a slot wider than |N| - 2 (``pack_slots``); the key floors
    ``gadget4_budget(...).key_bits`` and ``gadget3_key_bits`` must imply it, or a key the
    budget admits would crash (not abort) at the opening."""
    budget = gadget4_budget(bits, m, kappa)
    for diff, mask in ((budget.d_bits, budget.r_bits), (budget.e_bits, budget.rm_bits)):
        ((lo, hi),) = _test_bounds(diff, mask, m, 1)
        assert (hi - lo).bit_length() <= budget.key_bits - 2
    alpha_bits = F.P_BITS + m.bit_length()
    mac_b = bits + alpha_bits
    mac = (1 - (1 << mac_b), (1 << mac_b) - 1 + m * ((1 << (mac_b + kappa)) - 1))
    assert (mac[1] - mac[0]).bit_length() <= gadget3_key_bits(bits, m, kappa) - 2
