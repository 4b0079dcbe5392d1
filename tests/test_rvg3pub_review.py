"""Adversarial review of "Gadget 3 without published shares" (docs/crypto.md, that section).

The change drops Gadget 3's per-value Enc(share), Enc(MAC share) and Gadget 4's tests and
alpha release; soundness of every conversion then rests on two facts:

* the dual masks of the way back carry an SPDZ sharing whose value is the plaintext of the
  very Enc(R) the way back divides by, modulo P, up to a deviation the cheater knows (the
  packed knowledge-mode authentication of the offline phase);
* SPDZ's MAC check then catches any other deviation unless the cheater knows alpha.

These tests attack both with real threshold-Paillier material (INSECURE 1280-bit test key,
production P, production MAC check and proofs). Where an attack *should* succeed (the cheater
is handed alpha, or the deviation is a multiple of P and so no deviation at all in the field)
the test asserts that too: that pins where the line runs, and shows the harness would notice a
break. Party 1 cheats; m = 3.
"""

from __future__ import annotations

import pytest

from coopetition.engine.errors import LocalFailure
from coopetition.protocols.spdz import field as F
from coopetition.protocols.spdz.conversion import ALPHA_BITS, PaillierParty
from coopetition.protocols.spdz.errors import ConversionRejected, MacCheckFailed
from coopetition.protocols.spdz.gadgets import (
    ciphertext_to_shares,
    shares_to_ciphertext,
    verify_conversions,
)
from coopetition.protocols.spdz.harness import run_local
from coopetition.protocols.spdz.offline import OfflineParty
from coopetition.protocols.spdz.online import DEFAULT_KAPPA, SpdzParty
from coopetition.protocols.spdz.packing import pack_slots
from coopetition.protocols.spdz.preprocessing import InsecureDealerPreprocessing
from coopetition.protocols.spdz.shares import Share
from coopetition.protocols.spdz.testing import dealer, paillier_parties

M = 3
K, VALUE_BITS, KAPPA = 64, 63, DEFAULT_KAPPA
CHEATER = 1
VALUES = [12345, -678]
DUAL_AUTH_PHASE = f"bounded-{K + KAPPA}-auth"
LM = M.bit_length()


def _pk():
    return dealer(M).threshold_public.public


def _encrypt(values):
    return [_pk().encrypt(int(v)) for v in values]


def _signed(c):
    v = dealer(M).dealer_private_key.decrypt(c)
    return v - _pk().n if v > _pk().n // 2 else v


# Layout of the dual masks' packed authentication (``PaillierParty._open_packed``): per mask a
# value slot then its MAC slot, each its bound plus kappa + 2 + lm bits; both masks of VALUES
# fit one 1280-bit plaintext, so the cheater's first packed mask covers all four slots.
_PAD = KAPPA + 2 + LM
_VALUE_BOUND = K + KAPPA + LM
_MAC_BOUND = _VALUE_BOUND + ALPHA_BITS + LM
VALUE_W, MAC_W = _VALUE_BOUND + _PAD, _MAC_BOUND + _PAD
OFF_V0, OFF_M0 = 0, VALUE_W
OFF_V1 = VALUE_W + MAC_W
OFF_M1 = OFF_V1 + VALUE_W


def _setup(session, cheat=None):
    ps = paillier_parties(M, session, cheat=cheat)
    stores = run_local([OfflineParty(p).fill(bounded=((K + KAPPA, len(VALUES)),)) for p in ps])
    return ps, stores


#: parties whose way back returned a ciphertext (reset per run): an abort must come first
BUILT: list[int] = []


def _round_trip(p, spdz, cts, alter=None):
    forward = yield from ciphertext_to_shares(p, cts, VALUE_BITS)
    if alter is not None and p.party == CHEATER:
        forward.share = alter(p, forward.share)
    back = yield from shares_to_ciphertext(p, spdz, forward.share, K)
    BUILT.append(p.party)
    yield from verify_conversions(p, spdz, [forward, back])
    return back.ciphertexts


def _run(ps, stores, alter=None, cts=None):
    sp = [SpdzParty(s, session=p.session) for p, s in zip(ps, stores, strict=True)]
    cts = _encrypt(VALUES) if cts is None else cts
    BUILT.clear()
    out = run_local([_round_trip(p, s, cts, alter) for p, s in zip(ps, sp, strict=True)])
    assert all(o == out[0] for o in out)
    return [_signed(c) for c in out[0]]


def _alpha(ps):
    """The global MAC key: only the test knows it (a cheater never does)."""
    return sum(p.alpha_share for p in ps) % F.P


