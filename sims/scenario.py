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
from coopetition.protocols.admm import AdmmConfig, Objective
from coopetition.protocols.admm.info import ADMM_INFO
from coopetition.protocols.helen.info import HELEN_INFO
from coopetition.sims import baseline_workloads
from coopetition.sims.baseline_workloads import BASELINE_KEYS, BASELINE_PROTOCOLS
from coopetition.sims.byzantine import Byzantine
from coopetition.sims.scenario_faults import LINK_FAULTS, PARTY_FAULTS, PROTOCOLS, parse_fault
from coopetition.sims.scenario_network import network
from coopetition.sims.scenario_values import integer, located, number, typed
from coopetition.transports.faults import Crash, LinkFault
from coopetition.transports.wan import Topology

#: re-exported: the fault kinds and protocols a scenario may name (``scenario_faults``)
__all__ = ["LINK_FAULTS", "PARTY_FAULTS", "PROTOCOLS", "Scenario", "load", "parse"]

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
    name = located(where, "run", lambda: typed(run, "name", str, "run", default=Path(source).stem))
    if seed is None:
        seed = located(where, "run", lambda: typed(run, "seed", int, "run", default=0))
    if parties is None:
        parties = located(where, "run", lambda: typed(run, "parties", int, "run", default=3))
    m = parties
    if not 2 <= m <= 1000:
        raise ConfigError(f"{where}: [run] parties must be between 2 and 1000, got {m}")
    ids = list(range(m))

    protocol = _protocol(doc.get("protocol", {}), where)
    data = _data(doc.get("data", {}), where)
    topology = network(doc.get("network", {"preset": "lan"}), ids, where)
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
        fault = parse_fault(protocol, spec, f"{where}: faults[{i}]", set(ids))
        if isinstance(fault, Crash):
            scenario.crashes.append(fault)
        elif isinstance(fault, Byzantine):
            scenario.byzantine.append(fault)
        else:
            scenario.link_faults.append(fault)
    for kind, items in (("crash", scenario.crashes), ("byzantine", scenario.byzantine)):
        parties_hit = [f.party for f in items]
        if len(set(parties_hit)) != len(parties_hit):
            raise ConfigError(f"{where}: at most one {kind} fault per party")
    return scenario


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
        objective = typed(table, "objective", str, "protocol", default="lasso")
        lam = number(table, "lam", "protocol", default=1.0, low=0.0)
        rho = number(table, "rho", "protocol", default=1.0, low=0.0, low_open=True)
        l1 = number(table, "l1_ratio", "protocol", default=0.5, low=0.0, high=1.0)
        iterations = integer(table, "iterations", "protocol", default=10, low=1, high=100_000)
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

    return located(where, "protocol", check)


def _dkg_protocol(table: Mapping[str, Any], out: dict[str, Any]) -> dict[str, Any]:
    """Distributed key generation: bits (2048 unless insecure_allow_small), batch."""
    integer(table, "bits", "protocol", default=2048, low=512, high=4096)
    integer(table, "batch", "protocol", default=256, low=1, high=100_000)
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
        integer(table, "rows_per_party", "data", default=50, low=1, high=10**7)
        integer(table, "features", "data", default=8, low=1, high=10**5)
        number(table, "noise", "data", default=0.1, low=0.0)
        return out

    return located(where, "data", check)


def _deadlines(table: Mapping[str, Any], where: str) -> Deadlines:
    def check() -> Deadlines:
        for key in table:
            number(table, key, "deadlines", default=1.0, low=0.0, low_open=True)
        return Deadlines(**table)

    return located(where, "deadlines", check)


def _compute(table: Mapping[str, Any], where: str) -> dict[str, Any]:
    def check() -> dict[str, Any]:
        out = dict(table)
        if out.setdefault("mode", "model") not in ("model", "measured"):
            raise ConfigError("[compute] mode must be 'model' or 'measured'")
        number(table, "seconds_per_element", "compute", default=2e-9, low=0.0)
        number(table, "base_seconds", "compute", default=1e-5, low=0.0)
        per_op = out.setdefault("per_operation", {})
        if not isinstance(per_op, dict) or any(
            isinstance(v, bool) or not isinstance(v, int | float) or not v >= 0
            for v in per_op.values()
        ):
            raise ConfigError(
                "[compute] per_operation must map operation labels to non-negative seconds"
            )
        return out

    return located(where, "compute", check)


def _reliable(table: Mapping[str, Any], where: str) -> dict[str, Any]:
    """The options given to ReliableTransport (the runner's default rto_max is 2 s)."""

    def check() -> dict[str, Any]:
        rto_min = number(table, "rto_min", "reliable", default=0.2, low=0.0, low_open=True)
        rto_initial = number(table, "rto_initial", "reliable", default=1.0, low=0.0, low_open=True)
        rto_max = number(table, "rto_max", "reliable", default=2.0, low=0.0, low_open=True)
        number(table, "backoff", "reliable", default=2.0, low=1.0)
        integer(table, "window", "reliable", default=4096, low=1, high=10**7)
        if not rto_min <= rto_initial <= rto_max:
            raise ConfigError(
                f"[reliable] need rto_min <= rto_initial <= rto_max, got "
                f"{rto_min} / {rto_initial} / {rto_max}"
            )
        return dict(table)

    return located(where, "reliable", check)


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

    return located(where, "expect", check)


def _copml_protocol(table: Mapping[str, Any], out: dict[str, Any]) -> dict[str, Any]:
    """COPML in a scenario: ``preset`` (case1/case2) and ``iterations``; N is [run] parties."""
    extra = set(table) - {"name", "preset", "iterations"}
    if extra:
        raise ConfigError(f"[protocol] keys {sorted(extra)} do not apply to copml")
    preset = typed(table, "preset", str, "protocol", default="case1")
    if preset not in ("case1", "case2"):
        raise ConfigError(f"[protocol] preset {preset!r}: case1 or case2")
    out["preset"] = preset
    out["iterations"] = integer(table, "iterations", "protocol", default=10, low=1, high=100_000)
    return out
