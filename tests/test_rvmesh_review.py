"""Adversarial review of the workers' direct data path (``spdz.party_mesh``) and the raw-payload
fast path (``spdz.payload_codec``), against ``run_local`` and the CBOR round trip.

The steps are tiny programs, so each test costs about one worker start-up. What is pinned: a
receiver's inbox (its values, its own objects, the order of its senders) is what ``run_local``
gives; the counts are the same; no bundle of an aborted or finished run is read later; three
workers with large bundles both ways do not deadlock; a worker that dies while its bundle is on
the way ends in a typed abort naming it; nothing is left open in the parent.
"""

from __future__ import annotations

import os
import time

import cbor2
import pytest

from coopetition.engine.errors import CheatingDetected, LocalFailure, ProtocolViolation
from coopetition.protocols.spdz.harness import HarnessStats, run_local
from coopetition.protocols.spdz.online import Exchange
from coopetition.protocols.spdz.pairwise import Pairwise
from coopetition.protocols.spdz.party_hosts import WorkerParties
from coopetition.protocols.spdz.payload_codec import deliver, encoded_size


# steps (module level: the workers import them from this module)
def _order(party: int, m: int):  # type: ignore[no-untyped-def]
    """Returns the order in which each round's inbox lists its senders."""
    seen = []
    got = yield Pairwise("ord/p", {j: {"u": bytes([party])} for j in range(m) if j != party})
    seen.append(list(got))
    got = yield Exchange("ord/b", {"u": bytes([party])})
    seen.append(list(got))
    got = yield Exchange("ord/c", [party])
    seen.append(list(got))
    return seen


def _blame_first(party: int, m: int, bad: tuple[int, ...]):  # type: ignore[no-untyped-def]
    """Every party blames the first bad sender it meets in its inbox (as ``Online._check_ids``
    does: the culprit is whoever comes first in the inbox's iteration)."""
    got = yield Exchange("blame/a", {"ok": b"n" if party in bad else b"y"})
    for j, payload in got.items():
        if j != party and payload["ok"] != b"y":
            raise CheatingDetected("bad message", culprit=j, phase="review")
    return party


def _mutate(party: int, m: int):  # type: ignore[no-untyped-def]
    """Receivers scribble on what they got; nobody else may see it (not the sender, not a
    receiver hosted in the same worker)."""
    mine_raw = {"r": bytes([party]) * 3}
    mine_cbor = {"l": [party], "d": {"k": party}}
    got_raw = yield Exchange("mut/raw", mine_raw)
    for s in got_raw:
        got_raw[s]["scribble"] = bytes([party])
    got_cbor = yield Exchange("mut/cbor", mine_cbor)
    for s in got_cbor:
        got_cbor[s]["l"].append(party)
        got_cbor[s]["d"]["k"] = -party
    pair = yield Pairwise("mut/pair", {j: mine_raw for j in range(m) if j != party})
    for s in pair:
        pair[s]["scribble"] = bytes([party])
    again = yield Exchange("mut/again", mine_cbor)  # sent after the receivers scribbled
    return mine_raw, mine_cbor, got_raw, got_cbor, pair, again


def _big(party: int, m: int, n: int):  # type: ignore[no-untyped-def]
    """Large pairwise and broadcast rounds in every direction, raw and CBOR."""
    got = yield Pairwise(
        "big/raw", {j: {"u": bytes([party, j]) * n} for j in range(m) if j != party}
    )
    first = {s: (len(p["u"]), p["u"][:2]) for s, p in got.items()}
    got = yield Exchange("big/bcast", {"v": bytes([party]) * n, "w": [party] * 3})
    second = {s: (len(p["v"]), p["w"]) for s, p in got.items()}
    return first, second


def _early(party: int, m: int):  # type: ignore[no-untyped-def]
    """Party 0 stops after the first round, the others send a large second round."""
    yield Pairwise("early/a", {j: {"u": b"a" * 100_000} for j in range(m) if j != party})
    if party == 0:
        return party
    yield Pairwise("early/b", {j: {"u": b"b" * 300_000} for j in range(m) if j != party})
    return party


def _astray(party: int, m: int):  # type: ignore[no-untyped-def]
    """The last party goes to another tag in the second round, with a large payload."""
    yield Pairwise("astray/a", {j: {"u": b"a" * 1000} for j in range(m) if j != party})
    tag = "astray/x" if party == m - 1 else "astray/b"
    yield Pairwise(tag, {j: {"u": b"stale" * 100_000} for j in range(m) if j != party})
    return party


