"""Gadget 3 (Paillier <-> SPDZ) and Gadget 4 (verification before release), honest and cheating."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from coopetition.engine.errors import CheatingDetected
from coopetition.protocols import fixedpoint as fx
from coopetition.protocols.spdz import field as F
from coopetition.protocols.spdz import gadgets
from coopetition.protocols.spdz.conversion import PaillierParty
from coopetition.protocols.spdz.errors import ConversionRejected
from coopetition.protocols.spdz.gadgets import (
    ciphertext_to_shares,
    publish_encrypted_shares,
    shares_to_ciphertext,
    verify_conversions,
)
from coopetition.protocols.spdz.harness import run_local
from coopetition.protocols.spdz.offline import OfflineParty
from coopetition.protocols.spdz.online import SpdzParty, needs_soft_threshold
from coopetition.protocols.spdz.preprocessing import InsecureDealerPreprocessing
from coopetition.protocols.spdz.shares import Share
from coopetition.protocols.spdz.testing import dealer, paillier_parties
from coopetition.protocols.zk import codec
from coopetition.protocols.zk.range_proof import RangeProof

FRAC, K, VALUE_BITS = 16, 64, 63


def encrypt_public(m, values):
    pk = dealer(m).threshold_public.public
    return [pk.encrypt(int(v)) for v in values]


def setup_all(ps):
    run_local([p.setup() for p in ps])


def test_gadget3_soft_threshold_and_back_then_gadget4_accepts():
    m, n = 2, 3
    rng = np.random.default_rng(11)
    w = rng.uniform(-2, 2, size=n)
    w[0] = 0.25  # inside the threshold
    kappa = 0.5
    enc_w = fx.encode(w, FRAC)
    cts = encrypt_public(m, enc_w)
    ps = paillier_parties(m, b"gadgets-honest")
    offs = [OfflineParty(p) for p in ps]
    # Phase 1: MAC key and the dual-form masks for the way back (real offline material).
    stores = run_local([o.fill(bounded=((K + 40, n),)) for o in offs])
    # The soft threshold's triples and bits come from a dealer that knows alpha (INSECURE,
    # tests only): the real offline phase for ~250 triples is too slow for a unit test.
    need = needs_soft_threshold(n, K)
    d = InsecureDealerPreprocessing(m, alpha_shares=[s.alpha_share for s in stores])
    d.triples(need.triples).bits(need.bits)
    for b, c in need.bounded:
        d.bounded(c, b)
    d.transfer_to(stores)

    def prog(p: PaillierParty, store):
        spdz = SpdzParty(store, session=b"gadgets-honest")
        forward = yield from ciphertext_to_shares(p, cts, VALUE_BITS)
        z = yield from spdz.soft_threshold(forward.share, fx.encode_int(kappa, FRAC), K)
        back = yield from shares_to_ciphertext(p, spdz, z, K)
        yield from spdz.mac_check()
        alpha = yield from verify_conversions(p, spdz, [forward, back])
        return forward, back, alpha

    results = run_local([prog(p, s) for p, s in zip(ps, stores, strict=True)])
    sk = dealer(m).dealer_private_key
    ref = np.sign(w) * np.maximum(np.abs(fx.decode(enc_w, FRAC)) - kappa, 0)
    _, back, alpha = results[0]
    # Forward: shares reconstruct a mod P with valid MACs under the released alpha.
    value = sum(r[0].share.value for r in results) % F.P
    mac = sum(r[0].share.mac for r in results) % F.P
    assert list(F.signed(value)) == [int(v) for v in enc_w]
    assert all((alpha * v - g) % F.P == 0 for v, g in zip(value, mac, strict=True))
    assert alpha == sum(s.alpha_share for s in stores) % F.P
    # Back: the public ciphertexts decrypt exactly to the soft-thresholded fixed-point values.
    got = fx.decode([sk.decrypt(c) for c in back.ciphertexts], FRAC)
    np.testing.assert_array_equal(got, ref)
    assert all(r[1].ciphertexts == back.ciphertexts for r in results)


def _forward_then_verify(ps, cts, cheat_party=None, delta=0):
    def prog(p: PaillierParty):
        conv = yield from p.authenticate(cts, VALUE_BITS, mode="bounded", phase="gadget3")
        share = conv.share
        if p.party == cheat_party:
            share = Share(F.add(share.value, F.vec([delta] + [0] * (len(cts) - 1))), share.mac)
        conv.share = share
        conv.enc_shares, conv.enc_mac_shares = yield from publish_encrypted_shares(
            p, share, "gadget3-shares"
        )
        return (yield from verify_conversions(p, None, [conv]))

    return run_local([prog(p) for p in ps])


def test_gadget4_masks_in_several_chunks(monkeypatch):
    """Gadget 4's mask broadcast split into 4 KiB chunks (16 MiB in real runs): same result."""
    monkeypatch.setattr(gadgets, "MASKS_CHUNK_BYTES", 4096)
    m = 3
    cts = encrypt_public(m, [1, 2, 3])
    ps = paillier_parties(m, b"gadget4-chunks")
    setup_all(ps)
    tags: set[str] = set()

    def seen(sender, receiver, tag, payload):
        tags.add(tag)
        return payload

    def prog(p: PaillierParty):
        conv = yield from ciphertext_to_shares(p, cts, VALUE_BITS)
        return (yield from verify_conversions(p, None, [conv]))

    alphas = run_local([prog(p) for p in ps], tamper=seen)
    assert len(set(alphas)) == 1
    chunks = [t for t in tags if "gadget4-masks" in t and "/chunk" in t]
    assert len(chunks) > 2, sorted(tags)


