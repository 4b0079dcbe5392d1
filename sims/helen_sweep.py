"""``bench helen --sweep d|m``: the shape of the paper's Fig. 3 (Helen's scaling), as CSV and PNG.

Fig. 3a varies d (10..90) at m = 4, Fig. 3b varies m (2..8) at d = 50, each with the paper's
three parts: SVD proofs (our ``input`` phase), MPC offline (made in the starting process here:
``prepare_wall_seconds``, wall only) and model compute (``local`` + ``coordinate`` + ``verify``
+ ``release``). Our points are CPU seconds per party and their cost in E; the paper plots wall
seconds on 4 servers of 32 cores, so compare shapes (d^2 growth of the proofs, the linear and
quadratic terms in m), not heights. ``--sweep-values`` replaces the paper's points, and then the
other dimension is ``--parties``/``--features`` as given (the full sweep at 2048 bits takes
hours here).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from coopetition.sims.baseline_benchkit import write_csv

#: Fig. 3a: d at m = 4; Fig. 3b: m at d = 50
PAPER_POINTS = {"d": (10, 20, 30, 40, 50, 60, 70, 80, 90), "m": (2, 3, 4, 5, 6, 7, 8)}
FIXED = {"d": ("parties", 4), "m": ("features", 50)}
MODEL_COMPUTE = ("local", "coordinate", "verify", "release")


def points(args: argparse.Namespace) -> list[int]:
    if args.sweep_values:
        return [int(v) for v in args.sweep_values.split(",") if v.strip()]
    return list(PAPER_POINTS[args.sweep])


def row(axis: str, value: int, result: dict[str, Any]) -> dict[str, Any]:
    """One CSV row: the three parts of Fig. 3 for one point."""
    phases = result["phases"]
    compute_cpu = sum(phases[p]["cpu_seconds_mean"] for p in MODEL_COMPUTE if p in phases)
    compute_e = sum(phases[p]["cost_E_mean"] for p in MODEL_COMPUTE if p in phases)
    return {
        "sweep": axis,
        "parties": result["parties"],
        "features": result["features"],
        "iterations": result["iterations"],
        "key_bits": result["key_bits"],
        "svd_proofs_cpu_seconds": phases["input"]["cpu_seconds_mean"],
        "svd_proofs_E": phases["input"]["cost_E_mean"],
        "mpc_offline_wall_seconds": result["prepare_wall_seconds"],
        "model_compute_cpu_seconds": round(compute_cpu, 3),
        "model_compute_E": round(compute_e, 1),
        "wall_seconds": result["wall_seconds"],
        "load_average_after": " ".join(str(v) for v in result["load_average_after"]),
    }


def sweep(args: argparse.Namespace, run_one: Any) -> dict[str, Any]:
    """Run ``run_one`` at every point of the sweep; write CSV and PNG beside ``--out``."""
    axis = args.sweep
    fixed_name, fixed_value = FIXED[axis]
    out = args.out
    args.out = None
    rows, runs = [], []
    if not args.sweep_values:  # the paper's points at the paper's fixed m or d
        setattr(args, fixed_name, fixed_value)
    for value in points(args):
        setattr(args, "features" if axis == "d" else "parties", value)
        runs.append(run_one(args))
        rows.append(row(axis, value, runs[-1]))
    args.out = out
    result = {"benchmark": "helen", "sweep": axis, "points": rows, "runs": runs}
    if out is not None:
        stem = Path(out).with_suffix("")
        write_csv(stem.with_name(f"{stem.name}_fig3{'a' if axis == 'd' else 'b'}.csv"), rows)
        plot(rows, axis, stem.with_name(f"{stem.name}_fig3{'a' if axis == 'd' else 'b'}.png"))
    return result


def plot(rows: list[dict[str, Any]], axis: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = [r["features" if axis == "d" else "parties"] for r in rows]
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    ax.plot(x, [r["svd_proofs_E"] for r in rows], "o-", label="SVD proofs (input phase)")
    ax.plot(x, [r["model_compute_E"] for r in rows], "s-", label="model compute")
    ax.set_xlabel("number of dimensions d" if axis == "d" else "number of parties m")
    ax.set_ylabel("cost per party (E = one 2048-bit r^N mod N^2)")
    fixed = "m = 4" if axis == "d" else "d = 50"
    ax.set_title(f"Helen's scaling, paper Fig. 3{'a' if axis == 'd' else 'b'} shape ({fixed})")
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
