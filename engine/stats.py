"""Per-phase accounting of where a party's time and bytes went.

Phases are aggregated over rounds ("coordinate" sums all its rounds), which is what the WAN
reports and the benchmarks compare. Times come from ``trio.current_time()`` so that in a
virtual-time simulation they are virtual seconds.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass
class PhaseStats:
    compute_seconds: float = 0.0
    network_wait_seconds: float = 0.0
    bytes_sent: int = 0
    messages_sent: int = 0
    bytes_received: int = 0
    messages_received: int = 0
    rounds: int = 0
    #: the time limit the phase had (the largest over its rounds; ``Deadlines.phase_limit``)
    deadline_seconds: float = 0.0


@dataclass
class RunStats:
    phases: dict[str, PhaseStats] = field(default_factory=dict)

    def phase(self, name: str) -> PhaseStats:
        if name not in self.phases:
            self.phases[name] = PhaseStats()
        return self.phases[name]

    def total(self) -> PhaseStats:
        total = PhaseStats()
        for stats in self.phases.values():
            for key, value in asdict(stats).items():
                # limits do not add up: the total's is the largest any phase had
                merged = max if key == "deadline_seconds" else _add
                setattr(total, key, merged(getattr(total, key), value))
        return total

    def as_dict(self) -> dict[str, dict[str, float | int]]:
        return {name: asdict(stats) for name, stats in sorted(self.phases.items())}


def _add(a: float, b: float) -> float:
    return a + b
