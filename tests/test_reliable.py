"""Reliable delivery: loss, duplication, reordering and corruption never lose or duplicate a frame."""

from __future__ import annotations

import pytest
import trio
import trio.testing
from hypothesis import given, settings
from hypothesis import strategies as st

from coopetition.engine.errors import ConnectionClosed
from coopetition.transports import reliable
from coopetition.transports.memory import MemoryNetwork
from coopetition.transports.reliable import ReliableTransport
from coopetition.transports.wan import LinkSpec, Topology, open_wan


@given(st.sampled_from([reliable.DATA, reliable.ACK]), st.integers(0, 2**64 - 1), st.binary())
@settings(max_examples=200, deadline=None)
def test_frame_round_trip(kind, seq, body):
    assert reliable.decode(reliable.encode(kind, seq, body)) == (kind, seq, body)


@given(st.integers(0, 2**32), st.binary(min_size=1, max_size=64), st.data())
@settings(max_examples=200, deadline=None)
def test_any_single_bit_flip_is_rejected(seq, body, data):
    frame = bytearray(reliable.encode(reliable.DATA, seq, body))
    bit = data.draw(st.integers(0, len(frame) * 8 - 1))
    frame[bit // 8] ^= 1 << (bit % 8)
    assert reliable.decode(bytes(frame)) is None


async def _exchange(seed: int, spec: LinkSpec, n: int = 60, parties: int = 3):
    """Every party sends ``n`` frames to every other; returns what each received, in order."""
    topo = Topology.uniform(range(parties), spec)
    received: dict[int, list] = {p: [] for p in range(parties)}
    async with open_wan(MemoryNetwork(range(parties)).transports(), topo, seed=seed) as (sim, ts):
        rts = [ReliableTransport(t, rto_initial=0.3) for t in ts]
        expected = n * (parties - 1)

        async def receiver(rt):
            while len(received[rt.local_id]) < expected:
                frame = await rt.receive()
                received[rt.local_id].append((frame.peer, frame.data))
            # keep acknowledging others' retransmissions until everyone is done
            with trio.move_on_after(60):
                while True:
                    await rt.receive()

        async def sender(rt):
            for i in range(n):
                for peer in sorted(rt.peers):
                    await rt.send(peer, b"%d->%d #%d" % (rt.local_id, peer, i))

        with trio.fail_after(600):
            async with trio.open_nursery() as nursery:
                for rt in rts:
                    nursery.start_soon(receiver, rt)
                    nursery.start_soon(sender, rt)
                while any(len(v) < expected for v in received.values()):
                    await trio.sleep(0.5)
                nursery.cancel_scope.cancel()
    return sim, rts, received


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_lossy_reordering_link_delivers_exactly_once_in_order(autojump_clock, seed):
    spec = LinkSpec(latency=0.02, jitter=0.01, loss=0.25, reorder=0.2, reorder_delay=0.05)
    sim, rts, received = await _exchange(seed, spec)
    for pid, frames in received.items():
        for peer in range(3):
            if peer == pid:
                continue
            got = [d for p, d in frames if p == peer]
            assert got == [b"%d->%d #%d" % (peer, pid, i) for i in range(60)]
    assert sum(s.frames_lost for s in sim.stats.values()) > 0
    assert sum(rt.stats.retransmissions for rt in rts) > 0


async def test_duplicates_and_corruption_are_absorbed(autojump_clock):
    from coopetition.transports.faults import Corrupt, Duplicate

    topo = Topology.uniform(range(2), LinkSpec(latency=0.01))
    faults = [Duplicate(probability=0.3), Corrupt(probability=0.2)]
    async with open_wan(MemoryNetwork(range(2)).transports(), topo, seed=4, faults=faults) as (
        _,
        (a, b),
    ):
        ra, rb = ReliableTransport(a, rto_initial=0.2), ReliableTransport(b, rto_initial=0.2)
        got = []

        async def pump_a():
            while True:
                await ra.receive()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(pump_a)
            for i in range(100):
                await ra.send(1, b"m%d" % i)
            with trio.fail_after(300):
                while len(got) < 100:
                    got.append((await rb.receive()).data)
            nursery.cancel_scope.cancel()
    assert got == [b"m%d" % i for i in range(100)]
    assert rb.stats.duplicates_dropped > 0
    assert rb.stats.corrupt_dropped + ra.stats.corrupt_dropped > 0


async def test_gives_up_on_a_silent_peer_naming_it(autojump_clock):
    net = MemoryNetwork([0, 1])
    ra = ReliableTransport(net.transport(0), rto_initial=0.5, give_up_after=10.0)
    await ra.send(1, b"hello?")  # party 1 never reads, so never acknowledges
    start = trio.current_time()
    with pytest.raises(ConnectionClosed) as info:
        await ra.receive()
    assert info.value.peer == 1
    assert 10.0 <= trio.current_time() - start < 20.0
    assert ra.stats.retransmissions >= 3


@given(
    seed=st.integers(0, 2**32),
    loss=st.floats(0.0, 0.4),
    dup=st.floats(0.0, 0.4),
    reorder=st.floats(0.0, 0.4),
)
@settings(max_examples=12, deadline=None)
def test_property_exactly_once_in_order_under_any_mix(seed, loss, dup, reorder):
    from coopetition.transports.faults import Duplicate, Reorder

    async def main():
        topo = Topology.uniform(range(2), LinkSpec(latency=0.01, jitter=0.004, loss=loss))
        faults = [Duplicate(probability=dup, gap=0.03), Reorder(probability=reorder, delay=0.05)]
        async with (
            open_wan(MemoryNetwork(range(2)).transports(), topo, seed=seed, faults=faults) as (
                _,
                (a, b),
            ),
            trio.open_nursery() as nursery,
        ):
            ra, rb = ReliableTransport(a, rto_initial=0.2), ReliableTransport(b, rto_initial=0.2)

            async def pump_a():
                while True:
                    await ra.receive()

            nursery.start_soon(pump_a)
            for i in range(40):
                await ra.send(1, b"%d" % i)
            got = [(await rb.receive()).data for _ in range(40)]
            with trio.move_on_after(30):  # nothing more may ever arrive
                extra = await rb.receive()
                raise AssertionError(f"unexpected extra frame {extra!r}")
            nursery.cancel_scope.cancel()
        return got

    got = trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    assert got == [b"%d" % i for i in range(40)]


async def test_wan_backlog_limit_is_back_pressure(autojump_clock):
    topo = Topology.uniform(range(2), LinkSpec(latency=0.001, bandwidth=8e3))  # 1 byte per ms
    async with open_wan(MemoryNetwork(range(2)).transports(), topo, max_backlog=0.5) as (
        sim,
        (a, _),
    ):
        for _ in range(10):
            await a.send(1, bytes(100))  # 0.1 s of serialisation each
        # 1 s of frames through a 0.5 s backlog: the sender was held back about 0.5 s
        assert trio.current_time() - sim.t0 == pytest.approx(0.5, abs=0.11)


async def test_a_silent_peer_is_probed_not_flooded(autojump_clock):
    """50 unacknowledged frames to a peer that never answers: after rto_max without progress
    only the oldest frame is retransmitted (a probe), so retransmissions grow with the number of
    timer expiries, not with 50 x that."""
    net = MemoryNetwork([0, 1, 2])
    ra = ReliableTransport(net.transport(0), rto_initial=0.5, rto_max=2.0)
    rb = ReliableTransport(net.transport(1), rto_initial=0.5, rto_max=2.0)
    for i in range(50):
        await ra.send(2, b"to the silent one %d" % i)  # party 2 never reads
    await ra.send(1, b"to a live one")
    with trio.move_on_after(30):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(ra.receive)
            got = await rb.receive()
            nursery.start_soon(rb.receive)  # keep acknowledging
    assert got.data == b"to a live one"
    # expiries at t=0.5 and 1.5 retransmit all 50 (no evidence of silence yet); from then on
    # one probe per expiry (every rto_max = 2 s): about 15 more in 30 s. Without probing it
    # would be 50 per expiry, about 800.
    assert 50 <= ra.stats.retransmissions <= 50 + 50 + 20
    assert not ra._state[1].unacked  # the live peer was unaffected


async def _loops(rt, sink):
    while True:
        frame = await rt.receive()
        sink.append((trio.current_time(), frame.data))


async def test_a_lost_frame_sent_while_the_receive_loop_waits_is_retransmitted(autojump_clock):
    """Regression: the receive loop was already waiting (no deadline: nothing unacknowledged)
    when another task sent a frame that the link lost; with no reverse traffic nothing woke
    the loop to retransmit, so the frame was never delivered."""
    from coopetition.transports.faults import Drop, ideal_topology

    lose_first = [Drop(probability=1.0, src=[0], start=0.0, stop=0.5)]
    async with open_wan(
        MemoryNetwork([0, 1]).transports(), ideal_topology([0, 1]), seed=1, faults=lose_first
    ) as (sim, ts):
        a, b = (ReliableTransport(t, rto_initial=0.3, rto_max=2.0) for t in ts)
        got: list = []
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_loops, a, [])
            nursery.start_soon(_loops, b, got)
            await trio.sleep(0.01)  # both receive loops are now blocked
            sent = trio.current_time()
            await a.send(1, b"hello")  # lost: inside the drop window
            with trio.move_on_after(30):
                while not got:
                    await trio.sleep(0.05)
            nursery.cancel_scope.cancel()
    assert [d for _, d in got] == [b"hello"]
    assert a.stats.retransmissions >= 1
    # first retransmission at +0.3 s is still inside the window, the second at +0.9 s is not
    assert got[0][0] - sent == pytest.approx(0.3 + 0.6, abs=0.01)
    assert sim.schedule.summary() == {"drop": 2}


