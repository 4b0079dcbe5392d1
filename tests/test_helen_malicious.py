"""Helen with one cheating party: each strategy ends in an abort that names the cheater.

Same INSECURE test parameters as ``test_helen_run`` (1280-bit trusted-dealer key, 512-bit
ring-Pedersen moduli, 16 interval-proof repetitions, dealer preprocessing), two features and
one iteration so that each run stays short. Party 1 cheats; the honest parties 0 and 2 must
abort naming it (the cheater itself may end differently).
"""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest
from test_helen_run import PARTIES, ROWS, insecure_config, wine_parts

from coopetition.engine.errors import CheatingDetected, ConfigError, ConfigMismatch, Equivocation
from coopetition.engine.party import Deadlines
from coopetition.protocols.admm.objective import Objective
from coopetition.protocols.helen import input_proof, release_phase
from coopetition.protocols.helen import local_phase as lp
from coopetition.protocols.helen.local_run import train_locally
from coopetition.protocols.helen.session import HelenRun
from coopetition.protocols.paillier import ops
from coopetition.protocols.paillier.threshold import DecryptionShare, combine, partial_decrypt
from coopetition.protocols.spdz.conversion import PaillierParty, share_from_wire, share_to_wire

FEATURES = (1, 10)
CHEATER, HONEST = 1, (0, 2)
SLOW_MACHINE = Deadlines(phase=1800.0, heartbeat_timeout=600.0)


def _config(**changes):
    cfg = insecure_config(Objective("lasso", lam=0.02 * PARTIES * ROWS), iterations=1)
    return dataclasses.replace(cfg, **changes)


async def _run(session: bytes, **options):
    return await train_locally(
        wine_parts(FEATURES), _config(), session=session, deadlines=SLOW_MACHINE, **options
    )


def assert_culprit_named(run, kind=CheatingDetected, phase=None):
    for honest in HONEST:
        error = run.errors.get(honest)
        assert isinstance(error, kind), run.errors
        assert error.culprit == CHEATER, error
        if phase is not None:
            assert error.phase == phase, error
    assert not run.results


async def test_parameter_mismatch_names_the_parameter():
    class OtherLambda(HelenRun):
        def __init__(self, config, *args, **kwargs):
            other = Objective("lasso", lam=2 * config.objective.lam)
            super().__init__(dataclasses.replace(config, objective=other), *args, **kwargs)

    run = await _run(b"helen-mismatch", run_class={CHEATER: OtherLambda})
    for party in range(PARTIES):
        error = run.errors[party]
        assert isinstance(error, ConfigMismatch), run.errors
        assert error.parameter == "objective.lam"


async def test_inconsistent_svd_pieces_are_named():
    """Enc(V Theta V^T) off by one in an entry: the Gadget 1 check of statement 1 fails."""

    class Inconsistent(HelenRun):
        @staticmethod
        def prove_input(pk, *args, **kwargs):
            com, proof, witness = input_proof.prove(pk, *args, **kwargs)
            bad = ops.add_plain(pk, proof.a_full[0][0], 1)
            a_full = ((bad, *proof.a_full[0][1:]), *proof.a_full[1:])
            return com, dataclasses.replace(proof, a_full=a_full), witness

    run = await _run(b"helen-svd", run_class={CHEATER: Inconsistent})
    assert_culprit_named(run, phase="helen-input")


async def test_wrong_local_product_is_named():
    """Enc(w_i) one unit off A_i (b_i + rho (z - u_i)) after an honest proof: Gadget 1 fails."""

    class WrongProduct(HelenRun):
        @staticmethod
        def local_product(pk, *args, **kwargs):
            w, proof = lp.local_product(pk, *args, **kwargs)
            return [ops.add_plain(pk, w[0], 1), *w[1:]], proof

    run = await _run(b"helen-product", run_class={CHEATER: WrongProduct})
    assert_culprit_named(run, phase=lp.PHASE)