def _dual_auth_cheater(shift, correct=None):
    """Party 1 in the dual masks' packed authentication: its Enc(X) encrypts its packed mask
    plus ``shift(alpha)`` (a packed integer; it proves knowledge of that, as it may), and with
    ``correct(alpha)`` = (value deltas, MAC deltas) it moves its own shares by minus those."""
    holder: dict[str, list[PaillierParty]] = {}

    class DualAuthCheater(PaillierParty):
        _armed = False

        def prove_values(self, values, mode, bits, phase, rnd):
            if mode == "knowledge" and phase == DUAL_AUTH_PHASE:
                self._armed = True
                values = [(int(values[0]) + shift(_alpha(holder["ps"]))) % self.pk.n, *values[1:]]
            return super().prove_values(values, mode, bits, phase, rnd)

        def local_shares(self, b, bm, r, s):
            if self._armed and correct is not None:
                dv, dm = correct(_alpha(holder["ps"]))
                # party != 0 takes -r, -s: holding -(r + d) moves its share by -d
                r = [x + d for x, d in zip(r, dv, strict=True)]
                s = [x + d for x, d in zip(s, dm, strict=True)]
            self._armed = False
            return super().local_shares(b, bm, r, s)

    return DualAuthCheater, holder


def _with_cheater(session, shift, correct=None):
    cls, holder = _dual_auth_cheater(shift, correct)
    ps = paillier_parties(M, session, cheat={CHEATER: cls})
    holder["ps"] = ps
    stores = run_local([OfflineParty(p).fill(bounded=((K + KAPPA, len(VALUES)),)) for p in ps])
    return ps, stores


# -- 1. the dual masks' knowledge-mode authentication ------------------------------------------


def test_layout_of_the_dual_masks_packed_authentication_is_as_the_attacks_assume():
    """The attacks below aim at slot offsets; pin them (one packed plaintext, four slots)."""
    groups = pack_slots([VALUE_W, MAC_W, VALUE_W, MAC_W], _pk().bits - 2)
    assert groups == [[(0, OFF_V0), (1, OFF_M0), (2, OFF_V1), (3, OFF_M1)]]
    assert VALUE_W < F.P_BITS < MAC_W  # P fits a MAC slot, never a value slot


@pytest.mark.parametrize(
    "which",
    ["mac-slot-plus-P", "mac-slot-plus-7P", "second-mac-slot-plus-P"],
)
def test_a_zero_mod_p_deviation_in_a_dual_mask_is_no_deviation_and_the_way_back_stays_exact(
    which,
):
    """Attack: shift a slot of the dual masks' packed opening by a multiple of P (invisible to
    the MAC check). In the field it changes nothing, and the way back's exactness rests on the
    *integer* plaintext of Enc(R) (range-proved contributions), never on an integer SPDZ
    value: the round trip is exact. A value slot (150 bits) cannot hold such a shift at all:
    see the next test."""
    off, mult = {
        "mac-slot-plus-P": (OFF_M0, 1),
        "mac-slot-plus-7P": (OFF_M0, 7),
        "second-mac-slot-plus-P": (OFF_M1, 1),
    }[which]
    ps, stores = _with_cheater(b"rvg3pub-zero-mod-p-" + which.encode(), lambda a: mult * F.P << off)
    assert _run(ps, stores) == VALUES


@pytest.mark.parametrize(
    "shift",
    [
        pytest.param(lambda a: F.P, id="value-slot-plus-P-spills"),
        pytest.param(lambda a: 1 << OFF_V1, id="carry-into-next-value-slot"),
        pytest.param(lambda a: (1 << VALUE_W) - 1, id="value-slot-all-ones-carry"),
        pytest.param(lambda a: (1 << OFF_M1) * F.P + 1, id="mac-multiple-plus-value-one"),
        pytest.param(lambda a: -(1 << OFF_V1), id="borrow-from-next-value-slot"),
        pytest.param(lambda a: 3 + (((a * 3 - 1) % F.P) << OFF_M0), id="mac-one-off-alpha-delta"),
    ],
)
def test_a_dual_mask_slot_attack_that_is_not_zero_mod_p_fails_the_way_back(shift, request):
    """Attack: overflow or wrap slots of the packed opening (a carry into the next value's
    slot, a borrow, a multiple of P that spills out of a 150-bit value slot, a MAC shift one
    off from alpha * delta) while keeping the shares of the mask it proved. Each is a known
    deviation the cheater leaves uncorrected, i.e. a value/MAC pair that is not of the form
    (delta, alpha delta): the MAC check of the way back fails, before Enc(x) exists."""
    ps, stores = _with_cheater(request.node.name.encode(), shift)
    with pytest.raises(MacCheckFailed) as err:
        _run(ps, stores)
    assert err.value.culprit is None
    assert BUILT == []  # caught by the way back's own MAC check, before any Enc(x)
    assert not any(p.mac_key_retired for p in ps)


