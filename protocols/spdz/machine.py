"""SPDZ programs on the engine (kept as an import path).

The generator-driven phase machine moved into the engine as
:class:`coopetition.engine.program.ProgramMachine`, with message tags derived from the program
position when a request names none; ``SpdzRun`` is the engine's ``ProgramRun``. SPDZ programs
name their own tags (``op/counter``), so their messages and transcripts are unchanged.
"""

from __future__ import annotations

from coopetition.engine.program import ProgramMachine
from coopetition.engine.program import ProgramRun as SpdzRun

__all__ = ["ProgramMachine", "SpdzRun"]
