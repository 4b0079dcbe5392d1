"""Point-to-point rounds for SPDZ programs: each party sends each peer its own payload.

:class:`~.online.Exchange` is a broadcast (everybody gets the same payload, checked for
consistency). MASCOT's OT messages are pairwise: party i's message to j is meaningless to
(and must not be sent to) a third party, and broadcasting it would multiply the traffic by
m - 1. A program yields ``Pairwise(tag, {peer: payload})`` and gets back
``{peer: payload that peer sent to us}``; the local harness and the MASCOT phase machine
route it (the request type is the engine's: any program phase runs it).
"""

from __future__ import annotations

from typing import TypeVar

from coopetition.engine.program import Pairwise, Program

__all__ = ["MixedProgram", "Pairwise"]

T = TypeVar("T")

#: A program that may yield both broadcast and point-to-point rounds (MASCOT's): the engine's
#: ``Program`` under the name the SPDZ modules use.
MixedProgram = Program[T]
