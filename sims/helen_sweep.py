"""``bench helen --sweep d|m``: the shape of the paper's Fig. 3 (Helen's scaling), as CSV and PNG.

Fig. 3a varies d (10..90) at m = 4, Fig. 3b varies m (2..8) at d = 50, each with the paper's
three parts: SVD proofs (our ``input`` phase), MPC offline and model compute (``local`` +
``coordinate`` + ``verify`` + ``release``), ``--iterations`` ADMM iterations (1 for Fig. 3).

Every point is the same workload except for the swept dimension. Pinned across the points
(``Pins``, written into every CSV row and checked equal by the tests): rows per party, the
data seed, iterations, the key, rho and lambda (their m = 4 values, ``RHO_PER_ROW`` and
``LAM_PER_ROW`` times 4 x rows; ``bench helen`` alone scales them with the run's m n), the
public value bounds x_bound / y_bound (the largest power of two any point's data needs, so the
fixed-point widths do not jump between points with the data's maxima), the precision, w_bound
and the proof repetitions (production: ``interval.DEFAULT_REPETITIONS``, never ``--insecure``'s
16). What still follows d and m is the protocol's own dependence: sigma^2's bound n d x_bound^2
sets theta's bits, hence a few bits of the truncation and comparison widths (``k_w`` and
``check_bits`` in the CSV).

MPC offline is estimated, as the paper's own figure was: the run's exact MASCOT item counts
times MASCOT's CPU per item measured in this process on a real sample at the point's m
(``mascot_rates``), plus the threshold-Paillier offline work the run did for real (MAC key,
dual masks: the preparation's CPU), scaled by the statistical masks a MASCOT run's offline
phase also makes (same code per mask; the dealer dealt them here). The online phases therefore consume items from the INSECURE
dealer, which is why the sweep needs ``--insecure``; the key below 2048 bits (and its 512-bit
ring-Pedersen N~) is INSECURE too. Costs are CPU seconds per party and E (one full 2048-bit
r^N mod N^2 measured in this process before each point); the paper plots wall seconds on 4
servers of 32 cores, so compare shapes, not heights.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from coopetition.engine.errors import ConfigError
from coopetition.protocols.admm.objective import Objective
from coopetition.protocols.helen import coordinate_phase
from coopetition.protocols.helen.config import HelenConfig
from coopetition.protocols.helen.local_run import preprocessing_plan
from coopetition.protocols.zk import interval
from coopetition.sims import mascot_rates
from coopetition.sims.baseline_benchkit import write_csv
from coopetition.sims.helen_matrix import value_bound

#: Fig. 3a: d at m = 4; Fig. 3b: m at d = 50
PAPER_POINTS = {"d": (10, 20, 30, 40, 50, 60, 70, 80, 90), "m": (2, 3, 4, 5, 6, 7, 8)}
FIXED = {"d": ("parties", 4), "m": ("features", 50)}
MODEL_COMPUTE = ("local", "coordinate", "verify", "release")
#: rho and lambda per row of the reference shape (m = 4 parties), pinned for every point
RHO_PER_ROW, LAM_PER_ROW, REFERENCE_PARTIES = 0.1, 0.02, 4

Data = list[tuple[np.ndarray, np.ndarray]]
Synthetic = Callable[[int, int, int, int], tuple[Data, np.ndarray]]
Measure = Callable[..., dict[str, Any]]


@dataclass(frozen=True)
class Pins:
    """What every point of a sweep shares (all but the swept m or d)."""

    rows: int
    seed: int
    iterations: int
    key_bits: int
    rho: float
    lam: float
    x_bound: float
    y_bound: float
    precision: int
    w_bound: float
    interval_repetitions: int
    mascot_sample: int

    def config(self) -> HelenConfig:
        """The run's config: pinned values, INSECURE key and dealer items (see the docstring)."""
        return HelenConfig(
            objective=Objective("lasso", lam=self.lam),
            rho=self.rho,
            iterations=self.iterations,
            x_bound=self.x_bound,
            y_bound=self.y_bound,
            w_bound=self.w_bound,
            precision=self.precision,
            key_bits=self.key_bits,
            insecure=True,
            interval_repetitions=None,  # the production count, interval.DEFAULT_REPETITIONS
            preprocessing="insecure-dealer",
        )


def points(args: argparse.Namespace) -> list[int]:
    if args.sweep_values:
        try:
            return [int(v) for v in args.sweep_values.split(",") if v.strip()]
        except ValueError as exc:
            raise ConfigError(f"--sweep-values must be integers: {args.sweep_values!r}") from exc
    return list(PAPER_POINTS[args.sweep])


