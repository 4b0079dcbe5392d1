"""Scenario files: one TOML document that fixes a whole simulated run.

A scenario names the protocol and its parameters, the parties and their data, the network (a
preset, a latency matrix or regions), the deadlines, how compute is charged, the faults, and
optionally what the run must lead to (``[expect]``). Loading is strict: an unknown section or
key, a wrong type or an impossible value is a ``ConfigError`` that names the section and key, so a
typo never silently turns a fault off. See ``docs/simulation.md`` for the full reference and
``sims/scenarios/`` for examples.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from coopetition.engine.errors import ConfigError
from coopetition.engine.party import Deadlines
from coopetition.transports.faults import (
    BurstDrop,
    Byzantine,
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
from coopetition.transports.wan import PRESETS, LinkSpec, Topology, preset

LINK_FAULTS: dict[str, type[LinkFault]] = {
    "drop": Drop, "burst_drop": BurstDrop, "delay": Delay, "duplicate": Duplicate, "reorder": Reorder,
    "corrupt": Corrupt, "partition": Partition, "slow": Slow,
}
PARTY_FAULTS = ("crash", "byzantine")

_SECTIONS = {
    "run": {"name", "seed", "parties"},
    "protocol": {"name", "objective", "lam", "rho", "iterations", "l1_ratio"},
    "data": {"kind", "rows_per_party", "features", "noise"},
    "network": {"preset", "latency_ms", "bandwidth_mbps", "jitter_ms", "loss", "uplink_mbps",
                "regions", "intra", "inter"},
    "deadlines": {"phase", "heartbeat_interval", "heartbeat_timeout", "finish", "abort_send"},
    "compute": {"mode", "seconds_per_element", "base_seconds", "per_operation"},
    "reliable": {"rto_initial", "rto_min", "rto_max", "backoff", "window"},
    "expect": {"outcome", "abort_code", "culprit"},
    "faults": set(),
}
_LINK_KEYS = {"latency_ms", "jitter_ms", "bandwidth_mbps", "loss"}


@dataclass
class Scenario:
    name: str
    seed: int
    parties: int
    protocol: dict[str, Any]
    data: dict[str, Any]
    topology: Topology
    deadlines: Deadlines
    compute: dict[str, Any]
    reliable: dict[str, Any]
    link_faults: list[LinkFault] = field(default_factory=list)
    crashes: list[Crash] = field(default_factory=list)
    byzantine: list[Byzantine] = field(default_factory=list)
    expect: dict[str, Any] = field(default_factory=dict)
    source: str = ""


def load(path: str | Path, *, seed: int | None = None, parties: int | None = None) -> Scenario:
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"cannot read scenario {path}: {exc.strerror}") from None
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    return parse(doc, seed=seed, parties=parties, source=str(path))


def parse(doc: Mapping[str, Any], *, seed: int | None = None, parties: int | None = None,
          source: str = "<scenario>") -> Scenario:
    where = source
    for section, value in doc.items():
        if section not in _SECTIONS:
            raise ConfigError(f"{where}: unknown section [{section}] "
                              f"(known: {', '.join(sorted(_SECTIONS))})")
        if section == "faults":
            if not isinstance(value, list):
                raise ConfigError(f"{where}: faults must be an array of tables ([[faults]])")
            continue
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: [{section}] must be a table")
        unknown = set(value) - _SECTIONS[section]
        if unknown:
            raise ConfigError(f"{where}: unknown key(s) {sorted(unknown)} in [{section}] "
                              f"(known: {', '.join(sorted(_SECTIONS[section]))})")

    run = doc.get("run", {})
    name = _get(run, "name", str, "run", default=Path(source).stem)
    seed = seed if seed is not None else _get(run, "seed", int, "run", default=0)
    m = parties if parties is not None else _get(run, "parties", int, "run", default=3)
    if not 2 <= m <= 1000:
        raise ConfigError(f"{where}: [run] parties must be between 2 and 1000, got {m}")
    ids = list(range(m))

    protocol = dict(doc.get("protocol", {}))
    if protocol.setdefault("name", "admm") != "admm":
        raise ConfigError(f"{where}: [protocol] name {protocol['name']!r} is not supported by "
                          "the simulator yet (supported: admm)")
    data = dict(doc.get("data", {}))
    if data.setdefault("kind", "synthetic") != "synthetic":
        raise ConfigError(f"{where}: [data] kind must be 'synthetic'")

    topology = _network(doc.get("network", {"preset": "lan"}), ids, where)
    try:
        deadlines = Deadlines(**doc.get("deadlines", {}))
    except TypeError as exc:
        raise ConfigError(f"{where}: [deadlines]: {exc}") from None
    compute = dict(doc.get("compute", {}))
    if compute.setdefault("mode", "model") not in ("model", "measured"):
        raise ConfigError(f"{where}: [compute] mode must be 'model' or 'measured'")
    per_op = compute.setdefault("per_operation", {})
    if not isinstance(per_op, dict) or any(
        isinstance(v, bool) or not isinstance(v, int | float) or v < 0 for v in per_op.values()
    ):
        raise ConfigError(f"{where}: [compute] per_operation must map operation labels to "
                          "non-negative seconds")

    scenario = Scenario(name, seed, m, protocol, data, topology, deadlines, compute,
                        dict(doc.get("reliable", {})), expect=dict(doc.get("expect", {})),
                        source=source)
    for i, spec in enumerate(doc.get("faults", [])):
        _fault(scenario, spec, f"{where}: faults[{i}]", set(ids))
    expect = scenario.expect
    if "outcome" in expect and expect["outcome"] not in ("completed", "aborted"):
        raise ConfigError(f"{where}: [expect] outcome must be 'completed' or 'aborted'")
    return scenario


def _get(table: Mapping[str, Any], key: str, kind: type | tuple[type, ...], section: str,
         default: Any = None) -> Any:
    value = table.get(key, default)
    if kinds := (kind if isinstance(kind, tuple) else (kind,)):
        ok = isinstance(value, kinds) and not (isinstance(value, bool) and bool not in kinds)
        if value is not None and not ok:
            names = "/".join(k.__name__ for k in kinds)
            raise ConfigError(f"[{section}] {key} must be {names}, got {value!r}")
    return value


def _link(table: Any, where: str) -> LinkSpec:
    if not isinstance(table, dict) or set(table) - _LINK_KEYS:
        raise ConfigError(f"{where} must be a table with keys among {sorted(_LINK_KEYS)}")
    bw = table.get("bandwidth_mbps")
    return LinkSpec(latency=float(table.get("latency_ms", 0.0)) / 1e3,
                    jitter=float(table.get("jitter_ms", 0.0)) / 1e3,
                    bandwidth=None if bw is None else float(bw) * 1e6,
                    loss=float(table.get("loss", 0.0)))


def _network(net: Mapping[str, Any], ids: list[int], where: str) -> Topology:
    given = [k for k in ("preset", "latency_ms", "regions") if k in net]
    if len(given) != 1:
        raise ConfigError(f"{where}: [network] needs exactly one of preset, latency_ms (a "
                          f"matrix) or regions; got {given or 'none'}")
    loss = net.get("loss", 0.0)
    if not isinstance(loss, (int, float)) or not 0 <= loss < 1:
        raise ConfigError(f"{where}: [network] loss must be a probability in [0, 1)")
    if "preset" in net:
        extra = set(net) - {"preset", "loss"}
        if extra:
            raise ConfigError(f"{where}: [network] with a preset takes only 'loss', not {extra}")
        if net["preset"] not in PRESETS:
            raise ConfigError(f"{where}: [network] unknown preset {net['preset']!r} "
                              f"(known: {', '.join(PRESETS)})")
        topo = preset(net["preset"], ids)
    elif "latency_ms" in net:
        topo = Topology.from_matrix(
            ids, net["latency_ms"], bandwidth_mbps=net.get("bandwidth_mbps"),
            jitter_ms=float(net.get("jitter_ms", 0.0)), uplink_mbps=net.get("uplink_mbps"),
        )
    else:
        regions = net["regions"]
        if not isinstance(regions, dict):
            raise ConfigError(f"{where}: [network] regions must map region names to party lists")
        assignment: dict[int, str] = {}
        for region, members in regions.items():
            for p in members:
                if p in assignment:
                    raise ConfigError(f"{where}: party {p} is in two regions")
                assignment[p] = region
        if sorted(assignment) != ids:
            raise ConfigError(f"{where}: regions must place every party {ids} exactly once")
        up = net.get("uplink_mbps")
        topo = Topology.regions(assignment, intra=_link(net.get("intra", {}), "[network] intra"),
                                inter=_link(net.get("inter", {}), "[network] inter"),
                                uplink=None if up is None else float(up) * 1e6)
    return topo.with_loss(float(loss)) if loss else topo


def _fault(scenario: Scenario, spec: Any, where: str, ids: set[int]) -> None:
    if not isinstance(spec, dict) or "kind" not in spec:
        raise ConfigError(f"{where}: each fault is a table with a 'kind'")
    spec = dict(spec)
    kind = spec.pop("kind")
    for key in ("party", "src", "dst", "side_a", "side_b", "targets"):
        value = spec.get(key)
        members = value if isinstance(value, list) else [value] if value is not None else []
        if any(not isinstance(p, int) or p not in ids for p in members):
            raise ConfigError(f"{where}: {key} names a party outside 0..{len(ids) - 1}")
    try:
        if kind in LINK_FAULTS:
            scenario.link_faults.append(LINK_FAULTS[kind](**spec))
        elif kind == "crash":
            scenario.crashes.append(Crash(**spec))
        elif kind == "byzantine":
            scenario.byzantine.append(Byzantine(**spec))
        else:
            known = ", ".join([*LINK_FAULTS, *PARTY_FAULTS])
            raise ConfigError(f"{where}: unknown fault kind {kind!r} (known: {known})")
    except TypeError as exc:
        raise ConfigError(f"{where} ({kind}): {exc}") from None
    except ConfigError as exc:
        raise ConfigError(f"{where} ({kind}): {exc}") from None
