"""Heavy machine work off the event loop: heartbeats keep flowing, deadlines and aborts still cut.

A program machine whose class sets ``offload = True`` has each step run by the party's offload
backend: a worker thread on the real clock, inline and charged to virtual time under a
``MockClock``. The controls run the same step without offloading and show the failure the
mechanism prevents: a step that holds the loop longer than the heartbeat timeout gets its
party declared dead.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import gmpy2
import pytest
import trio

from coopetition.engine.compute import InlineCompute, ThreadCompute
from coopetition.engine.errors import (
    CheatingDetected,
    DeadlineExceeded,
    PeerUnreachable,
    ProtocolAborted,
)
from coopetition.engine.local import LocalRun, local_configs, run_parties
from coopetition.engine.party import Deadlines
from coopetition.engine.program import Exchange, Program, ProgramRun, program_machine
from coopetition.transports.memory import MemoryNetwork

Offloaded = program_machine("burn", offload=True)
Inline = program_machine("burn", offload=False)
IDS = (0, 1, 2)
MODULUS = gmpy2.next_prime(gmpy2.mpz(2) ** 1279) * gmpy2.next_prime(gmpy2.mpz(3) ** 800)


def burn_for(seconds: float, stop: threading.Event | None = None) -> int:
    """Big-number exponentiations for ``seconds`` of wall time (or until ``stop``)."""
    end, x, count = time.monotonic() + seconds, gmpy2.mpz(7), 0
    while time.monotonic() < end and not (stop is not None and stop.is_set()):
        x = gmpy2.powmod(x, MODULUS - 3, MODULUS)
        count += 1
    return count


def burning_program(step: Callable[[], Any], at: int = 0) -> Program[dict[str, Any]]:
    """Two plain exchanges; does ``step`` before exchange number ``at`` (0 or 1)."""
    flag, total = None, 0
    for index, value in enumerate((1, 2)):
        if index == at:
            flag = step()
        replies = yield Exchange(payload={"v": value})
        total += sum(r["v"] for r in replies.values())
    return {"total": total, "first": flag}


async def _run(
    first_step: Callable[[int], Callable[[], Any]],
    machine: type,
    deadlines: Deadlines,
    at: int = 0,
    **options: Any,
) -> LocalRun:
    protocols = [
        ProgramRun(
            p, IDS, lambda p=p: burning_program(first_step(p), at), name="burn", machine=machine
        )
        for p in IDS
    ]
    return await run_parties(
        local_configs(list(IDS), deadlines=deadlines),
        MemoryNetwork(list(IDS)).transports(),
        protocols,
        party_options=lambda pid: options,
    )


VIRTUAL = Deadlines(phase=600.0, heartbeat_interval=1.0, heartbeat_timeout=5.0)


async def test_a_charged_step_longer_than_the_heartbeat_timeout_is_not_a_death(
    autojump_clock,
) -> None:
    """30 virtual seconds of proof work (6x the heartbeat timeout) at every party: completes."""
    charged = InlineCompute(
        charge_virtual_time=True,
        cost_model=lambda label, args: 30.0 if label == "burn:Started" else 0.0,
    )
    start = trio.current_time()
    run = await _run(lambda p: lambda: burn_for(0.01), Offloaded, VIRTUAL, offload=charged)
    assert run.completed, run.errors
    assert {r["total"] for r in run.results.values()} == {9}  # (1+1+1) + (2+2+2)
    assert trio.current_time() - start >= 30.0
    for party in run.parties.values():
        assert party.stats.phases["burn"].compute_seconds == pytest.approx(30.0)


async def test_control_a_step_holding_the_loop_starves_heartbeats(autojump_clock) -> None:
    """Party 0 holds the loop for 30 s in its second step (the clock moves, nobody runs, so
    nobody is heard): the failure detectors fire."""

    def step(p: int) -> Callable[[], Any]:
        return (lambda: autojump_clock.jump(30.0)) if p == 0 else (lambda: None)

    run = await _run(step, Inline, VIRTUAL, at=1)
    assert not run.completed
    assert any(isinstance(e, PeerUnreachable) for e in run.errors.values()), run.errors


async def test_a_charged_step_past_the_phase_deadline_aborts(autojump_clock) -> None:
    charged = InlineCompute(charge_virtual_time=True, cost_model=lambda label, args: 100.0)
    deadlines = Deadlines(phase=20.0, heartbeat_interval=1.0, heartbeat_timeout=5.0)
    start = trio.current_time()
    run = await _run(lambda p: lambda: None, Offloaded, deadlines, offload=charged)
    assert set(run.errors) == set(IDS)
    assert all(isinstance(e, DeadlineExceeded) for e in run.errors.values()), run.errors
    assert trio.current_time() - start < 100.0


REAL = Deadlines(phase=60.0, heartbeat_interval=0.1, heartbeat_timeout=2.0, finish=10.0)


async def test_worker_threads_keep_heartbeats_on_the_real_clock() -> None:
    """Every party computes for 4 s (2x the heartbeat timeout) in a worker thread, gmpy2
    releasing the GIL there; heartbeats keep flowing and the run completes."""

    def step() -> bool:
        burn_for(4.0)
        return bool(gmpy2.get_context().allow_release_gil) and threading.current_thread() is not (
            threading.main_thread()
        )

    run = await _run(lambda p: step, Offloaded, REAL)
    assert run.completed, run.errors
    assert all(r["first"] is True for r in run.results.values())
    assert gmpy2.get_context().allow_release_gil is False  # the loop's own context is untouched
    for party in run.parties.values():
        assert party.stats.phases["burn"].compute_seconds >= 4.0


async def test_control_the_same_work_on_the_loop_starves_heartbeats() -> None:
    def step(p: int) -> Callable[[], Any]:
        return (lambda: burn_for(4.0)) if p == 0 else (lambda: None)

    run = await _run(step, Inline, REAL, at=1)
    assert not run.completed
    assert any(isinstance(e, PeerUnreachable) for e in run.errors.values()), run.errors


async def test_deadline_and_abort_cut_a_step_running_in_a_thread() -> None:
    """Party 0's step would run 30 s; the others' gather deadline (1 s) names it, their abort
    reaches it and its run ends at once, not when the thread would have finished."""
    stop = threading.Event()
    deadlines = Deadlines(phase=1.0, heartbeat_interval=0.1, heartbeat_timeout=5.0, abort_send=0.5)
    started = time.monotonic()
    try:
        run = await _run(
            lambda p: (lambda: burn_for(30.0, stop)) if p == 0 else (lambda: None),
            Offloaded,
            deadlines,
        )
    finally:
        stop.set()
    assert time.monotonic() - started < 10.0
    assert set(run.errors) == set(IDS)
    for honest in (1, 2):
        error = run.errors[honest]
        assert isinstance(error, DeadlineExceeded) and error.culprit == 0, error
    assert isinstance(run.errors[0], ProtocolAborted)


async def test_thread_compute_runs_inline_and_charges_under_a_virtual_clock(
    autojump_clock,
) -> None:
    start = trio.current_time()
    ident, cost = await ThreadCompute().run_here(
        "x", lambda: (burn_for(0.05), threading.get_ident())[1]
    )
    assert ident == threading.get_ident()  # a thread's progress is invisible to a virtual clock
    assert cost > 0 and trio.current_time() - start == pytest.approx(cost)


async def test_thread_compute_uses_a_worker_thread_on_the_real_clock() -> None:
    ident, cost = await ThreadCompute().run("x", threading.get_ident)
    assert ident != threading.get_ident() and cost >= 0


async def test_a_check_running_when_a_peer_reports_cheating_names_the_cheater_itself() -> None:
    """Party 0 rejects party 1 at once; party 2 is still checking (1 s in its thread) when that
    unproven report arrives. The report takes effect when party 2's step ends, and party 2's
    own finding, which names party 1, replaces the hearsay (as when steps held the loop)."""

    def step(p: int) -> Callable[[], Any]:
        def check() -> None:
            if p == 2:
                burn_for(1.0)
            if p != 1:
                raise CheatingDetected("party 1's proof does not verify", culprit=1)

        return check

    run = await _run(step, Offloaded, REAL)
    for honest in (0, 2):
        error = run.errors[honest]
        assert isinstance(error, CheatingDetected), error
        assert error.culprit == 1 and error.reported_by is None, error
