"""Regression tests for the reviewed SPDZ / Gadget 3-4 defects (issue 6), one block per defect."""

from __future__ import annotations

import os

import cbor2
import numpy as np
import pytest

from coopetition.engine.errors import LocalFailure, ProtocolViolation
from coopetition.protocols.spdz import field as F
from coopetition.protocols.spdz.errors import (
    MacCheckFailed,
    PreprocessingExhausted,
    PreprocessingMismatch,
    PreprocessingReused,
)
from coopetition.protocols.spdz.gadgets import shares_to_ciphertext, verify_conversions
from coopetition.protocols.spdz.harness import run_local
from coopetition.protocols.spdz.online import SpdzParty, needs_ltz, needs_soft_threshold
from coopetition.protocols.spdz.preprocessing import (
    Batch,
    InsecureDealerPreprocessing,
    PreprocessingStore,
    journal_path,
)
from coopetition.protocols.spdz.testing import dealer, offline_parties, paillier_parties

K = 64
SESSION = b"review-session"


def dealer_for(m, *, triples=0, bits=0, bounded=(), masks=None, alpha_shares=None):
    d = InsecureDealerPreprocessing(m, alpha_shares=alpha_shares)
    if triples:
        d.triples(triples)
    if bits:
        d.bits(bits)
    for b, c in bounded:
        d.bounded(c, b)
    for owner, n in (masks or {}).items():
        d.input_masks(owner, n)
    return d


