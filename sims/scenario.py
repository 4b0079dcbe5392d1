"""Scenario files: one TOML document that fixes a whole simulated run.

A scenario names the protocol and its parameters, the parties and their data, the network (a
preset, a latency matrix or regions), the deadlines, how compute is charged, the faults, and
optionally what the run must lead to (``[expect]``). Loading is strict: an unknown section or
key, a wrong type or an impossible value is a ``ConfigError`` that names the section and key, so a
typo never silently turns a fault off. See ``docs/simulation.md`` for the full reference and
``sims/scenarios/`` for examples.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from coopetition.engine.errors import ConfigError
from coopetition.engine.metadata import ProtocolInfo
from coopetition.engine.party import Deadlines
from coopetition.protocols.admm import AdmmConfig, Objective
from coopetition.protocols.admm.info import ADMM_INFO
from coopetition.protocols.helen.info import HELEN_INFO
from coopetition.sims import baseline_workloads
from coopetition.sims.baseline_workloads import BASELINE_KEYS, BASELINE_PROTOCOLS
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
from coopetition.transports.wan import PRESETS, LinkSpec, Topology, preset

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

_SECTIONS = {
    "run": {"name", "seed", "parties"},
    "protocol": {
        "name",
        *ADMM_INFO.parameters,
        *HELEN_INFO.parameters,
        *BASELINE_KEYS,
        "preset",
        "bits",
        "batch",
        "insecure_allow_small",
    },
    "data": {"kind", "rows_per_party", "features", "noise"},
    "network": {
        "preset",
        "latency_ms",
        "bandwidth_mbps",
        "jitter_ms",
        "loss",
        "uplink_mbps",
        "regions",
        "intra",
        "inter",
    },
    "deadlines": {"phase", "heartbeat_interval", "heartbeat_timeout", "finish", "abort_send"},
    "compute": {"mode", "seconds_per_element", "base_seconds", "per_operation"},
    "reliable": {"rto_initial", "rto_min", "rto_max", "backoff", "window"},
    "expect": {"outcome", "abort_code", "culprit"},
    "faults": set(),
}
_LINK_KEYS = {"latency_ms", "jitter_ms", "bandwidth_mbps", "loss"}

#: The protocols a scenario may name, described by their own metadata (phases, tags, rounds),
#: so that a crash or a Byzantine rewrite aimed at a phase, round or tag that never occurs is
#: refused at load time instead of silently never firing.
PROTOCOLS: dict[str, ProtocolInfo] = {ADMM_INFO.name: ADMM_INFO, HELEN_INFO.name: HELEN_INFO}
#: kept for callers that read it: what each phase of plaintext ADMM sends
ADMM_MESSAGES = {p.name: p.tags for p in ADMM_INFO.phases if p.tags}

_FAULT_TYPES: dict[str, str] = {
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
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read scenario {path}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    return parse(doc, seed=seed, parties=parties, source=str(path))


def parse(
    doc: Mapping[str, Any],
    *,
    seed: int | None = None,
    parties: int | None = None,
    source: str = "<scenario>",
) -> Scenario:
    where = source
    for section, value in doc.items():
        if section not in _SECTIONS:
            raise ConfigError(
                f"{where}: unknown section [{section}] (known: {', '.join(sorted(_SECTIONS))})"
            )
        if section == "faults":
            if not isinstance(value, list):
                raise ConfigError(f"{where}: faults must be an array of tables ([[faults]])")
            continue
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: [{section}] must be a table")
        unknown = set(value) - _SECTIONS[section]
        if unknown:
            raise ConfigError(
                f"{where}: unknown key(s) {sorted(unknown)} in [{section}] "
                f"(known: {', '.join(sorted(_SECTIONS[section]))})"
            )

    run = doc.get("run", {})
    name = _located(where, "run", lambda: _get(run, "name", str, "run", default=Path(source).stem))
    if seed is None:
        seed = _located(where, "run", lambda: _get(run, "seed", int, "run", default=0))
    if parties is None:
        parties = _located(where, "run", lambda: _get(run, "parties", int, "run", default=3))
    m = parties
    if not 2 <= m <= 1000:
        raise ConfigError(f"{where}: [run] parties must be between 2 and 1000, got {m}")
    ids = list(range(m))

    protocol = _protocol(doc.get("protocol", {}), where)
    data = _data(doc.get("data", {}), where)
    topology = _network(doc.get("network", {"preset": "lan"}), ids, where)
    deadlines = _deadlines(doc.get("deadlines", {}), where)
    compute = _compute(doc.get("compute", {}), where)
    reliable = _reliable(doc.get("reliable", {}), where)
    expect = _expect(doc.get("expect", {}), ids, where)

    scenario = Scenario(
        name,
        seed,
        m,
        protocol,
        data,
        topology,
        deadlines,
        compute,
        reliable,
        expect=expect,
        source=source,
    )
    for i, spec in enumerate(doc.get("faults", [])):
        _fault(scenario, spec, f"{where}: faults[{i}]", set(ids))
    for kind, items in (("crash", scenario.crashes), ("byzantine", scenario.byzantine)):
        parties_hit = [f.party for f in items]
        if len(set(parties_hit)) != len(parties_hit):
            raise ConfigError(f"{where}: at most one {kind} fault per party")
    return scenario


def _number(
    table: Mapping[str, Any],
    key: str,
    section: str,
    *,
    default: float,
    low: float = -math.inf,
    high: float = math.inf,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """A finite number (not a bool) in the given range, or a ConfigError naming the key."""
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        raise ConfigError(f"[{section}] {key} must be a number, got {value!r}")
    too_low = value <= low if low_open else value < low
    too_high = value >= high if high_open else value > high
    if too_low or too_high:
        if high == math.inf:
            need = f"{'>' if low_open else '>='} {low:g}"
        else:
            need = f"in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
        raise ConfigError(f"[{section}] {key} must be {need}, got {value!r}")
    return float(value)


def _integer(
    table: Mapping[str, Any], key: str, section: str, *, default: int, low: int, high: int = 10**9
) -> int:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(f"[{section}] {key} must be an integer in [{low}, {high}], got {value!r}")
    return value


def _located(where: str, section: str, fn: Any) -> Any:
    """Run a section's checks; every ConfigError comes out naming the file and section."""
    try:
        return fn()
    except ConfigError as exc:
        text = str(exc)
        if not text.startswith("["):
            text = f"[{section}] {text}"
        raise ConfigError(f"{where}: {text}") from None


