"""Sans-IO phase machines: explicit states, events in, actions out, nothing awaited.

A phase of a protocol (local optimize, coordinate, ...) is a ``PhaseMachine``: an object with a
state from its own ``Enum`` and a transition table that *is* its specification::

    TRANSITIONS = {
        (S.START, Started): (S.COLLECTING, "_contribute"),
        (S.COLLECTING, Received): (S.COMBINING, "_collected"),
        (S.COMBINING, Computed): (S.DONE, "_combined"),
    }

``(state, event type) -> (next state, handler)``: the machine, not the handler, moves the state,
so the graph can be read, checked and drawn from the table alone (as h11's ``_state.py``). The
table is checked when the class is created: states belong to ``State``, handlers exist, every
state is reachable from ``START`` and can leave, ``DONE`` is reachable. A transition may name
several next states (``(S.A, S.DONE)``): the handler then picks one with :meth:`move`, and
returning ``Done`` picks ``DONE``. ``Abort`` is allowed from anywhere.

A pair missing from the table is a local bug (``MachineError``): the machine moves to ``ABORTED``
and says so, as h11 and h2 do. ``Done`` or ``Abort`` must be the last action a handler returns;
anything after it is a ``MachineError`` too, never silently dropped. A handler that raises leaves
the machine ``ABORTED`` and the exception goes up: the driver reports it as ``LocalFailure``
(malformed peer input is caught earlier, by the schema check that names the sender).

Receiving is keyed: a machine asks with ``Gather`` for one message per sender under a tag and
gets all of them in a single ``Received`` event, ordered by sender id, so its behaviour does not
depend on arrival order.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from coopetition.engine.errors import LocalFailure, PartyId, ProtocolAborted

__all__ = [
    "MACHINES",
    "Abort",
    "Action",
    "Broadcast",
    "Compute",
    "Computed",
    "Done",
    "Event",
    "Finding",
    "Gather",
    "MachineError",
    "PhaseMachine",
    "Received",
    "Send",
    "Started",
    "TimedOut",
    "Transition",
]

# -- events ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Started:
    """The driver started the machine."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Received:
    """All messages a ``Gather`` asked for, keyed by sender."""

    tag: str
    messages: dict[PartyId, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class Computed:
    """The result of a ``Compute`` action."""

    label: str
    result: Any


@dataclass(frozen=True, slots=True, kw_only=True)
class TimedOut:
    """A ``Gather`` with ``report_timeout=True`` reached its deadline; ``missing`` never sent."""

    tag: str
    missing: tuple[PartyId, ...]


Event = Started | Received | Computed | TimedOut

# -- actions -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Send:
    to: PartyId
    tag: str
    payload: Any


@dataclass(frozen=True, slots=True, kw_only=True)
class Broadcast:
    tag: str
    payload: Any


@dataclass(frozen=True, slots=True, kw_only=True)
class Gather:
    """Wait for one message tagged ``tag`` from each of ``senders``.

    With ``consistent=True`` (for broadcast rounds) the driver also exchanges digests of what
    the round delivered with every party and aborts on any difference, before handing the
    messages to the machine. ``senders`` may include the local party when it broadcast under the
    same tag; its own message is then included.

    With ``at_least=k`` the wait ends as soon as ``k`` of ``senders`` delivered (a quorum: the
    fastest ``k``, for protocols such as COPML that decode from any ``k`` of ``n`` and ignore
    stragglers); ``Received.messages`` then holds the senders that had arrived by then (at least
    ``k``), and messages arriving after the phase ended are dropped as stale.

    The messages must be signed as broadcasts when ``consistent`` or ``broadcast`` is set, as
    point-to-point messages otherwise; the driver refuses the other kind, naming its signer.
    """

    tag: str
    senders: tuple[PartyId, ...]
    consistent: bool = False
    #: the senders broadcast under ``tag`` without the consistency echo (the echo's own rounds)
    broadcast: bool = False
    #: stop waiting this many seconds after the gather starts (never later than the phase's
    #: deadline); ``None`` waits until the phase's deadline
    patience: float | None = None
    #: at the deadline, feed ``TimedOut`` to the machine instead of aborting with
    #: ``DeadlineExceeded`` (for machines that decide what silence means, as the dispute does)
    report_timeout: bool = False
    #: return once this many of ``senders`` have arrived (a quorum: the fastest parties), with
    #: only those messages; never combined with ``consistent``
    at_least: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Compute:
    """Run ``fn(*args)`` (possibly in a worker process) and report ``Computed(label, result)``."""

    label: str
    fn: Callable[..., Any]
    args: tuple[Any, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Done:
    result: Any = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Abort:
    error: ProtocolAborted


@dataclass(frozen=True, slots=True)
class Finding:
    """A check of this party's failed, but the machine states its verdict later (at a step where
    every party that can check the same thing has checked it). Until then the party holds it:
    if the run ends first on a peer's report naming nobody, this finding is the party's error
    instead (``Party._fail``), so its own evidence is not lost to hearsay. The machine goes on."""

    error: ProtocolAborted


Action = Send | Broadcast | Gather | Compute | Done | Abort | Finding

# -- the table ---------------------------------------------------------------------------


class MachineError(LocalFailure):
    """A machine was fed an event its table does not allow, or broke its own table (a bug)."""

    code = "machine_error"


@dataclass(frozen=True, slots=True)
class Transition:
    """One row of a table: where the machine may go, and the method that produces the actions.

    An empty ``to`` is a row whose handler always ends the machine with ``Abort``.
    """

    to: tuple[enum.Enum, ...]
    handler: str


#: Every concrete machine class, in definition order (the table test and the diagrams read it).
MACHINES: list[type[PhaseMachine]] = []


def _row(value: Any, states: type[enum.Enum]) -> Transition:
    if isinstance(value, Transition):
        return value
    if isinstance(value, str):
        # the older style, ``(state, event) -> "handler"`` with the handler calling ``move``:
        # still accepted (any next state but ABORTED), but it says nothing about the graph
        return Transition(to=tuple(s for s in states if s.name != "ABORTED"), handler=value)
    to, handler = value
    return Transition(to=tuple(to) if isinstance(to, tuple) else (to,), handler=handler)


def check_table(cls: type[PhaseMachine]) -> None:
    """Raise ``TypeError`` unless ``cls.TRANSITIONS`` is a well-formed, connected graph."""
    name = cls.__name__
    states = cls.State
    for required in ("START", "DONE", "ABORTED"):
        if required not in states.__members__:
            raise TypeError(f"{name}.State needs a {required} member")
    edges: dict[enum.Enum, set[enum.Enum]] = {s: set() for s in states}
    exits: set[enum.Enum] = set()  # states with a row (a row with no target always aborts)
    for (state, event), row in cls.TABLE.items():
        if not isinstance(state, states):
            raise TypeError(f"{name}: {state!r} is not a {states.__name__}")
        if not isinstance(event, type):
            raise TypeError(f"{name}: event {event!r} in the table is not a class")
        if not callable(getattr(cls, row.handler, None)):
            raise TypeError(f"{name}: handler {row.handler!r} does not exist")
        for target in row.to:
            if not isinstance(target, states):
                raise TypeError(f"{name}: target {target!r} is not a {states.__name__}")
            if target is states["ABORTED"]:
                raise TypeError(f"{name}: ABORTED is reached by Abort, not by a table row")
        if state in (states["DONE"], states["ABORTED"]):
            raise TypeError(f"{name}: {state.name} is terminal and takes no events")
        edges[state].update(row.to)
        exits.add(state)
    seen, todo = {states["START"]}, [states["START"]]
    while todo:
        for nxt in edges[todo.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    unreachable = sorted(s.name for s in states if s not in seen and s is not states["ABORTED"])
    if unreachable:
        raise TypeError(f"{name}: states {unreachable} are unreachable from START")
    stuck = sorted(s.name for s in seen if s not in exits and s is not states["DONE"])
    if stuck:
        raise TypeError(f"{name}: states {stuck} have no way out")


@dataclass
class PhaseMachine:
    """Base of every phase machine.

    Subclasses define ``State`` (an ``Enum`` with at least ``START``, ``DONE`` and ``ABORTED``)
    and ``TRANSITIONS`` as described in the module docstring. ``phase`` and ``round`` name the
    messages the machine exchanges; ``party`` and ``parties`` say who it runs for.
    """

    phase: ClassVar[str]
    State: ClassVar[type[enum.Enum]]
    TRANSITIONS: ClassVar[dict[tuple[Any, type], Any]]
    #: ``TRANSITIONS`` normalised to ``Transition`` rows (filled at class creation)
    TABLE: ClassVar[dict[tuple[Any, type], Transition]]
    #: payload shape per tag (``engine.schema``), checked by the driver before ``Received``
    SCHEMAS: ClassVar[dict[str, Any]] = {}
    #: ``True`` for machines whose handlers do heavy work (proofs): the driver then runs each
    #: ``handle`` through its offload backend (a worker thread, or inline and charged to virtual
    #: time in a simulation) so the event loop stays responsive (``engine.compute``)
    offload: ClassVar[bool] = False

    party: PartyId
    parties: Sequence[PartyId]
    round: int = 0
    #: seconds this phase may take, declared by the protocol from the run's agreed public shape
    #: (``None``: the engine's default); the driver's limit is ``Deadlines.phase_limit``
    budget: float | None = field(default=None, kw_only=True, compare=False)
    state: Any = field(init=False)
    _chosen: Any = field(default=None, init=False, repr=False, compare=False)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "TRANSITIONS" not in cls.__dict__:
            return
        cls.TABLE = {key: _row(value, cls.State) for key, value in cls.TRANSITIONS.items()}
        check_table(cls)
        MACHINES.append(cls)

    def __post_init__(self) -> None:
        self.state = self.State["START"]

    @property
    def peers(self) -> tuple[PartyId, ...]:
        return tuple(p for p in self.parties if p != self.party)

    @property
    def finished(self) -> bool:
        return self.state in (self.State["DONE"], self.State["ABORTED"])

    @classmethod
    def transition(cls, state: enum.Enum, event_type: type) -> Transition:
        """The table row for ``(state, event_type)``; ``MachineError`` if there is none."""
        row = cls.TABLE.get((state, event_type))
        if row is None:
            raise MachineError(
                f"{cls.__name__} got {event_type.__name__} in state {state.name}",
                phase=getattr(cls, "phase", None),
            )
        return row

    def handle(self, event: object) -> list[Action]:
        """Feed one event; returns the actions, or an ``Abort`` if the table does not allow it."""
        before = self.state
        try:
            row = self.transition(before, type(event))
        except MachineError as error:
            error.round = self.round
            error.args = (error._describe(),)
            self.state = self.State["ABORTED"]
            return [Abort(error=error)]
        self._chosen = None
        try:
            actions: list[Action] = getattr(self, row.handler)(event)
        except BaseException:
            self.state = self.State["ABORTED"]
            raise
        self.state = before
        return self._settle(row, actions)

    def _settle(self, row: Transition, actions: list[Action]) -> list[Action]:
        """Move to the state the table (and the handler's choice) allows, or fail loudly."""
        ending = [i for i, a in enumerate(actions) if isinstance(a, Done | Abort)]
        if ending and ending[0] != len(actions) - 1:
            return self._broken(f"{row.handler} returned actions after {actions[ending[0]]!r}")
        if ending and isinstance(actions[-1], Abort):
            self.state = self.State["ABORTED"]
            return actions
        if ending:
            target: enum.Enum | None = self.State["DONE"]
        elif self._chosen is not None:
            target = self._chosen
        elif len([t for t in row.to if t is not self.State["DONE"]]) == 1:
            target = next(t for t in row.to if t is not self.State["DONE"])
        else:
            target = None
        if target is None or target not in row.to:
            return self._broken(
                f"{row.handler} ended in {getattr(target, 'name', 'no state')}, "
                f"the table allows {[t.name for t in row.to]}"
            )
        self.state = target
        return actions

    def _broken(self, reason: str) -> list[Action]:
        self.state = self.State["ABORTED"]
        return [
            Abort(
                error=MachineError(
                    f"{type(self).__name__}: {reason}", phase=self.phase, round=self.round
                )
            )
        ]

    def move(self, state: enum.Enum) -> None:
        """Pick the next state among those the current row allows (checked after the handler)."""
        self._chosen = state
