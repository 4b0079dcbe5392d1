"""SPDZ programs over the engine (signed messages, keyed bus, broadcast echo) on memory transports."""

from __future__ import annotations

import numpy as np

from coopetition.engine.local import local_configs, run_parties
from coopetition.engine.party import Deadlines
from coopetition.protocols import fixedpoint as fx
from coopetition.protocols.spdz import field as F
from coopetition.protocols.spdz.errors import MacCheckFailed
from coopetition.protocols.spdz.machine import SpdzRun
from coopetition.protocols.spdz.online import SpdzParty, needs_soft_threshold
from coopetition.protocols.spdz.preprocessing import InsecureDealerPreprocessing
from coopetition.transports.memory import MemoryNetwork

FAST = Deadlines(phase=30, heartbeat_interval=1, heartbeat_timeout=10, finish=10, abort_send=2)
FRAC, K = 16, 64


def _dealer(m, n):
    need = needs_soft_threshold(n, K)
    d = InsecureDealerPreprocessing(m).triples(need.triples).bits(need.bits).input_masks(0, n)
    for b, c in need.bounded:
        d.bounded(c, b)
    return d


def _runs(d, n, values, kappa):
    ids = list(range(d.parties))

    def make(store):
        def prog():
            p = SpdzParty(store, session=b"engine-spdz")
            x = yield from p.input(0, n, F.vec(values) if p.party == 0 else None)
            z = yield from p.soft_threshold(x, kappa, K)
            return (yield from p.output(z))

        return prog

    return [SpdzRun(i, tuple(ids), make(d.stores[i])) for i in ids]


async def test_soft_threshold_over_the_engine_matches_plaintext(autojump_clock):
    m, n = 3, 4
    x = np.array([1.5, -0.25, -2.0, 0.75])
    enc = fx.encode(x, FRAC)
    kappa = fx.encode_int(0.5, FRAC)
    d = _dealer(m, n)
    ids = list(range(m))
    run = await run_parties(
        local_configs(ids, deadlines=FAST), MemoryNetwork(ids).transports(), _runs(d, n, enc, kappa)
    )
    assert run.completed, run.errors
    expected = np.sign(x) * np.maximum(np.abs(x) - 0.5, 0)
    for pid in ids:
        np.testing.assert_array_equal(fx.decode(F.signed(run.results[pid]), FRAC), expected)


async def test_bad_mac_share_aborts_every_party(autojump_clock):
    m, n = 2, 2
    d = _dealer(m, n)
    triple = d.stores[1]._slots[0].batch.parts[2]  # party 1's c shares: value off by one
    triple.value[0] = (triple.value[0] + 1) % F.P
    ids = list(range(m))
    run = await run_parties(
        local_configs(ids, deadlines=FAST),
        MemoryNetwork(ids).transports(),
        _runs(d, n, fx.encode([1.0, -1.0], FRAC), fx.encode_int(0.25, FRAC)),
    )
    assert not run.completed
    assert set(run.errors) == set(ids)
    assert any(isinstance(e, MacCheckFailed) for e in run.errors.values())


async def test_offline_phase_over_the_engine(autojump_clock):
    """Ciphertexts, proofs and decryption shares travel through the signed wire format."""
    from coopetition.protocols.spdz.testing import offline_parties

    m = 2
    offs = offline_parties(m, b"engine-offline")
    ids = list(range(m))
    runs = [
        SpdzRun(i, tuple(ids), (lambda o: lambda: o.fill(triples=1, input_masks={0: 1}))(offs[i]))
        for i in ids
    ]
    run = await run_parties(
        local_configs(ids, deadlines=FAST), MemoryNetwork(ids).transports(), runs
    )
    assert run.completed, run.errors
    stores = [run.results[i] for i in ids]
    alpha = sum(s.alpha_share for s in stores) % F.P
    t = [s.take("triple", 1).parts for s in stores]
    a, b, c = (sum(x[k].value for x in t) % F.P for k in range(3))
    assert (a * b - c) % F.P == 0
    assert all(
        (alpha * sum(x[k].value for x in t) - sum(x[k].mac for x in t)) % F.P == 0 for k in range(3)
    )
