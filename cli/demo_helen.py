"""``coopetition demo`` (Helen, the default protocol): Helen among local parties, checked against
plaintext ADMM (same quantised rho, objective and iterations) and scikit-learn.

Rows are shuffled with ``--seed``; the last fifth is held out for ``test_error`` (mean squared
error of Helen's model) and ``sklearn_test_error`` (scikit-learn's fit of the same objective on
the training rows). Keys default to 2048 bits; smaller ones (at least 802, Gadget 4's budget)
need ``--insecure``, which also switches to the insecure-dealer preprocessing and 16
interval-proof repetitions (tests and demos only). ``--features K`` keeps the first K features
(Helen's cost grows with d^2 per iteration; a quick look at the protocol).

``--layout processes`` (the default) makes the key and the preprocessing here, then runs each
party's online phases in its own OS process over loopback TCP (``sims.helen_prepared``), so the
parties' proofs use every core (the proofs hold the GIL: in one process the parties share one
core); ``--layout threads`` keeps every party in this process over the memory transport, and is
the layout of ``--keygen dkg``, whose parties make their own key and preprocessing over the bus.

Progress goes to stderr: one line per stage of the key and preprocessing made before the
parties start, then one line per phase with counts and an ETA (``helen_progress``); the
JSON report adds each party's run record: exponentiations, CPU seconds and bytes per phase.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import trio

from coopetition.engine.errors import ConfigError, ProtocolAborted
from coopetition.optional import require
from coopetition.protocols.admm.objective import Objective
from coopetition.protocols.admm.reference import reference_fit
from coopetition.protocols.helen import numerics
from coopetition.protocols.helen import preprocess_phase as pre
from coopetition.protocols.helen.config import HelenConfig
from coopetition.protocols.helen.local_run import train_locally
from coopetition.protocols.helen.run_record import phase_deadlines, traffic
from coopetition.sims import helen_prepared
from coopetition.sims.data import Dataset, load
from coopetition.sims.deadline_flags import add_deadline_arguments, deadlines_from
from coopetition.sims.helen_matrix import helen_config
from coopetition.sims.helen_processes import PARTY_DEADLINES
from coopetition.sims.helen_progress import PhaseProgress, prep_printer

#: Helen's iterations when ``--iterations`` is not given. The paper runs 10; on the default data
#: (wine-red, lasso, rho = 0.1 n) plaintext ADMM's test error after 3 is within 0.5 % of
#: scikit-learn's converged fit, and every iteration costs about as much as input preparation.
DEFAULT_ITERATIONS = 3
#: where the parties run (``--layout``)
LAYOUTS = ("processes", "threads")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("helen")
    group.add_argument("--key-bits", type=int, default=2048, help="Paillier modulus (default 2048)")
    group.add_argument(
        "--insecure",
        action="store_true",
        help="allow keys below 2048 bits, dealer preprocessing, 16 proof repetitions (demo only)",
    )
    group.add_argument(
        "--features",
        type=int,
        help="Helen: train on the first K features only (default: all of the dataset's)",
    )
    group.add_argument(
        "--layout",
        choices=LAYOUTS,
        default=None,
        help="processes: each party in its own OS process over loopback TCP, on every core, with "
        "the key and preprocessing made first (the default); threads: every party in this "
        "process over the memory transport (the default with --keygen dkg)",
    )
    group.add_argument(
        "--prep-workers",
        type=int,
        default=None,
        help=(
            "Helen: processes making the key and preprocessing, per stream (MASCOT runs beside "
            "the Paillier masks on as many again; default: every core)"
        ),
    )
    add_deadline_arguments(group)


def _features(data: Dataset, count: int | None) -> Dataset:
    """The dataset with only its first ``count`` features (all of them for ``None``)."""
    if count is None:
        return data
    if not 1 <= count <= data.X.shape[1]:
        raise ConfigError(f"--features must be in 1..{data.X.shape[1]} for {data.name}")
    return Dataset(data.name, data.X[:, :count], data.y, data.feature_names[:count])


def run_helen(args: argparse.Namespace) -> int:
    log = sys.stderr
    try:
        if args.parties < 2:
            raise ConfigError("--parties must be at least 2")
        keygen_dkg = getattr(args, "keygen", None) == "dkg"
        layout = getattr(args, "layout", None) or ("threads" if keygen_dkg else "processes")
        if layout == "threads" and args.transport != "memory":
            raise ConfigError("--layout threads runs over --transport memory only")
        require("sklearn", extra="demo", package="scikit-learn")  # the reference fit, at the end
        data = _features(load(args.dataset), args.features)
        order = np.random.default_rng(args.seed).permutation(data.X.shape[0])
        cut = data.X.shape[0] - data.X.shape[0] // 5
        X, y = data.X[order[:cut]], data.y[order[:cut]]
        X_test, y_test = data.X[order[cut:]], data.y[order[cut:]]
        parts = [(X[i], y[i]) for i in np.array_split(np.arange(cut), args.parties)]
        rows = cut
        lam = 0.0 if args.objective == "least_squares" else (args.lam or 0.02 * rows)
        objective = Objective(args.objective, lam=lam, l1_ratio=args.l1_ratio)
        iterations = DEFAULT_ITERATIONS if args.iterations is None else args.iterations
        # --keygen dkg: the key comes from the in-session DKG (no dealer) and each party makes
        # its own preprocessing over the bus (MASCOT and the Paillier offline phase)
        if keygen_dkg and args.parties < 3:
            raise ConfigError("--keygen dkg needs --parties 3 or more (honest-majority DKG)")
        if keygen_dkg and layout != "threads":
            raise ConfigError("--keygen dkg runs with --layout threads")
        config = helen_config(
            objective,
            X,
            y,
            rho=args.rho or 0.1 * rows,
            iterations=iterations,
            key_bits=args.key_bits,
            insecure=args.insecure,
        )
        if keygen_dkg:  # the insecure dealer cannot serve parties that make their own key
            config = dataclasses.replace(config, preprocessing="mascot")
        scales = config.scales(X.shape[1], max(len(p[0]) for p in parts), args.parties)
    except ConfigError as exc:
        print(f"error: {exc}", file=log)
        return 2
    print(
        f"coopetition demo: Helen, {args.parties} parties, {objective.kind} on {data.name} "
        f"({cut} training rows x {X.shape[1]} features), {iterations} iterations, "
        f"{config.key_bits}-bit key{' (INSECURE)' if config.insecure else ''}",
        file=log,
    )
    started = time.perf_counter()
    try:
        if layout == "processes":
            outcome = _in_processes(args, parts, config, log)
        else:
            outcome = _in_threads(args, parts, config, log, keygen_dkg, iterations)
    except ProtocolAborted as exc:
        reason = str(exc)
        print(f"aborted: {reason}", file=log)
        if args.json:
            print(json.dumps({"protocol": "helen", "outcome": "aborted", "abort_reason": reason}))
        return 3
    wall = time.perf_counter() - started
    model = outcome.model
    record = outcome.records[0]
    admm = numerics.run_plaintext(parts, objective, scales.rho_quantised, iterations)
    sk = reference_fit(X, y, objective)
    report: dict[str, Any] = {
        "protocol": "helen",
        "outcome": "completed",
        "parties": args.parties,
        "dataset": data.name,
        "objective": objective.kind,
        "iterations": iterations,
        "key_bits": config.key_bits,
        "model": model.tolist(),
        "admm_model": admm.tolist(),
        "rel_l2_vs_admm": numerics.relative_l2(model, admm),
        "max_abs_coef_diff_vs_admm": float(np.max(np.abs(model - admm))),
        "test_error": float(np.mean((X_test @ model - y_test) ** 2)),
        "sklearn_test_error": float(np.mean((X_test @ sk - y_test) ** 2)),
        "layout": layout,
        "phase_seconds": record["phase_seconds"],
        "phase_deadlines": phase_deadlines(outcome.stats[0]),
        "features": int(X.shape[1]),
        "training_rows": int(cut),
        "per_party": [
            {
                "party": pid,
                "phase_exponentiations": rec["phase_exponentiations"],
                "phase_cpu_seconds": rec["phase_cpu_seconds"],
                "phase_traffic": traffic(stats),
            }
            for pid, (rec, stats) in enumerate(zip(outcome.records, outcome.stats, strict=True))
        ],
        "key_generation": record["key_generation"],
        "preprocessing": record["preprocessing"],
        "wall_seconds": round(wall, 3),
    }
    if args.json:
        print(json.dumps(report, sort_keys=True))
    else:
        for name, ours, ref in zip(data.feature_names, model, admm, strict=True):
            print(f"{name:24} {ours:12.6f} {ref:12.6f}")
        print(
            f"rel. L2 vs plaintext ADMM {report['rel_l2_vs_admm']:.2e}; test MSE "
            f"{report['test_error']:.4f} (scikit-learn {report['sklearn_test_error']:.4f}); "
            f"{report['wall_seconds']}s"
        )
    return 0


@dataclass
class Outcome:
    """What the report needs from a completed run, whichever the layout: the released model,
    each party's run record and its engine statistics (``Party.stats.as_dict()``)."""

    model: np.ndarray
    records: list[dict[str, Any]]
    stats: list[dict[str, Any]]


