"""The record of a run's faults: what was planned and every event that fired, with its time.

Kept apart from the fault classes so the WAN simulator, the party runtime wrappers and the
scenario runner can all append to one schedule without importing each other.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class FaultSchedule:
    """What was planned (one line per configured fault) and what fired (one entry per event)."""

    seed: int = 0
    plan: list[str] = field(default_factory=list)
    _events: list[dict[str, Any]] = field(default_factory=list, repr=False)

    def add(self, at: float, fault: str, **detail: Any) -> None:
        self._events.append({"t": round(at, 9), "fault": fault, **detail})

    @property
    def fired(self) -> list[dict[str, Any]]:
        """Events in a canonical order: parties acting at one virtual instant are run by trio
        in a random order, so the order of ``add`` calls is not itself reproducible."""
        return sorted(
            self._events,
            key=lambda e: (e["t"], e["fault"], sorted((k, str(v)) for k, v in e.items())),
        )

    def summary(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for event in self._events:
            counts[event["fault"]] = counts.get(event["fault"], 0) + 1
        return dict(sorted(counts.items()))

    def to_json(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "plan": self.plan,
            "summary": self.summary(),
            "fired": self.fired,
        }

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_json(), indent=1, sort_keys=True) + "\n")

    def format(self, limit: int = 20) -> str:
        lines = [f"fault schedule (seed {self.seed}):"]
        lines += [f"  plan: {p}" for p in self.plan] or ["  plan: none"]
        fired = self.fired
        for event in fired[:limit]:
            rest = ", ".join(f"{k}={v}" for k, v in event.items() if k not in ("t", "fault"))
            lines.append(f"  t={event['t']:.6f}s {event['fault']}: {rest}")
        if len(fired) > limit:
            lines.append(f"  ... {len(fired) - limit} more ({self.summary()})")
        return "\n".join(lines)
