"""The DKG on the engine: a phase machine that drives one sans-IO program per batch.

A program is a generator yielding ``Step`` (broadcast and/or private messages under one tag,
answered by a ``StepReply`` with every party's broadcast and every peer's private payload) or
``Work`` (a computation the driver may run in a worker process, answered by its result).
Broadcasts are gathered with ``consistent=True``: the engine's echo round guarantees that every
honest party saw the same broadcast and names an equivocating sender. This is the SPDZ
``ProgramMachine`` pattern extended with private sends and computations.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any, ClassVar

from coopetition.engine.errors import PartyId, ProtocolAborted
from coopetition.engine.machine import (
    Abort,
    Action,
    Broadcast,
    Compute,
    Computed,
    Done,
    Gather,
    PhaseMachine,
    Received,
    Send,
    Started,
)

_BROADCAST = "/b"
_PRIVATE = "/p"


@dataclass(frozen=True, slots=True)
class Step:
    """Send ``broadcast`` to everyone and ``private[k]`` to each peer k, then wait for theirs."""

    tag: str
    broadcast: Any = None
    private: dict[PartyId, Any] | None = None


@dataclass(frozen=True, slots=True)
class StepReply:
    broadcast: dict[PartyId, Any]
    private: dict[PartyId, Any]


@dataclass(frozen=True, slots=True)
class Work:
    label: str
    fn: Callable[..., Any]
    args: tuple[Any, ...] = ()


Program = Generator[Step | Work, Any, Any]


class _State(enum.Enum):
    START = "start"
    EXCHANGING = "exchanging"
    COMPUTING = "computing"
    DONE = "done"
    ABORTED = "aborted"


@dataclass
class StepMachine(PhaseMachine):
    """Runs ``program`` as one phase; its return value is the phase's result."""

    phase: ClassVar[str] = "dkg"
    #: batches of OLEs take minutes of CPU under load: off the event loop, so heartbeats flow
    offload: ClassVar[bool] = True
    State: ClassVar[type[enum.Enum]] = _State
    TRANSITIONS: ClassVar[dict[tuple[Any, type], Any]] = {
        (_State.START, Started): ((_State.EXCHANGING, _State.COMPUTING, _State.DONE), "on_started"),
        (_State.EXCHANGING, Received): (
            (_State.EXCHANGING, _State.COMPUTING, _State.DONE),
            "on_received",
        ),
        (_State.COMPUTING, Computed): (
            (_State.EXCHANGING, _State.COMPUTING, _State.DONE),
            "on_computed",
        ),
    }

    program: Program | None = None
    _step: Step | None = field(default=None, init=False)
    _waiting: set[str] = field(default_factory=set, init=False)
    _broadcasts: dict[PartyId, Any] = field(default_factory=dict, init=False)
    _privates: dict[PartyId, Any] = field(default_factory=dict, init=False)

    def on_started(self, event: Started) -> list[Action]:
        return self._advance(None)

    def on_received(self, event: Received) -> list[Action]:
        if event.tag not in self._waiting:
            return self._abort(f"reply for {event.tag}, expected one of {sorted(self._waiting)}")
        self._waiting.discard(event.tag)
        if event.tag.endswith(_BROADCAST):
            self._broadcasts = dict(event.messages)
        else:
            self._privates = dict(event.messages)
        if self._waiting:
            return []
        return self._advance(StepReply(self._broadcasts, self._privates))

    def on_computed(self, event: Computed) -> list[Action]:
        return self._advance(event.result)

    def _abort(self, reason: str) -> list[Action]:
        return [Abort(error=ProtocolAborted(reason, phase=self.phase, round=self.round))]

    def _advance(self, value: Any) -> list[Action]:
        assert self.program is not None
        try:
            request = self.program.send(value)
        except StopIteration as stop:
            return [Done(result=stop.value)]
        except ProtocolAborted as exc:
            if exc.phase is None:
                exc.phase, exc.round = self.phase, self.round
            return [Abort(error=exc)]
        if isinstance(request, Work):
            self.move(_State.COMPUTING)
            return [Compute(label=request.label, fn=request.fn, args=request.args)]
        if not isinstance(request, Step):
            raise TypeError("a DKG program yields Step or Work")
        self.move(_State.EXCHANGING)
        self._broadcasts, self._privates = {}, {}
        actions: list[Action] = []
        gathers: list[Action] = []
        if request.broadcast is not None:
            tag = request.tag + _BROADCAST
            actions.append(Broadcast(tag=tag, payload=request.broadcast))
            gathers.append(Gather(tag=tag, senders=tuple(self.parties), consistent=True))
            self._waiting.add(tag)
        if request.private is not None:
            tag = request.tag + _PRIVATE
            for peer in self.peers:
                actions.append(Send(to=peer, tag=tag, payload=request.private[peer]))
            gathers.append(Gather(tag=tag, senders=self.peers))
            self._waiting.add(tag)
        if not gathers:
            raise ValueError("a Step must broadcast or send something")
        return actions + gathers