def _protocol(table: Mapping[str, Any], where: str) -> dict[str, Any]:
    def check() -> dict[str, Any]:
        out = dict(table)
        if not isinstance(out.setdefault("name", "admm"), str):
            raise ConfigError(f"{where}: [protocol] name must be a string")
        if out["name"] == "dkg":
            return _dkg_protocol(table, out)
        if out.setdefault("name", "admm") == "copml":
            return _copml_protocol(table, out)
        if out["name"] in BASELINE_PROTOCOLS:
            baseline_workloads.validate(out)
            return out
        info = PROTOCOLS.get(out["name"])
        if info is not None and info.check is not None:  # the protocol checks its own keys
            info.check(table)
            return out
        if out["name"] != "admm":
            raise ConfigError(
                f"[protocol] name {out['name']!r} is not supported by the simulator yet "
                f"(supported: admm, copml, dkg, helen, {', '.join(BASELINE_PROTOCOLS)})"
            )
        foreign = set(table) & {*BASELINE_KEYS, "preset"}
        if foreign:
            raise ConfigError(f"[protocol] {sorted(foreign)} are not admm keys")
        objective = _get(table, "objective", str, "protocol", default="lasso")
        lam = _number(table, "lam", "protocol", default=1.0, low=0.0)
        rho = _number(table, "rho", "protocol", default=1.0, low=0.0, low_open=True)
        l1 = _number(table, "l1_ratio", "protocol", default=0.5, low=0.0, high=1.0)
        iterations = _integer(table, "iterations", "protocol", default=10, low=1, high=100_000)
        try:
            AdmmConfig(
                objective=Objective(
                    objective, lam=0.0 if objective == "least_squares" else lam, l1_ratio=l1
                ),
                rho=rho,
                iterations=iterations,
            )
        except ConfigError as exc:
            raise ConfigError(f"[protocol] {exc}") from None
        return out

    return _located(where, "protocol", check)


