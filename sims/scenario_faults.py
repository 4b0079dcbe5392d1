"""The ``[[faults]]`` of a scenario: link faults, crashes and Byzantine rewrites, checked at load.

A fault aimed at a phase, round or tag the protocol never sends is refused here (it would
silently never fire), using each protocol's own metadata.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from coopetition.engine.errors import ConfigError
from coopetition.engine.metadata import ProtocolInfo
from coopetition.protocols.admm.info import ADMM_INFO
from coopetition.protocols.helen.info import HELEN_INFO
from coopetition.sims import baseline_workloads
from coopetition.sims.baseline_workloads import BASELINE_PROTOCOLS
from coopetition.sims.byzantine import Byzantine
from coopetition.transports.faults import (
    BurstDrop,
    Corrupt,
    Crash,
    Delay,
    Drop,
    Duplicate,
    LinkFault,
    Partition,
    Reorder,
    Slow,
)

LINK_FAULTS: dict[str, type[LinkFault]] = {
    "drop": Drop,
    "burst_drop": BurstDrop,
    "delay": Delay,
    "duplicate": Duplicate,
    "reorder": Reorder,
    "corrupt": Corrupt,
    "partition": Partition,
    "slow": Slow,
}
PARTY_FAULTS = ("crash", "byzantine")

#: The protocols a scenario may name, described by their own metadata (phases, tags, rounds),
#: so that a crash or a Byzantine rewrite aimed at a phase, round or tag that never occurs is
#: refused at load time instead of silently never firing.
PROTOCOLS: dict[str, ProtocolInfo] = {ADMM_INFO.name: ADMM_INFO, HELEN_INFO.name: HELEN_INFO}
#: kept for callers that read it: what each phase of plaintext ADMM sends
ADMM_MESSAGES = {p.name: p.tags for p in ADMM_INFO.phases if p.tags}

FAULT_TYPES: dict[str, str] = {
    "probability": "number",
    "start": "number",
    "stop": "number",
    "delay": "number",
    "jitter": "number",
    "gap": "number",
    "mean_good": "number",
    "mean_bad": "number",
    "compute_factor": "number",
    "at": "number",
    "random_within": "number",
    "party": "party",
    "round": "int",
    "phase": "str",
    "tag": "str",
    "action": "str",
    "mode": "str",
    "one_way": "bool",
    "src": "parties",
    "dst": "parties",
    "side_a": "parties",
    "side_b": "parties",
    "targets": "parties",
}


def check_fault_types(spec: Mapping[str, Any], ids: set[int]) -> None:
    for key, value in spec.items():
        kind = FAULT_TYPES.get(key)
        if kind is None:
            continue  # an unknown key: the fault's constructor names it
        if kind == "number":
            ok = (
                not isinstance(value, bool)
                and isinstance(value, int | float)
                and not (math.isnan(value))
            )
        elif kind == "int":
            ok = not isinstance(value, bool) and isinstance(value, int)
        elif kind == "str":
            ok = isinstance(value, str)
        elif kind == "bool":
            ok = isinstance(value, bool)
        elif kind == "party":
            ok = not isinstance(value, bool) and isinstance(value, int) and value in ids
        else:  # a list of parties
            ok = isinstance(value, list) and all(
                not isinstance(p, bool) and isinstance(p, int) and p in ids for p in value
            )
        if not ok:
            need = {
                "number": "a number",
                "int": "an integer",
                "str": "a string",
                "bool": "true or false",
                "party": f"a party in 0..{len(ids) - 1}",
                "parties": f"a list of parties in 0..{len(ids) - 1}",
            }[kind]
            raise ConfigError(f"{key} must be {need}, got {value!r}")


def check_target(
    protocol: Mapping[str, Any], phase: str, round_: int | None, tag: str | None
) -> None:
    """Refuse a phase, round or tag the protocol never sends: such a fault would never fire."""
    if protocol.get("name") == "dkg":
        if phase != "dkg":
            raise ConfigError(f"phase {phase!r} never sends a message in dkg (only 'dkg')")
        return  # rounds are batches (as many as the search needs); tags depend on the batch
    if protocol.get("name") == "copml":
        if not phase.startswith("copml-"):
            raise ConfigError(f"phase {phase!r} never sends a message in copml")
        return
    if protocol.get("name") in BASELINE_PROTOCOLS:
        baseline_workloads.check_target(protocol, phase, round_, tag)
        return
    info = PROTOCOLS[str(protocol.get("name", ADMM_INFO.name))]
    info.check_target(phase, round_, tag, protocol)


def parse_fault(
    protocol: Mapping[str, Any], spec: Any, where: str, ids: set[int]
) -> LinkFault | Crash | Byzantine:
    """One ``[[faults]]`` table as a fault object, checked against the protocol's metadata."""
    if not isinstance(spec, dict) or "kind" not in spec:
        raise ConfigError(f"{where}: each fault is a table with a 'kind'")
    spec = dict(spec)
    kind = spec.pop("kind")
    if not isinstance(kind, str) or (kind not in LINK_FAULTS and kind not in PARTY_FAULTS):
        known = ", ".join([*LINK_FAULTS, *PARTY_FAULTS])
        raise ConfigError(f"{where}: unknown fault kind {kind!r} (known: {known})")
    try:
        check_fault_types(spec, ids)
        if kind in LINK_FAULTS:
            return LINK_FAULTS[kind](**spec)
        elif kind == "crash":
            crash = Crash(**spec)
            if crash.phase is not None:
                check_target(protocol, crash.phase, crash.round, None)
            return crash
        else:
            byz = Byzantine(**spec)
            check_target(protocol, byz.phase, byz.round, byz.tag)
            byz.check_peers(sorted(ids))
            return byz
    except TypeError as exc:
        raise ConfigError(f"{where} ({kind}): {exc}") from None
    except ConfigError as exc:
        raise ConfigError(f"{where} ({kind}): {exc}") from None