def _in_threads(
    args: argparse.Namespace,
    parts: list[tuple[np.ndarray, np.ndarray]],
    config: HelenConfig,
    log: TextIO,
    keygen_dkg: bool,
    iterations: int,
) -> Outcome:
    """Every party in this process over the memory transport (``train_locally``)."""
    # the per-party preprocessing phases run only when the parties make their own key
    progress = PhaseProgress(
        log, iterations, skip=() if keygen_dkg else (pre.OFFLINE_PHASE, pre.MASCOT_PHASE)
    )
    run = trio.run(
        lambda: train_locally(
            parts,
            config,
            session=b"helen-demo",
            party_options=lambda _pid: {"observer": progress},
            keygen="dkg" if keygen_dkg else "dealer",
            deadlines=deadlines_from(args),
            workers=getattr(args, "prep_workers", None),
            prep_progress=prep_printer(log, progress.started),
        )
    )
    if not run.completed:
        raise ProtocolAborted(str(run.first_error()))
    pids = sorted(run.results)
    return Outcome(
        model=run.results[pids[0]].model,
        records=[run.results[pid].record for pid in pids],
        stats=[run.parties[pid].stats.as_dict() for pid in pids],
    )


def _in_processes(
    args: argparse.Namespace,
    parts: list[tuple[np.ndarray, np.ndarray]],
    config: HelenConfig,
    log: TextIO,
) -> Outcome:
    """The key and preprocessing made here, then each party's online phases in its own OS
    process over loopback TCP (``helen_prepared``), so the parties' proofs use every core; the
    parties' files live in a private temporary folder, gone when the run ends."""
    with tempfile.TemporaryDirectory(prefix="coopetition-demo-") as folder:
        try:
            run = helen_prepared.bench_run(
                parts,
                config,
                max(len(X) for X, _ in parts),
                work_dir=Path(folder),
                deadlines=deadlines_from(args, PARTY_DEADLINES),
                workers=getattr(args, "prep_workers", None),
                progress=log,
            )
        except ConfigError as exc:  # a party process stopped: its last line says why
            raise ProtocolAborted(str(exc)) from exc
    return Outcome(model=run.model, records=run.records, stats=run.stats)
