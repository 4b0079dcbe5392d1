"""``coopetition bench helen-song``: issue 15's song workload, measured and extrapolated.

The paper's largest run trains the million-song year regression: m = 4 parties, d = 90 features,
100 000 rows per party, 10 ADMM iterations, 2048-bit keys. The full MSD cannot be brought here,
so the rows are **synthetic data of the MSD's shape**: features drawn from a normal distribution
with the mean and covariance of the real MSD subset (``shared/data/msd_subset``, 1 176 rows, so
the collinearity ADMM has to cope with is the real one), clipped to the full dataset's column
ranges (``wine_student/info-YearPredictionMSD.csv``), and the year from the subset's least-squares
fit plus its residual noise, clipped to 1922..2011; then standardised and centred as the
accuracy matrix does with the real rows (``helen_matrix.load_shared``). Accuracy on the real rows
is the matrix's MSD cells (issue 10), not this run.

What is measured and what is not: Helen runs in full (all four parties in this process over the
memory transport, every proof made and checked) for ``--measure-iterations`` iterations (2 by
default). The workload's other iterations are **extrapolated** from that run, and labelled so:
the per-iteration phases (local, coordinate), the verify phase (Gadget 4 over every conversion
of the run: proportional to the iterations) and the starting process's preparation (trusted
dealer key and all preprocessing, proportional to the iterations but for the key, which is
scaled too, so the figure errs high) scale by iterations / measured; setup, input and release
do not depend on the iteration count. With ``--processes`` (one OS process per party over
loopback TCP, ``helen_processes``) the preparation is the dealer's key alone and stays fixed,
and each party's own preprocessing phases (``offline``, ``mascot``) scale instead; with
``--processes prepared`` (``helen_prepared``) the preparation is made here as in one process and
scales as there. Either way the peak RSS is then each party's own. Nothing is written unless ``--out`` is given.
"""

from __future__ import annotations

import argparse
import copy
import json
from pathlib import Path
from typing import Any

import numpy as np

from coopetition.engine.errors import ConfigError
from coopetition.sims import bench_helen
from coopetition.sims.helen_matrix import DATA, PRESETS

#: the song workload (Helen section VII, issue 15)
SONG_PARTIES, SONG_FEATURES, SONG_ROWS, SONG_ITERATIONS = 4, 90, 100_000, 10
#: phases whose cost is proportional to the number of ADMM iterations (with ``--processes``
#: each party's own preprocessing, ``offline`` and ``mascot``, sized from the iterations: the
#: input phase's small share of it is scaled too, so the figure errs high)
PER_ITERATION = ("local", "coordinate", "verify", "offline", "mascot")
#: phases whose cost does not depend on it (``keygen``: loading the key share file and making
#: the party's ring-Pedersen modulus, with ``--processes``)
FIXED = ("setup", "keygen", "input", "release")
SUBSET = "msd_subset/YearPredictionMSD_rows_subset_AbdelilahJbr_test.csv"
RANGES = "wine_student/info-YearPredictionMSD.csv"

