"""Every machine, every (state, event) pair: a table transition or a typed local error.

As h2's ``test_state_machines.py``: the whole table is checked at once, for every phase machine
any module of the engine or the protocols defines (found by importing them all, so a machine
added later is covered without editing this file). Hypothesis draws the events' contents.
"""

from __future__ import annotations

import enum
import importlib
import pkgutil
import subprocess
import sys
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import coopetition.engine
import coopetition.protocols
from coopetition.engine.barrier import PeerAborted, PeerDone
from coopetition.engine.diagram import render
from coopetition.engine.errors import CheatingDetected, LocalFailure, ProtocolAborted
from coopetition.engine.machine import (
    MACHINES,
    Abort,
    Computed,
    Done,
    MachineError,
    PhaseMachine,
    Received,
    Started,
    TimedOut,
    check_table,
)

ROOT = Path(__file__).resolve().parent.parent

for _package in (coopetition.engine, coopetition.protocols):
    for _info in pkgutil.walk_packages(_package.__path__, _package.__name__ + "."):
        importlib.import_module(_info.name)

payloads = st.one_of(
    st.none(),
    st.integers(-5, 5),
    st.binary(max_size=8),
    st.lists(st.lists(st.integers(0, 3), max_size=2), max_size=3),
    st.builds(lambda n: np.zeros(n), st.integers(0, 3)),
)
parties = st.sampled_from([0, 1, 2])
EVENTS: dict[type, st.SearchStrategy[Any]] = {
    Started: st.just(Started()),
    Received: st.builds(
        lambda tag, msgs: Received(tag=tag, messages=msgs),
        st.sampled_from(["x", "w_plus_u", "x#echo"]),
        st.dictionaries(parties, payloads, max_size=3),
    ),
    Computed: st.builds(lambda r: Computed(label="c", result=r), payloads),
    TimedOut: st.builds(
        lambda m: TimedOut(tag="x", missing=tuple(sorted(m))), st.sets(parties, min_size=1)
    ),
    PeerDone: st.builds(lambda p: PeerDone(peer=p), parties),
    PeerAborted: st.builds(
        lambda c: PeerAborted(error=CheatingDetected("claim", culprit=c)), parties
    ),
}


def test_every_event_type_in_a_table_has_a_strategy() -> None:
    used = {event for cls in MACHINES for (_, event) in cls.TABLE}
    assert used <= set(EVENTS), used - set(EVENTS)


@pytest.mark.parametrize("cls", MACHINES, ids=lambda c: c.__qualname__)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_state_event_pair(cls: type[PhaseMachine], data: st.DataObject) -> None:
    for state in cls.State:
        for event_type, strategy in EVENTS.items():
            machine = cls(0, (0, 1, 2))
            machine.state = state
            event = data.draw(strategy)
            row = cls.TABLE.get((state, event_type))
            try:
                actions = machine.handle(event)
            except ProtocolAborted:
                assert row is not None and machine.state is cls.State.ABORTED
                continue
            except Exception:
                # a handler fed nonsense may fail: the driver reports that as LocalFailure,
                # and the machine is left ABORTED, never half-moved
                assert row is not None and machine.state is cls.State.ABORTED
                continue
            if row is None:
                (abort,) = actions
                assert isinstance(abort, Abort) and isinstance(abort.error, MachineError)
                assert isinstance(abort.error, LocalFailure)
                assert machine.state is cls.State.ABORTED
                continue
            if actions and isinstance(actions[-1], Abort):
                assert machine.state is cls.State.ABORTED
            elif actions and isinstance(actions[-1], Done):
                assert machine.state is cls.State.DONE and cls.State.DONE in row.to
            else:
                assert machine.state in row.to


def test_docs_diagrams_are_current() -> None:
    assert (ROOT / "docs" / "machines.md").read_text() == render(MACHINES), (
        "docs/machines.md is stale: run scripts/machine-diagrams"
    )


def test_diagram_script_runs() -> None:
    out = subprocess.run(
        [sys.executable, "-c", "import runpy; runpy.run_path('scripts/machine-diagrams')"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stderr


class _S(enum.Enum):
    START = "start"
    MIDDLE = "middle"
    LOST = "lost"
    DONE = "done"
    ABORTED = "aborted"


def _define(table: dict[Any, Any], **extra: Any) -> type:
    namespace: dict[str, Any] = {
        "__annotations__": {"phase": ClassVar[str]},
        "phase": "t",
        "State": _S,
        "TRANSITIONS": table,
        "go": lambda self, event: [],
        **extra,
    }
    return type("Bad", (PhaseMachine,), namespace)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({(_S.START, Started): (_S.DONE, "missing")}, "does not exist"),
        ({(_S.START, Started): (_S.MIDDLE, "go")}, "unreachable"),
        (
            {(_S.START, Started): (_S.MIDDLE, "go"), (_S.MIDDLE, Received): (_S.DONE, "go")},
            "LOST",
        ),
        (
            {
                (_S.START, Started): ((_S.MIDDLE, _S.LOST), "go"),
                (_S.MIDDLE, Received): (_S.DONE, "go"),
            },
            "no way out",
        ),
        ({(_S.START, Started): ("DONE", "go")}, "is not a _S"),
        ({(_S.START, Started): (_S.ABORTED, "go")}, "ABORTED is reached by Abort"),
        ({(_S.DONE, Started): (_S.DONE, "go")}, "terminal"),
    ],
)
def test_bad_tables_fail_at_class_creation(table: dict[Any, Any], message: str) -> None:
    before = list(MACHINES)
    with pytest.raises(TypeError, match=message):
        _define(table)
    assert before == MACHINES


def test_check_table_is_what_class_creation_runs() -> None:
    for cls in MACHINES:
        check_table(cls)
