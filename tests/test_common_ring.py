"""The trusted dealer's common ring-Pedersen modulus: one range proof for every verifier.

INSECURE sizes for speed (512-bit N~, the 1280-bit test key of ``spdz.testing`` and Helen's
1024-bit test key), named as such. Checked here: the wire form (exactly one proof per exchange,
seen by every verifier), a cheater's out-of-range value and a per-verifier proof list are named
under the common modulus, Helen's setup refuses to start when the parties hold different common
moduli (``ConfigMismatch`` on ``ring``), both forms train the model the references give, and
the common form makes 1/(m - 1) of the per-verifier form's range proofs.
"""

from __future__ import annotations

import dataclasses
from collections import Counter

import numpy as np
import pytest
from test_helen_run import FEATURES, ITERATIONS, PARTIES, ROWS, insecure_config, wine_parts
from test_spdz_range_gadgets import cheater

from coopetition.engine.errors import (
    CheatingDetected,
    ConfigError,
    ConfigMismatch,
    ProtocolViolation,
)
from coopetition.protocols.admm.objective import Objective
from coopetition.protocols.helen import local_prep
from coopetition.protocols.helen import numerics as H
from coopetition.protocols.helen.local_run import train_locally
from coopetition.protocols.helen.session import HelenRun
from coopetition.protocols.spdz import field as F
from coopetition.protocols.spdz.harness import run_local
from coopetition.protocols.spdz.ranges import RANGE_PROOF
from coopetition.protocols.spdz.testing import paillier_parties
from coopetition.protocols.zk import range_params as rpm
from coopetition.protocols.zk import range_proof


def _with_common(parties, ring=None):
    ring = ring or local_prep.dealer_ring(rpm.MIN_TEST_BITS, insecure=True)
    for p in parties:
        p.common_ring = ring
    return ring


def test_one_proof_per_exchange_reaches_every_verifier_and_the_mac_key_is_made():
    ps = paillier_parties(3, b"common-ring-mac")
    ring = _with_common(ps)
    seen = []

    def observe(sender, receiver, tag, payload):
        if RANGE_PROOF in payload:
            seen.append((sender, receiver, len(payload[RANGE_PROOF])))
        return payload

    run_local([p.setup() for p in ps], tamper=observe)
    # every other party received the sender's proofs, always a list of exactly one
    assert sorted((s, r) for s, r, _ in seen) == [
        (s, r) for s in range(3) for r in range(3) if s != r
    ]
    assert {n for _, _, n in seen} == {1}
    assert all(p.rings == dict.fromkeys(range(3), ring) and p.ring_secret is None for p in ps)
    # the MAC key: every party holds the same Enc(alpha), the product of the proved shares
    assert len({p.enc_alpha for p in ps}) == 1


def test_a_value_past_its_bound_is_named_under_the_common_modulus():
    ps = paillier_parties(3, b"common-ring-cheat", cheat={2: cheater("a", F.P)})
    _with_common(ps)
    with pytest.raises(CheatingDetected) as err:
        run_local([p.setup() for p in ps])
    assert err.value.culprit == 2


def test_a_per_verifier_proof_list_is_refused_under_the_common_modulus():
    """A prover that sends m proofs (the per-verifier form) where one is agreed is named."""
    ps = paillier_parties(3, b"common-ring-form")
    _with_common(ps)

    def three_copies(sender, receiver, tag, payload):
        if sender == 1 and RANGE_PROOF in payload:
            payload = dict(payload, **{RANGE_PROOF: payload[RANGE_PROOF] * 3})
        return payload

    with pytest.raises(ProtocolViolation) as err:
        run_local([p.setup() for p in ps], tamper=three_copies)
    assert err.value.culprit == 1


def test_a_common_modulus_of_the_wrong_size_is_a_config_error():
    ps = paillier_parties(2, b"common-ring-size")
    small = rpm.RingPedersen(*(int(v) for v in (ps[0].pk.n, 4, 9)))  # not admitted, not a ring
    _with_common(ps, small)
    with pytest.raises(ConfigError):
        run_local([p.setup() for p in ps])


def test_fingerprints_tell_moduli_apart():
    a = local_prep.dealer_ring(rpm.MIN_TEST_BITS, insecure=True)
    b = local_prep.dealer_ring(rpm.MIN_TEST_BITS, insecure=True)
    assert rpm.fingerprint(a) == rpm.fingerprint(dataclasses.replace(a))
    assert rpm.fingerprint(a) != rpm.fingerprint(b)
    assert rpm.fingerprint(a) != rpm.fingerprint(dataclasses.replace(a, s=a.t, t=a.s))


async def test_parties_holding_different_common_moduli_do_not_start():
    other = local_prep.dealer_ring(rpm.MIN_TEST_BITS, insecure=True)

    class OtherRing(HelenRun):
        def phases(self):
            assert self.paillier is not None
            self.paillier.common_ring = other
            return super().phases()

    config = insecure_config(Objective("lasso", lam=0.02 * PARTIES * ROWS))
    run = await train_locally(
        wine_parts(), config, session=b"common-ring-mismatch", run_class={1: OtherRing}
    )
    assert not run.results
    for party in range(PARTIES):
        error = run.errors[party]
        assert isinstance(error, ConfigMismatch), run.errors
        assert error.parameter == "ring"


async def test_both_forms_train_the_reference_model_and_the_common_one_proves_less(monkeypatch):
    parts = wine_parts()
    objective = Objective("lasso", lam=0.02 * PARTIES * ROWS)
    made: dict[bool, Counter] = {True: Counter(), False: Counter()}
    prove = range_proof.prove
    runs = {}
    for common in (True, False):

        def counting(pk, rp, statements, *args, _common=common, **kwargs):
            made[_common][len(statements)] += 1
            return prove(pk, rp, statements, *args, **kwargs)

        monkeypatch.setattr(range_proof, "prove", counting)
        config = dataclasses.replace(insecure_config(objective), dealer_ring=common)
        runs[common] = await train_locally(parts, config, session=b"common-ring-%d" % common)
        assert runs[common].completed, runs[common].errors
    scales = insecure_config(objective).scales(len(FEATURES), ROWS, PARTIES)
    fixed = H.run_fixed_point(parts, objective, scales, ITERATIONS).model
    plain = H.run_plaintext(parts, objective, scales.rho_quantised, ITERATIONS)
    for run in runs.values():
        model = run.results[0].model
        np.testing.assert_allclose(model, fixed, atol=16 * 2.0**-scales.z_bits)
        assert H.relative_l2(model, plain) <= 1e-3
    # every range proof of the run (input, MAC key, masks, Gadgets 3 and 4), by batch size:
    # the per-verifier form makes m - 1 of each, the common form one
    assert made[True] and set(made[True]) == set(made[False])
    assert {size: n * (PARTIES - 1) for size, n in made[True].items()} == made[False]
