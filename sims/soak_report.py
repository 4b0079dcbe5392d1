"""What the soak checks its runs against and how it sums them up: the textbook consensus-ADMM
reference (independent of the engine's code) and the growth of memory, descriptors and threads
from the first runs to the last."""

from __future__ import annotations

from typing import Any

import numpy as np

from coopetition.sims.workloads import AdmmWorkload


def textbook_admm(workload: AdmmWorkload) -> np.ndarray:
    """Consensus ADMM (Boyd et al. 2011, sec. 7.1 and 8.2) written out in numpy: the reference
    every completed model is compared with, independent of the engine's own code."""
    cfg = workload.config
    rho, m = cfg.rho, len(workload.parts)
    lam1, lam2 = cfg.objective.lam1, cfg.objective.lam2
    d = workload.true_model.shape[0]
    inverses = [np.linalg.inv(X.T @ X + rho * np.eye(d)) for X, _ in workload.parts.values()]
    xty = [X.T @ y for X, y in workload.parts.values()]
    z, u = np.zeros(d), [np.zeros(d) for _ in range(m)]
    for _ in range(cfg.iterations):
        w = [inverses[i] @ (xty[i] + rho * (z - u[i])) for i in range(m)]
        v = sum(w[i] + u[i] for i in range(m)) / m
        kappa = lam1 / (rho * m)
        z = np.sign(v) * np.maximum(np.abs(v) - kappa, 0) * (rho * m / (rho * m + 2 * lam2))
        u = [u[i] + w[i] - z for i in range(m)]
    return z


def mean_of(values: list[float]) -> float:
    return float(np.mean(values)) if values else 0.0


def summarise(runs: list[dict[str, Any]], driver: list[dict[str, float]]) -> dict[str, Any]:
    window = min(20, max(1, len(runs) // 2))

    def peak(run: dict[str, Any], key: str) -> float:
        return max(p[key] for p in run["parties"].values())

    first, last = runs[:window], runs[-window:]
    growth = {
        "rss_growth_mib": round(
            mean_of([peak(r, "rss_mib") for r in last])
            - mean_of([peak(r, "rss_mib") for r in first]),
            2,
        ),
        "fd_growth": round(
            mean_of([peak(r, "fds") for r in last]) - mean_of([peak(r, "fds") for r in first]), 2
        ),
        "thread_growth": round(
            mean_of([peak(r, "threads") for r in last])
            - mean_of([peak(r, "threads") for r in first]),
            2,
        ),
        "driver_rss_growth_mib": round(
            mean_of([d["rss_mib"] for d in driver[-window:]])
            - mean_of([d["rss_mib"] for d in driver[:window]]),
            2,
        ),
        "driver_fd_growth": round(
            mean_of([d["fds"] for d in driver[-window:]])
            - mean_of([d["fds"] for d in driver[:window]]),
            2,
        ),
    }
    by_fault: dict[str, dict[str, int]] = {}
    for r in runs:
        entry = by_fault.setdefault(r["fault"]["kind"], {"runs": 0, "completed": 0, "aborted": 0})
        entry["runs"] += 1
        if r["outcome"] in ("completed", "aborted"):
            entry[r["outcome"]] += 1
    rss = [peak(r, "rss_mib") for r in runs]
    return {
        "runs": len(runs),
        "hangs": sum(r["outcome"] == "hang" for r in runs),
        "wrong_models": sum(r["wrong_model"] for r in runs),
        "runs_with_problems": sum(bool(r["problems"]) for r in runs),
        "completed": sum(r["outcome"] == "completed" for r in runs),
        # typed, but not what the catalogue predicts (a busy machine starves heartbeats)
        "outcomes_off_catalogue": sum(
            (r["catalogue_expects"], r["outcome"]) in {("completes", "aborted")} for r in runs
        ),
        "aborted": sum(r["outcome"] == "aborted" for r in runs),
        **growth,
        "growth_window_runs": window,
        "party_peak_rss_mib": {"min": min(rss), "max": max(rss)},
        "seconds_per_run": {
            "mean": round(mean_of([r["seconds"] for r in runs]), 2),
            "max": max(r["seconds"] for r in runs),
        },
        "by_fault": by_fault,
    }
