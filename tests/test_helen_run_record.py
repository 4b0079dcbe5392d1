"""Helen's run record: per-party exponentiation counts, CPU seconds and bytes per phase.

The counts are checked against the protocol's formula for the release phase (threshold
decryption of the d coordinates of z; every party proves its shares and checks all m shares'
proofs, its own included; ``paillier.threshold``/``zk.decryption``), independently of the tally:

    full exponentiations  d (shares) + 2 (the proof's commitments) + 2 m (each verification)
    short exponentiations 2 d (the proof's batched bases) + m (2 d + 2) (each verification)

INSECURE parameters for speed (a 1280-bit test key; see ``test_helen_run``).
"""

from __future__ import annotations

import time
from collections import Counter

import numpy as np
import trio
from test_helen_run import insecure_config, wine_parts

from coopetition.protocols.admm.objective import Objective
from coopetition.protocols.helen.local_run import train_locally
from coopetition.protocols.helen.run_record import PhaseMeter, full_exponentiations, traffic
from coopetition.protocols.paillier import opcount, parallel
from coopetition.protocols.zk import group

FEATURES, PARTIES, ROWS = (1, 10), 2, 20


def _tallying(kind: str, steps: int):
    """A stand-in phase program: one Paillier and one proof exponentiation tallied per step."""
    total = 0
    for _ in range(steps):
        opcount.tally(kind)
        group.powmod(3, (1 << 300) + 1, 1009)  # a full-length exponent for the zk tally
        total += yield "request"
    return total


def test_meter_counts_only_its_own_steps_and_passes_replies_through():
    mine, other = PhaseMeter(), PhaseMeter()
    a = mine.metered(_tallying("powmod", 3), "helen-local")
    b = other.metered(_tallying("powmod_short", 2), "helen-coordinate")
    assert next(a) == "request" and next(b) == "request"
    assert a.send(1) == "request" and b.send(10) == "request"
    assert a.send(2) == "request"
    try:
        b.send(20)
    except StopIteration as stop:
        assert stop.value == 30
    try:
        a.send(3)
    except StopIteration as stop:
        assert stop.value == 6
    assert mine.counts == {"local": Counter({"paillier.powmod": 3, "zk.full": 3})}
    assert other.counts == {"coordinate": Counter({"paillier.powmod_short": 2, "zk.full": 2})}
    assert full_exponentiations(mine.counts["local"]) == 6
    assert opcount.PARTY_SINK.get() is None  # nothing leaks into the caller's context


async def test_counts_follow_a_party_into_worker_threads():
    """A step run by ``trio.to_thread`` (the engine's offloaded handlers) still counts for its
    party, both through the meter and through a sink set in the party's task (trio copies the
    task's context into the thread)."""
    meter = PhaseMeter()
    program = meter.metered(_tallying("powmod", 2), "helen-input")
    assert await trio.to_thread.run_sync(next, program) == "request"
    assert await trio.to_thread.run_sync(program.send, 1) == "request"
    assert meter.counts["input"]["paillier.powmod"] == 2
    sink = opcount.PartySink()
    token = opcount.PARTY_SINK.set(sink)
    try:
        await trio.to_thread.run_sync(opcount.tally, "fixed_base", 5)
    finally:
        opcount.PARTY_SINK.reset(token)
    assert sink.counts == {"paillier.fixed_base": 5}


def test_helper_threads_cpu_is_charged_to_the_party_that_asked():
    """``paillier.parallel`` runs exponentiation lists in a thread pool: their CPU must reach the
    meter (the step's own thread clock does not see it)."""
    n2 = (2**1279 - 1) ** 2  # any odd modulus; 40 full-length exponentiations on 2 threads

    def step():
        parallel.powmod_base_list([3 + 2 * i for i in range(40)], 2**2500 + 1, n2)
        yield "request"

    meter = PhaseMeter()
    program = meter.metered(step(), "helen-verify")
    started = time.process_time()
    next(program)
    process = time.process_time() - started
    charged = meter.cpu_seconds["verify"]
    assert charged >= 0.8 * process, (charged, process)


async def test_a_tiny_run_records_per_party_counts_against_the_formula():
    parts = wine_parts(features=FEATURES, parties=PARTIES, rows=ROWS)
    config = insecure_config(Objective("lasso", lam=0.02 * PARTIES * ROWS), iterations=1)
    run = await train_locally(parts, config, session=b"helen-test-record")
    assert run.completed, run.errors
    d, m = len(FEATURES), PARTIES
    records = [run.results[pid].record for pid in range(m)]
    for pid, record in enumerate(records):
        counts = record["phase_exponentiations"]
        assert set(counts) == {"setup", "input", "local", "coordinate", "verify", "release"}
        release = counts["release"]
        # d shares, 2 for its proof, 2 per other party's proof (a party skips its own); the
        # batching products are multi-exponentiations (zk tally), only the 2 short -e powers
        # per checked proof stay here
        assert release["paillier.powmod"] == d + 2 + 2 * (m - 1), (pid, release)
        assert release["paillier.powmod_short"] == 2 * (m - 1), (pid, release)
        assert full_exponentiations(counts["input"]) > 0
        cpu = record["phase_cpu_seconds"]
        assert set(cpu) == set(counts) and all(s >= 0 for s in cpu.values())
        sent = traffic(run.parties[pid].stats.as_dict())
        assert sent["input"]["bytes_sent"] > 0 and sent["release"]["messages_sent"] > 0
    # both parties play the same role in the local step and the release
    assert (
        records[0]["phase_exponentiations"]["release"]
        == records[1]["phase_exponentiations"]["release"]
    )
    assert np.array_equal(run.results[0].model, run.results[1].model)
