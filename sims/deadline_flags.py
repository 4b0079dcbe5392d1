"""``--phase-deadline`` and ``--phase-budget-scale``: the phase limits of a run, from the command
line (``coopetition demo``, ``bench helen``, the Helen datasets matrix).

``--phase-deadline`` is ``Deadlines.phase``: the limit of a phase whose protocol declares no
budget, and the floor under the budgets Helen's phases declare from the run's shape;
``--phase-budget-scale`` is ``Deadlines.budget_scale``, which multiplies those budgets (below 1
on dedicated hardware for a tighter bound on a stalling peer, above 1 on a loaded machine).
docs/faults.md ("Phase budgets").
"""

from __future__ import annotations

import argparse
import math
from dataclasses import replace
from typing import Any

from coopetition.engine.config import Deadlines

__all__ = ["add_deadline_arguments", "deadlines_from"]


def _positive(text: str) -> float:
    """A positive, finite number (argparse turns the ValueError into a one-line usage error)."""
    value = float(text)
    if not (math.isfinite(value) and value > 0):
        raise ValueError(text)
    return value


_positive.__name__ = "positive number"  # what argparse names in "invalid positive number value"


def add_deadline_arguments(parser: Any) -> None:
    """Add both flags to ``parser`` (an ``ArgumentParser`` or an argument group)."""
    parser.add_argument(
        "--phase-deadline",
        type=_positive,
        default=argparse.SUPPRESS,
        metavar="SECONDS",
        help="limit of a phase without a declared budget, and the floor of declared budgets "
        f"(default {Deadlines().phase:g})",
    )
    parser.add_argument(
        "--phase-budget-scale",
        type=_positive,
        default=argparse.SUPPRESS,
        metavar="X",
        help="multiply the phase budgets Helen derives from the run's shape "
        f"(default {Deadlines().budget_scale:g})",
    )


def deadlines_from(args: argparse.Namespace, base: Deadlines | None = None) -> Deadlines:
    """``base`` (the engine's defaults) with the flags ``args`` carries applied."""
    base = base or Deadlines()
    changes: dict[str, float] = {}
    if getattr(args, "phase_deadline", None) is not None:
        changes["phase"] = args.phase_deadline
    if getattr(args, "phase_budget_scale", None) is not None:
        changes["budget_scale"] = args.phase_budget_scale
    return replace(base, **changes) if changes else base
