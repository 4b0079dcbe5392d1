"""MASCOT preprocessing as an engine phase: point-to-point OT rounds and broadcast checks.

A MASCOT program yields two kinds of requests, both run by the engine's ``ProgramMachine``:
:class:`~.online.Exchange` (coin tosses, openings, MAC checks: a signed broadcast gathered with
the engine's consistency echo) and :class:`~.pairwise.Pairwise` (OT and COPE messages: one
``Send`` per peer and a plain ``Gather`` from every peer, since each message is meant for one
party only). All pairwise sessions of a party advance in the same round, so the
m - 1 OT sessions towards its peers run concurrently over any transport (memory, TCP, the WAN
simulator); every wait carries the engine's phase deadline.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from .machine import ProgramMachine, SpdzRun
from .pairwise import MixedProgram


@dataclass
class MascotMachine(ProgramMachine):
    """Runs a MASCOT program (Exchange and Pairwise requests) as the phase ``mascot``."""

    phase: ClassVar[str] = "mascot"
    program: MixedProgram[Any] | None = None


def mascot_run(
    party: int, parties: tuple[int, ...], make_program: Callable[[], MixedProgram[Any]]
) -> SpdzRun:
    """A ``ProtocolRun`` with one MASCOT phase built by ``make_program`` at start."""
    return SpdzRun(party, parties, make_program, name="mascot", machine=MascotMachine)