async def test_frames_held_behind_a_probe_go_at_once_when_the_silence_ends(autojump_clock):
    """Regression: during a partition only the oldest frame is probed; the others were timed
    for the dead link (deadline up to rto_max past the probe), so after the heal they - and,
    by in-order release, everything sent after them - waited up to rto_max more."""
    from coopetition.transports.faults import Partition, ideal_topology

    cut = [Partition(side_a=[0], side_b=[1], start=0.0, stop=6.0)]
    async with open_wan(
        MemoryNetwork([0, 1]).transports(), ideal_topology([0, 1]), seed=2, faults=cut
    ) as (sim, ts):
        a, b = (ReliableTransport(t, rto_initial=0.3, rto_max=2.0) for t in ts)
        got: list = []
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_loops, a, [])
            nursery.start_soon(_loops, b, got)
            for i in range(20):
                await a.send(1, b"%d" % i)
                await trio.sleep(0.25)  # spread over the partition: several timer generations
            with trio.move_on_after(30):
                while len(got) < 20:
                    await trio.sleep(0.05)
            nursery.cancel_scope.cancel()
    assert [d for _, d in got] == [b"%d" % i for i in range(20)]
    first = got[0][0] - sim.t0
    assert first >= 6.0  # nothing crossed before the heal
    # After the probe's ack every held frame is retransmitted at once: all 20 arrive within a
    # couple of round trips of the first one, not rto_max later.
    assert got[-1][0] - got[0][0] < 0.05, [round(t - sim.t0, 3) for t, _ in got]