def _dkg_protocol(table: Mapping[str, Any], out: dict[str, Any]) -> dict[str, Any]:
    """Distributed key generation: bits (2048 unless insecure_allow_small), batch."""
    _integer(table, "bits", "protocol", default=2048, low=512, high=4096)
    _integer(table, "batch", "protocol", default=256, low=1, high=100_000)
    if not isinstance(table.get("insecure_allow_small", False), bool):
        raise ConfigError("[protocol] insecure_allow_small must be true or false")
    admm_only = sorted({"objective", "lam", "rho", "iterations", "l1_ratio"} & set(table))
    if admm_only:
        raise ConfigError(f"[protocol] {admm_only} do not apply to dkg")
    return out


def _data(table: Mapping[str, Any], where: str) -> dict[str, Any]:
    def check() -> dict[str, Any]:
        out = dict(table)
        if out.setdefault("kind", "synthetic") != "synthetic":
            raise ConfigError("[data] kind must be 'synthetic'")
        _integer(table, "rows_per_party", "data", default=50, low=1, high=10**7)
        _integer(table, "features", "data", default=8, low=1, high=10**5)
        _number(table, "noise", "data", default=0.1, low=0.0)
        return out

    return _located(where, "data", check)


def _deadlines(table: Mapping[str, Any], where: str) -> Deadlines:
    def check() -> Deadlines:
        for key in table:
            _number(table, key, "deadlines", default=1.0, low=0.0, low_open=True)
        return Deadlines(**table)

    return _located(where, "deadlines", check)


def _compute(table: Mapping[str, Any], where: str) -> dict[str, Any]:
    def check() -> dict[str, Any]:
        out = dict(table)
        if out.setdefault("mode", "model") not in ("model", "measured"):
            raise ConfigError("[compute] mode must be 'model' or 'measured'")
        _number(table, "seconds_per_element", "compute", default=2e-9, low=0.0)
        _number(table, "base_seconds", "compute", default=1e-5, low=0.0)
        per_op = out.setdefault("per_operation", {})
        if not isinstance(per_op, dict) or any(
            isinstance(v, bool) or not isinstance(v, int | float) or not v >= 0
            for v in per_op.values()
        ):
            raise ConfigError(
                "[compute] per_operation must map operation labels to non-negative seconds"
            )
        return out

    return _located(where, "compute", check)


def _reliable(table: Mapping[str, Any], where: str) -> dict[str, Any]:
    """The options given to ReliableTransport (the runner's default rto_max is 2 s)."""

    def check() -> dict[str, Any]:
        rto_min = _number(table, "rto_min", "reliable", default=0.2, low=0.0, low_open=True)
        rto_initial = _number(table, "rto_initial", "reliable", default=1.0, low=0.0, low_open=True)
        rto_max = _number(table, "rto_max", "reliable", default=2.0, low=0.0, low_open=True)
        _number(table, "backoff", "reliable", default=2.0, low=1.0)
        _integer(table, "window", "reliable", default=4096, low=1, high=10**7)
        if not rto_min <= rto_initial <= rto_max:
            raise ConfigError(
                f"[reliable] need rto_min <= rto_initial <= rto_max, got "
                f"{rto_min} / {rto_initial} / {rto_max}"
            )
        return dict(table)

    return _located(where, "reliable", check)


def _expect(table: Mapping[str, Any], ids: list[int], where: str) -> dict[str, Any]:
    def check() -> dict[str, Any]:
        if "outcome" in table and table["outcome"] not in ("completed", "aborted"):
            raise ConfigError("[expect] outcome must be 'completed' or 'aborted'")
        if "abort_code" in table:
            codes = table["abort_code"]
            codes = codes if isinstance(codes, list) else [codes]
            if not codes or any(not isinstance(c, str) for c in codes):
                raise ConfigError(
                    f"[expect] abort_code must be a string or a list of strings, "
                    f"got {table['abort_code']!r}"
                )
        if "culprit" in table:
            culprit = table["culprit"]
            if isinstance(culprit, bool) or not isinstance(culprit, int) or culprit not in ids:
                raise ConfigError(
                    f"[expect] culprit must be a party in 0..{len(ids) - 1}, got {culprit!r}"
                )
        return dict(table)

    return _located(where, "expect", check)


