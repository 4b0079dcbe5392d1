"""The Paillier-based SPDZ offline phase: algebra of every item, storage, and cheaters."""

from __future__ import annotations

import numpy as np
import pytest

from coopetition.engine.errors import CheatingDetected
from coopetition.protocols.spdz import field as F
from coopetition.protocols.spdz.errors import MacCheckFailed, SacrificeFailed
from coopetition.protocols.spdz.harness import HarnessStats, run_local
from coopetition.protocols.spdz.offline import OfflineParty
from coopetition.protocols.spdz.online import SpdzParty
from coopetition.protocols.spdz.preprocessing import PreprocessingStore
from coopetition.protocols.spdz.shares import Share
from coopetition.protocols.spdz.testing import dealer, offline_parties


def reconstruct(parts, alpha):
    """Sum the shares and check the MAC relation alpha * x = sum of MAC shares (mod P)."""
    value = sum(p.value for p in parts) % F.P
    mac = sum(p.mac for p in parts) % F.P
    assert all((alpha * value - mac) % F.P == 0 for value, mac in zip(value, mac, strict=True))
    return value


def true_alpha(m, parties):
    """alpha from the dealer's private key: the decryption of the public Enc(alpha)."""
    return dealer(m).dealer_private_key.decrypt(parties[0].paillier.enc_alpha) % F.P


def test_offline_items_satisfy_their_relations():
    m = 3
    ps = offline_parties(m, b"offline-items")
    stats = HarnessStats()
    stores = run_local(
        [
            p.fill(triples=2, bits=2, randoms=2, bounded=((41, 2),), input_masks={m - 1: 2})
            for p in ps
        ],
        stats=stats,
    )
    alpha = true_alpha(m, ps)
    assert sum(s.alpha_share for s in stores) % F.P == alpha
    t = [s.take("triple", 2) for s in stores]
    a, b, c = (reconstruct([x.parts[i] for x in t], alpha) for i in range(3))
    assert all((x * y - z) % F.P == 0 for x, y, z in zip(a, b, c, strict=True))
    bits = reconstruct([s.take("bit", 2).parts[0] for s in stores], alpha)
    assert set(int(v) for v in bits) <= {0, 1}
    rnd = reconstruct([s.take("random", 2).parts[0] for s in stores], alpha)
    assert len(set(int(v) for v in rnd)) == 2
    bd = [s.take("bounded", 2, bits=41) for s in stores]
    bounded = reconstruct([d.parts[0] for d in bd], alpha)
    # In [0, m * 2^41) exactly, and equal to the plaintext of its public ciphertext.
    assert all(0 <= int(v) < m << 41 for v in bounded)  # exact: m range-proved 41-bit parts
    sk = dealer(m).dealer_private_key
    assert [sk.decrypt(c) for c in bd[0].ciphertexts] == [int(v) for v in bounded]
    masks = [s.take("input_mask", 2, owner=m - 1) for s in stores]
    assert list(reconstruct([x.parts[0] for x in masks], alpha)) == list(masks[m - 1].clear)
    assert masks[0].clear is None  # only the owner knows its mask
    assert stats.bytes_sent > 0


def test_real_preprocessing_drives_the_online_phase_and_survives_storage():
    m = 2
    ps = offline_parties(m, b"offline-online")
    stores = run_local([p.fill(triples=3, input_masks={0: 3, 1: 3}) for p in ps])
    # Store to bytes and back, as a party would between the offline and online phase.
    stores = [PreprocessingStore.deserialize(s.serialize(), journal=None) for s in stores]
    xs, ys = [3, -5, 1 << 40], [-7, 11, 1 << 30]

    def prog(store):
        p = SpdzParty(store, session=b"online-after-offline")
        x = yield from p.input(0, 3, F.vec(xs) if p.party == 0 else None)
        y = yield from p.input(1, 3, F.vec(ys) if p.party == 1 else None)
        z = yield from p.mul(x, y)
        return (yield from p.output(z))

    for r in run_local([prog(s) for s in stores]):
        assert list(F.signed(r)) == [x * y for x, y in zip(xs, ys, strict=True)]


def test_tampered_multiplication_proof_names_the_prover():
    ps = offline_parties(2, b"offline-mulproof")

    def tamper(sender, receiver, tag, payload):
        if sender == 1 and tag.startswith("spdz-triple-c/"):
            proof = payload["c_proof"][0]
            proof[2] = proof[2] + 1  # response z
        return payload

    with pytest.raises(CheatingDetected) as err:
        run_local([p.fill(triples=1) for p in ps], tamper=tamper)
    assert err.value.culprit == 1


