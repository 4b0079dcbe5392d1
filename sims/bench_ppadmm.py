"""PPADMM vs ADMM vs DSSGD: RMSE, parameter distance and CPU time per iteration (PPADMM Figs. 3-5).

Synthetic data as in the PPADMM paper's experiments: y = X w* + Gaussian noise of standard
deviation 20, X standard normal, w* uniform in [-10, 10]. Every protocol runs on the engine
(memory transport, all parties in this process); ADMM is the plaintext yardstick and the peer
of every ratio. Curves go to CSV and PNG (matplotlib) only under ``--out DIR``.
"""

from __future__ import annotations

import argparse
import functools
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import trio

from coopetition.protocols.admm import AdmmConfig, Objective
from coopetition.protocols.admm.local import local_step, summarise
from coopetition.protocols.admm.local_run import train_locally
from coopetition.protocols.dssgd import PAPER_EPSILONS, DssgdConfig
from coopetition.protocols.dssgd.local_run import train_dssgd
from coopetition.protocols.ppadmm import PpadmmConfig
from coopetition.protocols.ppadmm.local_run import train_ppadmm
from coopetition.protocols.ppadmm.masking import mask_sum
from coopetition.sims.baseline_benchkit import loadavg, measure_e, write_csv
from coopetition.sims.benchkit import git_commit, machine_info

PAPER_NOISE_STD = 20.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--participants", type=int, default=4)
    parser.add_argument("--rows", type=int, default=1000, help="rows per participant")
    parser.add_argument("--features", type=int, default=10)
    parser.add_argument("--iterations", type=int, default=30)
    parser.add_argument("--noise", type=float, default=PAPER_NOISE_STD, help="noise std of y")
    parser.add_argument("--epsilons", default=",".join(str(e) for e in PAPER_EPSILONS))
    parser.add_argument("--clip", type=float, default=10.0, help="DSSGD clip bound (= max |w*|)")
    parser.add_argument("--learning-rate", type=float, default=0.01, help="DSSGD local SGD")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--out", type=Path, default=None, help="directory for JSON, CSV and PNG (none by default)"
    )


