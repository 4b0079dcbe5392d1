"""Fault wrappers in isolation: what each does to frames, when, and that the schedule repeats."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
import trio

from coopetition.engine.errors import ConfigError, ConnectionClosed
from coopetition.sims.byzantine import Byzantine, perturb
from coopetition.transports.faults import (
    BurstDrop,
    Corrupt,
    Crash,
    Delay,
    Drop,
    Duplicate,
    Partition,
    Slow,
    ideal_topology,
)
from coopetition.transports.memory import MemoryNetwork
from coopetition.transports.wan import LinkSpec, Topology, open_wan


async def _blast(faults, *, seed=0, n=200, parties=3, latency=0.01, gap=0.01):
    """Party 0 sends ``n`` numbered frames to each peer, one every ``gap`` seconds."""
    topo = Topology.uniform(range(parties), LinkSpec(latency=latency))
    got: dict[int, list] = {p: [] for p in range(1, parties)}
    async with (
        open_wan(MemoryNetwork(range(parties)).transports(), topo, seed=seed, faults=faults) as (
            sim,
            ts,
        ),
        trio.open_nursery() as nursery,
    ):

        async def collect(t):
            while True:
                frame = await t.receive()
                at = round(trio.current_time() - sim.t0, 9)
                got[t.local_id].append((at, frame.peer, frame.data))

        for t in ts[1:]:
            nursery.start_soon(collect, t)
        for i in range(n):
            for peer in range(1, parties):
                await ts[0].send(peer, i.to_bytes(4, "big") * 4)
            await trio.sleep(gap)
        await trio.sleep(10)
        nursery.cancel_scope.cancel()
    return sim, got


async def test_drop_rate_and_repeatable_schedule(autojump_clock):
    sim, got = await _blast([Drop(probability=0.25)], seed=3)
    fired = sim.schedule.fired
    assert all(e["fault"] == "drop" for e in fired)
    assert 0.15 < len(fired) / 400 < 0.35
    assert sum(len(v) for v in got.values()) == 400 - len(fired)
    sim2, got2 = await _blast([Drop(probability=0.25)], seed=3)
    assert sim2.schedule.fired == fired and got2 == got
    sim3, _ = await _blast([Drop(probability=0.25)], seed=4)
    assert sim3.schedule.fired != fired


async def test_burst_drop_loses_frames_in_timed_bursts(autojump_clock):
    # one frame every 10 ms; good periods average 0.4 s, bad ones 0.1 s
    sim, got = await _blast([BurstDrop(mean_good=0.4, mean_bad=0.1)], seed=5, n=1000, parties=2)
    lost = sorted(e["seq"] for e in sim.schedule.fired)
    assert len(got[1]) == 1000 - len(lost)
    # stationary share of bad time: 0.1 / 0.5 = 20 %
    assert 0.1 < len(lost) / 1000 < 0.3
    runs = 1 + sum(1 for a, b in itertools.pairwise(lost) if b != a + 1)
    # bursts of about 0.1 s = 10 frames; Bernoulli loss at this rate would average 1.25
    assert len(lost) / runs > 5


async def test_drop_restricted_to_links_and_window(autojump_clock):
    fault = Drop(probability=1.0, src=[0], dst=[2], start=0.5, stop=1.0)
    sim, got = await _blast([fault], n=150)
    assert len(got[1]) == 150
    sent_at = {int.from_bytes(d[:4], "big") * 0.01 for _, _, d in got[2]}
    assert all(not 0.5 <= t < 1.0 - 1e-9 for t in sent_at)
    assert len(got[2]) == 150 - 50
    assert "[0.5, 1.0)" in sim.schedule.plan[0]


async def test_partition_cuts_both_ways_and_heals(autojump_clock):
    part = Partition(side_a=[0], side_b=[2], start=0.2, stop=0.6)
    sim, got = await _blast([part], n=100)
    lost = [e for e in sim.schedule.fired if e["fault"] == "partition"]
    assert len(lost) == 40 and all(e["src"] == 0 and e["dst"] == 2 for e in lost)
    assert len(got[1]) == 100 and len(got[2]) == 60
    with pytest.raises(ConfigError):
        Partition(side_a=[0, 1], side_b=[1, 2])


async def test_duplicate_and_corrupt_and_delay(autojump_clock):
    _, got = await _blast([Duplicate(probability=1.0, gap=0.0)], n=10, parties=2)
    assert len(got[1]) == 20
    _, got = await _blast([Corrupt(probability=1.0)], n=50, parties=2)
    for k, (_, _, data) in enumerate(got[1]):  # no jitter: frames arrive in order
        original = k.to_bytes(4, "big") * 4
        flips = sum(bin(a ^ b).count("1") for a, b in zip(data, original, strict=True))
        assert flips == 1
    _, got = await _blast([Delay(probability=1.0, delay=2.0)], n=5, parties=2, gap=1.0)
    arrival = [t for t, _, _ in got[1]]
    assert arrival == pytest.approx([2.0 + 0.01 + i for i in range(5)])


async def test_slow_party_delays_only_its_frames(autojump_clock):
    topo = Topology.uniform(range(3), LinkSpec(latency=0.01))
    net = MemoryNetwork(range(3))
    async with open_wan(net.transports(), topo, faults=[Slow(party=1, delay=0.5)]) as (sim, ts):
        await ts[0].send(2, b"fast")
        await ts[1].send(2, b"slow")
        first = await ts[2].receive()
        t_first = trio.current_time() - sim.t0
        second = await ts[2].receive()
        t_second = trio.current_time() - sim.t0
    assert (first.data, second.data) == (b"fast", b"slow")
    assert t_first == pytest.approx(0.01) and t_second == pytest.approx(0.51)


async def test_closed_destination_is_reported_to_senders(autojump_clock):
    net = MemoryNetwork(range(2))
    async with open_wan(net.transports(), ideal_topology([0, 1])) as (_, (a, b)):
        await b.aclose()
        await a.send(1, b"into the void")
        await trio.sleep(0.01)
        with pytest.raises(ConnectionClosed) as info:
            await a.send(1, b"again")
        assert info.value.peer == 1


def test_schedule_format_and_save(tmp_path):
    from coopetition.transports.schedule import FaultSchedule

    schedule = FaultSchedule(seed=9, plan=["drop p=0.5"])
    for i in range(30):
        schedule.add(i * 0.1, "drop", src=0, dst=1, seq=i)
    text = schedule.format(limit=5)
    assert "seed 9" in text and "t=0.400000s drop" in text and "25 more" in text
    schedule.save(tmp_path / "s.json")
    saved = json.loads((tmp_path / "s.json").read_text())
    assert saved["summary"] == {"drop": 30} and saved["seed"] == 9 and len(saved["fired"]) == 30


def test_party_fault_validation():
    with pytest.raises(ConfigError):
        Crash(0)
    with pytest.raises(ConfigError):
        Crash(0, phase="setup", at=1.0)
    with pytest.raises(ConfigError):
        Crash(0, at=1.0, mode="explode")
    assert Crash(3, random_within=10.0).time(1) == Crash(3, random_within=10.0).time(1)
    assert Crash(3, random_within=10.0).time(1) != Crash(3, random_within=10.0).time(2)
    with pytest.raises(ConfigError):
        Byzantine(0, phase="x", action="lie")
    with pytest.raises(ConfigError):
        Drop(probability=1.5)


def test_perturb_always_changes_the_payload():
    samples = [np.arange(3.0), 5, b"ab", "s", [1, 2], {"b": 1, "a": np.zeros(2)}, True, b""]
    for value in samples:
        changed = perturb(value)
        assert type(changed) is type(value)
        if isinstance(value, np.ndarray):
            assert not np.array_equal(changed, value)
        elif isinstance(value, dict):
            assert not np.array_equal(changed["a"], value["a"])
        else:
            assert changed != value


async def test_a_fault_object_reused_across_runs_depends_only_on_each_runs_seed(autojump_clock):
    shared = Drop(probability=0.3)
    first, _ = await _blast([shared], seed=8, n=100)
    _, _ = await _blast([shared], seed=9, n=100)
    again, _ = await _blast([shared], seed=8, n=100)
    fresh, _ = await _blast([Drop(probability=0.3)], seed=8, n=100)
    assert first.schedule.fired == again.schedule.fired == fresh.schedule.fired


def test_perturb_changes_floats_tuples_none_and_nan():
    """Regression: floats, numpy scalars, tuples, None and NaN arrays came back unchanged while
    a Byzantine event was still logged. Each must now really change (NaN compared as equal to
    NaN), keep its type, and a type perturb cannot change must raise instead."""
    samples = [
        1.5,
        -0.25,
        0.0,
        np.float64(2.0),
        np.float32(1e30),
        float("nan"),
        float("inf"),
        1e300,
        (1, 2),
        (0.5,),
        None,
        np.array([np.nan, 1.0]),
        np.array([np.inf]),
        np.array([1e20]),
        {"a": 1.5},
        [0.5, 1],
        np.int64(7),
    ]
    for value in samples:
        changed = perturb(value)
        if value is not None:
            assert type(changed) is type(value), value
        if isinstance(value, np.ndarray):
            assert changed.shape == value.shape
            assert not np.array_equal(changed, value, equal_nan=True), value
        elif isinstance(value, dict):
            assert changed["a"] != value["a"]
        elif isinstance(value, float) and value != value:
            assert changed == changed  # NaN became a number
        else:
            assert changed != value, value
    with pytest.raises(ConfigError, match="cannot change"):
        perturb(object())