EXAMPLE = (
    "coopetition bench helen-song --parties 2 --features 3 --rows 30 --iterations 3 "
    "--measure-iterations 1 --key-bits 1280 --insecure --json"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--parties", type=int, default=SONG_PARTIES, help="m")
    parser.add_argument("--features", type=int, default=SONG_FEATURES, help="d (the first d)")
    parser.add_argument("--rows", type=int, default=SONG_ROWS, help="rows per party")
    parser.add_argument(
        "--iterations", type=int, default=SONG_ITERATIONS, help="the workload's ADMM iterations"
    )
    parser.add_argument(
        "--measure-iterations",
        type=int,
        default=2,
        help="iterations run in full (the rest is extrapolated)",
    )
    bench_helen.add_run_arguments(parser)


def msd_ranges(data: Path = DATA) -> tuple[np.ndarray, tuple[float, float]]:
    """The full MSD's per-feature [low, high] (90 x 2) and the year's range, from its info file."""
    path = data / RANGES
    if not path.exists():
        raise ConfigError(f"{path} is not there (see shared/data/README.md)")
    rows = [line.split(",") for line in path.read_text().splitlines()[1:] if line.strip()]
    bounds = np.array([[float(r[1]), float(r[2])] for r in rows])
    if bounds.shape != (SONG_FEATURES + 1, 2):
        raise ConfigError(f"{path}: expected {SONG_FEATURES} features and the year")
    return bounds[:-1], (float(bounds[-1, 0]), float(bounds[-1, 1]))


def msd_shaped_raw(
    total_rows: int, features: int, seed: int, data: Path = DATA
) -> tuple[np.ndarray, np.ndarray]:
    """Unscaled synthetic rows of the MSD's shape: (X within the MSD's ranges, year)."""
    path = data / SUBSET
    if not path.exists():
        raise ConfigError(f"{path} is not there (see shared/data/README.md)")
    if not 1 <= features <= SONG_FEATURES:
        raise ConfigError(f"--features must be in 1..{SONG_FEATURES}, got {features}")
    table = np.loadtxt(path, delimiter=",")
    real_x, real_year = table[:, 1 : 1 + features], table[:, 0]
    design = np.column_stack([np.ones(len(real_year)), real_x])
    beta = np.linalg.lstsq(design, real_year, rcond=None)[0]
    noise = float(np.std(real_year - design @ beta))
    bounds, (year_lo, year_hi) = msd_ranges(data)
    rng = np.random.default_rng(seed)
    X = rng.multivariate_normal(real_x.mean(axis=0), np.cov(real_x, rowvar=False), total_rows)
    X = np.clip(X, bounds[:features, 0], bounds[:features, 1])
    year = beta[0] + X @ beta[1:] + noise * rng.standard_normal(total_rows)
    return X, np.clip(year, year_lo, year_hi)


def msd_shaped(
    parties: int, rows: int, features: int, seed: int, data: Path = DATA
) -> list[tuple[np.ndarray, np.ndarray]]:
    """``parties`` parts of ``rows`` standardised rows each (features scaled, year centred)."""
    X, year = msd_shaped_raw(parties * rows, features, seed, data)
    std = X.std(axis=0)
    std[std == 0] = 1.0
    X, y = (X - X.mean(axis=0)) / std, year - year.mean()
    return [(X[i * rows : (i + 1) * rows], y[i * rows : (i + 1) * rows]) for i in range(parties)]


def extrapolate(
    result: dict[str, Any], measured: int, target: int, *, prepare_scales: bool = True
) -> dict[str, Any]:
    """The workload's figures from a run of ``measured`` iterations (see the module docstring);
    ``prepare_scales`` is False when the preparation is the dealer's key alone (``--processes``,
    where each party's preprocessing is among its phases)."""
    scale = target / measured
    wall = {p: row["wall_seconds"] for p, row in result["phases"].items()}
    unknown = set(wall) - set(PER_ITERATION) - set(FIXED)
    if unknown:
        raise ValueError(f"phases without an extrapolation rule: {sorted(unknown)}")
    prepare = float(result["prepare_wall_seconds"] or 0.0)
    seconds = {p: w * (scale if p in PER_ITERATION else 1.0) for p, w in wall.items()}
    seconds["prepare"] = prepare * (scale if prepare_scales else 1.0)
    minutes = {p: round(v / 60, 2) for p, v in seconds.items()}
    measured_minutes = {p: round(w / 60, 2) for p, w in wall.items()} | {
        "prepare": round(prepare / 60, 2)
    }
    return {
        "wall_minutes": round(sum(seconds.values()) / 60, 1),
        "measured_wall_minutes": round(result["wall_seconds"] / 60, 1),
        "phase_minutes": minutes,
        "measured_phase_minutes": measured_minutes,
        "measured_iterations": measured,
        "iterations": target,
        "extrapolated": target != measured,
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    if not 1 <= args.measure_iterations <= args.iterations:
        raise ConfigError("--measure-iterations must be in 1..--iterations")
    if args.rows < args.features:
        raise ConfigError(f"--rows ({args.rows}) must be at least --features ({args.features})")
    parts = msd_shaped(args.parties, args.rows, args.features, args.seed)
    inner = copy.copy(args)
    inner.iterations, inner.out = args.measure_iterations, None
    preset = PRESETS["msd"]
    result = bench_helen.measure(
        inner, parts, None, lam_per_row=preset.lam_per_row, rho_per_row=preset.rho_per_row
    )
    processes = getattr(args, "processes", None)
    song = extrapolate(
        result, args.measure_iterations, args.iterations, prepare_scales=processes != "own"
    )
    summary = {
        "benchmark": "helen-song",
        "data": "synthetic, MSD-shaped (subset mean and covariance, full-data ranges)",
        **{k: result[k] for k in ("commit", "parties", "features", "rows_per_party", "key_bits")},
        **song,
        "peak_rss_mib": result["peak_rss_mib"],
        "peak_rss_mib_per_party": result.get("peak_rss_mib_per_party"),
        "peak_rss_scope": "the largest party process's own peak"
        if processes is not None
        else f"one process holding all {args.parties} parties (any one party's peak is below it)",
        "layout": result["layout"],
        "target_wall_minutes": 90,
        "run": result,
    }
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(summary, indent=1, sort_keys=True) + "\n")
    return summary