async def test_equivocating_broadcast_is_named():
    """Party 1 tells party 0 another Enc(w_1) than parties 1 and 2 see: the echo round fails."""

    def equivocate(header, payload, destination):
        if header.phase == lp.PHASE and header.tag == "x/1" and destination == 0:
            return {**payload, "w": [payload["w"][1], *payload["w"][1:]]}
        return payload

    run = await _run(
        b"helen-equivocate", party_options=lambda p: {"payload_hook": equivocate} if p == 1 else {}
    )
    assert_culprit_named(run, kind=Equivocation)


class WrongDecryptionShare(PaillierParty):
    """Sends a decryption share of z with one value squared (its proof no longer holds)."""

    def joint_decrypt(self, cts, phase):
        if phase != release_phase.RELEASE_PHASE:
            return (yield from super().joint_decrypt(cts, phase))
        rnd = self.next_round()
        ctx = self.ctx(phase, rnd)
        mine = partial_decrypt(self.key_share, cts, ctx)
        values = (mine.values[0] * mine.values[0] % self.pk.n_square, *mine.values[1:])
        bad = DecryptionShare(mine.party, values, mine.proof)
        replies = yield self._exchange(phase, rnd, bad)
        shares = {j: share_from_wire(self.pk, replies[j].get("d"), len(cts), j) for j in replies}
        return combine(self.tpk, shares, cts, ctx)

    def _exchange(self, phase, rnd, share):
        from coopetition.engine.program import Exchange

        return Exchange(f"spdz-decrypt/{phase}/{rnd}", {"d": share_to_wire(share)})


@pytest.mark.long
async def test_wrong_decryption_share_is_named():
    run = await _run(b"helen-decrypt", paillier_class={CHEATER: WrongDecryptionShare})
    assert_culprit_named(run, phase=release_phase.RELEASE_PHASE)


@pytest.mark.parametrize(
    ("problem", "expected"),
    [
        ("nan", "party 2: data contains NaN"),
        ("short", "party 2: 1 rows for 2 features"),
        ("constant", "party 2: constant column(s) [0]"),
        ("width", "different numbers of features"),
    ],
)
async def test_bad_input_is_refused_before_any_cryptography(problem, expected):
    parts = wine_parts(FEATURES)
    X, y = parts[2]
    X = X.copy()
    if problem == "nan":
        X[3, 1] = np.nan
    elif problem == "short":
        X, y = X[:1], y[:1]
    elif problem == "constant":
        X[:, 0] = 1.5
    else:
        X = np.hstack([X, X[:, :1]])
    parts[2] = (X, y)
    with pytest.raises(ConfigError, match=re.escape(expected)):
        await train_locally(parts, _config(), session=b"helen-bad-input")


def test_model_object_follows_scikit_learn():
    """coef_, predict and score against sklearn's LinearRegression with the same coefficients."""
    from sklearn.linear_model import LinearRegression

    from coopetition.protocols.helen.model import model_of

    X, y = wine_parts(FEATURES)[0]
    ref = LinearRegression(fit_intercept=False).fit(X, y)
    model = model_of(ref.coef_, ("volatile acidity", "alcohol"))
    np.testing.assert_allclose(model.predict(X), ref.predict(X))
    assert model.score(X, y) == pytest.approx(ref.score(X, y))
    assert model.feature_names_in_ == ("volatile acidity", "alcohol")
    with pytest.raises(ValueError):
        model_of(ref.coef_, ("only one",))


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--key-bits", "800", "--insecure"], "at least 802"),
        (["--key-bits", "1280"], "needs insecure=True"),
        (
            ["--layout", "threads", "--transport", "tcp", "--insecure", "--key-bits", "1280"],
            "memory only",
        ),
    ],
)
def test_demo_refuses_bad_helen_flags_in_one_line(flags, message, capsys):
    from coopetition.main import main

    assert main(["demo", "--protocol", "helen", "--parties", "3", *flags]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and message in err and "\n" not in err