def test_product_ciphertext_swapped_is_caught():
    ps = offline_parties(2, b"offline-swap")

    def tamper(sender, receiver, tag, payload):
        if sender == 0 and tag.startswith("spdz-triple-c/"):
            payload["c"] = payload["c"][::-1]  # products no longer match their proofs
        return payload

    with pytest.raises(CheatingDetected) as err:
        run_local([p.fill(triples=2) for p in ps], tamper=tamper)
    assert err.value.culprit == 0


def test_wrong_mac_key_range_proof_names_the_prover():
    ps = offline_parties(3, b"offline-alpha")

    def tamper(sender, receiver, tag, payload):
        if sender == 2 and tag.startswith("spdz-mac-key/"):
            proof = payload["range_proof"][0]  # the proof made for verifier 0
            proof[6] += 1  # response z1 of the Paillier link
        return payload

    with pytest.raises(CheatingDetected) as err:
        run_local([p.setup() for p in ps], tamper=tamper)
    assert err.value.culprit == 2


class HugeContribution(OfflineParty):
    """Proves knowledge of its contributions but picks them near N/2, far beyond their width."""

    def _sample(self, bits):
        return self.paillier.pk.n // 2 - int(np.random.default_rng(5).integers(1, 1000))


def test_oversized_contributions_overflow_the_packed_opening_and_fail_the_mac_check():
    """Contributions near N/2 corrupt the packed authentication of the raw triples (a slot
    overflows into its neighbours), so shares and MACs disagree and the MAC check run by the
    sacrifice aborts, before the sacrifice's zero test is reached."""
    ps = offline_parties(2, b"offline-wrap", cheat={1: HugeContribution})
    with pytest.raises(MacCheckFailed):
        run_local([p.fill(triples=2) for p in ps])


class OffsetTriple(OfflineParty):
    """Knows alpha (set by the test) and turns the first raw triple into c = ab + 1 with
    consistent MACs: only the sacrifice's zero test can catch it, not the MAC check."""

    alpha = 0

    def raw_triples(self, n):
        a, b, c = yield from super().raw_triples(n)
        e = F.vec([1] + [0] * (n - 1))
        return a, b, Share(F.add(c.value, e), F.add(c.mac, F.mul(e, self.alpha)))


def test_sacrifice_zero_test_catches_a_wrong_triple_with_valid_macs():
    ps = offline_parties(2, b"offline-sacrifice-zero", cheat={1: OffsetTriple})
    run_local([p.setup() for p in ps])
    ps[1].alpha = sum(p.store.alpha_share for p in ps) % F.P
    with pytest.raises(SacrificeFailed):
        run_local([p.triples(2) for p in ps])
    # Control: the same key and flow without the offset keeps both triples, and they are right.
    ps[1].alpha = 0
    ps[1].raw_triples = super(OffsetTriple, ps[1]).raw_triples
    batches = run_local([p.triples(2) for p in ps])
    alpha = sum(p.store.alpha_share for p in ps) % F.P
    a, b, c = (reconstruct([bt.parts[i] for bt in batches], alpha) for i in range(3))
    assert all((x * y - z) % F.P == 0 for x, y, z in zip(a, b, c, strict=True))


def test_bad_decryption_share_names_the_party():
    ps = offline_parties(2, b"offline-decrypt")

    def tamper(sender, receiver, tag, payload):
        if sender == 1 and tag.startswith("spdz-decrypt/"):
            payload["d"]["v"][0] = payload["d"]["v"][1]
        return payload

    with pytest.raises(CheatingDetected) as err:
        run_local([p.fill(randoms=2) for p in ps], tamper=tamper)
    assert err.value.culprit == 1


def test_swapped_mac_ciphertexts_fail_the_batched_mac_proof():
    """One proof covers all of a party's MACs; reordering two of them must break it."""
    ps = offline_parties(2, b"offline-mac-swap")

    def tamper(sender, receiver, tag, payload):
        if sender == 1 and tag.startswith("spdz-random-auth/"):
            macs = payload["mac"]
            macs[0], macs[1] = macs[1], macs[0]
        return payload

    with pytest.raises(CheatingDetected) as err:
        run_local([p.fill(randoms=2) for p in ps], tamper=tamper)
    assert err.value.culprit == 1