def shapes(args: argparse.Namespace) -> list[tuple[int, int]]:
    """(m, d) of every point; the fixed dimension is the paper's unless values are given."""
    if not args.sweep_values:
        setattr(args, *FIXED[args.sweep])
    if args.sweep == "d":
        return [(args.parties, d) for d in points(args)]
    return [(m, args.features) for m in points(args)]


def pin(args: argparse.Namespace, all_shapes: list[tuple[int, int]], synthetic: Synthetic) -> Pins:
    """The sweep's shared parameters; the value bounds cover every point's data."""
    if not args.insecure:
        raise ConfigError(
            "--sweep needs --insecure: its online phases use INSECURE dealer items (MPC "
            "offline is estimated from real MASCOT's measured per-item cost)"
        )
    if min(m for m, _ in all_shapes) < 2 or min(d for _, d in all_shapes) < 1:
        raise ConfigError("every sweep point needs m >= 2 and d >= 1")
    if args.rows < max(d for _, d in all_shapes):
        raise ConfigError(f"--rows ({args.rows}) must be at least the largest d of the sweep")
    xs, ys = [], []
    for m, d in all_shapes:
        parts, _ = synthetic(m, d, args.rows, args.seed)
        xs.append(value_bound(np.vstack([p[0] for p in parts])))
        ys.append(value_bound(np.concatenate([p[1] for p in parts])))
    total = REFERENCE_PARTIES * args.rows
    defaults = HelenConfig()
    return Pins(
        rows=args.rows,
        seed=args.seed,
        iterations=args.iterations,
        key_bits=args.key_bits,
        rho=RHO_PER_ROW * total,
        lam=LAM_PER_ROW * total,
        x_bound=max(xs),
        y_bound=max(ys),
        precision=defaults.precision,
        w_bound=defaults.w_bound,
        interval_repetitions=interval.DEFAULT_REPETITIONS,
        mascot_sample=args.mascot_sample,
    )


def _part(phases: dict[str, Any], names: tuple[str, ...], e: float) -> dict[str, float]:
    present = [phases[p] for p in names if p in phases]
    cpu = sum(p["cpu_seconds_mean"] for p in present)
    return {
        "cpu_s": round(cpu, 3),
        "E": round(cpu / e, 1),
        "full_exp": round(sum(p["full_exponentiations_mean"] for p in present), 1),
        "multi_bases": sum(p["exponentiations_party0"].get("zk.multi_bases", 0) for p in present),
    }


def row(
    axis: str, pins: Pins, result: dict[str, Any], rates: mascot_rates.MascotRates
) -> dict[str, Any]:
    """One CSV row: the three parts of Fig. 3 for one point, per party, and what was pinned."""
    m, d, e = result["parties"], result["features"], result["E_seconds"]
    config = pins.config()
    plan = preprocessing_plan(config, m, d, pins.rows)
    scales = config.scales(d, pins.rows, m)
    bit_items = mascot_rates.bit_items(plan)
    mascot_cpu = rates.estimate(plan.triples, bit_items) / m
    # the run's offline phase made the dual masks for real; a MASCOT run's offline phase also
    # makes the statistical masks (same code, same cost per mask): scaled by the mask count
    masks = plan.dual_masks[1] + sum(count for _, count in plan.paillier_masks)
    paillier_offline_cpu = result["prepare_cpu_seconds"] / m * masks / max(1, plan.dual_masks[1])
    offline_cpu = mascot_cpu + paillier_offline_cpu
    svd = _part(result["phases"], ("input",), e)
    compute = _part(result["phases"], MODEL_COMPUTE, e)
    return {
        "sweep": axis,
        "parties": m,
        "features": d,
        **{f"pinned_{k}": v for k, v in asdict(pins).items()},
        "theta_bits": scales.theta_bits,
        "k_w": scales.k_w,
        "check_bits": coordinate_phase.check_bits(scales),
        **{f"svd_proofs_{k}": v for k, v in svd.items()},
        "mpc_offline_cpu_s": round(offline_cpu, 3),
        "mpc_offline_E": round(offline_cpu / e, 1),
        "mpc_offline_how": mascot_rates.LABEL,
        "mascot_triples": plan.triples,
        "mascot_bit_items": bit_items,
        "mascot_cpu_s": round(mascot_cpu, 3),
        "mascot_cpu_per_triple_all_parties": round(rates.cpu_per_triple, 6),
        "mascot_cpu_per_bit_all_parties": round(rates.cpu_per_bit, 6),
        "paillier_offline_cpu_s": round(paillier_offline_cpu, 3),
        **{f"model_compute_{k}": v for k, v in compute.items()},
        "E_seconds": e,
        "process_cpu_seconds": result["process_cpu_seconds"],
        "wall_seconds": result["wall_seconds"],
        "rel_l2_vs_admm": result["rel_l2_vs_admm"],
        "load_average_before": " ".join(str(v) for v in result["load_average_before"]),
        "load_average_after": " ".join(str(v) for v in result["load_average_after"]),
        "commit": result["commit"],
    }