def _bad_start(party: int, m: int):  # type: ignore[no-untyped-def]
    """Creating party 1's program fails; the others' first round is already on its way."""
    if party == 1:
        raise CheatingDetected("at start", culprit=2, phase="review")
    return _early(party, m)


def _exit_midway(party: int, m: int):  # type: ignore[no-untyped-def]
    """The last party sends a bundle far larger than a socket buffer, then its process dies
    in the next round while that bundle may still be on its way."""
    n = 32_000_000 if party == m - 1 else 10
    yield Pairwise("exit/a", {j: {"u": b"x" * n} for j in range(m) if j != party})
    if party == m - 1:
        os._exit(9)
    yield Pairwise("exit/b", {j: {"u": b"y"} for j in range(m) if j != party})
    return party


def _unencodable(party: int, m: int):  # type: ignore[no-untyped-def]
    """Party 2's payload for the last party cannot be encoded; the rest is on its way."""
    payloads = {j: {"u": b"z" * 200_000} for j in range(m) if j != party}
    if party == 2:
        payloads[m - 1] = {"u": object()}
    yield Pairwise("enc/a", payloads)
    return party


def _nothing_to_say(party: int, m: int):  # type: ignore[no-untyped-def]
    """A program without a round."""
    return party
    yield  # a generator


def _flip(sender: int, receiver: int, tag: str, payload):  # type: ignore[no-untyped-def]
    """Sender 1's messages to receiver 2 arrive altered, as another raw map."""
    if (sender, receiver) == (1, 2) and isinstance(payload, dict) and "u" in payload:
        return {"u": b"forged", "extra": b""}
    return payload


def _local(step, m, *args):  # type: ignore[no-untyped-def]
    stats = HarnessStats()
    return run_local([step(i, m, *args) for i in range(m)], stats=stats), stats


def _same_stats(a: HarnessStats, b: HarnessStats) -> None:
    assert (a.rounds, a.bytes_sent, a.messages, a.per_tag_prefix) == (
        b.rounds,
        b.bytes_sent,
        b.messages,
        b.per_tag_prefix,
    )


@pytest.mark.parametrize(("m", "workers"), [(4, 2), (5, 3)])
def test_an_inbox_lists_its_senders_in_party_order_as_run_local_does(m, workers):
    """A program that iterates its inbox (``Online._check_ids``, ``ConfigMismatch.between``)
    must see the same order in the workers as in one process: 0, 1, ..., m - 1."""
    expected, _ = _local(_order, m)
    with WorkerParties(list(range(m)), workers) as host:
        got = host.run(_order, m)
    assert got == expected
    assert all(seen == [[j for j in range(m) if j != i], list(range(m)), list(range(m))]
               for i, seen in enumerate(got))  # fmt: skip


def test_the_culprit_is_the_one_run_local_names_when_two_parties_misbehave():
    """Parties 1 and 2 both send a bad message; party 0 (whose error wins) blames the first it
    meets: party 1 in ``run_local``. In the workers (0 and 2 in worker 0) the inbox used to
    list 2 before 1."""
    m, bad = 4, (1, 2)
    with pytest.raises(CheatingDetected) as here:
        run_local([_blame_first(i, m, bad) for i in range(m)])
    with WorkerParties(list(range(m)), 2) as host, pytest.raises(CheatingDetected) as there:
        host.run(_blame_first, m, bad)
    assert here.value.culprit == 1
    assert there.value.culprit == here.value.culprit


def test_a_receivers_scribbles_reach_nobody_else():
    m = 4  # workers hold {0, 2} and {1, 3}: two receivers of every broadcast per worker
    expected, _ = _local(_mutate, m)
    with WorkerParties(list(range(m)), 2) as host:
        got = host.run(_mutate, m)
    assert got == expected
    for party, (mine_raw, mine_cbor, got_raw, got_cbor, pair, again) in enumerate(got):
        assert mine_raw == {"r": bytes([party]) * 3}  # the sender's own objects: untouched
        assert mine_cbor == {"l": [party], "d": {"k": party}}
        for s in range(m):
            assert got_raw[s] == {"r": bytes([s]) * 3, "scribble": bytes([party])}
            assert got_cbor[s] == {"l": [s, party], "d": {"k": -party}}
            assert again[s] == {"l": [s], "d": {"k": s}}
        assert all(p == {"r": bytes([s]) * 3, "scribble": bytes([party])} for s, p in pair.items())


