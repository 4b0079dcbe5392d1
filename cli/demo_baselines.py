"""``coopetition demo --protocol ppadmm|dssgd|sgd-spdz``: the baselines on the demo's data.

Each run is set beside plaintext ADMM with the demo's objective on the same rows and split
(``admm_model``, ``max_abs_coef_diff_vs_admm``) and beside scikit-learn on the pooled rows.
Parties run in this process over the memory transport (the protocols run over any transport;
``coopetition sim`` runs them over simulated WANs).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from typing import Any

import numpy as np
import trio

from coopetition.engine.errors import ConfigError
from coopetition.protocols.admm import AdmmConfig, Objective
from coopetition.protocols.admm.local_run import train_locally
from coopetition.protocols.admm.reference import reference_fit
from coopetition.sims.data import Dataset, load

BASELINES = ("ppadmm", "dssgd", "sgd-spdz")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the baselines (ignored by ADMM)."""
    group = parser.add_argument_group("baselines (--protocol ppadmm|dssgd|sgd-spdz)")
    group.add_argument("--frac-bits", type=int, default=32, help="PPADMM fixed-point bits")
    group.add_argument(
        "--precompute-masks", action="store_true", help="PPADMM: derive all masks before training"
    )
    group.add_argument("--epsilon", type=float, default=1.0, help="DSSGD privacy parameter")
    group.add_argument("--clip", type=float, default=4.0, help="DSSGD coordinate clip bound")
    group.add_argument("--learning-rate", type=float, default=0.01, help="DSSGD / secure SGD")
    group.add_argument(
        "--rows-per-party",
        type=int,
        default=None,
        help="secure SGD: use only the first rows of each party (default 1: with real "
        "preprocessing every row costs 2 d triples and about 2 d bits, minutes at d = 11)",
    )
    group.add_argument(
        "--preprocessing",
        choices=["paillier", "insecure-dealer"],
        default="paillier",
        help="secure SGD's preprocessing: threshold Paillier (real) or an INSECURE dealer",
    )
    group.add_argument(
        "--paillier-bits", type=int, default=2048, help="secure SGD: threshold Paillier modulus"
    )


def run_baseline(args: argparse.Namespace, admm_config: AdmmConfig) -> int:
    log = sys.stderr
    # the baselines run a fixed, public number of rounds at a fixed rho: so does their yardstick
    admm_config = dataclasses.replace(
        admm_config,
        iterations=args.iterations if args.iterations is not None else 50,
        tolerance=None,
        adaptive_rho=False,
    )
    try:
        if args.parties < 2:
            raise ConfigError("--parties must be at least 2")
        if args.transport != "memory":
            raise ConfigError(f"--protocol {args.protocol} runs over --transport memory only")
        dataset = load(args.dataset)
        parts = dataset.split(args.parties, seed=args.seed)
        if args.protocol == "sgd-spdz":
            rows = args.rows_per_party if args.rows_per_party is not None else 1
            if rows < 1:
                raise ConfigError("--rows-per-party must be at least 1")
            parts = [(X[:rows], y[:rows]) for X, y in parts]
        started = time.perf_counter()
        print(
            f"coopetition demo: {args.protocol}, {args.parties} parties on {dataset.name}", file=log
        )
        extra, model = _train(args, admm_config, parts, log)
    except ConfigError as exc:
        print(f"error: {exc}", file=log)
        return 2
    if isinstance(model, str):
        print(f"aborted: {model}", file=log)
        if args.json:
            print(json.dumps({"outcome": "aborted", "abort_reason": model}))
        return 3
    wall = time.perf_counter() - started
    report = _report(args, dataset, admm_config, parts, model, wall)
    report.update(extra)
    if args.json:
        print(json.dumps(report, sort_keys=True))
    else:
        for key in sorted(report):
            if not isinstance(report[key], list):
                print(f"{key:32} {report[key]}")
        print(f"{'feature':24} {args.protocol:>12} {'admm':>12} {'scikit-learn':>12}")
        for name, ours, admm, ref in zip(
            dataset.feature_names,
            report["model"],
            report["admm_model"],
            report["reference_model"],
            strict=True,
        ):
            print(f"{name:24} {ours:12.6f} {admm:12.6f} {ref:12.6f}")
    return 0