def test_gadget4_rejects_one_altered_share():
    m = 2
    cts = encrypt_public(m, [12345, -678])
    ps = paillier_parties(m, b"gadget4-altered")
    setup_all(ps)
    with pytest.raises(ConversionRejected) as err:
        _forward_then_verify(ps, cts, cheat_party=1, delta=1)
    assert "a - sum of shares" in err.value.reason
    # Control: the same flow without the alteration is accepted.
    ps = paillier_parties(m, b"gadget4-control")
    setup_all(ps)
    alphas = _forward_then_verify(ps, cts)
    assert alphas[0] == alphas[1] == sum(p.alpha_share for p in ps) % F.P


def test_gadget4_rejects_a_share_whose_mac_was_not_updated():
    """A share shifted to match a forged ciphertext passes the value test, never the MAC test."""
    m = 2
    cts = encrypt_public(m, [5, 6])
    ps = paillier_parties(m, b"gadget4-mac")
    setup_all(ps)
    convs = run_local([ciphertext_to_shares(p, cts, VALUE_BITS) for p in ps])
    forged = encrypt_public(m, [6])[0]  # the record now claims a = 6 instead of 5

    def forge(p: PaillierParty, conv):
        conv.ciphertexts = [forged, conv.ciphertexts[1]]
        share = conv.share
        if p.party == 1:  # shift the value share; the MAC share cannot follow without alpha
            share = Share(F.add(share.value, F.vec([1, 0])), share.mac)
        conv.enc_shares, conv.enc_mac_shares = yield from publish_encrypted_shares(
            p, share, "gadget3-forged"
        )
        return (yield from verify_conversions(p, None, [conv]))

    with pytest.raises(ConversionRejected) as err:
        run_local([forge(p, c) for p, c in zip(ps, convs, strict=True)])
    assert "MAC" in err.value.reason


class WrongMask(PaillierParty):
    """Takes its share from a different mask than the one it encrypted and proved."""

    def local_shares(self, b, bm, r, s):
        return super().local_shares(b, bm, [r[0] + 1, *r[1:]], s)


def test_wrong_conversion_mask_is_rejected_by_gadget4():
    m = 3
    cts = encrypt_public(m, [42, -42])
    ps = paillier_parties(m, b"gadget3-wrong-mask", cheat={2: WrongMask})
    setup_all(ps)
    with pytest.raises(ConversionRejected):
        _forward_then_verify(ps, cts)


def test_wrong_range_proof_on_a_mask_names_the_prover():
    m = 2
    cts = encrypt_public(m, [1, 2])
    ps = paillier_parties(m, b"gadget3-bad-proof")
    setup_all(ps)

    def tamper(sender, receiver, tag, payload):
        if sender == 1 and tag.startswith("spdz-gadget3/"):
            # a response u of the second mask (verifier 0); u travels packed (zk.codec)
            proof = codec.decode(RangeProof, payload["range_proof"][0], prover=1)
            u = [list(row) for row in proof.u]
            u[1][0] += 1
            bad = dataclasses.replace(proof, u=tuple(tuple(row) for row in u))
            payload["range_proof"][0] = codec.encode(bad)
        return payload

    def prog(p):
        return (yield from ciphertext_to_shares(p, cts, VALUE_BITS))

    with pytest.raises(CheatingDetected) as err:
        run_local([prog(p) for p in ps], tamper=tamper)
    assert err.value.culprit == 1
