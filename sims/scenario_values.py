"""Checked values of a scenario's TOML tables: every failure is a ConfigError naming the key.

Shared by the scenario loader (``scenario``) and its network and fault parts, so a wrong type
or range reads the same wherever it occurs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from coopetition.engine.errors import ConfigError


def number(
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


def integer(
    table: Mapping[str, Any], key: str, section: str, *, default: int, low: int, high: int = 10**9
) -> int:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(f"[{section}] {key} must be an integer in [{low}, {high}], got {value!r}")
    return value


def located(where: str, section: str, fn: Any) -> Any:
    """Run a section's checks; every ConfigError comes out naming the file and section."""
    try:
        return fn()
    except ConfigError as exc:
        text = str(exc)
        if not text.startswith("["):
            text = f"[{section}] {text}"
        raise ConfigError(f"{where}: {text}") from None


def typed(
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