def test_three_workers_with_large_bundles_every_way_match_run_local():
    m, n = 6, 400_000  # each bundle ~1.6 MB pairwise, ~0.8 MB broadcast: past a socket buffer
    expected, here = _local(_big, m, n)
    there = HarnessStats()
    started = time.monotonic()
    with WorkerParties(list(range(m)), 3) as host:
        got = host.run(_big, m, n, stats=there)
        assert got == expected
        _same_stats(there, here)
        assert host.run(_big, m, 3) == _local(_big, m, 3)[0]  # and again, small, same mesh
    assert time.monotonic() - started < 30


def test_no_bundle_of_a_failed_run_is_read_in_a_later_one():
    """Each way a run can end early, with bundles on their way, then a clean run and a fetch:
    the clean run must get exactly ``run_local``'s inboxes and counts."""
    m = 5
    expected, here = _local(_big, m, 1000)
    with WorkerParties(list(range(m)), 3) as host:
        with pytest.raises(ProtocolViolation, match="out of step"):
            host.run(_early, m)
        with pytest.raises(ProtocolViolation, match="out of step"):
            host.run(_astray, m)
        with pytest.raises(CheatingDetected) as caught:
            host.run(_bad_start, m)
        assert caught.value.culprit == 2
        assert host.fetch() == list(range(m))
        there = HarnessStats()
        assert host.run(_big, m, 1000, stats=there) == expected
        _same_stats(there, here)
        assert host.fetch() == list(range(m))
        assert host.run(_order, m) == _local(_order, m)[0]
        with pytest.raises(Exception) as there_exc:
            host.run(_unencodable, m)
        with pytest.raises(Exception) as here_exc:
            _local(_unencodable, m)
        assert type(there_exc.value) is type(here_exc.value)
        assert host.run(_nothing_to_say, m) == list(range(m))
        assert host.run(_order, m) == _local(_order, m)[0]


def test_a_tampering_run_on_three_workers_matches_run_local():
    m = 5
    here, there = HarnessStats(), HarnessStats()
    expected = run_local([_big(i, m, 100) for i in range(m)], tamper=_flip, stats=here)
    with WorkerParties(list(range(m)), 3) as host:
        got = host.run(_big, m, 100, tamper=_flip, stats=there)
        assert host.run(_order, m) == _local(_order, m)[0]  # the mesh again after it
    assert got == expected and got[2][0][1] == (6, b"fo")
    _same_stats(there, here)


@pytest.mark.parametrize(("m", "workers"), [(3, 1), (1, 2), (2, 2)])
def test_one_worker_or_one_party_is_run_local(m, workers):
    expected, here = _local(_big, m, 50)
    there = HarnessStats()
    with WorkerParties(list(range(m)), workers) as host:
        assert host.workers == min(workers, m)
        assert host.run(_big, m, 50, stats=there) == expected
        _same_stats(there, here)
        assert host.run(_order, m) == _local(_order, m)[0]


def test_a_worker_that_dies_with_its_bundle_on_the_way_is_the_one_named():
    """The dying worker's peer reads a truncated bundle; the abort must be typed, quick, and
    name the worker that died (its peer only lost its socket)."""
    m = 2
    started = time.monotonic()
    with WorkerParties(list(range(m)), 2) as host:
        procs = list(host._procs)
        with pytest.raises(LocalFailure, match="worker 1"):
            host.run(_exit_midway, m)
    assert time.monotonic() - started < 30
    assert not any(p.is_alive() for p in procs)


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_the_parent_keeps_no_socket_open():
    before = _open_fds()
    with WorkerParties(list(range(4)), 3) as host:
        host.run(_order, 4)
        with pytest.raises(ProtocolViolation):
            host.run(_early, 4)
    time.sleep(0.2)
    assert _open_fds() <= before


def test_deliver_fails_where_the_round_trip_fails():
    """A key CBOR cannot encode (a lone surrogate): the round trip raises, so must the fast
    path's ``deliver`` (the hosts raise already: they compute the size first)."""
    payload = {"\ud800": b"x"}
    with pytest.raises(UnicodeEncodeError):
        cbor2.dumps(payload)
    with pytest.raises(UnicodeEncodeError):
        encoded_size(payload)
    with pytest.raises(UnicodeEncodeError):
        deliver(payload)
