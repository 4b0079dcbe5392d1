"""MASCOT preprocessing as an engine phase: point-to-point OT rounds and broadcast checks.

A MASCOT program yields two kinds of requests: :class:`~.online.Exchange` (coin tosses,
openings, MAC checks: a signed broadcast gathered with the engine's consistency echo, exactly
as :class:`~.machine.ProgramMachine` does) and :class:`~.pairwise.Pairwise` (OT and COPE
messages: one ``Send`` per peer and a plain ``Gather`` from every peer, since each message is
meant for one party only). All pairwise sessions of a party advance in the same round, so the
m - 1 OT sessions towards its peers run concurrently over any transport (memory, TCP, the WAN
simulator); every wait carries the engine's phase deadline.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any, ClassVar

from coopetition.engine.errors import ProtocolAborted
from coopetition.engine.machine import Abort, Action, Broadcast, Done, Gather, PhaseMachine, Send

from .machine import ProgramMachine
from .online import Exchange
from .pairwise import MixedProgram, Pairwise


@dataclass
class MascotMachine(ProgramMachine):
    """Runs a MASCOT program (Exchange and Pairwise requests) as the phase ``mascot``."""

    phase: ClassVar[str] = "mascot"
    program: MixedProgram[Any] | None = None  # type: ignore[assignment]

    def _advance(self, value: Any) -> list[Action]:
        assert self.program is not None
        try:
            request = self.program.send(value)
        except StopIteration as stop:
            return [Done(result=stop.value)]
        except ProtocolAborted as exc:
            return [Abort(error=exc)]
        self._tag = request.tag
        self.move(self.State.EXCHANGING)  # type: ignore[attr-defined]
        if isinstance(request, Pairwise):
            peers = tuple(p for p in self.parties if p != self.party)
            sends: list[Action] = [
                Send(to=j, tag=request.tag, payload=request.payloads[j]) for j in peers
            ]
            return [*sends, Gather(tag=request.tag, senders=peers)]
        if not isinstance(request, Exchange):
            raise TypeError("a MASCOT program may only yield Exchange or Pairwise requests")
        return [
            Broadcast(tag=request.tag, payload=request.payload),
            Gather(tag=request.tag, senders=tuple(self.parties), consistent=True),
        ]


@dataclass
class MascotRun:
    """A ``ProtocolRun`` with one MASCOT phase built by ``make_program`` at start."""

    party: int
    parties: tuple[int, ...]
    make_program: Callable[[], MixedProgram[Any]]
    name: str = "mascot"

    def phases(self) -> Generator[PhaseMachine, Any, Any]:
        result = yield MascotMachine(self.party, self.parties, program=self.make_program())
        return result
