"""Retransmission timers count from when a frame leaves its sender, not from hand-over.

On a slow simulated uplink a burst of large frames waits in the sender's own queue for far longer
than any sane RTO; a timer counted from hand-over retransmits frames that were never lost, and each
copy queues behind the rest (the COPML full-size run lost most of its CPU to this). These tests
check the timer against the textbook serialisation time, and that real loss is still repaired.
"""

from __future__ import annotations

import math

import trio

from coopetition.transports.memory import MemoryNetwork
from coopetition.transports.reliable import ReliableTransport
from coopetition.transports.wan import LinkSpec, Topology, open_wan
from coopetition.transports.wan_transport import WanTransport

RATE = 8e6  # bit/s: a 100 kB frame takes 0.1 s to serialise
FRAME = 100_000
PEERS = 6


async def _burst(spec: LinkSpec, *, frames_per_peer: int, seed: int = 3) -> tuple[int, int, float]:
    """Party 0 hands a burst of large frames to every peer at once; returns (retransmissions,
    delivered, virtual seconds until the last delivery)."""
    ids = range(PEERS + 1)
    topo = Topology.uniform(ids, spec, uplink=RATE)
    got: dict[int, list[bytes]] = {p: [] for p in ids if p}
    async with open_wan(MemoryNetwork(ids).transports(), topo, seed=seed) as (_, ts):
        rts = [ReliableTransport(t, rto_initial=0.5, rto_min=0.2, rto_max=2.0) for t in ts]
        start = trio.current_time()
        done_at = start

        async def receiver(rt: ReliableTransport) -> None:
            nonlocal done_at
            while True:
                frame = await rt.receive()
                got[rt.local_id].append(frame.data)
                done_at = max(done_at, trio.current_time())

        async with trio.open_nursery() as nursery:
            for rt in rts:
                nursery.start_soon(receiver, rt)
            for i in range(frames_per_peer):
                for peer in range(1, PEERS + 1):
                    await rts[0].send(peer, bytes([peer, i]) * (FRAME // 2))
            with trio.fail_after(600):
                while any(len(v) < frames_per_peer for v in got.values()):
                    await trio.sleep(0.05)
            await trio.sleep(10)  # let timers that would fire (wrongly) fire
            nursery.cancel_scope.cancel()
    for peer, frames in got.items():
        assert frames == [bytes([peer, i]) * (FRAME // 2) for i in range(frames_per_peer)]
    return rts[0].stats.retransmissions, sum(map(len, got.values())), done_at - start


async def test_a_queued_burst_is_not_retransmitted(autojump_clock):
    # 6 peers x 4 frames x 0.1 s = 2.4 s of queue, well past the 0.5 s RTO
    retransmissions, delivered, seconds = await _burst(
        LinkSpec(latency=0.02, bandwidth=RATE), frames_per_peer=4
    )
    assert delivered == 24
    assert retransmissions == 0
    # the textbook figure: the uplink serialises 24 frames of 100 kB (+ headers) back to back
    assert 2.4 <= seconds < 2.4 + 0.1


async def test_a_lost_frame_in_a_queued_burst_is_still_repaired(autojump_clock):
    retransmissions, delivered, _ = await _burst(
        LinkSpec(latency=0.02, bandwidth=RATE, loss=0.2), frames_per_peer=4, seed=5
    )
    assert delivered == 24
    assert retransmissions > 0


async def test_departure_is_the_serialisation_time(autojump_clock):
    ids = range(3)
    topo = Topology.uniform(ids, LinkSpec(latency=0.02, bandwidth=RATE), uplink=RATE)
    async with open_wan(MemoryNetwork(ids).transports(), topo) as (_, ts):
        wan: WanTransport = ts[0]
        t0 = trio.current_time()
        await wan.send(1, b"x" * FRAME)
        await wan.send(2, b"y" * FRAME)
        await trio.sleep(0.05)  # the instant's frames are decided once every task is blocked
        await wan.send(1, b"z" * FRAME)  # queues behind the first two on the uplink
        await trio.sleep(0.01)
        # link 0->1 is free after one frame, link 0->2 waits for it on the shared uplink
        assert abs(wan.departure(1, t0) - (t0 + 0.1)) < 1e-9
        assert abs(wan.departure(2, t0) - (t0 + 0.2)) < 1e-9
        assert abs(wan.departure(1, t0 + 0.05) - (t0 + 0.3)) < 1e-9
        assert wan.departure(1, t0 - 1) == -math.inf  # nothing handed over then