def _get(
    table: Mapping[str, Any],
    key: str,
    kind: type | tuple[type, ...],
    section: str,
    default: Any = None,
) -> Any:
    value = table.get(key, default)
    if kinds := (kind if isinstance(kind, tuple) else (kind,)):
        ok = isinstance(value, kinds) and not (isinstance(value, bool) and bool not in kinds)
        if value is not None and not ok:
            names = "/".join(k.__name__ for k in kinds)
            raise ConfigError(f"[{section}] {key} must be {names}, got {value!r}")
    return value


def _link(table: Any, section: str) -> LinkSpec:
    if not isinstance(table, dict) or set(table) - _LINK_KEYS:
        raise ConfigError(f"[{section}] must be a table with keys among {sorted(_LINK_KEYS)}")
    bw = table.get("bandwidth_mbps")
    if bw is not None:
        bw = _number(table, "bandwidth_mbps", section, default=0, low=0.0, low_open=True)
    return LinkSpec(
        latency=_number(table, "latency_ms", section, default=0.0, low=0.0) / 1e3,
        jitter=_number(table, "jitter_ms", section, default=0.0, low=0.0) / 1e3,
        bandwidth=None if bw is None else bw * 1e6,
        loss=_number(table, "loss", section, default=0.0, low=0.0, high=1.0, high_open=True),
    )


def _matrix(value: Any, m: int, key: str, *, positive: bool) -> list[list[float]]:
    if (
        not isinstance(value, list)
        or len(value) != m
        or any(not isinstance(row, list) or len(row) != m for row in value)
    ):
        raise ConfigError(f"[network] {key} must be a {m}x{m} matrix (one row per sender)")
    out = []
    for i, row in enumerate(value):
        cells = []
        for j, cell in enumerate(row):
            ok = (
                not isinstance(cell, bool)
                and isinstance(cell, int | float)
                and (math.isfinite(cell) and (cell > 0 or (not positive and cell >= 0) or i == j))
            )
            if not ok:
                need = "positive" if positive else "non-negative"
                raise ConfigError(
                    f"[network] {key}[{i}][{j}] must be a {need} number, got {cell!r}"
                )
            cells.append(float(cell))
        out.append(cells)
    return out


def _network(net: Mapping[str, Any], ids: list[int], where: str) -> Topology:
    return _located(where, "network", lambda: _network_checked(net, ids))


def _network_checked(net: Mapping[str, Any], ids: list[int]) -> Topology:
    given = [k for k in ("preset", "latency_ms", "regions") if k in net]
    if len(given) != 1:
        raise ConfigError(
            f"[network] needs exactly one of preset, latency_ms (a matrix) or "
            f"regions; got {given or 'none'}"
        )
    loss = _number(net, "loss", "network", default=0.0, low=0.0, high=1.0, high_open=True)
    up = net.get("uplink_mbps")
    if up is not None:
        up = _number(net, "uplink_mbps", "network", default=0, low=0.0, low_open=True)
    if "preset" in net:
        extra = set(net) - {"preset", "loss"}
        if extra:
            raise ConfigError(f"[network] with a preset takes only 'loss', not {sorted(extra)}")
        if net["preset"] not in PRESETS:
            raise ConfigError(
                f"[network] unknown preset {net['preset']!r} (known: {', '.join(PRESETS)})"
            )
        topo = preset(net["preset"], ids)
    elif "latency_ms" in net:
        extra = set(net) - {"latency_ms", "bandwidth_mbps", "jitter_ms", "loss", "uplink_mbps"}
        if extra:
            raise ConfigError(f"[network] with a latency matrix does not take {sorted(extra)}")
        latency = _matrix(net["latency_ms"], len(ids), "latency_ms", positive=False)
        bw: Any = net.get("bandwidth_mbps")
        if isinstance(bw, list):
            bw = _matrix(bw, len(ids), "bandwidth_mbps", positive=True)
        elif bw is not None:
            bw = _number(net, "bandwidth_mbps", "network", default=0, low=0.0, low_open=True)
        topo = Topology.from_matrix(
            ids,
            latency,
            bandwidth_mbps=bw,
            jitter_ms=_number(net, "jitter_ms", "network", default=0.0, low=0.0),
            uplink_mbps=up,
        )
    else:
        extra = set(net) - {"regions", "intra", "inter", "loss", "uplink_mbps"}
        if extra:
            raise ConfigError(
                f"[network] with regions does not take {sorted(extra)} "
                "(give link parameters in intra / inter)"
            )
        regions = net["regions"]
        if not isinstance(regions, dict):
            raise ConfigError("[network] regions must map region names to party lists")
        assignment: dict[int, str] = {}
        for region, members in regions.items():
            if not isinstance(members, list):
                raise ConfigError(
                    f"[network] regions.{region} must be a list of parties, got {members!r}"
                )
            for p in members:
                if isinstance(p, bool) or not isinstance(p, int):
                    raise ConfigError(f"[network] regions.{region} lists {p!r}, not a party")
                if p in assignment:
                    raise ConfigError(f"[network] party {p} is in two regions")
                assignment[p] = region
        if sorted(assignment) != ids:
            raise ConfigError(f"[network] regions must place every party {ids} exactly once")
        topo = Topology.regions(
            assignment,
            intra=_link(net.get("intra", {}), "network.intra"),
            inter=_link(net.get("inter", {}), "network.inter"),
            uplink=None if up is None else up * 1e6,
        )
    return topo.with_loss(loss) if loss else topo


