"""Phase budgets in the engine: a phase's limit follows the budget its machine declares.

Virtual time (``MockClock``): honest proof work is charged to the clock by ``InlineCompute``
(as a simulation charges Helen's offloaded steps), so "2 000 s of compute" costs no real time.
Each test that shows a run completing under a declared budget has a control, the same run
without the budget, that ends in ``DeadlineExceeded`` at the engine's default limit: the
budget is what makes the difference, and the test can fail.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

import pytest
import trio

from coopetition.engine.compute import InlineCompute
from coopetition.engine.config import MAX_DECLARED_PHASE_SECONDS, Deadlines
from coopetition.engine.errors import ConfigError, DeadlineExceeded
from coopetition.engine.local import LocalRun, local_configs, run_parties
from coopetition.engine.machine import PhaseMachine
from coopetition.engine.program import Exchange, Program, program_machine
from coopetition.transports.memory import MemoryNetwork

IDS = (0, 1, 2)
STALLER = 2
Proving = program_machine("prove", offload=True)
#: the engine's defaults, heartbeats every 20 virtual seconds (the work below outlasts the
#: failure detector's 100 s many times: the steps run off the loop, so nobody is declared dead)
FAST = {"heartbeat_interval": 20.0, "heartbeat_timeout": 100.0}
VIRTUAL = Deadlines(**FAST)
#: seconds of honest compute each party's first step is charged: over the default 600 s
HONEST_WORK = 2000.0


def exchanging(party: int) -> Program[int]:
    """Two broadcast exchanges; the proof work is charged by the party's ``InlineCompute``."""
    replies = yield Exchange(payload={"v": party})
    total = sum(r["v"] for r in replies.values())
    replies = yield Exchange(payload={"v": 1})
    return total + sum(r["v"] for r in replies.values())


@dataclass
class BudgetedRun:
    """A one-phase protocol whose machine declares ``budget`` (``None``: the default)."""

    party: int
    budget: float | None
    name: str = "budgeted"

    def phases(self) -> Generator[PhaseMachine, Any, Any]:
        program = exchanging(self.party)
        return (yield Proving(self.party, IDS, program=program, budget=self.budget))


def charged(first: float, later: float = 0.0) -> InlineCompute:
    """A party's first step (its proof) costs ``first`` seconds of virtual time, later ones
    ``later``: a staller's endless ``later`` keeps it alive and heartbeating (the step runs
    off the loop) while it never sends its second message."""
    return InlineCompute(
        charge_virtual_time=True,
        cost_model=lambda label, args: first if label == "prove:Started" else later,
    )


async def _run(
    budget: float | None,
    deadlines: Deadlines = VIRTUAL,
    *,
    work: float = HONEST_WORK,
    stall: bool = False,
) -> LocalRun:
    protocols = [BudgetedRun(p, budget) for p in IDS]

    def options(pid: int) -> dict[str, Any]:
        endless = 1e13 if stall and pid == STALLER else 0.0
        return {"offload": charged(work, endless)}

    return await run_parties(
        local_configs(list(IDS), deadlines=deadlines),
        MemoryNetwork(list(IDS)).transports(),
        protocols,
        party_options=options,
    )


# -- honest work longer than the default deadline -----------------------------------------------


async def test_honest_compute_past_600s_completes_within_its_declared_budget(autojump_clock):
    start = trio.current_time()
    run = await _run(budget=3 * HONEST_WORK)
    assert run.completed, run.errors
    assert {r for r in run.results.values()} == {3 + 3}  # (0+1+2) + (1+1+1)
    assert trio.current_time() - start >= HONEST_WORK  # the work really took that long
    for party in run.parties.values():
        stats = party.stats.phases["prove"]
        assert stats.compute_seconds == pytest.approx(HONEST_WORK)
        assert stats.deadline_seconds == 3 * HONEST_WORK  # the record says which limit it had


async def test_control_the_same_work_without_a_budget_overruns_the_default(autojump_clock):
    start = trio.current_time()
    run = await _run(budget=None)
    assert not run.completed
    assert all(isinstance(e, DeadlineExceeded) for e in run.errors.values()), run.errors
    assert trio.current_time() - start < HONEST_WORK
    assert "within 600s (default limit)" in str(run.errors[0])


