"""SPDZ online phase against plaintext references, with a dealer explicitly named insecure."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coopetition.engine.errors import CheatingDetected
from coopetition.protocols import fixedpoint as fx
from coopetition.protocols.spdz import field as F
from coopetition.protocols.spdz.errors import (
    CommitmentMismatch,
    MacCheckFailed,
    PreprocessingMismatch,
    PreprocessingReused,
)
from coopetition.protocols.spdz.harness import HarnessStats, run_local
from coopetition.protocols.spdz.online import SpdzParty, needs_soft_threshold, needs_trunc
from coopetition.protocols.spdz.preprocessing import InsecureDealerPreprocessing, PreprocessingStore

FRAC = 16
K = 64


def dealer_for(m: int, *, triples=0, bits=0, bounded=(), masks=None) -> InsecureDealerPreprocessing:
    d = InsecureDealerPreprocessing(m)
    if triples:
        d.triples(triples)
    if bits:
        d.bits(bits)
    for b, c in bounded:
        d.bounded(c, b)
    for owner, n in (masks or {}).items():
        d.input_masks(owner, n)
    return d


def parties(d: InsecureDealerPreprocessing) -> list[SpdzParty]:
    return [SpdzParty(store, session=b"test-session") for store in d.stores]


def soft_threshold_ref(x: np.ndarray, kappa: float) -> np.ndarray:
    return np.sign(x) * np.maximum(np.abs(x) - kappa, 0.0)


def test_input_add_mul_output_matches_plaintext():
    m = 3
    rng = np.random.default_rng(1)
    xs = rng.integers(-(10**6), 10**6, size=5)
    ys = rng.integers(-(10**6), 10**6, size=5)
    d = dealer_for(m, triples=5, masks={0: 5, 2: 5})
    ps = parties(d)

    def prog(p: SpdzParty):
        x = yield from p.input(0, 5, F.vec(xs) if p.party == 0 else None)
        y = yield from p.input(2, 5, F.vec(ys) if p.party == 2 else None)
        s = (x + y).scale(3).add_public(F.vec([7] * 5), p.party, p.alpha_share)
        prod = yield from p.mul(x, y)
        out = yield from p.output(Share_concat(s, prod))
        return out

    results = run_local([prog(p) for p in ps])
    for r in results:
        got = F.signed(r)
        assert list(got[:5]) == [3 * (int(a) + int(b)) + 7 for a, b in zip(xs, ys, strict=True)]
        assert list(got[5:]) == [int(a) * int(b) for a, b in zip(xs, ys, strict=True)]


def Share_concat(a, b):
    from coopetition.protocols.spdz.shares import Share

    return Share.concat([a, b])


@pytest.mark.parametrize("m", [2, 4])
def test_soft_threshold_equals_plaintext(m):
    rng = np.random.default_rng(m)
    n = 6
    x = rng.uniform(-3, 3, size=n)
    x[0], x[1] = 0.5, -0.5  # exactly on the threshold: S is 0 there
    kappa = 0.5
    need = needs_soft_threshold(n, K)
    d = dealer_for(m, triples=need.triples, bits=need.bits, bounded=need.bounded, masks={1: n})
    ps = parties(d)
    enc = fx.encode(x, FRAC)
    kappa_int = fx.encode_int(kappa, FRAC)

    def prog(p: SpdzParty):
        xs = yield from p.input(1, n, F.vec(enc) if p.party == 1 else None)
        z = yield from p.soft_threshold(xs, kappa_int, K)
        return (yield from p.output(z))

    stats = HarnessStats()
    results = run_local([prog(p) for p in ps], stats=stats)
    ref = soft_threshold_ref(fx.decode(enc, FRAC), fx.decode([kappa_int], FRAC)[0])
    for r in results:
        got = fx.decode(F.signed(r), FRAC)
        np.testing.assert_array_equal(got, ref)  # comparison is exact: no truncation error
    assert stats.bytes_sent > 0
    for p in ps:
        assert p.store.available("triple") == 0 and p.store.available("bit") == 0


@settings(max_examples=15, deadline=None)
@given(st.lists(st.integers(-(2**62), 2**62 - 1), min_size=1, max_size=4))
def test_ltz_exact_on_edges(values):
    values = [*values, 0, -1, 2**62 - 1, -(2**62)]  # field edges of k = 63
    n, k = len(values), 63
    from coopetition.protocols.spdz.online import needs_ltz

    need = needs_ltz(n, k)
    d = dealer_for(2, triples=need.triples, bits=need.bits, bounded=need.bounded, masks={0: n})
    ps = parties(d)

    def prog(p: SpdzParty):
        xs = yield from p.input(0, n, F.vec(values) if p.party == 0 else None)
        f = yield from p.ltz(xs, k)
        return (yield from p.output(f))

    for r in run_local([prog(p) for p in ps]):
        assert [int(v) for v in r] == [int(v < 0) for v in values]


def test_fixed_point_product_with_probabilistic_truncation():
    m, n = 3, 8
    rng = np.random.default_rng(7)
    a, b = rng.uniform(-50, 50, size=n), rng.uniform(-50, 50, size=n)
    ea, eb = fx.encode(a, FRAC), fx.encode(b, FRAC)
    need = needs_trunc(n, K, FRAC)
    d = dealer_for(m, triples=n, bits=need.bits, bounded=need.bounded, masks={0: n, 1: n})
    ps = parties(d)

    def prog(p: SpdzParty):
        xa = yield from p.input(0, n, F.vec(ea) if p.party == 0 else None)
        xb = yield from p.input(1, n, F.vec(eb) if p.party == 1 else None)
        prod = yield from p.mul(xa, xb)  # scale 2^(2f)
        t = yield from p.trunc_pr(prod, K, FRAC)
        return (yield from p.output(t))

    exact = fx.Scaled(ea, FRAC) * fx.Scaled(eb, FRAC)  # scale 2f, exact
    for r in run_local([prog(p) for p in ps]):
        got = F.signed(r)
        floor = [int(v) >> FRAC for v in exact.ints]
        # Catrina-Saxena: the result is floor(x / 2^f) or that plus one.
        assert all(g - fl in (0, 1) for g, fl in zip(got, floor, strict=True))
        # Against the exact product of the encoded inputs: within one ulp.
        np.testing.assert_allclose(
            fx.decode(got, FRAC),
            fx.decode(exact.ints, 2 * FRAC),
            rtol=0,
            atol=fx.truncation_error_bound(FRAC),
        )
        # Against the real product: encoding error (|a|+|b|) * 2^-(f+1) plus one ulp.
        bound = (np.abs(a) + np.abs(b) + 1) * 2.0 ** -(FRAC + 1) + fx.truncation_error_bound(FRAC)
        assert np.all(np.abs(fx.decode(got, FRAC) - a * b) <= bound)


# -- malicious behaviour ------------------------------------------------------------------------


def _mul_and_output(d):
    ps = parties(d)

    def prog(p: SpdzParty):
        x = yield from p.input(0, 3, F.vec([5, -6, 7]) if p.party == 0 else None)
        y = yield from p.input(1, 3, F.vec([2, 3, -4]) if p.party == 1 else None)
        z = yield from p.mul(x, y)
        return (yield from p.output(z))

    return [prog(p) for p in ps]


def test_honest_run_passes_then_tampered_share_is_caught():
    d = dealer_for(3, triples=3, masks={0: 3, 1: 3})
    for r in run_local(_mul_and_output(d)):
        assert list(F.signed(r)) == [10, -18, -28]

    def tamper(sender, receiver, tag, payload):
        if sender == 2 and tag.startswith("open") and "v" in payload:
            vals = F.from_bytes(payload["v"])
            vals[0] = (vals[0] + 1) % F.P
            payload["v"] = F.to_bytes(vals)
        return payload

    d = dealer_for(3, triples=3, masks={0: 3, 1: 3})
    with pytest.raises(MacCheckFailed) as err:
        run_local(_mul_and_output(d), tamper=tamper)
    assert err.value.culprit is None  # a MAC check cannot name the cheater


def test_tampered_mac_share_is_caught():
    d = dealer_for(2, triples=3, masks={0: 3, 1: 3})
    # Party 1's MAC share of its first triple is off by one: the MAC check must fail.
    slot = d.stores[1]._slots[0]
    a = slot.batch.parts[0]
    a.mac[0] = (a.mac[0] + 1) % F.P
    with pytest.raises(MacCheckFailed):
        run_local(_mul_and_output(d))


def test_opening_that_differs_from_commitment_names_party():
    d = dealer_for(3, triples=3, masks={0: 3, 1: 3})

    def tamper(sender, receiver, tag, payload):
        if sender == 1 and tag.startswith("mac-sigma") and tag.endswith("/open"):
            payload["v"] = (1).to_bytes(32, "big")
        return payload

    with pytest.raises(CommitmentMismatch) as err:
        run_local(_mul_and_output(d), tamper=tamper)
    assert err.value.culprit == 1 and isinstance(err.value, CheatingDetected)


def test_reused_triple_is_named():
    d = dealer_for(2, triples=6, masks={0: 3, 1: 3})
    snapshot = d.stores[1].serialize()
    # Party 1 spends three triples, then restores its store from before and spends them again.
    ps = parties(d)

    def first(p):
        x = yield from p.input(0, 3, F.vec([1, 2, 3]) if p.party == 0 else None)
        y = yield from p.input(1, 3, F.vec([1, 2, 3]) if p.party == 1 else None)
        z = yield from p.mul(x, y)
        return z, x, y

    outs = run_local([first(p) for p in ps])
    stale = SpdzParty(
        PreprocessingStore.deserialize(snapshot, journal=None), session=b"test-session"
    )
    stale.store.take("input_mask", 3, owner=0)
    stale.store.take("input_mask", 3, owner=1)
    stale._counter = ps[1]._counter  # same place in the protocol, stale preprocessing

    def second(p, x, y):
        z = yield from p.mul(x, y)
        return (yield from p.output(z))

    with pytest.raises(PreprocessingMismatch) as err:
        run_local([second(ps[0], outs[0][1], outs[0][2]), second(stale, outs[1][1], outs[1][2])])
    assert err.value.culprit == 1


def test_store_refuses_batch_twice_and_never_hands_out_an_item_twice():
    d = dealer_for(2, triples=4)
    store = d.stores[0]
    batch = store._slots[0].batch
    with pytest.raises(PreprocessingReused):
        store.add(batch)
    first = store.take("triple", 3)
    second = store.take("triple", 1)
    assert first.ids[0][1:] == (0, 3) and second.ids[0][1:] == (3, 1)
    restored = PreprocessingStore.deserialize(store.serialize(), journal=None)
    assert restored.available("triple") == 0
    with pytest.raises(PreprocessingReused):
        restored.add(batch)


@settings(max_examples=10, deadline=None)
@given(
    st.lists(st.integers(-(2**60), 2**60), min_size=1, max_size=6),
    st.integers(1, 40),
    st.integers(2, 4),
)
def test_trunc_pr_is_floor_or_floor_plus_one(values, m_bits, m):
    n, k = len(values), 62
    need = needs_trunc(n, k, m_bits)
    d = dealer_for(m, bits=need.bits, bounded=need.bounded, masks={m - 1: n})
    ps = parties(d)

    def prog(p: SpdzParty):
        x = yield from p.input(m - 1, n, F.vec(values) if p.party == m - 1 else None)
        t = yield from p.trunc_pr(x, k, m_bits)
        return (yield from p.output(t))

    for r in run_local([prog(p) for p in ps]):
        for got, v in zip(F.signed(r), values, strict=True):
            assert int(got) - (v >> m_bits) in (0, 1)


@settings(max_examples=5, deadline=None)
@given(st.lists(st.floats(-100, 100, allow_nan=False), min_size=1, max_size=5), st.floats(0, 10))
def test_soft_threshold_property(xs, kappa):
    n = len(xs)
    enc = fx.encode(xs, FRAC)
    kap = fx.encode_int(kappa, FRAC)
    need = needs_soft_threshold(n, K)
    d = dealer_for(2, triples=need.triples, bits=need.bits, bounded=need.bounded, masks={0: n})

    def prog(p: SpdzParty):
        x = yield from p.input(0, n, F.vec(enc) if p.party == 0 else None)
        z = yield from p.soft_threshold(x, kap, K)
        return (yield from p.output(z))

    ints = [int(v) for v in enc]
    ref = [v - kap if v > kap else v + kap if v < -kap else 0 for v in ints]
    for r in run_local([prog(p) for p in parties(d)]):
        assert [int(v) for v in F.signed(r)] == ref


def test_average_then_soft_threshold_like_helens_z_update():
    """z = S_kappa(mean of the parties' inputs), in fixed point, against numpy."""
    m, n = 3, 5
    rng = np.random.default_rng(3)
    xs = [rng.uniform(-4, 4, size=n) for _ in range(m)]
    encs = [fx.encode(x, FRAC) for x in xs]
    kappa = 0.3
    need = needs_trunc(n, K, FRAC) + needs_soft_threshold(n, K)
    d = dealer_for(
        m,
        triples=need.triples,
        bits=need.bits,
        bounded=need.bounded,
        masks={i: n for i in range(m)},
    )

    def prog(p: SpdzParty):
        total = None
        for owner in range(m):
            s = yield from p.input(owner, n, F.vec(encs[owner]) if p.party == owner else None)
            total = s if total is None else total + s
        mean = yield from p.mul_public_fixed(total, fx.encode_int(1 / m, FRAC), FRAC, K)
        z = yield from p.soft_threshold(mean, fx.encode_int(kappa, FRAC), K)
        return (yield from p.output(z))

    mean = sum(fx.decode(e, FRAC) for e in encs) / m
    ref = np.sign(mean) * np.maximum(np.abs(mean) - kappa, 0)
    for r in run_local([prog(p) for p in parties(d)]):
        got = fx.decode(F.signed(r), FRAC)
        # Error sources: 1/m encoded with error <= 2^-(f+1) times |sum| <= 12, plus one ulp of
        # truncation; the soft threshold itself is exact and 1-Lipschitz.
        assert np.max(np.abs(got - ref)) <= 12 * 2.0 ** -(FRAC + 1) + 2.0**-FRAC