@pytest.mark.parametrize(
    "delta", [1, 12345, 1 << 100, -5], ids=["one", "small", "two-to-100", "minus-five"]
)
def test_the_dual_mask_deviation_is_known_so_the_cheater_can_only_undo_it(delta, request):
    """The lemma's premise, checked: the deviation of a cheated packed opening is *known* to
    the cheater (it is slot(A) - slot(O), and A = O - X with its own X). A cheater that shifts
    the first value slot by delta and moves its own share by -delta holds the correct sharing
    of R again: the way back passes *and is exact*. Knowing its deviation buys it nothing."""
    ps, stores = _with_cheater(
        request.node.name.encode(),
        lambda a: delta,
        correct=lambda a: ([delta, 0], [0, 0]),
    )
    assert _run(ps, stores) == VALUES


def test_with_alpha_a_dual_mask_cheat_would_pass_and_shift_enc_x():
    """Sensitivity of the harness, and the line the argument draws: *given alpha*, a cheater
    shifting the first value slot by delta and its MAC slot by alpha * delta makes the dual
    mask's SPDZ value R + delta with a correct MAC; the MAC check passes and Enc(x) encrypts
    x + delta. So the way back's exactness holds exactly as long as alpha stays secret (it is
    never decrypted any more; see the alpha tests below)."""
    delta = 7
    ps, stores = _with_cheater(
        b"rvg3pub-alpha-known-dual", lambda a: delta + ((a * delta) % F.P << OFF_M0)
    )
    assert _run(ps, stores) == [VALUES[0] + delta, VALUES[1]]


# -- 2. forward (bounded mode) -----------------------------------------------------------------


def test_with_alpha_a_forward_share_shift_would_pass_without_it_not():
    """Attack on the forward conversion's shares: value share + delta with MAC share +
    alpha * delta passes only with the global alpha (the test's oracle); the cheater's own
    alpha_1 is not enough (tests/test_g3_no_publication.py, own-key-mac)."""
    delta = 3
    ps, stores = _setup(b"rvg3pub-fwd-alpha")
    alpha = _alpha(ps)

    def alter(p, share):
        d = F.vec([delta, 0])
        return Share(F.add(share.value, d), F.add(share.mac, F.mul(d, alpha)))

    assert _run(ps, stores, alter=alter) == [VALUES[0] + delta, VALUES[1]]
    ps, stores = _setup(b"rvg3pub-fwd-alpha-guess")
    wrong = (_alpha(ps) + 1) % F.P

    def guess(p, share):
        d = F.vec([delta, 0])
        return Share(F.add(share.value, d), F.add(share.mac, F.mul(d, wrong)))

    with pytest.raises(MacCheckFailed):
        _run(ps, stores, alter=guess)
    assert BUILT == []


