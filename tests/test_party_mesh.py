"""The worker hosts' direct data path (``spdz.party_mesh``) and the raw-payload fast path
(``spdz.payload_codec``).

The reference is CBOR itself and ``run_local``: a raw payload's computed length must equal
``len(cbor2.dumps(...))`` byte for byte, what a receiver gets must equal the round trip, and a
run through the workers must give every party the same inbox and count the same bytes,
messages and tag prefixes as the one-process harness.
"""

from __future__ import annotations

import cbor2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coopetition.engine.errors import CheatingDetected
from coopetition.protocols.spdz.harness import HarnessStats, run_local
from coopetition.protocols.spdz.online import Exchange
from coopetition.protocols.spdz.pairwise import Pairwise
from coopetition.protocols.spdz.party_hosts import WorkerParties
from coopetition.protocols.spdz.payload_codec import cbor_size, deliver, encoded_size, is_raw

EDGES = [0, 1, 23, 24, 255, 256, 65535, 65536]

raw_payloads = st.dictionaries(
    st.text(max_size=30),
    st.one_of(st.binary(max_size=300), st.sampled_from(EDGES).map(lambda n: b"\x07" * n)),
    max_size=30,
)


@given(raw_payloads)
@settings(max_examples=200, deadline=None)
def test_the_computed_length_is_cbors_own(payload):
    assert is_raw(payload)
    assert cbor_size(payload) == len(cbor2.dumps(payload)) == encoded_size(payload)
    got = deliver(payload)
    assert got == cbor2.loads(cbor2.dumps(payload)) and got is not payload


def test_long_keys_and_many_keys_use_cbors_longer_heads():
    for keys in (24, 256):
        payload = {f"k{i}": b"" for i in range(keys)}
        assert cbor_size(payload) == len(cbor2.dumps(payload))
    payload = {"x" * 300: b"v", "\u00e9" * 20: b""}  # utf-8 length, not character count
    assert cbor_size(payload) == len(cbor2.dumps(payload))


class _Bytes(bytes):
    pass


@pytest.mark.parametrize(
    "payload",
    [{"a": bytearray(b"x")}, {"a": _Bytes(b"x")}, {1: b"x"}, {"a": [b"x"]}, [b"x"], b"x", None],
)
def test_anything_but_a_map_of_exact_byte_strings_goes_through_cbor(payload):
    assert not is_raw(payload)
    assert deliver(payload) == cbor2.loads(cbor2.dumps(payload))
    assert encoded_size(payload) == len(cbor2.dumps(payload))


# steps (module level: the workers import them from this module)
def _chatter(party: int, m: int, big: int):  # type: ignore[no-untyped-def]
    """Pairwise raw and CBOR rounds, a broadcast of each kind; returns every inbox seen."""
    seen = []
    got = yield Pairwise(
        "mesh/raw",
        {j: {"u": bytes([party, j]) * big, "v": b""} for j in range(m) if j != party},
    )
    seen.append(got)
    got = yield Pairwise(
        "mesh/cbor",
        {j: {"n": [party, j, -1], "b": bytearray(b"z")} for j in range(m) if j != party},
    )
    seen.append(got)
    seen.append((yield Exchange("mesh/bcast-raw", {"x": bytes([party]) * 5})))
    seen.append((yield Exchange("mesh/bcast-cbor", [party, "text", 2**70])))
    return seen


def _fails_late(party: int, m: int):  # type: ignore[no-untyped-def]
    """Every party sends; then party 1 finds party 0 cheating before reading the next round."""
    yield Pairwise("late/a", {j: {"u": b"stale" * 1000} for j in range(m) if j != party})
    if party == 1:
        raise CheatingDetected("bad", culprit=0, phase="mesh")
    yield Pairwise("late/b", {j: {"u": b"never"} for j in range(m) if j != party})
    return party


def _run_both(m: int, big: int):
    here = HarnessStats()
    expected = run_local([_chatter(i, m, big) for i in range(m)], stats=here)
    there = HarnessStats()
    with WorkerParties(list(range(m)), 2) as host:
        got = host.run(_chatter, m, big, stats=there)
    return expected, got, here, there


@pytest.mark.parametrize("m", [2, 3, 4])
def test_the_workers_deliver_and_count_exactly_as_the_harness(m):
    expected, got, here, there = _run_both(m, 3)
    assert got == expected
    assert (there.bytes_sent, there.messages, there.rounds) == (
        here.bytes_sent,
        here.messages,
        here.rounds,
    )
    assert there.per_tag_prefix == here.per_tag_prefix == {"mesh": here.bytes_sent}
    # the CBOR round trip's shape: a bytearray arrives as bytes, a tuple as a list
    assert got[0][1][1] == {"n": [1, 0, -1], "b": b"z"}


def test_large_messages_both_ways_at_once_do_not_block_the_workers():
    """Two workers writing 8 MB bundles to each other in the same step (past any socket
    buffer) must not wait on each other: each has a sender thread per peer."""
    expected, got, here, there = _run_both(4, 2_000_000)
    assert got == expected and there.bytes_sent == here.bytes_sent > 4 * 3 * 4_000_000


def test_a_tampering_run_still_sees_every_message_and_the_mesh_runs_after_it():
    seen = []

    def tamper(sender, receiver, tag, payload):  # type: ignore[no-untyped-def]
        seen.append((sender, receiver, tag))
        return payload

    with WorkerParties(list(range(3)), 2) as host:
        got = host.run(_chatter, 3, 2, tamper=tamper)
        assert got == run_local([_chatter(i, 3, 2) for i in range(3)])
        assert len(seen) == 3 * 2 * 2 + 3 * 2 * 2  # pairwise rounds and broadcasts, peers only
        assert host.run(_chatter, 3, 2) == got


def test_an_abort_leaves_no_stale_bundle_for_the_next_run():
    with WorkerParties(list(range(3)), 2) as host:
        with pytest.raises(CheatingDetected) as caught:
            host.run(_fails_late, 3)
        assert caught.value.culprit == 0
        # the bundles of "late/a" were sent before the abort; the next run must not read them
        assert host.run(_chatter, 3, 4) == run_local([_chatter(i, 3, 4) for i in range(3)])


def test_a_peer_that_stalls_in_the_middle_of_a_bundle_times_out():
    """The first byte of a bundle has had a deadline since the mesh was built; the rest now has
    one too (the socket's receive timeout): a peer that sends a header promising a 10-byte blob,
    writes 3 bytes and stops is a ``TimeoutError`` after about the timeout, not a hang."""
    import pickle
    import socket
    import time

    from coopetition.protocols.spdz.party_mesh import _LEN, Mesh

    mine, theirs = socket.socketpair()
    mesh = Mesh({1: mine}, timeout=0.4)
    try:
        header = pickle.dumps([(0, ((0,), "raw", ["k"]), [10])])
        theirs.sendall(len(header).to_bytes(_LEN, "little") + header + b"abc")
        started = time.monotonic()
        with pytest.raises(TimeoutError, match="worker 1 stalled"):
            mesh.receive()
        assert 0.3 < time.monotonic() - started < 5.0
    finally:
        mesh.close()
        theirs.close()
