"""The ``[network]`` table of a scenario: a preset, a latency matrix or regions -> a Topology."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from coopetition.engine.errors import ConfigError
from coopetition.sims.scenario_values import located, number
from coopetition.transports.wan import PRESETS, LinkSpec, Topology, preset

LINK_KEYS = {"latency_ms", "jitter_ms", "bandwidth_mbps", "loss"}


def link(table: Any, section: str) -> LinkSpec:
    if not isinstance(table, dict) or set(table) - LINK_KEYS:
        raise ConfigError(f"[{section}] must be a table with keys among {sorted(LINK_KEYS)}")
    bw = table.get("bandwidth_mbps")
    if bw is not None:
        bw = number(table, "bandwidth_mbps", section, default=0, low=0.0, low_open=True)
    return LinkSpec(
        latency=number(table, "latency_ms", section, default=0.0, low=0.0) / 1e3,
        jitter=number(table, "jitter_ms", section, default=0.0, low=0.0) / 1e3,
        bandwidth=None if bw is None else bw * 1e6,
        loss=number(table, "loss", section, default=0.0, low=0.0, high=1.0, high_open=True),
    )


def matrix(value: Any, m: int, key: str, *, positive: bool) -> list[list[float]]:
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


def network(net: Mapping[str, Any], ids: list[int], where: str) -> Topology:
    return located(where, "network", lambda: _network_checked(net, ids))


def _network_checked(net: Mapping[str, Any], ids: list[int]) -> Topology:
    given = [k for k in ("preset", "latency_ms", "regions") if k in net]
    if len(given) != 1:
        raise ConfigError(
            f"[network] needs exactly one of preset, latency_ms (a matrix) or "
            f"regions; got {given or 'none'}"
        )
    loss = number(net, "loss", "network", default=0.0, low=0.0, high=1.0, high_open=True)
    up = net.get("uplink_mbps")
    if up is not None:
        up = number(net, "uplink_mbps", "network", default=0, low=0.0, low_open=True)
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
        latency = matrix(net["latency_ms"], len(ids), "latency_ms", positive=False)
        bw: Any = net.get("bandwidth_mbps")
        if isinstance(bw, list):
            bw = matrix(bw, len(ids), "bandwidth_mbps", positive=True)
        elif bw is not None:
            bw = number(net, "bandwidth_mbps", "network", default=0, low=0.0, low_open=True)
        topo = Topology.frommatrix(
            ids,
            latency,
            bandwidth_mbps=bw,
            jitter_ms=number(net, "jitter_ms", "network", default=0.0, low=0.0),
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
            intra=link(net.get("intra", {}), "network.intra"),
            inter=link(net.get("inter", {}), "network.inter"),
            uplink=None if up is None else up * 1e6,
        )
    return topo.with_loss(loss) if loss else topo
