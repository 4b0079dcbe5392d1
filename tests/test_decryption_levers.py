"""Issue 15's levers in threshold decryption and the conversions (docs/crypto.md, "Levers from
issue 15 in decryption and conversion").

- the prover computes only the product it uses, verifiers use multi-exponentiation;
- a party does not re-verify its own share, but every other share still is, culprit named;
- Gadget 3's openings and Gadget 4's tests are packed several to a plaintext: exact for values
  inside their proved intervals (checked against the plaintexts themselves), an out-of-interval
  value visibly corrupts its neighbour (why the intervals must be proved), a wrong decryption
  share of a packed ciphertext is still named, an altered share in a later slot is still caught.

INSECURE small keys (``spdz.testing``'s 1280-bit key, a 512-bit key for the packing property).
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from coopetition.engine.errors import CheatingDetected
from coopetition.protocols.paillier.keys import insecure_test_keypair
from coopetition.protocols.paillier.threshold import (
    DecryptionShare,
    TrustedDealerKeyGeneration,
    combine,
    partial_decrypt,
)
from coopetition.protocols.spdz import field as F
from coopetition.protocols.spdz import gadgets as g
from coopetition.protocols.spdz.conversion import PaillierParty
from coopetition.protocols.spdz.errors import MacCheckFailed
from coopetition.protocols.spdz.harness import run_local
from coopetition.protocols.spdz.online import SpdzParty
from coopetition.protocols.spdz.packing import Packing, capacity_bits
from coopetition.protocols.spdz.preprocessing import PreprocessingStore
from coopetition.protocols.spdz.shares import Share
from coopetition.protocols.spdz.testing import dealer, paillier_parties
from coopetition.protocols.zk import decryption, group
from coopetition.protocols.zk.transcript import ProofContext

VALUE_BITS = 63
PK, SK = insecure_test_keypair(512)


# -- packing --------------------------------------------------------------------------------


@st.composite
def slots(draw):
    """Intervals [lo, hi] of up to 200 bits (either sign) and a value inside each."""
    out = []
    for _ in range(draw(st.integers(1, 9))):
        lo = draw(st.integers(-(1 << 200), 1 << 200))
        hi = lo + draw(st.integers(0, 1 << draw(st.integers(0, 200))))
        out.append((lo, hi, draw(st.integers(lo, hi))))
    return out


@settings(max_examples=40, deadline=None)
@given(slots())
@example(  # a one-point slot far above its width: the shift constant exceeds N (found by CI)
    [(0, 1 << 56, 0), (0, 1 << 164, 0), (0, 1 << 107, 0), (1 << 200, 1 << 200, 1 << 200)]
)
def test_packed_values_decrypt_to_themselves(drawn):
    layout = Packing.plan([(lo, hi) for lo, hi, _ in drawn], capacity_bits(PK))
    values = [v for *_, v in drawn]
    packed = layout.pack(PK, [PK.encrypt(v) for v in values])
    assert len(packed) == len(layout) <= len(values)
    # the reference is the plaintexts themselves, decrypted with the private key
    assert layout.unpack(PK, [SK.decrypt(c) for c in packed]) == values
    for group_ in layout.groups:
        assert sum(layout.widths[s] for s, _ in group_) <= capacity_bits(PK)


def test_slots_share_plaintexts_and_a_value_outside_its_interval_carries():
    """Four 100-bit slots fit one 510-bit plaintext; a value past its interval's top changes
    its own slot and adds a carry to the next one (the callers' intervals must be proved)."""
    bounds = [(-(1 << 99), (1 << 99) - 1)] * 4
    layout = Packing.plan(bounds, capacity_bits(PK))
    assert len(layout) == 1
    values = [(1 << 99) - 1, 5, -7, 0]
    cts = [PK.encrypt(v) for v in values]
    assert layout.unpack(PK, [SK.decrypt(c) for c in layout.pack(PK, cts)]) == values
    over = [1 << 99, 5, -7, 0]  # one past the top of slot 0
    got = layout.unpack(PK, [SK.decrypt(c) for c in layout.pack(PK, [PK.encrypt(v) for v in over])])
    assert got[0] != over[0] and got[1] == over[1] + 1


def test_a_slot_wider_than_the_plaintext_is_refused():
    with pytest.raises(ValueError, match="does not fit"):
        Packing.plan([(0, 1 << capacity_bits(PK))], capacity_bits(PK))


# -- threshold decryption --------------------------------------------------------------------

KG = TrustedDealerKeyGeneration(3, keypair=(PK, SK), insecure_allow_small=True)
CTX = ProofContext(b"levers", "decrypt", 0, 0)
CTS = [PK.encrypt(v) for v in (3, -4, 5, 6, 7, 8, 9, 10)]


def _shares():
    return {s.party: partial_decrypt(s, CTS, replace(CTX, prover=s.party)) for s in KG.key_shares()}


def test_prover_multiplies_only_the_ciphertexts_and_the_verifier_both_lists():
    share = KG.key_share(0)
    with group.counting() as prove:
        partial = partial_decrypt(share, CTS, CTX)
    assert prove["multi_bases"] == len(CTS)  # C only; S was computed and thrown away before
    tpk = KG.threshold_public
    with group.counting() as verify:
        ok = decryption.verify_decryption_shares(
            tpk.public,
            tpk.verification_base,
            tpk.verification_keys[0],
            tpk.share_bits,
            CTS,
            partial.values,
            partial.proof,
            CTX,
        )
    assert ok and verify["multi_bases"] == 2 * len(CTS)


def _broken(share: DecryptionShare) -> DecryptionShare:
    return replace(share, values=(share.values[0] ** 2 % PK.n_square, *share.values[1:]))


def test_own_share_is_not_reverified_every_other_one_is():
    shares = _shares()
    expected = [SK.decrypt(c) for c in CTS]
    for own in range(3):
        assert combine(KG.threshold_public, shares, CTS, CTX, own=own) == expected
    # a broken share from party 1 is named by parties 0 and 2 ...
    bad = {**shares, 1: _broken(shares[1])}
    for own in (0, 2):
        with pytest.raises(CheatingDetected) as err:
            combine(KG.threshold_public, bad, CTS, CTX, own=own)
        assert err.value.culprit == 1
    # ... and without ``own`` every share is checked, as before
    with pytest.raises(CheatingDetected):
        combine(KG.threshold_public, bad, CTS, CTX)


# -- packed conversions ----------------------------------------------------------------------


def _encrypt(m, values):
    pk = dealer(m).threshold_public.public
    return [pk.encrypt(int(v)) for v in values]


class Counting(PaillierParty):
    decrypted: list[tuple[str, int]]

    def joint_decrypt(self, cts, phase):
        self.decrypted = [*getattr(self, "decrypted", []), (phase, len(cts))]
        return (yield from super().joint_decrypt(cts, phase))


def test_gadget3_opens_several_values_per_decryption_and_shares_are_exact():
    m, values = 3, [7, -7, (1 << 62) - 1, -(1 << 62), 0, 123456789]
    ps = paillier_parties(m, b"levers-g3", cls=Counting)
    run_local([p.setup() for p in ps])
    cts = _encrypt(m, values)
    convs = run_local([g.ciphertext_to_shares(p, cts, VALUE_BITS) for p in ps])
    value = sum(c.share.value for c in convs) % F.P
    mac = sum(c.share.mac for c in convs) % F.P
    alpha = sum(p.alpha_share for p in ps)
    assert list(F.signed(value)) == values
    assert all((alpha * v - t) % F.P == 0 for v, t in zip(value, mac, strict=True))
    (opened,) = [k for phase, k in ps[0].decrypted if phase == "gadget3-open"]
    # 6 value slots of 105 bits (63 + kappa + carry) and 6 MAC slots of 363 bits in 1278-bit
    # plaintexts: first fit gives 6 values + 1 MAC, 3 MACs, 2 MACs: 3 decryptions instead of 12
    assert opened == 3


class WrongPackedShare(PaillierParty):
    """Sends a decryption share of the packed Gadget 3 opening with one value squared."""

    def joint_decrypt(self, cts, phase):
        if phase != "gadget3-open":
            return (yield from super().joint_decrypt(cts, phase))
        from coopetition.engine.program import Exchange
        from coopetition.protocols.spdz.wire import share_from_wire, share_to_wire

        rnd = self.next_round()
        ctx = self.ctx(phase, rnd)
        bad = _broken_in(self.pk, partial_decrypt(self.key_share, cts, ctx))
        replies = yield Exchange(f"spdz-decrypt/{phase}/{rnd}", {"d": share_to_wire(bad)})
        shares = {j: share_from_wire(self.pk, replies[j].get("d"), len(cts), j) for j in replies}
        shares[self.party] = bad
        return combine(self.tpk, shares, cts, ctx)


def _broken_in(pk, share):
    return replace(share, values=(share.values[0] ** 2 % pk.n_square, *share.values[1:]))


def test_a_wrong_share_of_a_packed_opening_names_its_sender():
    m = 3
    ps = paillier_parties(m, b"levers-blame", cheat={1: WrongPackedShare})
    run_local([p.setup() for p in ps])
    with pytest.raises(CheatingDetected) as err:
        cts = _encrypt(m, [1, 2, 3])
        run_local([g.ciphertext_to_shares(p, cts, VALUE_BITS) for p in ps])
    assert err.value.culprit == 1


@pytest.mark.parametrize("slot", [0, 1])
def test_an_altered_share_in_any_slot_of_gadget3s_packed_opening_fails_the_mac_check(slot):
    """Both values share a plaintext of Gadget 3's packed opening; a share altered afterwards
    in either slot is caught when it is opened (Gadget 4's packed test, which caught it
    before, is gone: docs/crypto.md, "Gadget 3 without published shares")."""
    m = 2
    cts = _encrypt(m, [12345, -678])
    ps = paillier_parties(m, b"levers-g3slot-%d" % slot, cls=Counting)
    run_local([p.setup() for p in ps])

    def prog(p):
        conv = yield from g.ciphertext_to_shares(p, cts, VALUE_BITS)
        if p.party == 1:
            delta = [0, 0]
            delta[slot] = 1
            conv.share = Share(F.add(conv.share.value, F.vec(delta)), conv.share.mac)
        store = PreprocessingStore(p.party, m, p.alpha_share % F.P)
        spdz = SpdzParty(store, session=p.session)
        yield from spdz.open(conv.share)
        yield from spdz.mac_check()

    with pytest.raises(MacCheckFailed) as err:
        run_local([prog(p) for p in ps])
    assert err.value.culprit is None
    assert ("gadget3-open", 1) in ps[0].decrypted  # both values in one plaintext
