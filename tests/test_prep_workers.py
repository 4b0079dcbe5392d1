"""The in-process Helen preparation on worker processes (``local_prep``, ``party_hosts``).

INSECURE small keys (named so) for speed. What is checked:

* MASCOT run through ``WorkerParties`` gives items whose relations hold when recomputed here
  from all parties' shares (c = a b, MAC = alpha x with alpha the sum of the key shares);
* a Helen run whose preparation ran on two workers completes, and its model matches the
  fixed-point reference (the online phase accepted the workers' triples, bits and masks,
  every MAC check passed);
* cheating inside the workers still aborts: a tampered MASCOT message (sacrifice), a party
  whose COPE key is not its Enc(alpha_i) (key binding), a tampered stored triple (the online
  phase's MAC check);
* the workers write nothing (no log line, no output) and their errors carry no secret;
* the dealer's parallel safe-prime search gives a valid safe-prime key.
"""

from __future__ import annotations

import logging

import gmpy2
import numpy as np
import pytest
from test_helen_run import wine_parts

from coopetition.protocols.admm.objective import Objective
from coopetition.protocols.helen import local_prep
from coopetition.protocols.helen import numerics as H
from coopetition.protocols.helen.config import HelenConfig
from coopetition.protocols.helen.local_run import (
    dealer_key,
    prepare_parties,
    preprocessing_plan,
    train_locally,
)
from coopetition.protocols.paillier.parallel_keys import dealer_keypair
from coopetition.protocols.spdz import field as F
from coopetition.protocols.spdz.errors import MacCheckFailed, SacrificeFailed
from coopetition.protocols.spdz.harness import run_local
from coopetition.protocols.spdz.mascot import MascotParty
from coopetition.protocols.spdz.online import SpdzParty
from coopetition.protocols.spdz.party_hosts import WorkerParties

PARTIES, ROWS, FEATURES = 3, 20, (0, 10)


def _config(iterations: int = 1) -> HelenConfig:
    """INSECURE: 1024-bit test key, 16 interval repetitions; MASCOT preprocessing."""
    return HelenConfig(
        objective=Objective("ridge", lam=0.02 * PARTIES * ROWS),
        rho=0.1 * PARTIES * ROWS,
        iterations=iterations,
        x_bound=8.0,
        y_bound=8.0,
        w_bound=2.0**10,
        precision=20,
        key_bits=1024,
        insecure=True,
        interval_repetitions=16,
        preprocessing="mascot",
    )


# steps for WorkerParties (module level: the workers import them from this module)
def _setup(p: MascotParty):  # type: ignore[no-untyped-def]
    return (yield from p.setup())


def _triples(p: MascotParty, n: int):  # type: ignore[no-untyped-def]
    return (yield from p.triples(n))


def _bits(p: MascotParty, n: int):  # type: ignore[no-untyped-def]
    return (yield from p.bits(n))


def _open(batches, k):  # type: ignore[no-untyped-def]
    value = sum(b.parts[k].value for b in batches) % F.P
    mac = sum(b.parts[k].mac for b in batches) % F.P
    return value, mac


def test_mascot_on_workers_makes_valid_triples_and_bits():
    m = 3
    alphas = [F.P - 5, 7, 123456789]
    parties = [MascotParty(i, m, b"workers-mascot", alpha_share=alphas[i]) for i in range(m)]
    with WorkerParties(parties, 2) as host:
        assert host.workers == 2
        host.run(_setup)
        triples = host.run(_triples, 5)
        bits = host.run(_bits, 4)
        assert host.worker_cpu > 0
    alpha = sum(alphas) % F.P
    for batches, arity in ((triples, 3), (bits, 1)):
        for k in range(arity):
            value, mac = _open(batches, k)
            assert all(
                (alpha * int(v) - int(g)) % F.P == 0 for v, g in zip(value, mac, strict=True)
            )
    a, b, c = (_open(triples, k)[0] for k in range(3))
    assert all(int(x) * int(y) % F.P == int(z) for x, y, z in zip(a, b, c, strict=True))
    assert {int(v) for v in _open(bits, 0)[0]} <= {0, 1}


def _flip_every_row(raw: bytes) -> bytes:
    rows = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 32).copy()
    rows[:, 1] ^= 1
    return rows.tobytes()


def test_tampered_mascot_message_between_workers_fails_the_sacrifice():
    parties = [MascotParty(i, 2, b"workers-mult-cheat") for i in range(2)]
    hit = {"n": 0}

    def tamper(i, j, tag, payload):  # type: ignore[no-untyped-def]
        if i == 0 and tag.startswith("mascot-mul-d/") and not hit["n"]:
            hit["n"] += 1
            payload = dict(payload)
            payload["d"] = _flip_every_row(payload["d"])
        return payload

    with WorkerParties(parties, 2) as host:
        host.run(_setup)
        with pytest.raises(SacrificeFailed):
            host.run(_triples, 3, tamper=tamper)
        assert hit["n"] == 1
        with pytest.raises(Exception, match="aborted earlier"):  # the correlations are retired
            host.run(_triples, 1)


class CheatingCope(MascotParty):
    """Party 1 sets MASCOT up with alpha_1 + 1 (COPE), then claims alpha_1 (importable)."""

    def setup(self):  # type: ignore[no-untyped-def]
        if self.party != 1:
            return (yield from super().setup())
        claimed = self.alpha_share
        self.alpha_share = (claimed + 1) % F.P
        store = yield from super().setup()
        self.alpha_share = claimed
        return store