def dual_masks(d: InsecureDealerPreprocessing, n: int, bits: int) -> None:
    """INSECURE test helper: dealt dual-form masks (shares of R and the public Enc(R))."""
    pk = dealer(d.parties).threshold_public.public
    r = F.vec([int.from_bytes(os.urandom((bits + 7) // 8), "big") % (1 << bits) for _ in range(n)])
    per_party = d._authenticate(r)
    cts = [pk.encrypt(int(v)) for v in r]
    bid = os.urandom(16)
    for i, store in enumerate(d.stores):
        store.add(Batch("bounded", bid, (per_party[i],), bits=bits, ciphertexts=cts))


def gadget_setup(m: int, session: bytes, *, triples=1, masks=None, n_dual=1):
    """Paillier parties with their MAC key, and SPDZ stores dealt under the same key."""
    ps = paillier_parties(m, session)
    run_local([p.setup() for p in ps])
    d = dealer_for(m, triples=triples, masks=masks, alpha_shares=[p.alpha_share % F.P for p in ps])
    dual_masks(d, n_dual, K + 40)
    return ps, [SpdzParty(s, session=session) for s in d.stores]


def shift_first_beaver_opening(sender, receiver, tag, payload, delta=1000):
    """Party 1 adds delta to its share of eps in the first Beaver opening (additive attack)."""
    if sender == 1 and tag == "open/2":
        v = F.from_bytes(payload["v"])
        v[0] = (v[0] + delta) % F.P
        payload["v"] = F.to_bytes(v)
    return payload


def signed_decrypt(m, c):
    pk, sk = dealer(m).threshold_public.public, dealer(m).dealer_private_key
    v = sk.decrypt(c)
    return v - pk.n if v > pk.n // 2 else v


# -- 1. MAC check before Gadget 3-back returns and before the end check retires the key --------


def _square_and_back(p, spdz):
    x = yield from spdz.input(0, 1, F.vec([7]) if spdz.party == 0 else None)
    z = yield from spdz.mul(x, x)
    return (yield from shares_to_ciphertext(p, spdz, z, K))


def test_gadget3_back_mac_checks_an_attacked_beaver_opening():
    m = 2
    ps, sp = gadget_setup(m, b"review-g3-attack", masks={0: 1})
    with pytest.raises(MacCheckFailed):
        run_local(
            [_square_and_back(p, s) for p, s in zip(ps, sp, strict=True)],
            tamper=shift_first_beaver_opening,
        )
    # Control: the same flow without the attack gives Enc(49) exactly.
    ps, sp = gadget_setup(m, b"review-g3-control", masks={0: 1})
    backs = run_local([_square_and_back(p, s) for p, s in zip(ps, sp, strict=True)])
    assert signed_decrypt(m, backs[0].ciphertexts[0]) == 49
    assert all(s.unchecked == 0 for s in sp)


def test_end_check_mac_checks_pending_openings_before_retiring_the_key():
    m = 2
    ps, sp = gadget_setup(m, b"review-g4-pending", triples=2, masks={0: 1})

    def prog(p, spdz):
        back = yield from _square_and_back(p, spdz)
        x = spdz.store.take("triple", 1).parts[0]
        yield from spdz.open(x)  # opened, not yet checked; party 1 lies about its share
        return (yield from verify_conversions(p, spdz, [back]))

    def tamper(sender, receiver, tag, payload):
        if sender == 1 and tag.startswith("open/") and int(tag.split("/")[1]) > 3:
            v = F.from_bytes(payload["v"])
            payload["v"] = F.to_bytes(F.add(v, 5))
        return payload

    with pytest.raises(MacCheckFailed):
        run_local([prog(p, s) for p, s in zip(ps, sp, strict=True)], tamper=tamper)
    assert not any(p.mac_key_retired for p in ps)


def test_end_check_retires_spdz_and_the_key_once_and_never_releases_alpha():
    m = 2
    ps, sp = gadget_setup(m, b"review-g4-once", triples=2, masks={0: 1})

    def prog(p, spdz):
        back = yield from _square_and_back(p, spdz)
        return (yield from verify_conversions(p, spdz, [back]))

    tags: list[str] = []

    def seen(sender, receiver, tag, payload):
        tags.append(tag)
        return payload

    counts = run_local([prog(p, s) for p, s in zip(ps, sp, strict=True)], tamper=seen)
    assert counts == [1, 1]
    assert not [t for t in tags if "alpha" in t or "gadget4" in t], tags
    p, spdz = ps[0], sp[0]
    assert p.mac_key_retired and spdz.retired and spdz.store.retired
    with pytest.raises(LocalFailure):
        next(spdz.open(spdz.public(F.vec([1]))))
    with pytest.raises(LocalFailure):
        spdz.store.take("triple", 1)
    with pytest.raises(LocalFailure):
        next(verify_conversions(p, None, [object()]))  # second run refused
    with pytest.raises(LocalFailure):
        next(p.authenticate([1], 8))
    fresh, _ = gadget_setup(m, b"review-g4-empty")
    with pytest.raises(ValueError):
        next(verify_conversions(fresh[0], None, []))


# -- 2. durable consumption, cursors and batch ids ---------------------------------------------


def _square_input(p, x):
    xs = yield from p.input(0, 1, F.vec([x]) if p.party == 0 else None)
    z = yield from p.mul(xs, xs)
    return (yield from p.output(z))


def test_stored_preprocessing_loaded_twice_is_never_spent_twice(tmp_path):
    d = dealer_for(2, triples=1, masks={0: 2})
    paths = [tmp_path / f"party{i}.spdz" for i in range(2)]
    for s, path in zip(d.stores, paths, strict=True):
        s.save(path)
        s.close()
    stores = [PreprocessingStore.load(path) for path in paths]
    # A second job started from the same files while the first holds them is refused.
    with pytest.raises(PreprocessingReused):
        PreprocessingStore.load(paths[1])
    out = run_local([_square_input(SpdzParty(s, session=b"job-1"), 1234567) for s in stores])
    assert int(out[0][0]) == 1234567**2
    for s in stores:
        s.close()
    # Restart from the same files: the journal moved the cursors on; the triple is gone.
    stores = [PreprocessingStore.load(path) for path in paths]
    assert [s.available("triple") for s in stores] == [0, 0]
    assert [s.available("input_mask", owner=0) for s in stores] == [1, 1]
    with pytest.raises(PreprocessingExhausted):
        run_local([_square_input(SpdzParty(s, session=b"job-2"), 7654321) for s in stores])


def test_party_that_drops_its_journal_is_named_by_one_that_keeps_it(tmp_path):
    d = dealer_for(2, triples=2, masks={0: 2})
    blob1 = d.stores[1].serialize()
    paths = [tmp_path / f"party{i}.spdz" for i in range(2)]
    for s, path in zip(d.stores, paths, strict=True):
        s.save(path)
        s.close()
    stores = [PreprocessingStore.load(path) for path in paths]
    run_local([_square_input(SpdzParty(s, session=b"job-1"), 5) for s in stores])
    for s in stores:
        s.close()
    honest = PreprocessingStore.load(paths[0])
    cheater = PreprocessingStore.deserialize(blob1, journal=None)  # the original bytes, no journal
    with pytest.raises(PreprocessingMismatch) as err:
        run_local(
            [
                _square_input(SpdzParty(honest, session=b"job-2"), 6),
                _square_input(SpdzParty(cheater, session=b"job-2"), 0),
            ]
        )
    assert err.value.culprit == 1


def test_journal_is_written_before_take_returns_and_torn_records_are_ignored(tmp_path):
    d = dealer_for(2, triples=4)
    path = tmp_path / "p0.spdz"
    d.stores[0].save(path)
    size0 = journal_path(path).stat().st_size
    d.stores[0].take("triple", 3)
    assert journal_path(path).stat().st_size > size0  # on disk before any opening is sent
    d.stores[0].close()
    with open(journal_path(path), "ab") as fh:
        fh.write(b"\x10partial")  # a crash in the middle of the next record
    again = PreprocessingStore.load(path)
    assert again.available("triple") == 1
    got = again.take("triple", 1)
    assert got.ids[0][1:] == (3, 1)
    again.close()
    # A fresh store must not be saved over a journal that already records consumption.
    with pytest.raises(PreprocessingReused):
        dealer_for(2, triples=4).stores[0].save(path)
    # A journal of another store is refused.
    other = tmp_path / "other.spdz"
    dealer_for(2, triples=4).stores[0].save(other)
    os.replace(journal_path(path), journal_path(other))
    with pytest.raises(LocalFailure):
        PreprocessingStore.load(other)


@pytest.mark.parametrize("cursor", [-3, 5, 2**70, "0", True])
def test_deserialize_refuses_cursors_outside_the_batch(cursor):
    d = dealer_for(2, triples=4)
    blob = cbor2.loads(d.stores[0].serialize())
    blob["slots"][0]["cursor"] = cursor
    with pytest.raises(ValueError):
        PreprocessingStore.deserialize(cbor2.dumps(blob), journal=None)


def test_batch_ids_differ_between_runs_of_one_session_and_agree_within_one():
    a = run_local([p.fill(randoms=1) for p in offline_parties(2, b"same-session")])
    b = run_local([p.fill(randoms=1) for p in offline_parties(2, b"same-session")])
    ia, ib = a[0]._slots[0].batch.batch_id, b[0]._slots[0].batch.batch_id
    assert ia != ib
    assert a[1]._slots[0].batch.batch_id == ia and b[1]._slots[0].batch.batch_id == ib
    a[0].add(b[0]._slots[0].batch)  # a different batch is no longer mistaken for a reload


# -- 3. malformed online messages: typed, with a culprit, no huge allocation -------------------


def _input_output(p):
    x = yield from p.input(0, 2, F.vec([5, 6]) if p.party == 0 else None)
    return (yield from p.output(x))


@pytest.mark.parametrize(
    ("prefix", "suffix", "key", "value"),
    [
        ("open", "", "v", 2**70),
        ("open", "", "v", 2**28),  # would have made the receiver allocate 256 MiB
        ("open", "", "v", b"\x00" * 31),
        ("open", "", "v", None),
        ("open", "", "ids", [[1, 2]]),
        ("open", "", "ids", 7),
        ("input", "", "ids", [[b"x", "a", 0]]),
        ("input", "", "ids", None),
        ("mac-seed", "/open", "v", 2**70),
        ("mac-seed", "/open", "v", b"\x01" * 33),
        ("mac-seed", "/open", "r", [1]),
        ("mac-seed", "/commit", "c", 2**70),
        ("mac-sigma", "/commit", "c", b"short"),
    ],
)
def test_malformed_online_message_names_the_sender(prefix, suffix, key, value):
    d = dealer_for(2, masks={0: 2})

    def tamper(sender, receiver, tag, payload):
        if sender == 1 and tag.startswith(prefix) and tag.endswith(suffix):
            payload[key] = value
        return payload

    ps = [SpdzParty(s, session=SESSION) for s in d.stores]
    with pytest.raises(ProtocolViolation) as err:
        run_local([_input_output(p) for p in ps], tamper=tamper)
    assert err.value.culprit == 1


def test_malformed_sacrifice_commitment_names_the_sender():
    def tamper(sender, receiver, tag, payload):
        if sender == 1 and "sacrifice-coin" in tag and tag.endswith("/commit"):
            payload["c"] = 2**70
        return payload

    with pytest.raises(ProtocolViolation) as err:
        run_local(
            [p.fill(triples=1) for p in offline_parties(2, b"review-sacrifice-wire")], tamper=tamper
        )
    assert err.value.culprit == 1


# -- 4. soft threshold at the range limit; LTZ needs k >= 2 ----------------------------------


def _run_online(m, n, need, values, body):
    d = dealer_for(m, triples=need.triples, bits=need.bits, bounded=need.bounded, masks={0: n})

    def prog(p):
        x = yield from p.input(0, n, F.vec(values) if p.party == 0 else None)
        y = yield from body(p, x)
        return (yield from p.output(y))

    return [
        int(v)
        for v in F.signed(run_local([prog(SpdzParty(s, session=SESSION)) for s in d.stores])[0])
    ]


def test_soft_threshold_exact_at_the_range_limit():
    kap = 1 << 16
    xs = [
        2 ** (K - 1) - 1,
        -(2 ** (K - 1)),
        2 ** (K - 1) - kap,
        -(2 ** (K - 1)) + kap,
        kap,
        -kap,
        kap + 1,
        0,
    ]
    ref = [x - kap if x > kap else x + kap if x < -kap else 0 for x in xs]
    got = _run_online(
        2, len(xs), needs_soft_threshold(len(xs), K), xs, lambda p, x: p.soft_threshold(x, kap, K)
    )
    assert got == ref


def test_soft_threshold_and_ltz_refuse_parameters_they_cannot_handle():
    d = dealer_for(2)
    p = SpdzParty(d.stores[0], session=SESSION)
    x = p.public(F.vec([1]))
    with pytest.raises(ValueError):
        next(p.soft_threshold(x, 1 << (K - 1), K))
    with pytest.raises(ValueError):
        next(p.soft_threshold(x, -1, K))
    with pytest.raises(ValueError):
        next(p.ltz(x, 1))
    with pytest.raises(ValueError):
        needs_ltz(1, 1)


def test_ltz_with_two_bits_is_exact():
    vals = [-2, -1, 0, 1]
    got = _run_online(2, len(vals), needs_ltz(len(vals), 2), vals, lambda p, x: p.ltz(x, 2))
    assert got == [1, 1, 0, 0]


# -- lesser: a mixed dealer/offline bounded draw ---------------------------------------------


def test_dual_draw_skips_masks_without_ciphertexts():
    d = dealer_for(2, bounded=((K + 40, 2),))
    dual_masks(d, 2, K + 40)
    store = d.stores[0]
    assert store.available("bounded", bits=K + 40) == 4
    assert store.available("bounded", bits=K + 40, dual=True) == 2
    first = store.take("bounded", 1, bits=K + 40)  # any mask: the dealt one first
    assert first.ciphertexts is None
    got = store.take("bounded", 2, bits=K + 40, dual=True)
    assert got.ciphertexts is not None and len(got.ciphertexts) == 2
    assert got.ids[0][0] == store._slots[1].batch.batch_id
    assert np.all(store._slots[0].cursor == 1)
