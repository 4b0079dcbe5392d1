"""Sans-IO phase machines: explicit states, events in, actions out, nothing awaited.

A phase of a protocol (local optimize, coordinate, ...) is a ``PhaseMachine``: an object with a
state from its own ``Enum`` and a transition table mapping ``(state, event type)`` to a handler.
Handlers return a list of actions; the driver (``engine.driver``) performs them and feeds the
resulting events back. A pair missing from the table is a protocol error: the machine moves to
``ABORTED`` and says so, as h11 and h2 do. Because a machine never touches I/O it can be tested
by feeding events by hand and replayed from a transcript.

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


Event = Started | Received | Computed

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
    """

    tag: str
    senders: tuple[PartyId, ...]
    consistent: bool = False
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


Action = Send | Broadcast | Gather | Compute | Done | Abort

# -- machines ----------------------------------------------------------------------------


class MachineError(LocalFailure):
    """A machine was fed an event its transition table does not allow (a bug, not an attack)."""


@dataclass
class PhaseMachine:
    """Base of every phase machine.

    Subclasses define ``State`` (an ``Enum`` with at least ``START``, ``DONE`` and ``ABORTED``)
    and ``TRANSITIONS``: ``{(State.X, EventType): "handler_name"}``. ``phase`` and ``round``
    name the messages the machine exchanges; ``party`` and ``parties`` say who it runs for.
    """

    phase: ClassVar[str]
    State: ClassVar[type[enum.Enum]]
    TRANSITIONS: ClassVar[dict[tuple[Any, type], str]]

    party: PartyId
    parties: Sequence[PartyId]
    round: int = 0
    state: Any = field(init=False)

    def __post_init__(self) -> None:
        self.state = self.State.START

    @property
    def peers(self) -> tuple[PartyId, ...]:
        return tuple(p for p in self.parties if p != self.party)

    @property
    def finished(self) -> bool:
        return self.state in (self.State.DONE, self.State.ABORTED)

    def handle(self, event: Event) -> list[Action]:
        handler_name = self.TRANSITIONS.get((self.state, type(event)))
        if handler_name is None:
            previous = self.state
            self.state = self.State.ABORTED
            return [
                Abort(
                    error=MachineError(
                        f"{type(self).__name__} got {type(event).__name__} in state {previous.name}",
                        phase=self.phase,
                        round=self.round,
                    )
                )
            ]
        actions: list[Action] = getattr(self, handler_name)(event)
        for action in actions:
            if isinstance(action, Done):
                self.state = self.State.DONE
            elif isinstance(action, Abort):
                self.state = self.State.ABORTED
        return actions

    def move(self, state: enum.Enum) -> None:
        self.state = state
