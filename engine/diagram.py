"""Mermaid state diagrams drawn from machines' transition tables (the table is the source).

``scripts/machine-diagrams`` writes every machine's diagram into ``docs/machines.md``; a test
regenerates it and fails if the file is stale, so the drawings cannot drift from the code.
"""

from __future__ import annotations

from collections.abc import Iterable

from coopetition.engine.machine import PhaseMachine

__all__ = ["mermaid", "render"]


def mermaid(cls: type[PhaseMachine]) -> str:
    """One ``stateDiagram-v2`` block: an edge per table row and target, labelled
    ``Event / handler``; a row that always aborts points at ``ABORTED``."""
    lines = ["stateDiagram-v2", "    [*] --> START"]
    for (state, event), row in cls.TABLE.items():
        label = f"{event.__name__} / {row.handler}"
        for target in row.to or (cls.State["ABORTED"],):
            lines.append(f"    {state.name} --> {target.name}: {label}")
    lines.append("    DONE --> [*]")
    return "\n".join(lines)


def render(machines: Iterable[type[PhaseMachine]]) -> str:
    """The whole ``docs/machines.md`` text for the package's ``machines`` (machines defined in
    tests are left out), sorted by module and name."""
    out = [
        "# Phase machines",
        "",
        "Generated from the transition tables by `scripts/machine-diagrams`; do not edit by hand",
        "(`tests/test_machine_tables.py` fails when this file is stale). Every state may also go",
        "to `ABORTED` through an `Abort` action; edges into `ABORTED` drawn here are rows whose",
        "handler always aborts.",
    ]
    shipped = [c for c in machines if c.__module__.startswith("coopetition.")]
    for cls in sorted(shipped, key=lambda c: (c.__module__, c.__qualname__)):
        doc = (cls.__doc__ or "").strip().splitlines()
        out += [
            "",
            f"## `{cls.__module__}.{cls.__qualname__}` (phase `{cls.phase}`)",
            "",
            doc[0] if doc else "",
            "",
            "```mermaid",
            mermaid(cls),
            "```",
        ]
    return "\n".join(out) + "\n"