def _train(
    args: argparse.Namespace, admm_config: AdmmConfig, parts: list[Any], log: Any
) -> tuple[dict[str, Any], Any]:
    if args.protocol == "ppadmm":
        from coopetition.protocols.ppadmm import PpadmmConfig
        from coopetition.protocols.ppadmm.local_run import train_ppadmm
        from coopetition.protocols.ppadmm.session import fixed_point_admm

        config = PpadmmConfig(admm_config, args.frac_bits, args.precompute_masks)
        run = trio.run(lambda: train_ppadmm(parts, config))
        if not run.completed:
            return {}, str(run.first_error())
        model = run.results[0].model
        exact, _ = fixed_point_admm(parts, config)
        return {
            "frac_bits": config.frac_bits,
            "precompute_masks": config.precompute_masks,
            "servers": {"S1": len(parts), "S2": len(parts) + 1},
            "bit_exact_vs_fixed_point_admm": bool(np.array_equal(model, exact)),
        }, model
    if args.protocol == "dssgd":
        from coopetition.protocols.dssgd import DssgdConfig
        from coopetition.protocols.dssgd.local_run import train_dssgd

        config = DssgdConfig(
            epsilon=args.epsilon,
            clip=args.clip,
            learning_rate=args.learning_rate,
            iterations=admm_config.iterations,
            seed=args.seed,
        )
        run = trio.run(lambda: train_dssgd(parts, config))
        if not run.completed:
            return {}, str(run.first_error())
        return {
            "epsilon": config.epsilon,
            "clip": config.clip,
            "laplace_scale": config.laplace_scale(parts[0][0].shape[1]),
            "server": len(parts),
        }, run.results[0].model
    return _train_sgd_spdz(args, parts, log)


def _train_sgd_spdz(
    args: argparse.Namespace, parts: list[Any], log: Any
) -> tuple[dict[str, Any], Any]:
    from coopetition.protocols.paillier.threshold import TrustedDealerKeyGeneration
    from coopetition.protocols.sgd_spdz import SgdConfig, SgdPlan
    from coopetition.protocols.sgd_spdz.local_run import train_sgd_spdz

    config = SgdConfig(learning_rate=args.learning_rate)
    plan = SgdPlan(tuple(len(y) for _, y in parts), parts[0][0].shape[1], config)
    needs, masks = plan.needs()
    print(
        f"  secure SGD: {len(plan.batches())} batches; preprocessing ({args.preprocessing}): "
        f"{needs.triples} triples, {needs.bits} bits, {sum(c for _, c in needs.bounded)} masks, "
        f"{sum(masks.values())} input masks",
        file=log,
    )
    key_generation = None
    if args.preprocessing == "paillier":
        print(f"  dealing a {args.paillier_bits}-bit threshold Paillier key ...", file=log)
        key_generation = TrustedDealerKeyGeneration(len(parts), args.paillier_bits)
    else:
        print(
            "  WARNING: INSECURE dealer preprocessing (a trusted dealer sees everything)", file=log
        )
    run = trio.run(
        lambda: train_sgd_spdz(
            parts, config, preprocessing=args.preprocessing, key_generation=key_generation
        )
    )
    if not run.completed:
        return {}, str(run.first_error())
    result = run.results[0]
    return {
        "rows_per_party": [len(y) for _, y in parts],
        "batches": result.iterations,
        "preprocessing": result.preprocessing,
        "preprocessing_secure": result.preprocessing_secure,
        "triples": needs.triples,
        "bits": needs.bits,
    }, result.model


def _report(
    args: argparse.Namespace,
    dataset: Dataset,
    admm_config: AdmmConfig,
    parts: list[Any],
    model: np.ndarray,
    wall: float,
) -> dict[str, Any]:
    admm_run = trio.run(lambda: train_locally(parts, admm_config))
    admm_model = admm_run.results[0].model
    X = np.vstack([p[0] for p in parts])
    y = np.concatenate([p[1] for p in parts])
    objective: Objective = admm_config.objective
    reference = reference_fit(X, y, objective)
    return {
        "outcome": "completed",
        "protocol": args.protocol,
        "parties": args.parties,
        "transport": args.transport,
        "dataset": dataset.name,
        "rows": int(X.shape[0]),
        "features": int(X.shape[1]),
        "objective_kind": objective.kind,
        "lam": objective.lam,
        "rho": admm_config.rho,
        "iterations": admm_config.iterations,
        "model": model.tolist(),
        "admm_model": admm_model.tolist(),
        "max_abs_coef_diff_vs_admm": float(np.max(np.abs(model - admm_model))),
        "reference_model": reference.tolist(),
        "max_abs_coef_diff": float(np.max(np.abs(model - reference))),
        "rmse": float(np.sqrt(np.mean((X @ model - y) ** 2))),
        "admm_rmse": float(np.sqrt(np.mean((X @ admm_model - y) ** 2))),
        "wall_seconds": round(wall, 3),
    }