def _paillier_parties(config: HelenConfig, m: int, session: bytes):  # type: ignore[no-untyped-def]
    from coopetition.protocols.spdz.conversion import PaillierParty

    kg = dealer_key(m, config)
    return [PaillierParty(kg.key_share(i), session, interval_repetitions=16) for i in range(m)]


def test_key_binding_in_workers_catches_a_cope_key_that_is_not_enc_alpha(capfd, caplog):
    caplog.set_level(logging.DEBUG)
    config = _config()
    paillier = _paillier_parties(config, 2, b"workers-keybind")
    plan = local_prep.Plan(dual_masks=(40, 1), triples=4, bits=0, bounded=())
    with pytest.raises(MacCheckFailed) as exc:
        local_prep.make_preprocessing(
            paillier, plan, b"workers-keybind/mascot", workers=2, mascot_class=CheatingCope
        )
    # the cheater is stopped inside the key-binding step: by MASCOT's own authentication check
    # on the binding's random value r (COPE's key is not the claimed alpha_1) before the
    # binding's final MAC check is reached, so the reason need not be the binding's own
    assert "mascot key binding" in plan.stages
    assert "mascot triples" not in plan.stages  # aborted before any triple was made
    secrets_ = {p.alpha_share for p in paillier} | {p.key_share.secret for p in paillier}
    out, err = capfd.readouterr()
    for text in (str(exc.value), out, err, caplog.text):
        assert not any(str(s) in text for s in secrets_ if s > 10**4)


@pytest.mark.long  # minutes of real MASCOT; the tampered-triple test keeps the worker path in CI
def test_helen_with_worker_preprocessing_matches_the_reference(capfd, caplog):
    """Preparation on two workers; the online phase consumes it and the model is right."""
    caplog.set_level(logging.DEBUG)
    parts = wine_parts(FEATURES, PARTIES, ROWS)
    config = _config()
    run = _train(parts, config, workers=2)
    assert run.completed, run.errors
    models = [r.model for r in run.results.values()]
    assert all(np.array_equal(models[0], mdl) for mdl in models)
    scales = config.scales(len(FEATURES), ROWS, PARTIES)
    fixed = H.run_fixed_point(parts, config.objective, scales, config.iterations).model
    np.testing.assert_allclose(models[0], fixed, atol=16 * 2.0**-scales.z_bits)
    assert "mascot" in run.results[0].record["preprocessing"]
    out, err = capfd.readouterr()
    assert "prep-worker" not in out + err and "Traceback" not in err


def _train(parts, config, *, workers):  # type: ignore[no-untyped-def]
    import trio

    return trio.run(
        lambda: train_locally(parts, config, session=b"helen-prep-workers", workers=workers)
    )


def test_a_tampered_triple_from_the_workers_fails_the_online_mac_check():
    config = _config()
    _, stores, _ = prepare_parties(config, 2, 2, 10, b"workers-tamper-store", workers=2)
    plan = preprocessing_plan(config, 2, 2, 10)
    assert stores[0].available("triple") == plan.triples > 0
    # party 1's first triple: c changed by one (value share only, MAC unchanged)
    slot = next(s for s in stores[1]._slots if s.batch.kind == "triple")
    c = slot.batch.parts[2]
    c.value[0] = (int(c.value[0]) + 1) % F.P

    def prog(store):  # type: ignore[no-untyped-def]
        p = SpdzParty(store, session=b"workers-tamper-store/online")
        x = p.public(F.vec([3]))
        y = p.public(F.vec([5]))
        out = yield from p.open((yield from p.mul(x, y)))
        yield from p.mac_check()
        return out

    with pytest.raises(MacCheckFailed):
        run_local([prog(s) for s in stores])


def test_parallel_safe_prime_search_gives_a_safe_prime_key():
    with pytest.raises(ValueError):
        dealer_keypair(512, 2)  # small keys only with the insecure flag
    public, private = dealer_keypair(512, 2, insecure_allow_small=True)
    assert public.bits == 512 and private.p != private.q
    for f in (private.p, private.q):
        assert gmpy2.is_prime(f, 40) and gmpy2.is_prime((f - 1) // 2, 40)
    assert private.p * private.q == public.n


def test_bad_worker_count_is_refused():
    from coopetition.engine.errors import ConfigError

    with pytest.raises(ConfigError, match="workers"):
        prepare_parties(_config(), 2, 2, 10, b"bad-workers", workers=0)


def test_default_worker_count_follows_the_work():
    """Small INSECURE runs (tests) stay in-process; real work uses every core."""
    small = local_prep.Plan(dual_masks=(83, 3), triples=10, bits=10, bounded=((41, 3),))
    big = local_prep.Plan(dual_masks=(83, 3), triples=1500, bits=800, bounded=((41, 20),))
    dealt = local_prep.Plan(
        dual_masks=(83, 3), triples=10**6, bits=0, bounded=(), preprocessing="insecure-dealer"
    )
    # the masks come from the threshold-Paillier offline phase, not from MASCOT's bits
    assert big.mascot_items == 1500 + 800 >= local_prep.MIN_ITEMS_FOR_WORKERS
    assert big.paillier_masks == ((41, 20),) and dealt.paillier_masks == ()
    assert local_prep.default_workers_for(small, 1024) == 1
    assert local_prep.default_workers_for(dealt, 1024) == 1
    assert local_prep.default_workers_for(big, 1024) == local_prep.default_workers()
    assert local_prep.default_workers_for(small, 2048) == local_prep.default_workers()
