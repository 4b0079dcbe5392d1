"""Extrapolating the per-product baselines of ``bench copml`` from reduced rows to full size.

A per-product baseline at full CIFAR size moves ~2.4 GB per party per iteration (BGW): through a
one-process simulator that is ~118 GB per iteration, out of reach. So the case runs at a few
row counts (``--fit-rows``, e.g. R and 2R, the first rows of the data) for ``K`` measured
iterations each, and every Table I component is carried to the paper's size by a stated rule:

1. **Iterations.** For each row count, a component at 50 iterations is its one-time part (the
   phases outside the training loop: input sharing and the model's release) plus its per-
   iteration part (the training phases, summed over the K measured rounds) times 50 / K. The
   per-phase figures are maxima over parties (as in Table I's breakdown). The total uses the
   benchmark's existing rule (the measured total plus the missing iterations at the mean of
   measured iterations 2..K at the first party), so K must be at least 2.
2. **Rows.** Each component's 50-iteration value is fitted by least squares to ``a + b * rows``
   over the measured row counts (two counts: the line through both points) and evaluated at the
   full row count. With three or more counts the largest relative residual is recorded, a check
   of the linearity the rule assumes.

Everything fitted is labelled ``*_extrapolated``; the per-row measurements stay in the JSON.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from coopetition.engine.errors import ConfigError

#: Table I's components: (result key, which phases' compute/network seconds it sums)
ONCE_PHASES = ("mpc-input", "mpc-release")
ITERATION_PHASES = ("mpc-gradient", "mpc-update")
PAPER_ITERATIONS = 50

RULE = (
    "per row count R: component at 50 iterations = one-time phases (mpc-input, mpc-release) + "
    "training phases (mpc-gradient, mpc-update; each phase summed over the K measured rounds "
    "at each party, then the maximum over parties) x 50/K; total = measured total + (50-K) x mean virtual time of measured "
    "iterations 2..K at the first party; then least squares a + b*rows over the measured row "
    "counts, evaluated at the full row count"
)


def parse_rows(text: str) -> list[int]:
    """``"150,300"`` -> [150, 300]: at least two distinct positive counts, ascending."""
    try:
        rows = sorted({int(part) for part in text.split(",") if part.strip()})
    except ValueError:
        raise ConfigError(f"--fit-rows takes comma-separated row counts, got {text!r}") from None
    if len(rows) < 2 or rows[0] < 1:
        raise ConfigError(f"--fit-rows needs at least two distinct positive counts, got {text!r}")
    return rows


def components_at_50(phases: dict[str, dict[str, float]], iterations: int) -> dict[str, float]:
    """Table I's comp / comm / encdec at 50 iterations from one run's per-phase maxima."""
    scale = PAPER_ITERATIONS / iterations

    def part(key: str, names: Sequence[str], only: str | None = None) -> float:
        return sum(phases.get(n, {}).get(key, 0.0) for n in names if only is None or n == only)

    comp = part("compute_seconds", ITERATION_PHASES, "mpc-gradient") * scale
    encdec = (
        part("compute_seconds", ONCE_PHASES)
        + part("compute_seconds", ITERATION_PHASES, "mpc-update") * scale
    )
    comm = part("network_seconds", ONCE_PHASES) + part("network_seconds", ITERATION_PHASES) * scale
    return {"comp_s": comp, "comm_s": comm, "encdec_s": encdec}


def linear_fit(rows: Sequence[int], values: Sequence[float], at: int) -> dict[str, float]:
    """Least-squares ``a + b * rows`` and its value at ``at`` (plus the worst relative residual
    when there are more points than parameters)."""
    x, v = np.asarray(rows, dtype=np.float64), np.asarray(values, dtype=np.float64)
    b, a = np.polyfit(x, v, 1)
    out = {"a": float(a), "b_per_row": float(b), "value": float(a + b * at)}
    if len(rows) > 2:
        fitted = a + b * x
        out["max_relative_residual"] = float(
            np.max(np.abs(v - fitted) / np.maximum(np.abs(v), 1e-9))
        )
    return out


def fit_case(
    name: str,
    rows: Sequence[int],
    full_rows: int,
    run_at: Callable[[int], dict[str, Any]],
) -> dict[str, Any]:
    """Run ``run_at(R)`` (one measured case at R rows, returning the bench's case dict with
    ``phases``, ``iterations`` and ``total_s_extrapolated``) for every row count and fit."""
    measured: dict[str, dict[str, Any]] = {}
    series: dict[str, list[float]] = {"comp_s": [], "comm_s": [], "encdec_s": [], "total_s": []}
    for count in rows:
        case = run_at(count)
        if case.get("outcome") != "completed":
            raise RuntimeError(
                f"{name} at {count} rows did not complete: {case.get('abort_reason')}"
            )
        if (
            "total_s_extrapolated" not in case
            or not 2 <= case.get("iterations", 0) < PAPER_ITERATIONS
        ):
            raise ConfigError("the per-product fit needs --measure-iterations K (2 <= K < 50)")
        at50 = components_at_50(case["phases"], case["iterations"])
        at50["total_s"] = case["total_s_extrapolated"]
        for key, value in at50.items():
            series[key].append(value)
        measured[str(count)] = {
            **case,
            **{f"{k}_at_50_iterations": round(v, 2) for k, v in at50.items()},
        }
    out: dict[str, Any] = {"fit_rows": list(rows), "fit_rule": RULE, "fit_full_rows": full_rows}
    for key, values in series.items():
        fit = linear_fit(rows, values, full_rows)
        out[f"{key}_extrapolated"] = round(fit["value"], 1)
        out[f"{key}_fit"] = {k: round(v, 6) for k, v in fit.items()}
    out["by_rows"] = measured
    return out
