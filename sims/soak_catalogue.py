"""The soak's fault catalogue: which faults it draws, with what parameters, and what each must
lead to (docs/faults.md), plus the deadlines every soak party runs with."""

from __future__ import annotations

import random
from typing import Any

PARTIES = 4
FAULTS = ("crash", "stop", "partition", "delay", "corrupt", "equivocate")
DEADLINES = {
    "phase": 20.0,
    "heartbeat_interval": 0.25,
    # Generous for loopback: on a shared 2-core machine a starved party can be silent for
    # seconds, and the soak is about leaks and hangs, not the detector's reaction time.
    "heartbeat_timeout": 5.0,
    "finish": 5.0,
    "abort_send": 1.0,
}
#: Abort codes a soak run may end with: all typed, all in the fault catalogue.
TYPED_ABORTS = {
    "peer_crashed",
    "peer_unreachable",
    "deadline_exceeded",
    "equivocation",
    "broadcast_inconsistent",
    "protocol_violation",
    "cheating_detected",
    "connect_failed",
}


def plan_fault(rng: random.Random, iterations: int, kind: str | None = None) -> dict[str, Any]:
    """One fault from the catalogue (``kind``, or a seeded random one) with seeded parameters."""
    kind = kind or rng.choice(FAULTS)
    victim = rng.randrange(PARTIES)
    others = [p for p in range(PARTIES) if p != victim]
    if kind == "crash":
        return {"kind": kind, "party": victim, "after": rng.uniform(0.0, 1.0)}
    if kind == "stop":
        # Both sides of the heartbeat timeout: short freezes are ridden out, long ones abort.
        return {
            "kind": kind,
            "party": victim,
            "after": rng.uniform(0.0, 0.5),
            "seconds": rng.uniform(0.2, 2 * DEADLINES["heartbeat_timeout"]),
        }
    if kind == "partition":
        start = rng.uniform(0.0, 0.5)
        length = rng.uniform(0.2, 2 * DEADLINES["heartbeat_timeout"])
        params = {"side_a": [victim], "side_b": others, "start": start, "stop": start + length}
        return {"kind": kind, "params": params}
    if kind == "delay":
        params = {
            "delay": rng.uniform(0.005, 0.1),
            "jitter": rng.uniform(0, 0.05),
            "probability": rng.uniform(0.2, 1.0),
            "src": [victim],
        }
        return {"kind": kind, "params": params}
    if kind == "corrupt":
        return {"kind": kind, "params": {"probability": rng.uniform(0.01, 0.05)}}
    targets = sorted(rng.sample(others, rng.randint(1, len(others) - 1)))
    params = {
        "party": victim,
        "phase": "coordinate",
        "round": rng.randrange(iterations),
        "action": "equivocate",
        "targets": targets,
    }
    return {"kind": "equivocate", "params": params}


def catalogue_expects(fault: dict[str, Any]) -> str:
    """What docs/faults.md says the fault must lead to: ``completes``, ``aborts`` or
    ``either`` (a freeze or cut close to the heartbeat timeout may go either way)."""
    kind, timeout = fault["kind"], DEADLINES["heartbeat_timeout"]
    if kind in ("delay", "corrupt"):
        return "completes"
    if kind in ("crash", "equivocate"):
        return "aborts"  # unless the run finished before the fault fired
    params = fault.get("params", {})
    length = fault["seconds"] if kind == "stop" else params["stop"] - params["start"]
    if length < 0.5 * timeout:
        return "completes"
    return "aborts" if length > 1.5 * timeout else "either"


def culprit_of(fault: dict[str, Any]) -> int | None:
    if "party" in fault:
        return int(fault["party"])
    params = fault.get("params", {})
    if "party" in params:
        return int(params["party"])
    if fault["kind"] == "partition":
        return None  # each side may blame the other: checked as "a party of the other side"
    return None