def _check_fault_types(spec: Mapping[str, Any], ids: set[int]) -> None:
    for key, value in spec.items():
        kind = _FAULT_TYPES.get(key)
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


def _copml_protocol(table: Mapping[str, Any], out: dict[str, Any]) -> dict[str, Any]:
    """COPML in a scenario: ``preset`` (case1/case2) and ``iterations``; N is [run] parties."""
    extra = set(table) - {"name", "preset", "iterations"}
    if extra:
        raise ConfigError(f"[protocol] keys {sorted(extra)} do not apply to copml")
    preset = _get(table, "preset", str, "protocol", default="case1")
    if preset not in ("case1", "case2"):
        raise ConfigError(f"[protocol] preset {preset!r}: case1 or case2")
    out["preset"] = preset
    out["iterations"] = _integer(table, "iterations", "protocol", default=10, low=1, high=100_000)
    return out


def _check_target(scenario: Scenario, phase: str, round_: int | None, tag: str | None) -> None:
    """Refuse a phase, round or tag the protocol never sends: such a fault would never fire."""
    if scenario.protocol.get("name") == "dkg":
        if phase != "dkg":
            raise ConfigError(f"phase {phase!r} never sends a message in dkg (only 'dkg')")
        return  # rounds are batches (as many as the search needs); tags depend on the batch
    if scenario.protocol.get("name") == "copml":
        if not phase.startswith("copml-"):
            raise ConfigError(f"phase {phase!r} never sends a message in copml")
        return
    if scenario.protocol.get("name") in BASELINE_PROTOCOLS:
        baseline_workloads.check_target(scenario.protocol, phase, round_, tag)
        return
    info = PROTOCOLS[str(scenario.protocol.get("name", ADMM_INFO.name))]
    info.check_target(phase, round_, tag, scenario.protocol)


def _fault(scenario: Scenario, spec: Any, where: str, ids: set[int]) -> None:
    if not isinstance(spec, dict) or "kind" not in spec:
        raise ConfigError(f"{where}: each fault is a table with a 'kind'")
    spec = dict(spec)
    kind = spec.pop("kind")
    if not isinstance(kind, str) or (kind not in LINK_FAULTS and kind not in PARTY_FAULTS):
        known = ", ".join([*LINK_FAULTS, *PARTY_FAULTS])
        raise ConfigError(f"{where}: unknown fault kind {kind!r} (known: {known})")
    try:
        _check_fault_types(spec, ids)
        if kind in LINK_FAULTS:
            scenario.link_faults.append(LINK_FAULTS[kind](**spec))
        elif kind == "crash":
            crash = Crash(**spec)
            if crash.phase is not None:
                _check_target(scenario, crash.phase, crash.round, None)
            scenario.crashes.append(crash)
        else:
            byz = Byzantine(**spec)
            _check_target(scenario, byz.phase, byz.round, byz.tag)
            byz.check_peers(sorted(ids))
            scenario.byzantine.append(byz)
    except TypeError as exc:
        raise ConfigError(f"{where} ({kind}): {exc}") from None
    except ConfigError as exc:
        raise ConfigError(f"{where} ({kind}): {exc}") from None
