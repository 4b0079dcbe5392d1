"""SPDZ programs on the engine: one phase machine drives one sans-IO program.

Each :class:`~.online.Exchange` a program yields becomes a ``Broadcast`` of its payload and a
``Gather`` of every party's payload under the same tag with ``consistent=True``, so the engine's
echo round guarantees that all honest parties saw the same broadcast (SPDZ's input and opening
steps rely on that). The replies go back into the program; its return value is the phase's
result, and a ``ProtocolAborted`` it raises becomes the machine's ``Abort``. The same program
objects run unchanged in the local harness, which is how they are unit-tested.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any, ClassVar

from coopetition.engine.errors import ProtocolAborted
from coopetition.engine.machine import (
    Abort,
    Action,
    Broadcast,
    Done,
    Gather,
    PhaseMachine,
    Received,
    Started,
)

from .online import Exchange, Program


class _State(enum.Enum):
    START = "start"
    EXCHANGING = "exchanging"
    DONE = "done"
    ABORTED = "aborted"


@dataclass
class ProgramMachine(PhaseMachine):
    """Runs ``program`` (a generator of :class:`Exchange`) as the phase ``spdz``."""

    phase: ClassVar[str] = "spdz"
    State: ClassVar[type[enum.Enum]] = _State
    TRANSITIONS: ClassVar[dict[tuple[Any, type], str]] = {
        (_State.START, Started): "on_started",
        (_State.EXCHANGING, Received): "on_received",
    }

    program: Program[Any] | None = None
    _tag: str = field(default="", init=False)

    def on_started(self, event: Started) -> list[Action]:
        return self._advance(None)

    def on_received(self, event: Received) -> list[Action]:
        if event.tag != self._tag:
            return [
                Abort(
                    error=ProtocolAborted(
                        f"reply for {event.tag}, expected {self._tag}", phase=self.phase
                    )
                )
            ]
        return self._advance(dict(event.messages))

    def _advance(self, value: Any) -> list[Action]:
        assert self.program is not None
        try:
            request = self.program.send(value)
        except StopIteration as stop:
            return [Done(result=stop.value)]
        except ProtocolAborted as exc:
            return [Abort(error=exc)]
        self._tag = request.tag
        self.move(_State.EXCHANGING)
        return self._actions(request)

    def _actions(self, request: Any) -> list[Action]:
        """The engine actions of one request (subclasses add request kinds)."""
        if not isinstance(request, Exchange):
            raise TypeError("an SPDZ program may only yield Exchange requests")
        return [
            Broadcast(tag=request.tag, payload=request.payload),
            Gather(tag=request.tag, senders=tuple(self.parties), consistent=True),
        ]


@dataclass
class SpdzRun:
    """A ``ProtocolRun`` with a single SPDZ phase built by ``make_program`` at start."""

    party: int
    parties: tuple[int, ...]
    make_program: Callable[[], Program[Any]]
    name: str = "spdz"
    machine: type[ProgramMachine] = ProgramMachine

    def phases(self) -> Generator[PhaseMachine, Any, Any]:
        result = yield self.machine(self.party, self.parties, program=self.make_program())
        return result