def sweep(args: argparse.Namespace, measure: Measure, synthetic: Synthetic) -> dict[str, Any]:
    """Run every point with the pinned parameters; write CSV and PNG beside ``--out``."""
    axis, out = args.sweep, args.out
    all_shapes = shapes(args)
    pins = pin(args, all_shapes, synthetic)
    config = pins.config()
    for m, d in all_shapes:  # refuse a key too small for any point before running any
        config.scales(d, pins.rows, m)
    args.out = None
    rows: list[dict[str, Any]] = []
    runs: list[dict[str, Any]] = []
    rates: dict[int, mascot_rates.MascotRates] = {}
    try:
        for m, d in all_shapes:
            args.parties, args.features = m, d
            if m not in rates:
                rates[m] = mascot_rates.measure_rates(config, m, pins.mascot_sample)
            parts, truth = synthetic(m, d, pins.rows, pins.seed)
            runs.append(measure(args, parts, truth, config=config))
            runs[-1]["mascot_rates"] = rates[m].as_dict()
            rows.append(row(axis, pins, runs[-1], rates[m]))
            print(
                f"  sweep point m={m} d={d} done ({len(rows)}/{len(all_shapes)})", file=sys.stderr
            )
    finally:
        args.out = out
    result = {"benchmark": "helen", "sweep": axis, "pins": asdict(pins), "points": rows}
    result["runs"] = runs
    if out is not None:
        stem = Path(out).with_suffix("")
        name = f"{stem.name}_fig3{'a' if axis == 'd' else 'b'}"
        write_csv(stem.with_name(f"{name}.csv"), rows)
        Path(out).write_text(json.dumps(result, indent=1, sort_keys=True) + "\n")
        plot(rows, axis, stem.with_name(f"{name}.png"))
    return result


def plot(rows: list[dict[str, Any]], axis: str, path: Path) -> None:
    """The three parts per party against the swept dimension, log-log so that slopes read as
    powers (guides: slope 1 and 2 through the first point of the model compute)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = np.array([float(r["features" if axis == "d" else "parties"]) for r in rows])
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    for part, style, label in (
        ("svd_proofs", "o-", "SVD proofs (input phase)"),
        ("mpc_offline", "^--", "MPC offline (estimated from measured per-item cost)"),
        ("model_compute", "s-", "model compute"),
    ):
        ax.plot(x, [float(r[f"{part}_cpu_s"]) for r in rows], style, label=label)
    y0 = float(rows[0]["model_compute_cpu_s"])
    for power, label in ((1, "slope 1"), (2, "slope 2")):
        ax.plot(x, y0 * (x / x[0]) ** power, ":", color="grey", linewidth=0.8)
        ax.annotate(label, (x[-1], y0 * (x[-1] / x[0]) ** power), fontsize=7, color="grey")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xticks(x, [str(int(v)) for v in x])
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set_xlabel("number of dimensions d" if axis == "d" else "number of parties m")
    ax.set_ylabel("CPU seconds per party (E per party in the CSV)")
    first = rows[0]
    fixed = f"m = {first['parties']}" if axis == "d" else f"d = {first['features']}"
    ax.set_title(
        f"Helen's scaling, paper Fig. 3{'a' if axis == 'd' else 'b'} shape ({fixed}, "
        f"{first['pinned_key_bits']}-bit INSECURE key, {first['pinned_iterations']} iteration)",
        fontsize=9,
    )
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def replot(csv_path: Path) -> Path:
    """Draw the PNG again from a sweep's CSV (``python -m coopetition.sims.helen_sweep CSV``)."""
    with Path(csv_path).open() as fh:
        rows = list(csv.DictReader(fh))
    if not rows or "sweep" not in rows[0]:
        raise ConfigError(f"{csv_path} is not a sweep CSV")
    out = Path(csv_path).with_suffix(".png")
    plot(rows, rows[0]["sweep"], out)
    return out


if __name__ == "__main__":
    for name in sys.argv[1:]:
        print(replot(Path(name)))
