"""Helen's per-party setup: each party makes its own MAC key and preprocessing over the bus.

This is the path one OS process per party runs (``coopetition party``); here the parties share
one process over the memory transport, so it stays fast. INSECURE parameters (named so): a
1280-bit test key, 512-bit ring-Pedersen moduli, 16 interval-proof repetitions; MASCOT makes
triples, bits and masks, the threshold-Paillier offline phase the MAC key and the dual masks.
The reference is plaintext ADMM (``numerics.run_plaintext``) with the same quantised rho.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from test_helen_run import PARTIES, ROWS, insecure_config, wine_parts

from coopetition.engine.errors import ConfigError, ConfigMismatch
from coopetition.engine.local import local_configs, run_parties
from coopetition.engine.party import Deadlines
from coopetition.protocols.admm.objective import Objective
from coopetition.protocols.helen import numerics as H
from coopetition.protocols.helen import preprocess_phase as pre
from coopetition.protocols.helen.key_phase import KeySetup
from coopetition.protocols.helen.local_run import dealer_key, train_locally
from coopetition.protocols.helen.session import HelenRun
from coopetition.protocols.paillier.keys import generate_keypair
from coopetition.protocols.paillier.threshold import TrustedDealerKeyGeneration
from coopetition.protocols.zk import range_params as rpm
from coopetition.protocols.zk.errors import ProofRejected
from coopetition.protocols.zk.transcript import ProofContext
from coopetition.transports.memory import MemoryNetwork

FEATURES = (1, 10)
SLOW_MACHINE = Deadlines(phase=1800.0, heartbeat_timeout=900.0)


def per_party_config(iterations: int = 1):
    cfg = insecure_config(Objective("lasso", lam=0.02 * PARTIES * ROWS), iterations=iterations)
    return dataclasses.replace(cfg, preprocessing="mascot")


def assert_matches_plaintext_admm(run, parts, config):
    """Every party released the same model, within 1e-3 relative L2 of plaintext ADMM."""
    assert run.completed, run.errors
    models = [r.model for r in run.results.values()]
    assert all(np.array_equal(models[0], mdl) for mdl in models)
    scales = config.scales(parts[0][0].shape[1], ROWS, len(parts))
    plain = H.run_plaintext(parts, config.objective, scales.rho_quantised, config.iterations)
    assert H.relative_l2(models[0], plain) <= 1e-3
    return scales


async def test_per_party_setup_over_memory_matches_plaintext_admm():
    parts = wine_parts(FEATURES)
    config = per_party_config()
    run = await train_locally(
        parts, config, session=b"helen-per-party", deadlines=SLOW_MACHINE, per_party=True
    )
    scales = assert_matches_plaintext_admm(run, parts, config)
    record = run.results[0].record
    assert record["key_generation"] == "trusted-dealer (INSECURE test key)"
    assert record["preprocessing"].startswith("per party over the bus: MASCOT")
    assert {"keygen", "offline", "mascot"} <= set(record["phase_seconds"])
    work = pre.plan(config, scales)
    assert work.dual == (work.dual[0], (PARTIES + 1) * len(FEATURES))
    assert record["parameters"]["key"]["source"] == "share"


async def test_parties_holding_different_keys_stop_in_setup_naming_the_key():
    """A share of another key is a ConfigMismatch on key.fingerprint, before any proof."""
    parts = wine_parts(FEATURES)
    config = per_party_config()
    ids = list(range(PARTIES))
    right = dealer_key(PARTIES, config)
    other = TrustedDealerKeyGeneration(
        PARTIES,
        config.key_bits,
        insecure_allow_small=True,
        keypair=generate_keypair(config.key_bits, insecure_allow_small=True),
    )
    shares = [right.key_share(0), right.key_share(1), other.key_share(2)]
    runs = [
        HelenRun(
            config,
            X,
            y,
            party=i,
            parties=tuple(ids),
            rows=ROWS,
            key=KeySetup.from_share(shares[i]),
            session=b"helen-key-mismatch",
        )
        for i, (X, y) in enumerate(parts)
    ]
    run = await run_parties(
        local_configs(ids, deadlines=SLOW_MACHINE), MemoryNetwork(ids).transports(), runs
    )
    for i in ids:
        error = run.errors.get(i)
        assert isinstance(error, ConfigMismatch), run.errors
        assert "key.fingerprint" in str(error)


def test_key_setup_refuses_a_share_that_does_not_fit():
    config = per_party_config()
    share = dealer_key(PARTIES, config).key_share(1)
    with pytest.raises(ConfigError, match="key share of party 1"):
        KeySetup.from_share(share).check(config, 0, PARTIES)
    with pytest.raises(ConfigError, match="for 3 parties"):
        KeySetup.from_share(share).check(config, 1, 4)
    with pytest.raises(ConfigError, match="at least 3 parties"):
        KeySetup.distributed().check(config, 0, 2)
    X, y = wine_parts(FEATURES)[0]
    dealer_cfg = dataclasses.replace(config, preprocessing="insecure-dealer")
    with pytest.raises(ConfigError, match="uses MASCOT"):
        HelenRun(
            dealer_cfg,
            X,
            y,
            party=1,
            parties=(0, 1, 2),
            rows=ROWS,
            key=KeySetup.from_share(share),
            session=b"s",
        )


def test_a_peers_small_ring_modulus_is_admitted_only_with_its_proof():
    """The insecure-run fix across processes: admission relaxes the size rule, not the proof."""
    params, secret = rpm.generate(rpm.MIN_TEST_BITS, insecure_allow_small=True)
    ctx = ProofContext(b"s", "helen-ring-pedersen", 0, 1)
    proof = rpm.prove_params(params, secret, ctx)
    # as another process sees it: the modulus is not in its registry
    rpm._INSECURE_TEST_MODULI.discard(params.n)
    with pytest.raises(ProofRejected, match="not made through the insecure test option"):
        rpm.verify_params(params, proof, ctx)
    rpm.admit_insecure_modulus(params)
    rpm.verify_params(params, proof, ctx)
    # a bad proof is still refused after admission
    forged = rpm.RingPedersen(params.n, params.s * params.s % params.n, params.t)
    rpm.admit_insecure_modulus(forged)
    with pytest.raises(ProofRejected):
        rpm.verify_params(forged, proof, ctx)


@pytest.mark.long
async def test_helen_with_in_session_dkg_key_has_no_dealer():
    """Issue 11: the key comes from the DKG among the Helen parties; the record says dkg."""
    parts = wine_parts(FEATURES)
    config = per_party_config()
    run = await train_locally(
        parts, config, session=b"helen-dkg", deadlines=SLOW_MACHINE, keygen="dkg"
    )
    assert_matches_plaintext_admm(run, parts, config)
    records = [r.record for r in run.results.values()]
    assert all(r["key_generation"] == "dkg (INSECURE test key)" for r in records)
    assert len({r["key_fingerprint"] for r in records}) == 1
    assert records[0]["parameters"]["key"]["source"] == "dkg"
    assert records[0]["phase_seconds"]["keygen"] > 0


def test_demo_keygen_dkg_needs_three_parties(capsys):
    from coopetition.main import main

    argv = ["demo", "--protocol", "helen", "--keygen", "dkg", "--parties", "2"]
    assert main([*argv, "--insecure", "--key-bits", "1280", "--iterations", "1"]) == 2
    assert "needs --parties 3 or more" in capsys.readouterr().err
