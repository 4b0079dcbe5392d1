"""Gadget 3, Gadget 4 and the MAC key on the tight range proof: one cheater per new check.

Each cheater proves a value just outside its interval (a value the interval proof's 2^80 slack
would have let through) with the range prover's unchecked path and its best forged squares;
every honest party must abort with ``CheatingDetected`` naming it. INSECURE parameters for
speed: the 1280-bit test key of ``spdz.testing`` with 512-bit ring-Pedersen moduli. The
production-size case (2048-bit N and N~) is marked ``long``.
"""

from __future__ import annotations

import pytest

from coopetition.engine.errors import CheatingDetected, ConfigError
from coopetition.protocols import fixedpoint as fx
from coopetition.protocols.helen.config import MIN_KEY_BITS, HelenConfig
from coopetition.protocols.paillier.encryptor import Encryptor
from coopetition.protocols.paillier.keys import generate_keypair, insecure_test_keypair
from coopetition.protocols.paillier.threshold import TrustedDealerKeyGeneration
from coopetition.protocols.spdz import field as F
from coopetition.protocols.spdz import gadgets as g
from coopetition.protocols.spdz.conversion import PaillierParty
from coopetition.protocols.spdz.harness import run_local
from coopetition.protocols.spdz.offline import OfflineParty
from coopetition.protocols.spdz.ranges import RANGE_PROOF
from coopetition.protocols.spdz.testing import dealer, paillier_parties
from coopetition.protocols.zk import range_params as rpm
from coopetition.protocols.zk import range_proof
from coopetition.protocols.zk.errors import ProofRejected
from coopetition.protocols.zk.range_proof import RangeStatement, RangeWitness
from coopetition.protocols.zk.transcript import ProofContext

VALUE_BITS = 63


class OutOfRange(PaillierParty):
    """Adds ``offset`` to the first value of group ``key`` and proves it anyway (unchecked)."""

    key = ""
    offset = 0

    def prove_bounded(self, groups, phase, rnd):
        groups = [
            (key, [values[0] + self.offset, *values[1:]] if key == self.key else values, high)
            for key, values, high in groups
        ]
        return super().prove_bounded(groups, phase, rnd)

    def decompose(self, statements, witnesses):
        return range_proof._cheater_squares(statements, witnesses)

    def range_proof(self, rp, statements, witnesses, ctx, squares):
        return range_proof._prove_unchecked(
            self.pk, rp, statements, witnesses, ctx, self.encryptor, squares
        )


def cheater(key: str, offset: int) -> type[PaillierParty]:
    return type(f"OutOfRange_{key}", (OutOfRange,), {"key": key, "offset": offset})


def encrypt_public(m, values):
    pk = dealer(m).threshold_public.public
    return [pk.encrypt(int(v)) for v in values]


def assert_names(exc_info, culprit):
    assert exc_info.value.culprit == culprit, exc_info.value


def test_mac_key_share_beyond_p_names_the_prover():
    """alpha_j + P is congruent to alpha_j mod P; with slack it would pass, exactly it cannot."""
    ps = paillier_parties(3, b"range-alpha", cheat={1: cheater("a", F.P)})
    with pytest.raises(CheatingDetected) as err:
        run_local([p.setup() for p in ps])
    assert_names(err, 1)


@pytest.mark.parametrize("key", ["r", "s"])  # value mask, MAC mask
def test_gadget3_mask_one_past_its_bound_names_the_prover(key):
    m = 3
    cts = encrypt_public(m, [7, -7])
    alpha_bits = F.P_BITS + m.bit_length()
    bits = VALUE_BITS + 40 + (alpha_bits if key == "s" else 0)
    ps = paillier_parties(m, b"range-g3-" + key.encode(), cheat={2: cheater(key, 1 << bits)})
    run_local([p.setup() for p in ps])
    with pytest.raises(CheatingDetected) as err:
        run_local([g.ciphertext_to_shares(p, cts, VALUE_BITS) for p in ps])
    assert_names(err, 2)


def test_offline_bounded_contribution_past_its_bound_names_the_prover():
    """A dual-form mask contribution of 2^41 claimed in [0, 2^41): refused, prover named."""
    ps = paillier_parties(2, b"range-bounded", cheat={1: cheater("v", 1 << 41)})
    offs = [OfflineParty(p) for p in ps]
    with pytest.raises(CheatingDetected) as err:
        run_local([o.fill(bounded=((41, 2),)) for o in offs])
    assert_names(err, 1)


def test_a_proof_missing_for_one_verifier_names_the_prover():
    m = 3
    cts = encrypt_public(m, [1])
    ps = paillier_parties(m, b"range-missing")
    run_local([p.setup() for p in ps])

    def tamper(sender, receiver, tag, payload):
        if sender == 0 and tag.startswith("spdz-gadget3/"):
            payload[RANGE_PROOF] = payload[RANGE_PROOF][:2]
        return payload

    with pytest.raises(CheatingDetected) as err:
        run_local([g.ciphertext_to_shares(p, cts, VALUE_BITS) for p in ps], tamper=tamper)
    assert_names(err, 0)


