"""MASCOT preprocessing: relations of every kind, drop-in use, and one test per cheating strategy.

Relations are checked against the definitions recomputed here from all parties' shares (the
MAC key is the sum of the parties' own key shares, which no party knows alone).
"""

from __future__ import annotations

import numpy as np
import pytest

from coopetition.engine.errors import ProtocolAborted
from coopetition.protocols.ot.errors import CorrelationCheckFailed, MalformedOtMessage
from coopetition.protocols.spdz import field as F
from coopetition.protocols.spdz.errors import MacCheckFailed, PreprocessingReused, SacrificeFailed
from coopetition.protocols.spdz.harness import run_local
from coopetition.protocols.spdz.mascot import MascotParty
from coopetition.protocols.spdz.mascot_links import PartyLinks
from coopetition.protocols.spdz.mascot_local import LocalMascot
from coopetition.protocols.spdz.online import SpdzParty
from coopetition.protocols.spdz.preprocessing import PreprocessingStore
from coopetition.protocols.spdz.shares import Share


def _open(batches, k=0):
    value = sum(b.parts[k].value for b in batches) % F.P
    mac = sum(b.parts[k].mac for b in batches) % F.P
    return value, mac


def _alpha(parties):
    return sum(p.alpha_share for p in parties) % F.P


def _assert_macs(parties, batches, arity):
    alpha = _alpha(parties)
    for k in range(arity):
        value, mac = _open(batches, k)
        assert all((alpha * int(v) - int(g)) % F.P == 0 for v, g in zip(value, mac, strict=True))


def _setup(m, session=b"mascot-test", cls=None):
    cls = cls or {}
    parties = [cls.get(i, MascotParty)(i, m, session) for i in range(m)]
    run_local([p.setup() for p in parties])
    return parties


@pytest.mark.parametrize("m", [2, 3])
def test_every_kind_satisfies_its_relation(m):
    parties = _setup(m)
    trip = run_local([p.triples(5) for p in parties])
    a, _ = _open(trip, 0)
    b, _ = _open(trip, 1)
    c, _ = _open(trip, 2)
    assert all((int(x) * int(y) - int(z)) % F.P == 0 for x, y, z in zip(a, b, c, strict=True))
    assert len(set(map(int, a))) == 5  # distinct random values, not a constant
    _assert_macs(parties, trip, 3)
    assert len({bt.batch_id for bt in trip}) == 1

    bits = run_local([p.bits(16) for p in parties])
    value, _ = _open(bits)
    assert set(map(int, value)) <= {0, 1} and len(set(map(int, value))) == 2
    _assert_macs(parties, bits, 1)

    masks = run_local([p.input_masks(1, 4) for p in parties])
    value, _ = _open(masks)
    assert list(masks[1].clear) == list(value)
    assert all(b.clear is None for i, b in enumerate(masks) if i != 1)
    _assert_macs(parties, masks, 1)

    bounded = run_local([p.bounded(3, 10) for p in parties])
    value, _ = _open(bounded)
    assert all(0 <= int(v) < 2**10 for v in value)
    _assert_macs(parties, bounded, 1)

    rand = run_local([p.randoms(4) for p in parties])
    _assert_macs(parties, rand, 1)


def test_mascot_items_drive_the_online_phase_under_a_given_mac_key():
    """Drop-in: stores filled by MASCOT under given key shares feed SpdzParty unchanged."""
    m, n = 3, 4
    local = LocalMascot(m, alpha_shares=[11, 22, 33 + F.P - 66])  # alpha = 0 is allowed here
    local.triples(n).input_masks(0, n).input_masks(2, n)
    xs, ys = [3, -5, 7, 1 << 40], [-2, 9, 0, 1 << 20]

    def prog(store):
        p = SpdzParty(store, session=b"drop-in")
        x = yield from p.input(0, n, F.vec(xs) if p.party == 0 else None)
        y = yield from p.input(2, n, F.vec(ys) if p.party == 2 else None)
        return (yield from p.output((yield from p.mul(x, y))))

    out = run_local([prog(s) for s in local.stores])
    for r in out:
        assert list(F.signed(r)) == [a * b for a, b in zip(xs, ys, strict=True)]


# -- cheating ------------------------------------------------------------------------------


def _tamper_first(tag_prefix, key, sender, edit):
    done = {"hit": False}

    def tamper(i, j, tag, payload):
        if i == sender and tag.startswith(tag_prefix) and not done["hit"]:
            done["hit"] = True
            payload = dict(payload)
            payload[key] = edit(payload[key])
        return payload

    return tamper


def _flip(byte_index, bit=0):
    def edit(raw):
        raw = bytearray(raw)
        raw[byte_index] ^= 1 << bit
        return bytes(raw)

    return edit


def test_wrong_base_ot_message_aborts_naming_the_sender():
    parties = [MascotParty(i, 2, b"base-cheat") for i in range(2)]
    tamper = _tamper_first("mascot-base-1/", "A", 1, lambda raw: b"\xff" * 32)
    with pytest.raises(MalformedOtMessage) as exc:
        run_local([p.setup() for p in parties], tamper=tamper)
    assert exc.value.culprit == 1