@pytest.mark.parametrize(
    "a",
    [F.P + 5, (1 << 110) + 5, -(1 << 200), _pk().n // 2],
    ids=["P-plus-5", "carry", "far-negative", "half-N"],
)
def test_a_forward_plaintext_beyond_the_packing_premise_never_passes_silently(a, request):
    """Attack on the forward packing premise (|a| < 2^B): a public Enc(a) so large that its
    slot carries into the next (or its MAC alpha a into the next MAC slot, or past the last).
    The removed value test used to reject it; now it must abort (MAC check, or ``unpack``'s
    refusal) and never yield a way back whose Enc(x) differs from a modulo P."""
    ps, stores = _setup(request.node.name.encode())
    cts = _encrypt([a, VALUES[1]])
    with pytest.raises((MacCheckFailed, ConversionRejected)) as err:
        _run(ps, stores, cts=cts)
    assert err.value.culprit is None
    assert BUILT == []


def test_a_forward_plaintext_beyond_b_but_inside_its_slot_is_converted_correctly():
    """The premise's slack: a value a little above 2^B still fits its slot and its MAC slot,
    and the conversion is then simply correct (a mod P with the right MAC), so a broken premise
    that does not carry gives no wrong value either."""
    ps, _ = _setup(b"rvg3pub-premise-slack")
    a = (1 << (VALUE_BITS + 2)) + 3
    # way back at K = 64 would break *its* premise; check the forward sharing directly
    cts = _encrypt([a])
    convs = run_local([ciphertext_to_shares(p, cts, VALUE_BITS) for p in ps])
    value = sum(int(c.share.value[0]) for c in convs) % F.P
    mac = sum(int(c.share.mac[0]) for c in convs) % F.P
    assert value == a and mac == _alpha(ps) * a % F.P


# -- 3. the MAC key: a cheater's items under another key share ---------------------------------


def _mixed(session, key_offset):
    """Offline dual masks (under the Paillier alpha) and dealt triples under alpha_j, except
    the cheater's share of the triples' key is alpha_1 + ``key_offset`` (a MASCOT COPE key
    that differs from its Enc(alpha_1), with no key binding to catch it first). The cheater's
    SPDZ party claims its Paillier alpha_1, so every local check passes."""
    ps, stores = _setup(session)
    shares = [p.alpha_share % F.P for p in ps]
    shares[CHEATER] = (shares[CHEATER] + key_offset) % F.P
    d = InsecureDealerPreprocessing(M, alpha_shares=shares)
    d.triples(2)
    for mine, dealt in zip(stores, d.stores, strict=True):
        for slot in dealt._slots:
            mine.add(slot.batch)
    return ps, stores


def _product_round_trip(p, spdz, cts):
    forward = yield from ciphertext_to_shares(p, cts, VALUE_BITS)
    prod = yield from spdz.mul(forward.share[0:1], forward.share[1:2])
    back = yield from shares_to_ciphertext(p, spdz, prod, K)
    BUILT.append(p.party)
    yield from verify_conversions(p, spdz, [forward, back])
    return back.ciphertexts


@pytest.mark.parametrize("offset", [0, 1, F.P - 1], ids=["same-key", "plus-one", "minus-one"])
def test_a_cheater_whose_item_key_differs_from_its_paillier_alpha_is_caught_by_the_way_back(
    offset,
):
    """Attack 3: items MAC'd under alpha + e (the cheater's COPE key share off by e) mixed with
    conversions under alpha, with no key binding and no Gadget 4 alpha test. A Beaver product
    then carries MAC errors e * (a, b, c of the triple), secret coefficients the cheater cannot
    cancel: the way back's MAC check fails. (Control: e = 0 gives the exact product.)"""
    ps, stores = _mixed(b"rvg3pub-key-%d" % (offset % 1000), offset)
    sp = [SpdzParty(s, session=p.session) for p, s in zip(ps, stores, strict=True)]
    cts = _encrypt(VALUES)
    progs = [_product_round_trip(p, s, cts) for p, s in zip(ps, sp, strict=True)]
    BUILT.clear()
    if offset == 0:
        out = run_local(progs)
        assert [_signed(c) for c in out[0]] == [VALUES[0] * VALUES[1]]
        return
    with pytest.raises(MacCheckFailed) as err:
        run_local(progs)
    assert err.value.culprit is None
    assert BUILT == []


def test_an_honest_party_refuses_the_way_back_under_another_spdz_key_share():
    """The local guard added by the change: an honest party whose SPDZ store holds another key
    share than its Enc(alpha_j) (e.g. a store from another preparation) opens nothing."""
    ps, stores = _setup(b"rvg3pub-local-key")
    stores[0].alpha_share = (stores[0].alpha_share + 1) % F.P
    spdz = SpdzParty(stores[0], session=ps[0].session)
    x = spdz.public(F.vec(VALUES))
    with pytest.raises(ValueError, match="another MAC key share"):
        next(shares_to_ciphertext(ps[0], spdz, x, K))


# -- 4/5. the end of the run: nothing converted or opened after it -----------------------------


def test_after_the_end_check_no_way_back_runs_even_with_a_fresh_spdz_party():
    """Attack on the order: after ``verify_conversions`` closed the MAC key, a way back with a
    fresh (unretired) SPDZ party over unused dual masks is refused before it opens anything."""
    ps, stores = _setup(b"rvg3pub-after-end")
    sp = [SpdzParty(s, session=p.session) for p, s in zip(ps, stores, strict=True)]
    cts = _encrypt(VALUES[:1])

    def prog(p, s):
        forward = yield from ciphertext_to_shares(p, cts, VALUE_BITS)
        back = yield from shares_to_ciphertext(p, s, forward.share, K)
        yield from verify_conversions(p, s, [forward, back])
        return forward

    forwards = run_local([prog(p, s) for p, s in zip(ps, sp, strict=True)])
    # one dual mask is left in each store; a fresh SPDZ party on a copy of it
    fresh = SpdzParty(
        type(stores[0]).deserialize(stores[0].serialize(), journal=None), session=ps[0].session
    )
    fresh.store._retired = False
    with pytest.raises(LocalFailure, match="retired"):
        next(shares_to_ciphertext(ps[0], fresh, forwards[0].share, K))
