"""``coopetition demo --protocol copml``: N local parties train logistic regression with COPML on
CIFAR-10 plane/car (COPML's split), checked against scikit-learn on the same rows.

All parties run in this process over the memory transport with the engine's reliable layer, on a
virtual clock (the reported time is simulated LAN time; compute is charged as measured).
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from coopetition.engine.errors import ConfigError
from coopetition.protocols.copml.params import CopmlParams
from coopetition.sims.copml_work import CopmlWorkload, cifar_plane_car, split_rows
from coopetition.sims.runner import simulate


def run_demo(args: argparse.Namespace) -> int:
    try:
        if args.transport != "memory":
            raise ConfigError("COPML runs over the memory transport here; TCP is not wired yet")
        X, y, Xt, yt = cifar_plane_car()
        rows = args.rows or 900
        X, y = X[:rows], y[:rows]
        params = CopmlParams.preset(
            args.preset,
            args.parties,
            iterations=args.iterations if args.iterations is not None else 50,
        )
        work = CopmlWorkload(params, split_rows(X, y, args.parties), seed=args.seed)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(
        f"coopetition demo: COPML {args.preset} (N={params.N}, K={params.K}, T={params.T}, "
        f"R={params.threshold}), {rows} CIFAR rows, {params.iterations} iterations, "
        f"field p={work.plan.field.p} ({work.plan.field.bits} bits, kappa={work.plan.kappa})",
        file=sys.stderr,
    )
    started = time.perf_counter()
    result = simulate(work.factory, range(params.N), network="lan", seed=args.seed)
    wall = time.perf_counter() - started
    if result.outcome != "completed":
        print(f"error: run aborted: {result.abort_code}: {result.abort_reason}", file=sys.stderr)
        return 1
    from sklearn.linear_model import LogisticRegression

    model = result.results[0].model
    accuracy = float(((Xt @ model > 0) == yt).mean())
    plain = float(LogisticRegression(max_iter=300).fit(X, y).score(Xt, yt))
    report = {
        "protocol": "copml",
        "parties": params.N,
        "K": params.K,
        "T": params.T,
        "rows": rows,
        "iterations": params.iterations,
        "accuracy": round(accuracy, 4),
        "plaintext_accuracy": round(plain, 4),
        "virtual_seconds": round(result.virtual_seconds, 3),
        "wall_seconds": round(wall, 1),
    }
    if args.json:
        print(json.dumps(report, sort_keys=True))
    else:
        for key, value in report.items():
            print(f"{key:22} {value}")
    return 0