def _flip_half_the_columns(raw):
    # Row 320's choice bit flipped in columns 0..63 only: inconsistent unless Delta's first
    # 64 bits are all 0 (an error in column l only shows where Delta_l = 1).
    cols = np.frombuffer(raw, dtype=np.uint8).reshape(128, -1).copy()
    cols[:64, 40] ^= 1
    return cols.tobytes()


def test_inconsistent_ot_extension_column_fails_the_kos_check():
    parties = _setup(2, b"kos-cheat")
    tamper = _tamper_first("mascot-ot-u/", "u", 1, _flip_half_the_columns)
    with pytest.raises(CorrelationCheckFailed) as exc:
        run_local([p.triples(2) for p in parties], tamper=tamper)
    assert exc.value.culprit == 1


def test_wrong_correlation_in_cope_fails_the_input_check():
    parties = _setup(3, b"cope-cheat")

    # Party 2's u towards party 0 encodes another first input in l = 0..63 than in the other
    # l (an error in u_l only shows where alpha_0's bit l is 1, hence half the l).
    def edit(raw):
        u = np.frombuffer(raw, dtype=np.uint8).reshape(256, -1, 32).copy()
        u[:64, 0, 3] ^= 1
        return u.tobytes()

    tamper = _tamper_first("mascot-cope-u/", "u", 2, edit)
    with pytest.raises(MacCheckFailed):
        run_local([p.randoms(5) for p in parties], tamper=tamper)


def _flip_every_row(raw):
    rows = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 32).copy()
    rows[:, 1] ^= 1
    return rows.tobytes()


def test_wrong_correlation_in_multiply_fails_the_sacrifice():
    # An error in one row only matters if the receiver's choice bit there is 1 (a selective
    # failure, whose leak Combine hides); errors in every row change c for sure.
    parties = _setup(2, b"mult-cheat")
    tamper = _tamper_first("mascot-mul-d/", "d", 0, _flip_every_row)
    with pytest.raises(SacrificeFailed):
        run_local([p.triples(3) for p in parties], tamper=tamper)


class _WrongProductLinks(PartyLinks):
    def multiply(self, a, b, tau):  # type: ignore[no-untyped-def]
        shares = yield from super().multiply(a, b, tau)
        return [(shares[0] + 1) % F.P, *shares[1:]]


class _WrongProduct(MascotParty):
    """Authenticates a triple with c = ab + 1: MACs are consistent, only the sacrifice sees it."""

    def setup(self):  # type: ignore[no-untyped-def]
        store = yield from super().setup()
        links = _WrongProductLinks(self.party, self.parties, self.session, self.alpha_share)
        links.__dict__.update({k: v for k, v in self.links.__dict__.items()})
        self.links = links
        return store


def test_triple_with_c_not_ab_is_caught_by_the_sacrifice():
    parties = _setup(3, b"sacrifice-cheat", cls={1: _WrongProduct})
    with pytest.raises(SacrificeFailed):
        run_local([p.triples(4) for p in parties])


class _WrongMac(MascotParty):
    """Shifts its MAC share of its own first input before the input check."""

    def authenticate(self, counts, mine):  # type: ignore[no-untyped-def]
        links = self.links
        original = links.cope

        def cope(counts, mine):  # type: ignore[no-untyped-def]
            terms = yield from original(counts, mine)
            terms[self.party][0] = (terms[self.party][0] + 1) % F.P
            return terms

        links.cope = cope  # type: ignore[method-assign]
        try:
            return (yield from super().authenticate(counts, mine))
        finally:
            del links.cope


def test_wrong_mac_share_fails_the_mac_check():
    parties = _setup(2, b"mac-cheat", cls={0: _WrongMac})
    with pytest.raises(MacCheckFailed):
        run_local([p.randoms(3) for p in parties])


class _NotABit(MascotParty):
    """Opens a wrong share of r^2, so (r / sqrt(r^2) + 1) / 2 would not be a bit."""

    def _open_squares(self, spdz, sq):  # type: ignore[no-untyped-def]
        return (yield from spdz.open(Share(F.add(sq.value, 5), sq.mac)))


def test_bit_that_is_not_a_bit_is_caught():
    parties = _setup(2, b"bit-cheat", cls={1: _NotABit})
    with pytest.raises(MacCheckFailed):
        run_local([p.bits(4) for p in parties])


def test_reused_preprocessing_is_refused_by_store_and_journal(tmp_path):
    local = LocalMascot(2, session=b"reuse")
    local.triples(4)
    path = tmp_path / "p0.store"
    local.stores[0].save(path)
    first = local.stores[0].take("triple", 3)
    local.stores[0].close()
    again = PreprocessingStore.load(path)
    with pytest.raises(PreprocessingReused):
        PreprocessingStore.load(path)  # a second concurrent user of the same journal
    assert again.available("triple") == 1
    assert again.take("triple", 1).ids[0][1] == 3  # item 3: never one of the three used
    with pytest.raises(PreprocessingReused):
        again.add(again._slots[0].batch)
    again.close()
    assert first.ids[0][2] == 3


def test_every_abort_is_a_protocol_abort():
    for cls in (MalformedOtMessage, CorrelationCheckFailed, MacCheckFailed, SacrificeFailed):
        assert issubclass(cls, ProtocolAborted)
    assert np.dtype(np.uint8).itemsize == 1
