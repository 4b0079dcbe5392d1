"""Gadget 3 (Paillier <-> SPDZ) and the end-of-run check, honest and cheating. The cheats that
Gadget 4 used to catch are in ``test_g3_no_publication`` (now caught by the MAC check)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from coopetition.engine.errors import CheatingDetected
from coopetition.protocols import fixedpoint as fx
from coopetition.protocols.spdz import field as F
from coopetition.protocols.spdz.conversion import PaillierParty
from coopetition.protocols.spdz.gadgets import (
    ciphertext_to_shares,
    shares_to_ciphertext,
    verify_conversions,
)
from coopetition.protocols.spdz.harness import run_local
from coopetition.protocols.spdz.offline import OfflineParty
from coopetition.protocols.spdz.online import SpdzParty, needs_soft_threshold
from coopetition.protocols.spdz.preprocessing import InsecureDealerPreprocessing
from coopetition.protocols.spdz.testing import dealer, paillier_parties
from coopetition.protocols.zk import codec
from coopetition.protocols.zk.range_proof import RangeProof

FRAC, K, VALUE_BITS = 16, 64, 63


def encrypt_public(m, values):
    pk = dealer(m).threshold_public.public
    return [pk.encrypt(int(v)) for v in values]


def setup_all(ps):
    run_local([p.setup() for p in ps])


def test_gadget3_soft_threshold_and_back_then_the_end_check_accepts():
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
        count = yield from verify_conversions(p, spdz, [forward, back])
        return forward, back, count

    results = run_local([prog(p, s) for p, s in zip(ps, stores, strict=True)])
    sk = dealer(m).dealer_private_key
    ref = np.sign(w) * np.maximum(np.abs(fx.decode(enc_w, FRAC)) - kappa, 0)
    _, back, count = results[0]
    assert count == 2 * n
    alpha = sum(p.alpha_share for p in ps) % F.P  # never released: computed here
    # Forward: shares reconstruct a mod P with valid MACs under alpha.
    value = sum(r[0].share.value for r in results) % F.P
    mac = sum(r[0].share.mac for r in results) % F.P
    assert list(F.signed(value)) == [int(v) for v in enc_w]
    assert all((alpha * v - g) % F.P == 0 for v, g in zip(value, mac, strict=True))
    assert alpha == sum(s.alpha_share for s in stores) % F.P
    # Back: the public ciphertexts decrypt exactly to the soft-thresholded fixed-point values.
    got = fx.decode([sk.decrypt(c) for c in back.ciphertexts], FRAC)
    np.testing.assert_array_equal(got, ref)
    assert all(r[1].ciphertexts == back.ciphertexts for r in results)


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
