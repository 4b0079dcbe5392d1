"""Gadget 4 on one random combination: the coefficients, the combined ciphertexts, the cost
(three single decryptions and one mask pair per party whatever the record count), and
cheaters whose errors would cancel under some coefficients (docs/crypto.md, "Gadget 4 on one
random combination")."""

from __future__ import annotations

import pytest

from coopetition.protocols.spdz import field as F
from coopetition.protocols.spdz import gadgets as g
from coopetition.protocols.spdz.conversion import PaillierParty
from coopetition.protocols.spdz.errors import ConversionRejected
from coopetition.protocols.spdz.harness import run_local
from coopetition.protocols.spdz.shares import Share
from coopetition.protocols.spdz.testing import dealer, paillier_parties

VALUE_BITS = 63


def _encrypt(m, values):
    pk = dealer(m).threshold_public.public
    return [pk.encrypt(int(v)) for v in values]


class Counting(PaillierParty):
    """Records every joint decryption (phase, ciphertexts) and every range-proved group
    (phase, key, count) it proves."""

    decrypted: list[tuple[str, int]]
    proved: list[tuple[str, str, int]]

    def joint_decrypt(self, cts, phase):
        self.decrypted = [*getattr(self, "decrypted", []), (phase, len(cts))]
        return (yield from super().joint_decrypt(cts, phase))

    def prove_bounded(self, groups, phase, rnd):
        self.proved = [*getattr(self, "proved", []), *((phase, k, len(v)) for k, v, _ in groups)]
        return super().prove_bounded(groups, phase, rnd)


def _convert_and_verify(ps, cts, deltas=None, tamper=None):
    """Gadget 3 forward on ``cts``, party 1 adding ``deltas`` to its value shares, then Gadget 4."""

    def prog(p):
        conv = yield from p.authenticate(cts, VALUE_BITS, mode="bounded", phase="gadget3")
        if p.party == 1 and deltas is not None:
            conv.share = Share(F.add(conv.share.value, F.vec(deltas)), conv.share.mac)
        conv.enc_shares, conv.enc_mac_shares = yield from g.publish_encrypted_shares(
            p, conv.share, "gadget3-shares"
        )
        return (yield from g.verify_conversions(p, None, [conv]))

    return run_local([prog(p) for p in ps], tamper=tamper)


def test_combine_is_the_textbook_product_of_powers():
    """prod c_t^rho_t mod N^2 by Python's pow, against the multi-exponentiation."""
    pk = dealer(2).threshold_public.public
    cts = [pk.encrypt(v) for v in (3, -5, 1 << 60, 0, 7, 11)]
    rho = [(1 << 127) + 5, 1, 0, (1 << 128) - 1, 12345, 99]
    want = 1
    for c, r in zip(cts, rho, strict=True):
        want = want * pow(c, r, pk.n_square) % pk.n_square
    assert g._combine(pk, cts, rho) == want


def test_the_coefficients_are_equal_everywhere_and_bind_every_ciphertext():
    ps = paillier_parties(3, b"g4-comb-rho")
    pk = ps[0].pk
    a, b, c = ([pk.encrypt(v + k) for v in range(5)] for k in (0, 10, 20))
    rho = g._combiners(ps[0], a, b, c)
    assert rho == g._combiners(ps[1], a, b, c) == g._combiners(ps[2], a, b, c)
    assert len(rho) == 5 and all(0 <= r < 1 << g.COMBINER_BITS for r in rho)
    assert len(set(rho)) == 5
    for which in range(3):
        lists = [list(a), list(b), list(c)]
        lists[which][4] = pk.encrypt(99)
        assert g._combiners(ps[0], *lists) != rho
    other = paillier_parties(3, b"g4-comb-rho-other-session")
    assert g._combiners(other[0], a, b, c) != rho


def test_gadget4_costs_three_single_decryptions_and_one_mask_pair_whatever_the_count():
    m, n = 3, 12
    cts = _encrypt(m, [(-1) ** t * (t * 1000 + 7) for t in range(n)])
    ps = paillier_parties(m, b"g4-comb-cost", cls=Counting)
    run_local([p.setup() for p in ps])
    alphas = _convert_and_verify(ps, cts)
    assert alphas[0] == sum(p.alpha_share for p in ps) % F.P
    for p in ps:
        g4 = [(phase, k) for phase, k in p.decrypted if phase.startswith("gadget4")]
        assert g4 == [("gadget4-values", 1), ("gadget4-alpha", 1), ("gadget4-macs", 1)]
        masks = [(key, k) for phase, key, k in p.proved if phase == "gadget4-masks"]
        assert masks == [("r0", 1), ("r1", 1)]  # one mask per test, not one per value


@pytest.mark.parametrize(
    "deltas",
    [
        [1, -1, 0, 0],  # cancels when rho_0 = rho_1
        [F.P - 1, 1, 0, 0],  # the same modulo P
        [0, 0, 0, 5],  # one error in the last record
        [2, 2, 2, 2],  # cancels under no nonzero combination with equal rho either
    ],
    ids=["opposite", "opposite-mod-p", "last", "all"],
)
def test_errors_that_cancel_under_some_coefficients_are_caught(deltas):
    m = 2
    cts = _encrypt(m, [12345, -678, 0, 1 << 61])
    ps = paillier_parties(m, b"g4-comb-cheat-" + repr(deltas).encode())
    run_local([p.setup() for p in ps])
    with pytest.raises(ConversionRejected) as err:
        _convert_and_verify(ps, cts, deltas=[d % F.P for d in deltas])
    assert "a - sum of shares" in err.value.reason
    assert not any(p.alpha_released for p in ps)


def test_alpha_is_not_released_when_the_value_test_fails():
    m = 2
    cts = _encrypt(m, [1, 2])
    ps = paillier_parties(m, b"g4-comb-no-alpha")
    run_local([p.setup() for p in ps])
    opened: list[str] = []

    def seen(sender, receiver, tag, payload):
        opened.append(tag)
        return payload

    with pytest.raises(ConversionRejected):
        _convert_and_verify(ps, cts, deltas=[0, 1], tamper=seen)
    assert not any("gadget4-alpha" in t for t in opened)
