"""``coopetition demo``: N local parties train a model on real data, checked against scikit-learn.

With ``--transport memory`` all parties run in this process; with ``--transport tcp`` each party
is its own OS process (``coopetition party``) talking authenticated, encrypted TCP on loopback,
exactly as separate hosts would. Either way the released model is compared with a scikit-learn
fit of the same objective on the pooled data.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import trio

from coopetition.cli_help import HelpFormatter
from coopetition.cli_progress import RoundPrinter
from coopetition.demo_baselines import BASELINES, run_baseline
from coopetition.demo_baselines import add_arguments as add_baseline_arguments
from coopetition.demo_helen import add_arguments as add_helen_arguments
from coopetition.demo_helen import run_helen
from coopetition.engine.errors import ConfigError
from coopetition.engine.identity import public_key_hex, write_key_file
from coopetition.optional import require
from coopetition.protocols.admm import AdmmConfig, Objective
from coopetition.protocols.admm.local_run import train_locally
from coopetition.protocols.admm.objective import KINDS
from coopetition.protocols.admm.reference import reference_fit
from coopetition.sims.benchkit import free_ports as _free_ports
from coopetition.sims.data import DATASETS, Dataset, load

#: a model within this fraction of the largest reference coefficient counts as converged
CONVERGED_TOLERANCE = 1e-6


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "demo",
        help="train jointly among local parties on real data",
        epilog="examples:\n  coopetition demo --parties 3 --iterations 2 --key-bits 1280 --insecure\n"
        "  coopetition demo --protocol admm --dataset diabetes --objective ridge --transport tcp",
        formatter_class=HelpFormatter,
    )
    parser.add_argument(
        "--protocol",
        choices=["helen", "admm", *BASELINES, "copml"],
        default="helen",
        help="helen (maliciously secure, the default), plaintext admm, a baseline or copml",
    )
    parser.add_argument(
        "--preset", choices=["case1", "case2"], default="case1", help="COPML (K, T)"
    )
    parser.add_argument("--rows", type=int, help="COPML: CIFAR rows to train on (default 900)")
    parser.add_argument("--parties", type=int, default=4, help="number of parties (default 4)")
    parser.add_argument("--transport", choices=["memory", "tcp"], default="memory")
    parser.add_argument("--dataset", choices=DATASETS, default="wine-red")
    parser.add_argument("--objective", choices=KINDS, default="lasso")
    parser.add_argument("--lam", type=float, help="regularisation (default 0.02 x rows)")
    parser.add_argument("--rho", type=float, help="ADMM penalty (default 0.1 x rows)")
    parser.add_argument("--l1-ratio", type=float, default=0.5, help="elastic net mix")
    parser.add_argument(
        "--iterations",
        type=int,
        help="Helen: iterations run (default 3); ADMM: most rounds (default 1000, stops at "
        "--tolerance); the baselines and COPML: rounds run (default 50)",
    )
    parser.add_argument(
        "--tolerance",
        type=float,
        default=1e-10,
        help="stop when the relative primal and dual residuals are below this; "
        "0 runs exactly --iterations rounds",
    )
    parser.add_argument(
        "--fixed-rho", action="store_true", help="keep rho fixed instead of residual balancing"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the row split")
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    add_baseline_arguments(parser)
    parser.add_argument(
        "--keygen",
        choices=["dkg", "dealer"],
        help="first make and check the threshold Paillier key Helen will use (dkg: no dealer)",
    )
    parser.add_argument("--keygen-bits", type=int, default=2048, help="key length for --keygen")
    add_helen_arguments(parser)
    parser.set_defaults(func=_run)


def _config(args: argparse.Namespace, rows: int) -> AdmmConfig:
    lam = (
        0.0
        if args.objective == "least_squares"
        else (args.lam if args.lam is not None else 0.02 * rows)
    )
    rho = args.rho if args.rho is not None else 0.1 * rows
    return AdmmConfig(
        Objective(args.objective, lam=lam, l1_ratio=args.l1_ratio),
        rho=rho,
        iterations=args.iterations if args.iterations is not None else 1000,
        tolerance=args.tolerance or None,
        adaptive_rho=not args.fixed_rho,
    )


def _run(args: argparse.Namespace) -> int:
    if args.protocol == "copml":
        from coopetition.cmd_demo_copml import run_demo

        return run_demo(args)
    if args.protocol == "helen":
        return run_helen(args)
    try:
        if args.parties < 2:
            raise ConfigError("--parties must be at least 2")
        require("sklearn", extra="demo", package="scikit-learn")  # the reference fit
        dataset = load(args.dataset)
        config = _config(args, dataset.X.shape[0])
        parts = dataset.split(args.parties, seed=args.seed)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.protocol in BASELINES:
        return run_baseline(args, config)
    log = sys.stderr
    print(
        f"coopetition demo: {args.parties} parties, {args.transport} transport, "
        f"{config.objective.kind} on {dataset.name} ({dataset.X.shape[0]} rows x "
        f"{dataset.X.shape[1]} features), lambda={config.objective.lam:g}, rho={config.rho:g}, "
        f"at most {config.iterations} rounds",
        file=log,
    )
    keygen = None
    if args.keygen:
        from coopetition.demo_keygen import run_keygen

        try:
            keygen = run_keygen(args.keygen, args.parties, args.keygen_bits, args.transport, log)
        except ConfigError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    started = time.perf_counter()
    if args.transport == "memory":
        models, transcript, rounds = _run_memory(parts, config, log)
    else:
        models, transcript, rounds = _run_tcp(parts, config, log)
    wall = time.perf_counter() - started
    if isinstance(models, str):
        print(f"aborted: {models}", file=log)
        if args.json:
            print(json.dumps({"outcome": "aborted", "abort_reason": models}))
        return 3
    report = _report(args, dataset, config, models, transcript, wall)
    report["iterations"] = rounds
    if keygen is not None:
        report["keygen"] = keygen
    _warn_if_not_converged(report, log)
    if args.json:
        print(json.dumps(report, sort_keys=True))
    else:
        _print_table(report, dataset)
    return 0


def _run_memory(parts: list[Any], config: AdmmConfig, log: Any) -> tuple[Any, str, int]:
    printer = RoundPrinter(log, config.iterations, only_party=0)
    run = trio.run(
        lambda: train_locally(parts, config, party_options=lambda _pid: {"observer": printer})
    )
    if not run.completed:
        error = run.first_error()
        return str(error), "", 0
    models = [run.results[p].model for p in sorted(run.results)]
    return models, run.parties[0].transcript_digest, run.results[0].iterations


def write_tcp_session(folder: Path, parts: list[Any], config: AdmmConfig) -> list[Path]:
    """Key files, data files and one TOML config per party, as separate hosts would have them."""
    from nacl.signing import SigningKey

    count = len(parts)
    keys = [SigningKey.generate() for _ in range(count)]
    ports = _free_ports(count)
    session = os.urandom(16).hex()
    paths = []
    for pid, (X, y) in enumerate(parts):
        write_key_file(folder / f"party{pid}.key", keys[pid], overwrite=True)
        np.savez(folder / f"party{pid}.npz", X=X, y=y)
        objective = config.objective
        lines = [
            "[party]",
            f"id = {pid}",
            f'key_file = "party{pid}.key"',
            f'listen = "127.0.0.1:{ports[pid]}"',
            f'data = "party{pid}.npz"',
            "",
            "[session]",
            f'id = "{session}"',
            'protocol = "admm"',
            "",
            "[admm]",
            f'objective = "{objective.kind}"',
            f"lam = {objective.lam!r}",
            f"l1_ratio = {objective.l1_ratio!r}",
            f"rho = {config.rho!r}",
            f"iterations = {config.iterations}",
            f"tolerance = {config.tolerance or 0.0!r}",
            f"adaptive_rho = {str(config.adaptive_rho).lower()}",
            f'scaling = "{config.scaling}"',
            "",
        ]
        for peer in range(count):
            if peer != pid:
                lines += [
                    "[[peers]]",
                    f"id = {peer}",
                    f'address = "127.0.0.1:{ports[peer]}"',
                    f'public_key = "{public_key_hex(keys[peer].verify_key)}"',
                    "",
                ]
        path = folder / f"party{pid}.toml"
        path.write_text("\n".join(lines))
        paths.append(path)
    return paths


def _run_tcp(parts: list[Any], config: AdmmConfig, log: Any) -> tuple[Any, str, int]:
    with tempfile.TemporaryDirectory(prefix="coopetition-demo-") as tmp:
        folder = Path(tmp)
        configs = write_tcp_session(folder, parts, config)
        procs = []
        for pid, path in enumerate(configs):
            cmd = [
                sys.executable,
                "-m",
                "coopetition",
                "party",
                "--config",
                str(path),
                "--output",
                str(folder / f"result{pid}.json"),
            ]
            if pid != 0:
                cmd.append("--quiet")
            procs.append(
                subprocess.Popen(
                    cmd, stdout=subprocess.DEVNULL, stderr=None if pid == 0 else subprocess.DEVNULL
                )
            )
        print(f"  started {len(procs)} party processes on loopback", file=log)
        deadline = time.monotonic() + 600
        for proc in procs:
            try:
                proc.wait(timeout=max(1.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                for other in procs:
                    other.kill()
                return "party processes did not finish within 600s", "", 0
        results = []
        for pid in range(len(configs)):
            path = folder / f"result{pid}.json"
            if not path.exists():
                return f"party {pid} exited with code {procs[pid].returncode} and no result", "", 0
            results.append(json.loads(path.read_text()))
        aborted = [r for r in results if r.get("outcome") != "completed"]
        if aborted:
            first = aborted[0]
            return (
                f"party {first['party']}: {first.get('abort_reason')} (culprit {first.get('culprit')})",
                "",
                0,
            )
        models = [np.array(r["model"]) for r in results]
        return models, results[0]["transcript_sha256"], results[0]["iterations"]


def _report(
    args: argparse.Namespace,
    dataset: Dataset,
    config: AdmmConfig,
    models: list[np.ndarray],
    transcript: str,
    wall: float,
) -> dict[str, Any]:
    model = models[0]
    agree = all(np.array_equal(model, other) for other in models[1:])
    reference = reference_fit(dataset.X, dataset.y, config.objective)
    objective = config.objective
    return {
        "outcome": "completed",
        "protocol": args.protocol,
        "parties": args.parties,
        "transport": args.transport,
        "dataset": dataset.name,
        "rows": int(dataset.X.shape[0]),
        "features": int(dataset.X.shape[1]),
        "objective_kind": objective.kind,
        "lam": objective.lam,
        "rho": config.rho,
        "iterations": config.iterations,
        "objective": objective.value(dataset.X, dataset.y, model),
        "reference_objective": objective.value(dataset.X, dataset.y, reference),
        "max_abs_coef_diff": float(np.max(np.abs(model - reference))),
        "converged": bool(
            np.max(np.abs(model - reference))
            <= CONVERGED_TOLERANCE * max(1.0, np.abs(reference).max())
        ),
        "parties_agree": agree,
        "model": model.tolist(),
        "reference_model": reference.tolist(),
        "transcript_sha256": transcript,
        "wall_seconds": round(wall, 3),
    }


def _warn_if_not_converged(report: dict[str, Any], log: Any) -> None:
    if not report["converged"]:
        print(
            f"warning: after {report['iterations']} rounds the model is still "
            f"{report['max_abs_coef_diff']:.2e} from scikit-learn's; ADMM needs more rounds "
            "(--iterations) on this data (see docs/protocols.md)",
            file=log,
        )


def _print_table(report: dict[str, Any], dataset: Dataset) -> None:
    print(f"{'feature':24} {'joint model':>12} {'scikit-learn':>12}")
    for name, ours, ref in zip(
        dataset.feature_names, report["model"], report["reference_model"], strict=True
    ):
        print(f"{name:24} {ours:12.6f} {ref:12.6f}")
    print(
        f"objective {report['objective']:.6f} vs reference {report['reference_objective']:.6f}; "
        f"max |coef diff| {report['max_abs_coef_diff']:.2e}; parties agree: "
        f"{report['parties_agree']}; {report['wall_seconds']}s"
    )
