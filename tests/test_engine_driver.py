"""The driver: concurrent waits fed back in action order, strict endings, derived tags, schemas,
and protocol metadata. Whole parties over memory transports on trio's virtual clock."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pytest
import trio

from coopetition.engine.errors import ConfigError, LocalFailure, MalformedMessage
from coopetition.engine.local import local_configs, run_parties
from coopetition.engine.machine import (
    Action,
    Broadcast,
    Compute,
    Computed,
    Done,
    Gather,
    PhaseMachine,
    Received,
    Started,
)
from coopetition.engine.program import Exchange, Program, ProgramMachine, ProgramRun
from coopetition.engine.schema import Array, Bytes, Int, ListOf, Pair, Record, schema_for
from coopetition.protocols.admm.info import ADMM_INFO
from coopetition.transports.memory import MemoryNetwork


class SleepCompute:
    """Computations that take ``seconds[label]`` of (virtual) time."""

    def __init__(self, seconds: dict[str, float]) -> None:
        self.seconds = seconds

    async def run(self, label: str, fn: Any, *args: Any) -> tuple[Any, float]:
        await trio.sleep(self.seconds[label])
        return fn(*args), self.seconds[label]


class TwoState(enum.Enum):
    START = "start"
    WAITING = "waiting"
    DONE = "done"
    ABORTED = "aborted"


@dataclass
class TwoComputes(PhaseMachine):
    """Two computations at once; records the order their results arrive in."""

    phase: ClassVar[str] = "two"
    State: ClassVar[type[enum.Enum]] = TwoState
    TRANSITIONS: ClassVar[dict[tuple[Any, type], Any]] = {
        (TwoState.START, Started): (TwoState.WAITING, "_start"),
        (TwoState.WAITING, Computed): ((TwoState.WAITING, TwoState.DONE), "_one"),
    }
    after_done: bool = False
    seen: tuple[str, ...] = ()

    def _start(self, _: Started) -> list[Action]:
        return [
            Compute(label="slow", fn=lambda: "s"),
            Compute(label="fast", fn=lambda: "f"),
        ]

    def _one(self, event: Computed) -> list[Action]:
        self.seen = (*self.seen, event.label)
        if len(self.seen) < 2:
            self.move(TwoState.WAITING)
            return []
        tail: list[Action] = [Broadcast(tag="late", payload=1)] if self.after_done else []
        return [Done(result=(self.seen, trio.current_time())), *tail]


@dataclass
class TwoRun:
    party: int
    parties: tuple[int, ...]
    after_done: bool = False
    name: str = "two"

    def phases(self) -> Any:
        return (yield TwoComputes(self.party, self.parties, after_done=self.after_done))


async def _run(protocols: list[Any], **options: Any) -> Any:
    ids = [p.party for p in protocols]
    return await run_parties(
        local_configs(ids),
        MemoryNetwork(ids).transports(),
        protocols,
        party_options=lambda pid: options,
    )


async def test_waits_of_a_batch_overlap_and_report_in_action_order(autojump_clock) -> None:
    start = trio.current_time()
    run = await _run(
        [TwoRun(0, (0, 1)), TwoRun(1, (0, 1))],
        compute=SleepCompute({"slow": 3.0, "fast": 1.0}),
    )
    assert not run.errors, run.errors
    seen, finished = run.results[0]
    assert seen == ("slow", "fast")  # action order, although "fast" finished first
    assert finished - start == pytest.approx(3.0)  # concurrent: 3 s, not 4 s


async def test_an_action_after_done_is_a_local_error(autojump_clock) -> None:
    run = await _run(
        [TwoRun(0, (0, 1), after_done=True), TwoRun(1, (0, 1), after_done=True)],
        compute=SleepCompute({"slow": 0.1, "fast": 0.1}),
    )
    error = run.errors[0]
    assert isinstance(error, LocalFailure) and "after" in str(error), error


def _program(values: list[int]) -> Program[list[int]]:
    totals = []
    for value in values:
        replies = yield Exchange(payload={"v": value}, label="sum")
        totals.append(sum(r["v"] for r in replies.values()))
    return totals


async def test_program_tags_come_from_the_program_position(autojump_clock) -> None:
    machine = ProgramMachine(0, (0, 1), program=_program([1, 2]))
    first = machine.handle(Started())
    assert [a.tag for a in first if isinstance(a, Broadcast | Gather)] == ["sum/1", "sum/1"]
    second = machine.handle(Received(tag="sum/1", messages={0: {"v": 1}, 1: {"v": 5}}))
    assert second[0].tag == "sum/2"
    ids = [0, 1, 2]
    run = await _run([ProgramRun(p, tuple(ids), lambda p=p: _program([p, 10 * p])) for p in ids])
    assert run.results == {p: [3, 30] for p in ids}
    digests = {party.transcript_digest for party in run.parties.values()}
    assert len(digests) == 1  # every party consumed the same messages in the same order


def _bad_program(party: int) -> Program[int]:
    payload = {"v": 1} if party != 2 else {"v": b"not an int"}
    replies = yield Exchange(payload=payload, label="n")
    return sum(r["v"] for r in replies.values())


@dataclass
class CheckedProgram(ProgramMachine):
    phase: ClassVar[str] = "checked"
    SCHEMAS: ClassVar[dict[str, Any]] = {"n": Record({"v": Int()})}


@dataclass
class CheckedRun:
    party: int
    parties: tuple[int, ...]
    name: str = "checked"

    def phases(self) -> Any:
        machine = CheckedProgram(self.party, self.parties, program=_bad_program(self.party))
        return (yield machine)


async def test_payload_of_the_wrong_shape_names_its_sender(autojump_clock) -> None:
    run = await _run([CheckedRun(p, (0, 1, 2)) for p in (0, 1, 2)])
    for honest in (0, 1):
        error = run.errors[honest]
        assert isinstance(error, MalformedMessage) and error.culprit == 2, error
        assert "'v'" in str(error)


def test_schemas() -> None:
    digests = ListOf(Pair(Int(), Bytes(size=2)))
    assert digests.problem([[1, b"ab"]]) is None
    assert "item 0" in (digests.problem([[1, b"abc"]]) or "")
    assert Array("float64", ndim=1).problem(np.zeros(3)) is None
    assert Array("float64", ndim=1).problem(np.zeros((1, 3))) is not None
    assert Record({"a": Int()}).problem({"a": 1, "b": 2}) is not None
    table = {"x": Int(), "#echo": Bytes(), "open": Bytes()}
    assert schema_for(table, "x") == Int() and schema_for(table, "x#echo") == Bytes()
    assert schema_for(table, "open/7") == Bytes() and schema_for(table, "y") is None


def test_admm_metadata_checks_fault_targets() -> None:
    params = {"iterations": 4}
    ADMM_INFO.check_target("coordinate", 3, "w_plus_u#echo", params)
    with pytest.raises(ConfigError, match="never sends"):
        ADMM_INFO.check_target("local_optimize", None, None, params)
    with pytest.raises(ConfigError, match=r"rounds 0\.\.3 with 4 iterations"):
        ADMM_INFO.check_target("coordinate", 4, None, params)
    with pytest.raises(ConfigError, match="never sent"):
        ADMM_INFO.check_target("setup", 0, "w_plus_u", params)
    assert ADMM_INFO.rounds("release", params) == 1


def test_progress_lines_follow_the_metadata() -> None:
    import io

    from coopetition.cli_progress import RoundPrinter

    out = io.StringIO()
    printer = RoundPrinter(out, 2)
    for phase, rnd in (("setup", 0), ("local_optimize", 0), ("coordinate", 0), ("release", 0)):
        printer(0, phase, rnd, "end")
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("  round 1 of at most 2")
    assert lines[1].startswith("  trained: 1 rounds") and len(lines) == 2