# -- budgets ------------------------------------------------------------------------------------


@pytest.mark.parametrize("m", [2, 3, 4, 7, 8, 127])
@pytest.mark.parametrize("value_bits", [1, 63, 114, 207, 300])
def test_helen_budget_formulas_equal_the_gadgets_own(m, value_bits):
    assert fx.gadget4_key_bits(m, value_bits) == g.gadget4_budget(value_bits, m, 40).key_bits
    assert fx.gadget3_key_bits(value_bits, m) == g.gadget3_key_bits(value_bits, m, 40)


def test_gadget4_budget_closed_form_and_the_old_slack():
    """256 + 2 lm + kappa + 502 with slack 0: the masks' range proof binds (its link encrypts a
    mask of rm_bits + 339 bits, rm_bits = 2 (256 + lm) + 161 - 255 + kappa); 963 bits at m = 3
    with the interval proof (the MAC test: e_bits + kappa + sigma + lm + 4)."""
    for m in (2, 3, 4, 8, 127):
        lm = m.bit_length()
        budget = g.gadget4_budget(200, m, 40)
        assert budget.key_bits == 256 + 2 * lm + 40 + 502 == budget.proof_key_bits
        assert budget.rm_bits == 2 * (256 + lm) + 161 - 255 + 40
    assert g.gadget4_budget(63, 3, 40, slack_bits=80).key_bits == 963
    assert MIN_KEY_BITS == 802 < 1024


def test_helen_config_admits_1024_and_refuses_below_the_budget():
    scales = dict(features=11, rows=1280, parties=3)
    cfg = HelenConfig(key_bits=1024, insecure=True, preprocessing="insecure-dealer")
    cfg.scales(**scales).check(1024)
    with pytest.raises(ConfigError, match=r"paillier\.gadget4"):
        HelenConfig(key_bits=MIN_KEY_BITS - 1, insecure=True)
    s4 = fx.HelenScales(features=3, rows=30, parties=4, rho=9.0, x_bound=8.0, y_bound=8.0)
    s4.check(804)  # 256 + 2 * 3 + 40 + 502 at m = 4
    with pytest.raises(ValueError, match=r"paillier\.gadget4"):
        s4.check(803)


def test_gadgets_run_below_gadget4s_old_budget():
    """A 768-bit key holds the MAC key and Gadget 3 (366 bits); Gadget 4's budget (802) is no
    longer needed by any step (its tests are gone), so the round runs. Helen's floor
    (``config.MIN_KEY_BITS``, test above) still refuses such a key: a conservative floor."""
    m, bits = 2, 768
    kg = TrustedDealerKeyGeneration(
        m, bits, insecure_allow_small=True, keypair=insecure_test_keypair(bits)
    )
    ps = [PaillierParty(kg.key_share(i), b"range-g4-small") for i in range(m)]
    run_local([p.setup() for p in ps])
    cts = [kg.threshold_public.public.encrypt(1)]
    convs = run_local([g.ciphertext_to_shares(p, cts, VALUE_BITS) for p in ps])
    counts = run_local([g.verify_conversions(p, None, [c]) for p, c in zip(ps, convs, strict=True)])
    assert counts == [1, 1]


# -- production parameters ----------------------------------------------------------------------


@pytest.mark.long
def test_out_of_range_share_is_rejected_at_production_parameters():
    """2048-bit N and N~, 128-bit challenges: a share P + 1 claimed in [0, P - 1] is refused,
    the honest batch accepted (soundness and completeness at the deployed sizes)."""
    pk, _ = generate_keypair(2048)
    rp, secret = rpm.generate(2048)
    pctx = ProofContext(b"range-prod", "ring-params", 0, 0)
    rpm.verify_params(rp, rpm.prove_params(rp, secret, pctx), pctx)
    ctx = ProofContext(b"range-prod", "spdz/gadget3-shares", 1, 1)
    enc = Encryptor(pk)
    values = [5, F.P - 1, 0, F.P + 1]
    stmts, wits = [], []
    for v in values:
        c, r = enc.encrypt_with_randomness(v)
        stmts.append(RangeStatement(c, 0, F.P - 1))
        wits.append(RangeWitness(v, r))
    honest = range_proof.prove(pk, rp, stmts[:3], wits[:3], ctx)
    range_proof.verify(pk, rp, stmts[:3], honest, ctx)
    forged = range_proof._prove_unchecked(
        pk, rp, stmts, wits, ctx, None, range_proof._cheater_squares(stmts, wits)
    )
    with pytest.raises(ProofRejected) as err:
        range_proof.verify(pk, rp, stmts, forged, ctx)
    assert err.value.prover == 1
