"""Crashes and partitions with real TCP: party processes killed with SIGKILL or frozen with
SIGSTOP, and in-process parties on loopback sockets behind a partition wrapper.

Survivors must end with a typed abort naming the lost party (or, for a short freeze or a healed
partition, complete with the model every party agrees on). The subprocess timeouts below only
guard against a hang; nothing asserts on wall time.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import trio
from nacl.signing import SigningKey

from coopetition.cmd_demo import _free_ports, write_tcp_session
from coopetition.engine.errors import ProtocolAborted
from coopetition.engine.identity import Identity
from coopetition.engine.party import Deadlines, Party, PartyConfig
from coopetition.protocols.admm import AdmmConfig, AdmmRun, Objective
from coopetition.sims.workloads import synthetic_admm
from coopetition.transports.faults import Partition, ideal_topology
from coopetition.transports.reliable import ReliableTransport
from coopetition.transports.tcp import PeerAddress, TcpTransport
from coopetition.transports.wan import WanSimulator

pytestmark = pytest.mark.processes

HANG_GUARD = 120  # seconds; only to fail instead of hanging forever


def _session(tmp_path: Path, iterations: int, parties: int = 3) -> list[Path]:
    work = synthetic_admm(parties, rows_per_party=30, features=5, iterations=iterations, seed=2)
    parts = [work.parts[p] for p in range(parties)]
    config = AdmmConfig(Objective("ridge", lam=0.5), rho=1.0, iterations=iterations)
    paths = write_tcp_session(tmp_path, parts, config)
    for path in paths:
        with path.open("a") as handle:
            handle.write(
                "\n[deadlines]\nphase = 30\nheartbeat_interval = 0.25\n"
                "heartbeat_timeout = 3\nfinish = 10\nabort_send = 2\n"
            )
    return paths


def _start(paths: list[Path], tmp_path: Path) -> list[subprocess.Popen]:
    procs = []
    for pid, path in enumerate(paths):
        cmd = [
            sys.executable,
            "-m",
            "coopetition",
            "party",
            "--config",
            str(path),
            "--output",
            str(tmp_path / f"result{pid}.json"),
        ]
        # stderr to a file, not a pipe: an unread pipe would fill and freeze the party
        with (tmp_path / f"party{pid}.err").open("w") as err:
            procs.append(subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err))
    return procs


def _wait_until_training(tmp_path: Path, proc: subprocess.Popen, pid: int = 0) -> None:
    """Wait until the party has reported a finished round (it is past connecting and setup)."""
    log = tmp_path / f"party{pid}.err"
    deadline = time.monotonic() + HANG_GUARD
    while "round" not in log.read_text():
        assert proc.poll() is None, f"party exited before training: {log.read_text()}"
        assert time.monotonic() < deadline, "party never started training"
        time.sleep(0.05)


def _finish(procs: list[subprocess.Popen], tmp_path: Path, alive: list[int]) -> dict[int, dict]:
    results = {}
    for pid in alive:
        try:
            procs[pid].wait(timeout=HANG_GUARD)
        except subprocess.TimeoutExpired:
            for proc in procs:
                proc.kill()
            raise AssertionError(f"party {pid} hung") from None
        results[pid] = json.loads((tmp_path / f"result{pid}.json").read_text())
        results[pid]["exit_code"] = procs[pid].returncode
    return results


def test_sigkill_of_a_party_process_names_it(tmp_path):
    paths = _session(tmp_path, iterations=100_000)
    procs = _start(paths, tmp_path)
    try:
        _wait_until_training(tmp_path, procs[0])
        os.kill(procs[2].pid, signal.SIGKILL)
        procs[2].wait(timeout=HANG_GUARD)
        results = _finish(procs, tmp_path, [0, 1])
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    for pid in (0, 1):
        r = results[pid]
        assert r["exit_code"] == 3 and r["outcome"] == "aborted", r
        assert r["abort_code"] in ("peer_crashed", "peer_unreachable"), r
        assert r["culprit"] == 2, r


def test_sigstop_beyond_heartbeat_timeout_names_the_frozen_party(tmp_path):
    paths = _session(tmp_path, iterations=100_000)
    procs = _start(paths, tmp_path)
    try:
        _wait_until_training(tmp_path, procs[0])
        os.kill(procs[1].pid, signal.SIGSTOP)  # alive, sockets open, silent: a partition of one
        results = _finish(procs, tmp_path, [0, 2])
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    for pid in (0, 2):
        r = results[pid]
        assert r["outcome"] == "aborted" and r["abort_code"] == "peer_unreachable", r
        assert r["culprit"] == 1, r


def test_short_sigstop_is_ridden_out(tmp_path):
    paths = _session(tmp_path, iterations=150)
    procs = _start(paths, tmp_path)
    try:
        _wait_until_training(tmp_path, procs[0])
        os.kill(procs[1].pid, signal.SIGSTOP)
        time.sleep(1.0)  # well under the 3 s heartbeat timeout
        os.kill(procs[1].pid, signal.SIGCONT)
        results = _finish(procs, tmp_path, [0, 1, 2])
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    assert all(r["outcome"] == "completed" for r in results.values()), results
    models = [np.array(results[p]["model"]) for p in range(3)]
    assert all(np.array_equal(models[0], m) for m in models[1:])


async def _tcp_parties_with_partition(
    partition: Partition, deadlines: Deadlines, iterations: int
) -> tuple[dict[int, object], int]:
    """Three in-process parties on loopback TCP; the partition wrapper sits between the reliable
    layer and the sockets, so a cut link loses frames exactly as a dead route would."""
    ids = [0, 1, 2]
    keys = {p: SigningKey.generate() for p in ids}
    ports = dict(zip(ids, _free_ports(3), strict=True))
    roster = {p: keys[p].verify_key for p in ids}
    session = os.urandom(16)
    work = synthetic_admm(3, rows_per_party=30, features=5, iterations=iterations, seed=4)
    outcomes: dict[int, object] = {}
    async with WanSimulator(ideal_topology(ids), seed=1, faults=[partition]) as sim:

        async def party(pid: int) -> None:
            tcp = TcpTransport(
                pid,
                keys[pid],
                ("127.0.0.1", ports[pid]),
                {q: PeerAddress("127.0.0.1", ports[q], roster[q]) for q in ids if q != pid},
                connect_timeout=20,
            )
            async with tcp:
                transport = ReliableTransport(sim.wrap(tcp), rto_initial=0.2, rto_max=0.5)
                config = PartyConfig(Identity(pid, keys[pid]), roster, session, deadlines)
                X, y = work.parts[pid]
                try:
                    outcomes[pid] = await Party(config, transport).run(
                        AdmmRun(work.config, X, y, party=pid, parties=tuple(ids))
                    )
                except ProtocolAborted as exc:
                    outcomes[pid] = exc
                await transport.drain(1.0)

        with trio.fail_after(HANG_GUARD):
            async with trio.open_nursery() as nursery:
                for pid in ids:
                    nursery.start_soon(party, pid)
    return outcomes, len(sim.schedule.fired)


async def test_tcp_partition_healed_completes():
    deadlines = Deadlines(
        phase=30, heartbeat_interval=0.2, heartbeat_timeout=4, finish=10, abort_send=2
    )
    cut = Partition(side_a=[2], side_b=[0, 1], start=0.3, stop=1.3)
    outcomes, cut_frames = await _tcp_parties_with_partition(cut, deadlines, iterations=250)
    assert cut_frames > 0  # the partition really cut frames mid-run
    models = [getattr(outcomes[p], "model", None) for p in (0, 1, 2)]
    assert all(m is not None for m in models), outcomes
    assert all(np.array_equal(models[0], m) for m in models[1:])


async def test_tcp_partition_permanent_aborts_naming_the_other_side():
    deadlines = Deadlines(
        phase=30, heartbeat_interval=0.2, heartbeat_timeout=2, finish=5, abort_send=1
    )
    cut = Partition(side_a=[2], side_b=[0, 1], start=0.3)
    outcomes, _ = await _tcp_parties_with_partition(cut, deadlines, iterations=100_000)
    for pid, allowed in ((0, {2}), (1, {2}), (2, {0, 1})):
        error = outcomes[pid]
        assert isinstance(error, ProtocolAborted) and error.code == "peer_unreachable", error
        assert error.culprit in allowed
