"""Where an in-process Helen run's preparation goes (dealer key, offline phase, MASCOT), per worker count.

``coopetition bench helen`` / ``demo`` / ``sims/helen_matrix.py`` make the key and all
preprocessing in the starting process (``local_run.prepare_parties``). This benchmark runs
exactly that for the demo's shape (dataset, parties, features, iterations, objective as
``coopetition demo``) once per entry of ``--workers`` and ``--reps`` times, the worker counts
interleaved (1, 2, 1, 2, ...) so they see the same machine load, and reports per stage:
items made (deterministic in the shape), CPU seconds (this process plus its workers), CPU
seconds per item, E (one full 2048-bit r^N mod N^2 measured in this process) and wall
seconds. The speed-up of workers is a wall-time figure: trust it only with the load average
printed beside it. Nothing is written unless ``--out`` is given.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from coopetition.engine.errors import ConfigError
from coopetition.protocols.admm.objective import Objective
from coopetition.protocols.helen.config import SECURE_KEY_BITS
from coopetition.protocols.helen.local_prep import Stage
from coopetition.protocols.helen.local_run import prepare_parties, preprocessing_plan
from coopetition.sims.bench_helen import e_seconds
from coopetition.sims.benchkit import git_commit, machine_info
from coopetition.sims.data import load
from coopetition.sims.helen_matrix import helen_config

EXAMPLE = (
    "coopetition bench helen-prepare --insecure-bits 1024 --features 3 --iterations 1 "
    "--workers 1,2 --json"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", default="wine-red", help="the demo's dataset")
    parser.add_argument("--parties", type=int, default=4)
    parser.add_argument("--features", type=int, default=None, help="first K features (all)")
    parser.add_argument("--iterations", type=int, default=3)
    parser.add_argument("--objective", default="lasso")
    parser.add_argument("--bits", type=int, default=SECURE_KEY_BITS, help="Paillier |N|")
    parser.add_argument(
        "--insecure-bits", type=int, default=None, help="INSECURE smaller |N| (cached test key)"
    )
    parser.add_argument("--workers", default="1,2", help="comma-separated worker counts")
    parser.add_argument("--reps", type=int, default=1, help="runs per worker count")
    parser.add_argument("--out", type=Path, default=None, help="write JSON here (nothing else)")


def demo_shape(args: argparse.Namespace) -> tuple[Any, int, int, int]:
    """(config, parties, features, rows per party) exactly as ``coopetition demo`` makes them."""
    data = load(args.dataset)
    X, y = data.X, data.y
    if args.features is not None:
        X = X[:, : args.features]
    cut = X.shape[0] - X.shape[0] // 5
    rows = cut
    lam = 0.0 if args.objective == "least_squares" else 0.02 * rows
    insecure = args.insecure_bits is not None
    config = helen_config(
        Objective(args.objective, lam=lam),
        X[:cut],
        y[:cut],
        rho=0.1 * rows,
        iterations=args.iterations,
        key_bits=args.insecure_bits if insecure else args.bits,
        insecure=insecure,
    )
    if insecure:  # measure the real generators, not the insecure dealer
        import dataclasses

        config = dataclasses.replace(config, preprocessing="mascot")
    per_party = max(len(p) for p in np.array_split(np.arange(cut), args.parties))
    return config, args.parties, X.shape[1], per_party


def _one(config: Any, m: int, d: int, rows: int, workers: int, run: int) -> dict[str, Any]:
    stages: dict[str, Stage] = {}
    wall, cpu = time.perf_counter(), time.process_time()
    prepare_parties(
        config, m, d, rows, f"bench-prepare/{run}".encode(), workers=workers, stages=stages
    )
    total_wall = time.perf_counter() - wall
    here = time.process_time() - cpu
    workers_cpu = sum(s.cpu_workers for s in stages.values())
    return {
        "workers": workers,
        "wall_s": round(total_wall, 2),
        "cpu_s": round(here + workers_cpu, 2),
        "stages": {k: s.as_dict() for k, s in stages.items()},
        "load_after": os.getloadavg(),
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    try:
        counts = [int(w) for w in args.workers.split(",")]
    except ValueError:
        raise ConfigError(
            f"--workers must be comma-separated integers, got {args.workers!r}"
        ) from None
    if not counts or min(counts) < 1:
        raise ConfigError("--workers: every count must be at least 1")
    config, m, d, rows = demo_shape(args)
    plan = preprocessing_plan(config, m, d, rows)
    load_before = os.getloadavg()
    e = e_seconds()
    runs = [
        _one(config, m, d, rows, w, r * len(counts) + k)
        for r in range(args.reps)
        for k, w in enumerate(counts)
    ]
    for r in runs:
        for s in r["stages"].values():
            s["E"] = round(s["cpu_s"] / e, 1)
            if s["items"]:
                s["cpu_ms_per_item"] = round(1000 * s["cpu_s"] / s["items"], 3)
    result = {
        "benchmark": "helen-prepare",
        "commit": git_commit(("protocols", "sims")),
        "machine": machine_info(),
        "load_before": load_before,
        "E_ms": round(1000 * e, 3),
        "shape": {
            "dataset": args.dataset,
            "parties": m,
            "features": d,
            "rows_per_party": rows,
            "iterations": config.iterations,
            "key_bits": config.key_bits,
            "insecure": config.insecure,
        },
        "counts": {
            "dual_masks": list(plan.dual_masks),
            "triples": plan.triples,
            "bits": plan.bits,
            "bounded": [list(b) for b in plan.bounded],
        },
        "runs": runs,
    }
    if args.out is not None:
        args.out.write_text(json.dumps(result, indent=1) + "\n")
    if not getattr(args, "json", False):
        _print(result)
    return result


def _print(result: dict[str, Any]) -> None:
    print(f"shape {result['shape']}  E = {result['E_ms']} ms  load {result['load_before']}")
    print(f"counts {result['counts']}")
    for r in result["runs"]:
        print(f"workers {r['workers']}: wall {r['wall_s']} s, CPU {r['cpu_s']} s")
        for name, s in r["stages"].items():
            print(
                f"  {name:40s} {s['items']:>7} items {s['cpu_s']:>9.2f} CPU s {s['wall_s']:>9.2f} wall s"
            )
