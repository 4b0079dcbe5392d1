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

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from coopetition.engine.machine import Action, Gather, Send

from .machine import ProgramMachine, SpdzRun
from .online import Exchange
from .pairwise import MixedProgram, Pairwise


@dataclass
class MascotMachine(ProgramMachine):
    """Runs a MASCOT program (Exchange and Pairwise requests) as the phase ``mascot``."""

    phase: ClassVar[str] = "mascot"
    program: MixedProgram[Any] | None = None  # type: ignore[assignment]

    def _tag_of(self, request: Any) -> str:
        if isinstance(request, Pairwise):
            return request.tag
        if not isinstance(request, Exchange):
            raise TypeError("a MASCOT program may only yield Exchange or Pairwise requests")
        return super()._tag_of(request)

    def _actions(self, request: Any) -> list[Action]:
        if isinstance(request, Pairwise):
            peers = tuple(p for p in self.parties if p != self.party)
            sends: list[Action] = [
                Send(to=j, tag=request.tag, payload=request.payloads[j]) for j in peers
            ]
            return [*sends, Gather(tag=request.tag, senders=peers)]
        return super()._actions(request)


def mascot_run(
    party: int, parties: tuple[int, ...], make_program: Callable[[], MixedProgram[Any]]
) -> SpdzRun:
    """A ``ProtocolRun`` with one MASCOT phase built by ``make_program`` at start."""
    return SpdzRun(party, parties, make_program, name="mascot", machine=MascotMachine)  # type: ignore[arg-type]