def synthetic(args: argparse.Namespace) -> tuple[list[Any], np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(np.random.SeedSequence([args.seed, 0x99ADD]))
    true = rng.uniform(-10, 10, size=args.features)

    def rows(n: int) -> tuple[np.ndarray, np.ndarray]:
        X = rng.normal(size=(n, args.features))
        return X, X @ true + args.noise * rng.normal(size=n)

    parts = [rows(args.rows) for _ in range(args.participants)]
    X_test, y_test = rows(2000)
    return parts, true, X_test, y_test


def admm_history(parts: list[Any], config: AdmmConfig) -> list[np.ndarray]:
    """Plaintext consensus ADMM, z after every iteration (the engine run gives only the end)."""
    summaries = [summarise(X, y, config.rho) for X, y in parts]
    m, d = len(parts), summaries[0].features
    z, us, out = np.zeros(d), [np.zeros(d) for _ in parts], []
    for _ in range(config.iterations):
        ws = [local_step(s, z, u, config.rho) for s, u in zip(summaries, us, strict=True)]
        total = np.zeros(d)
        for w, u in zip(ws, us, strict=True):
            total = total + (w + u)
        z = config.objective.consensus(total / m, m, config.rho)
        us = [u + w - z for u, w in zip(us, ws, strict=True)]
        out.append(z)
    return out


def _timed(train: Callable[..., Any], phase: str) -> tuple[Any, list[float]]:
    """Run ``train(party_options)``; CPU seconds (all parties: they share this process) from the
    start to the end of each round of ``phase``, so other jobs' load does not count."""
    marks: list[float] = []
    start = time.process_time()

    def options(pid: int) -> dict[str, Any]:
        if pid != 0:
            return {}

        def observer(party: int, name: str, rnd: int, event: str) -> None:
            if name == phase and event == "end":
                marks.append(time.process_time() - start)

        return {"observer": observer}

    return trio.run(lambda: train(party_options=options)), marks


def _curve(
    name: str,
    eps: float | None,
    models: list[np.ndarray],
    seconds: list[float],
    true: np.ndarray,
    X: np.ndarray,
    y: np.ndarray,
) -> list[dict[str, Any]]:
    return [
        {
            "algorithm": name,
            "epsilon": "" if eps is None else eps,
            "iteration": k + 1,
            "rmse": float(np.sqrt(np.mean((X @ w - y) ** 2))),
            "mped": float(np.linalg.norm(w - true)),
            "cpu_seconds": round(t, 6),
        }
        for k, (w, t) in enumerate(zip(models, seconds, strict=True))
    ]


def run(args: argparse.Namespace) -> dict[str, Any]:
    epsilons = [float(e) for e in args.epsilons.split(",")]
    for eps in epsilons:
        DssgdConfig(epsilon=eps)  # bad epsilon: ConfigError before any training
    parts, true, X_test, y_test = synthetic(args)
    total_rows = args.participants * args.rows
    admm = AdmmConfig(
        Objective("lasso", lam=0.01 * total_rows), rho=0.1 * total_rows, iterations=args.iterations
    )
    result: dict[str, Any] = {
        "participants": args.participants,
        "rows_per_participant": args.rows,
        "features": args.features,
        "iterations": args.iterations,
        "noise_std": args.noise,
        "lasso_lambda": admm.objective.lam,
        "rho": admm.rho,
        "machine.loadavg_before": loadavg(),
        "git_commit": git_commit(("protocols/ppadmm", "protocols/dssgd", "sims")),
    }
    result.update(machine_info())
    e_seconds = measure_e(clock=time.process_time)
    result["E_seconds"] = round(e_seconds, 6)
    rows: list[dict[str, Any]] = []

    engine_admm, admm_marks = _timed(functools.partial(train_locally, parts, admm), "coordinate")
    admm_models = admm_history(parts, admm)
    result["admm.engine_vs_numpy_max_abs_diff"] = float(
        np.max(np.abs(engine_admm.results[0].model - admm_models[-1]))
    )
    rows += _curve("ADMM", None, admm_models, admm_marks, true, X_test, y_test)

    for precompute in (False, True):
        config = PpadmmConfig(admm, precompute_masks=precompute)
        run_, marks = _timed(functools.partial(train_ppadmm, parts, config), "aggregate")
        history = list(run_.results[0].history)
        label = "PPADMM-precomputed" if precompute else "PPADMM"
        rows += _curve(label, None, history, marks, true, X_test, y_test)
        key = label.lower()
        result[f"{key}.max_abs_diff_vs_admm"] = float(
            max(np.max(np.abs(a - b)) for a, b in zip(history, admm_models, strict=True))
        )
    for eps in epsilons:
        config_d = DssgdConfig(
            epsilon=eps,
            clip=args.clip,
            learning_rate=args.learning_rate,
            iterations=args.iterations,
            seed=args.seed,
        )
        run_, marks = _timed(functools.partial(train_dssgd, parts, config_d), "share")
        rows += _curve("DSSGD", eps, list(run_.results[0].history), marks, true, X_test, y_test)

    _summarise(rows, result, e_seconds, args.iterations)
    _micro(args, result)
    result["machine.loadavg_after"] = loadavg()
    if args.out is not None:
        _write(args.out, rows, result)
    return result


def _summarise(rows: list[dict[str, Any]], result: dict[str, Any], e: float, t: int) -> None:
    finals = {(r["algorithm"], r["epsilon"]): r for r in rows if r["iteration"] == t}
    admm_time = finals[("ADMM", "")]["cpu_seconds"] / t
    for (name, eps), r in sorted(finals.items(), key=lambda kv: str(kv[0])):
        key = name.lower() + (f".eps{eps:g}" if eps != "" else "")
        per_iteration = r["cpu_seconds"] / t
        result[f"{key}.final_rmse"] = round(r["rmse"], 4)
        result[f"{key}.final_mped"] = round(r["mped"], 4)
        result[f"{key}.cpu_seconds_per_iteration"] = round(per_iteration, 6)
        result[f"{key}.E_per_iteration"] = round(per_iteration / e, 2)
        result[f"{key}.time_ratio_vs_admm"] = round(per_iteration / admm_time, 3)


def _micro(args: argparse.Namespace, result: dict[str, Any]) -> None:
    """The cryptographic work itself, apart from the engine: S2's SHA-256 mask sum for one
    iteration (the participants' masks together cost the same) against DSSGD's Laplace draws."""
    keys = [bytes([i]) * 32 for i in range(args.participants)]
    rng = np.random.default_rng(0)
    timings = {}
    for name, fn in {
        "ppadmm.mask_sum": lambda t: mask_sum(keys, t, args.features),
        "dssgd.laplace_noise": lambda t: [
            rng.laplace(0.0, 1.0, size=args.features) for _ in range(args.participants)
        ],
    }.items():
        start, count = time.process_time(), 0
        while time.process_time() - start < 0.3:
            fn(count)
            count += 1
        timings[name] = (time.process_time() - start) / count
        result[f"{name}.cpu_seconds_per_iteration"] = round(timings[name], 9)
    result["ppadmm.mask_sum_over_laplace_noise"] = round(
        timings["ppadmm.mask_sum"] / timings["dssgd.laplace_noise"], 2
    )


def _write(out: Path, rows: list[dict[str, Any]], result: dict[str, Any]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    write_csv(out / "ppadmm_curves.csv", rows)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        label = r["algorithm"] + (f" eps={r['epsilon']:g}" if r["epsilon"] != "" else "")
        series.setdefault(label, []).append(r)
    figures = {
        "fig3_rmse": ("rmse", "RMSE (test set)", True),
        "fig4_mped": ("mped", "model parameter Euclidean distance", True),
        "fig5_time": ("cpu_seconds", "cumulative CPU time, all parties (s)", False),
    }
    for name, (column, ylabel, log) in figures.items():
        fig, ax = plt.subplots(figsize=(6.4, 4.2))
        for label, points in series.items():
            style = "--" if label.startswith("PPADMM") else "-"
            ax.plot(
                [p["iteration"] for p in points], [p[column] for p in points], style, label=label
            )
        if log:
            ax.set_yscale("log")
        ax.set_xlabel("iteration")
        ax.set_ylabel(ylabel)
        ax.legend(fontsize=7, loc="center right")
        ax.set_title(f"PPADMM paper Fig. {name[3]} shape (noise std {result['noise_std']:g})")
        fig.tight_layout()
        fig.savefig(out / f"ppadmm_{name}.png", dpi=110)
        plt.close(fig)
    (out / "bench_ppadmm.json").write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    result["written_to"] = str(out)
