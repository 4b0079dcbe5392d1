"""``engine.machine.Finding``: a failed check whose verdict a phase states later is held by the
engine, so an earlier abort by a peer (hearsay to this party) does not replace it."""

from __future__ import annotations

from coopetition.engine.errors import CheatingDetected
from coopetition.engine.local import local_configs, run_parties
from coopetition.engine.program import Exchange, Finding, ProgramRun, program_machine
from coopetition.transports.memory import MemoryNetwork

Machine = program_machine("finding-test")


def _holder():
    """Finds party 2 cheating, holds the finding, goes on to an exchange (never completed)."""
    yield Finding(CheatingDetected("party 2's proof failed here", culprit=2))
    yield Exchange(tag="next", payload=1)
    yield Exchange(tag="later", payload=1)
    raise AssertionError("not reached: the run ends before")


def _bystander():
    yield Exchange(tag="next", payload=1)
    yield Exchange(tag="later", payload=1)
    return "done"


def _accuser():
    """Party 2 aborts at once, falsely accusing party 1."""
    raise CheatingDetected("party 1 cheated (a lie)", culprit=1)
    yield Exchange(tag="next", payload=1)  # pragma: no cover - makes this a generator


async def _run(programs):
    ids = sorted(programs)
    network = MemoryNetwork(ids)
    runs = [ProgramRun(p, tuple(ids), programs[p], machine=Machine) for p in ids]
    return await run_parties(local_configs(ids), network.transports(), runs)


async def test_a_held_finding_wins_over_a_peers_report(autojump_clock):
    run = await _run({0: _holder, 1: _bystander, 2: _accuser})
    assert not run.completed
    held = run.errors[0]
    assert isinstance(held, CheatingDetected) and held.culprit == 2, run.errors
    assert held.reported_by is None  # its own finding, not the report
    # party 1 holds no finding: the accuser's word stays hearsay there (nobody named)
    assert run.errors[1].culprit is None


async def test_without_a_finding_the_report_stays_hearsay(autojump_clock):
    run = await _run({0: _bystander, 1: _bystander, 2: _accuser})
    assert all(run.errors[p].culprit is None for p in (0, 1)), run.errors