async def test_budget_scale_multiplies_the_declared_budget(autojump_clock):
    """A declared 1 000 s is too short for 2 000 s of work; scaled by 3 it is enough."""
    short = await _run(budget=1000.0)
    assert not short.completed
    assert "within 1000s (declared limit)" in str(short.errors[0])
    scaled = await _run(budget=1000.0, deadlines=Deadlines(**FAST, budget_scale=3.0))
    assert scaled.completed, scaled.errors
    assert scaled.parties[0].stats.phases["prove"].deadline_seconds == 3000.0


# -- a staller: alive, heartbeating, never sending its phase message ---------------------------


def _sparse(limit: float, **options: Any) -> Deadlines:
    """Heartbeats every limit/50 s: a week of virtual time in a few thousand signed frames."""
    return Deadlines(heartbeat_interval=limit / 50, heartbeat_timeout=limit / 5, **options)


@pytest.mark.parametrize(
    ("budget", "limit", "options"),
    [
        (20_000.0, 20_000.0, {}),  # the declared budget
        (20_000.0, 4000.0, {"phases": {"prove": 4000.0}}),  # a configured entry wins
        (1e12, MAX_DECLARED_PHASE_SECONDS, {}),  # an absurd budget is capped at a week
    ],
    ids=["declared", "configured", "capped"],
)
async def test_a_staller_is_named_within_the_phase_limit(autojump_clock, budget, limit, options):
    """The honest parties end at ``limit`` (+ abort_send at most) after the phase began, with
    ``DeadlineExceeded`` naming the one party whose message is missing."""
    deadlines = _sparse(limit, **options)
    start = trio.current_time()
    run = await _run(budget=budget, deadlines=deadlines, work=10.0, stall=True)
    assert not run.completed
    for honest in IDS:
        if honest == STALLER:
            continue
        error = run.errors[honest]
        assert isinstance(error, DeadlineExceeded), run.errors
        assert error.culprit == STALLER, error
        assert error.reported_by is None  # its own finding, not hearsay
    ended = max(p.stats.phases["prove"].deadline_seconds for p in run.parties.values())
    assert ended == limit
    assert limit <= trio.current_time() - start <= limit + deadlines.abort_send + deadlines.finish


# -- Deadlines.phase_limit and its errors -----------------------------------------------------


def test_phase_limit_precedence_floor_scale_and_cap():
    d = Deadlines(phase=600.0, budget_scale=2.0, phases={"helen-input": 50.0})
    assert d.phase_limit("helen-input", 1e6) == (50.0, "configured")  # the user's word wins
    assert d.phase_limit("helen-verify", 1000.0) == (2000.0, "declared")
    assert d.phase_limit("helen-verify", 10.0) == (600.0, "declared")  # never below the floor
    assert d.phase_limit("helen-verify", None) == (600.0, "default")
    assert d.phase_limit("x", 1e9) == (MAX_DECLARED_PHASE_SECONDS, "declared")
    assert Deadlines().phase_limit("anything") == (600.0, "default")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"phases": {"helen-input": -5}}, "deadline phases.helen-input must be a positive"),
        ({"phases": {"helen-input": float("inf")}}, "positive, finite number of seconds"),
        ({"phases": {"": 5.0}}, "'' is not a phase name"),
        ({"phases": {"helen-input": True}}, "must be a positive number of seconds, got True"),
        ({"phases": [("helen-input", 5.0)]}, "must be a table of phase name = seconds"),
        ({"budget_scale": 0}, "deadline budget_scale must be a positive, finite factor"),
        ({"budget_scale": float("nan")}, "deadline budget_scale must be a positive, finite"),
        ({"phase": "600"}, "deadline phase must be a positive number of seconds, got '600'"),
    ],
)
def test_bad_deadlines_are_one_line_config_errors(options, message):
    with pytest.raises(ConfigError) as caught:
        Deadlines(**options)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_declared_budget_that_is_not_a_number_of_seconds_is_refused():
    with pytest.raises(ConfigError, match="budget declared for phase p must be a positive"):
        Deadlines().phase_limit("p", float("nan"))
