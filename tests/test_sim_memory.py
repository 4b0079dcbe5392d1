"""Memory of the one-process simulation: what a queued frame costs, and what stays referenced.

At full CIFAR size COPML's Case 2 ran out of 24 GiB in its set-up (9 encoders x 49 coded shares
of 22 MB). Three causes are pinned here, each by a test that fails on the old code:

* the reliable layer kept a second copy of every frame it had queued (its own header + body
  concatenation went to the link, the bare body stayed for retransmission);
* the simulator let a sender queue without bound: every frame a protocol step made existed at
  once; with ``max_backlog`` and ``backlog_min_bytes`` a large frame's sender waits (a socket
  buffer), small frames (acknowledgements, heartbeats) never do;
* a COPML step that scattered and then collected kept its payloads (and the driver its signed
  frames) referenced for the whole wait.
"""

from __future__ import annotations

import gc
import os
import tracemalloc
import weakref
from collections.abc import Generator
from typing import Any

import numpy as np
import pytest
import trio

from coopetition.protocols.copml.steps import Collect, InputPhase, Scatter, Work
from coopetition.protocols.shamir.field import PrimeField
from coopetition.protocols.shamir.sharing import reconstruct, share
from coopetition.sims.runner import simulate
from coopetition.transports.memory import MemoryNetwork
from coopetition.transports.reliable import ReliableTransport
from coopetition.transports.wan import LinkSpec, Topology, open_wan

RATE = 8e6  # bit/s: 1 MB per second
BIG = 1_000_000


async def test_a_queued_frame_is_held_once_by_the_reliable_layer(autojump_clock):
    """A 4 MB frame waiting on a slow link costs about 4 MB, not 8 (pending copy + link copy)."""
    topo = Topology.uniform(range(2), LinkSpec(latency=0.01, bandwidth=RATE))
    size = 4 * BIG
    async with open_wan(MemoryNetwork(range(2)).transports(), topo) as (_, (a, _b)):
        ra = ReliableTransport(a, rto_initial=60.0, rto_max=60.0)
        gc.collect()
        tracemalloc.start()
        try:
            base = tracemalloc.get_traced_memory()[0]
            body = os.urandom(size)
            await ra.send(1, body)
            del body  # the sender (the engine's outbox) lets go of its frame once handed over
            await trio.sleep(1.0)  # 4 s of serialisation: still queued
            held = tracemalloc.get_traced_memory()[0] - base
        finally:
            tracemalloc.stop()
    assert size < held < 1.3 * size, held


async def test_backlog_bounds_what_a_sender_has_queued_but_not_its_timing(autojump_clock):
    """20 frames of 1 MB on a 1 MB/s uplink: with a 2 s backlog the sender never has more than
    3 MB queued; small frames skip the wait; the frames still leave back to back (same arrival
    times as without the limit)."""

    async def run(max_backlog: float | None) -> tuple[list[float], list[float], float]:
        topo = Topology.uniform(range(3), LinkSpec(latency=0.01), uplink=RATE)
        arrivals: list[float] = []
        queued: list[float] = []
        small_wait = 0.0
        transports = MemoryNetwork(range(3)).transports()
        async with open_wan(
            transports, topo, max_backlog=max_backlog, backlog_min_bytes=BIG // 2
        ) as (_sim, (a, b, c)):
            start = trio.current_time()

            async def receive() -> None:
                for _ in range(20):
                    await b.receive()
                    arrivals.append(trio.current_time() - start)

            async with trio.open_nursery() as nursery:
                nursery.start_soon(receive)
                for i in range(20):
                    await a.send(1, bytes([i]) * BIG)
                    # bytes handed over but not yet departed, from the textbook formula
                    now = trio.current_time() - start
                    queued.append((i + 1) * 1.0 - now)
                before = trio.current_time()
                await a.send(2, b"ack-sized")
                small_wait = trio.current_time() - before
                await c.receive()
        return arrivals, queued, small_wait

    free_arrivals, free_queued, _ = await run(None)
    arrivals, queued, small_wait = await run(2.0)
    assert max(free_queued) > 19  # without a limit all 20 s of frames are queued at once
    assert max(queued) <= 3.0 + 1e-6  # 2 s of backlog plus the frame just handed over
    assert small_wait == 0.0
    assert arrivals == pytest.approx(
        free_arrivals, abs=1e-9
    )  # back-pressure changes memory, not the wire timing


def test_scattered_payloads_are_released_before_the_collect_ends():
    """Party 0 scatters a 1 MB array, then waits for party 1, which first checks (in a step of
    its own, after receiving the array) that party 0 no longer references it."""
    ref: list[weakref.ref[np.ndarray]] = []
    seen: list[bool] = []

    def sender() -> Generator[Any, Any, Any]:
        payload = np.arange(BIG // 8, dtype=np.int64)
        ref.append(weakref.ref(payload))
        yield Scatter("a", {1: payload})
        del payload
        got = yield Collect("b", (1,))
        return got

    def released() -> bool:
        gc.collect()
        return ref[0]() is None

    def receiver() -> Generator[Any, Any, Any]:
        got = yield Collect("a", (0,))
        assert int(got[0][-1]) == BIG // 8 - 1
        del got
        seen.append((yield Work("check", released)))
        yield Scatter("b", {0: np.zeros(1, dtype=np.int64)})
        return None

    class Run:
        name = "memtest"

        def __init__(self, party: int, parties: tuple[int, ...]) -> None:
            self.party, self.parties = party, parties

        def phases(self) -> Generator[Any, Any, Any]:
            program = sender() if self.party == 0 else receiver()
            return (yield InputPhase(self.party, self.parties, program=program))

    result = simulate(Run, range(2), network="lan")
    assert result.outcome == "completed", result.abort_reason
    assert seen == [True]


def test_sharing_a_wide_array_needs_no_more_than_its_shares():
    """The dealer shares COPML's data masks ((T, M, d) = (7, 902, 3073) in Case 2) in one call;
    the limb products of a field matmul are many times the operand, so they are made one column
    slice at a time: peak memory stays within a few times the shares themselves (it was about
    150 times the secret, 23 GB at full size, before the slicing)."""
    field = PrimeField.with_bits(61)
    rng = np.random.default_rng(1)
    secret = field.random(rng, (3, 200, 1000))
    points = list(range(1, 10))
    tracemalloc.start()
    try:
        shares = share(field, secret, points, 7, rng)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    coefficients = 8 * secret.nbytes  # the secret and 7 random coefficient arrays (made twice)
    assert peak < shares.nbytes + 2 * coefficients + 64 * 2**20, peak
    assert (reconstruct(field, shares[:8], points[:8]) == secret).all()
    assert (reconstruct(field, shares[1:], points[1:]) == secret).all()
