"""Helen end to end on synthetic data: per-phase wall and CPU seconds, exponentiations, E, bytes.

All m parties run in this process over the memory transport (``helen.local_run``), on seeded
synthetic data of a known linear model plus noise (``--rows`` per party, ``--features`` d). Per
phase and per party the run record gives CPU seconds (the thread CPU of the party's own
program steps), exponentiation counts (the per-party tallies) and bytes sent (the engine's
counters); wall seconds are party 0's. Costs in E divide CPU seconds by one full 2048-bit
r^N mod N^2 measured in this process before the run, so they carry over between machines and
loads; wall seconds do not (record ``uptime``'s load average with them, as the JSON does).

What the parties start with is made here first, and reported apart as ``prepare_wall_seconds``:
the trusted dealer's threshold key (safe primes) and all SPDZ preprocessing (MASCOT, or the
INSECURE dealer with ``--insecure``). Peak RSS is the process's (all parties together).
With ``--processes`` each party runs in its own OS process over loopback TCP instead
(``helen_processes``: ``coopetition party`` with its own preprocessing; ``--processes prepared``,
``helen_prepared``: the preprocessing made here, the online phases in the party processes), and
peak RSS and CPU come per party from the kernel.
Nothing is written unless ``--out`` is given. ``--sweep d|m`` runs the paper's Fig. 3 points
(``helen_sweep``: the same pinned workload at every point but the swept m or d).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import secrets
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import trio

from coopetition.engine.errors import ConfigError
from coopetition.protocols.admm.objective import Objective
from coopetition.protocols.helen import numerics
from coopetition.protocols.helen import preprocess_phase as pre
from coopetition.protocols.helen.config import SECURE_KEY_BITS, HelenConfig
from coopetition.protocols.helen.local_run import train_locally
from coopetition.protocols.helen.run_record import (
    full_exponentiations,
    phase_deadlines,
    traffic,
)
from coopetition.protocols.zk import group
from coopetition.sims import helen_prepared, helen_processes, helen_sweep
from coopetition.sims.benchkit import git_commit, machine_info, random_modulus
from coopetition.sims.deadline_flags import add_deadline_arguments, deadlines_from
from coopetition.sims.helen_matrix import helen_config
from coopetition.sims.helen_progress import PhaseProgress

#: a quick, valid command for ``--help`` (an INSECURE key; the real figure needs 2048 bits)
EXAMPLE = (
    "coopetition bench helen --parties 2 --features 2 --iterations 1 --rows 30 "
    "--key-bits 1280 --insecure --json"
)
#: the synthetic model's noise (standard deviation of y's noise term)
NOISE = 0.1


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--parties", type=int, default=4, help="m")
    parser.add_argument("--features", type=int, default=20, help="d")
    parser.add_argument("--iterations", type=int, default=2, help="ADMM iterations")
    parser.add_argument("--rows", type=int, default=1000, help="rows per party")
    add_run_arguments(parser)
    parser.add_argument(
        "--sweep",
        choices=("d", "m"),
        help="the paper's Fig. 3a (d = 10..90 at m = 4) or 3b (m = 2..8 at d = 50), parameters "
        "pinned across points, MPC offline estimated (needs --insecure): CSV, PNG, JSON at --out",
    )
    parser.add_argument("--sweep-values", help="comma-separated points instead of the paper's")
    parser.add_argument(
        "--mascot-sample",
        type=int,
        default=256,
        help="with --sweep: real MASCOT triples and bits made per m to time one item",
    )


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """The key, data seed, preparation, output and deadline options every Helen run takes."""
    parser.add_argument("--key-bits", type=int, default=SECURE_KEY_BITS, help="Paillier |N|")
    parser.add_argument(
        "--insecure",
        action="store_true",
        help="keys below 2048 bits, dealer preprocessing, 16 proof repetitions (smoke tests)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the synthetic data")
    parser.add_argument(
        "--prep-workers",
        type=int,
        default=None,
        help=(
            "processes making the key and preprocessing before the parties start, per stream "
            "(MASCOT beside the Paillier masks on as many again; all cores)"
        ),
    )
    parser.add_argument(
        "--processes",
        nargs="?",
        const="own",
        choices=("own", "prepared"),
        help="one OS process per party over loopback TCP: 'own' (the default) as on separate "
        "hosts (coopetition party, each party's own MASCOT over the bus); 'prepared': the "
        "preprocessing made here first, then each party's online phases in its own process",
    )
    parser.add_argument("--out", type=Path, default=None, help="write JSON here (nothing else)")
    add_deadline_arguments(parser)


def synthetic(
    parties: int, features: int, rows: int, seed: int
) -> tuple[list[tuple[np.ndarray, np.ndarray]], np.ndarray]:
    """Standard-normal features, y = X w + N(0, NOISE^2), dealt into ``parties`` parts."""
    rng = np.random.default_rng(seed)
    w = rng.uniform(-2.0, 2.0, features)
    X = rng.standard_normal((parties * rows, features))
    y = X @ w + NOISE * rng.standard_normal(parties * rows)
    return [(X[i * rows : (i + 1) * rows], y[i * rows : (i + 1) * rows]) for i in range(parties)], w


def _cpu_of(usage: resource.struct_rusage) -> float:
    return usage.ru_utime + usage.ru_stime


def _children_cpu() -> float:
    """CPU seconds of this process's finished children (the preparation's worker processes)."""
    return _cpu_of(resource.getrusage(resource.RUSAGE_CHILDREN))


def e_seconds(bits: int = SECURE_KEY_BITS, reps: int = 20) -> float:
    """CPU seconds of one full ``bits``-bit r^N mod N^2 (best of three batches)."""
    return e_seconds_at(random_modulus(bits), reps)


def e_seconds_at(pk: Any, reps: int = 20, clock: Callable[[], float] = time.process_time) -> float:
    """CPU seconds of one full r^N mod N^2 at the key ``pk`` (best of three batches), by
    ``clock`` (process time; thread time where other threads of the process are busy)."""
    m, r = secrets.randbelow(pk.n), group.random_unit(pk)
    best = float("inf")
    for _ in range(3):
        start = clock()
        for _ in range(reps):
            group.encrypt(pk, m, r)
        best = min(best, clock() - start)
    return best / reps


def _phases(
    records: list[dict[str, Any]], sent: list[dict[str, dict[str, int]]], e: float, its: int
) -> dict[str, dict[str, Any]]:
    """The per-phase table: party 0's wall, the parties' mean CPU and E, exponentiations, bytes."""
    table: dict[str, dict[str, Any]] = {}
    for phase, wall in records[0]["phase_seconds"].items():
        cpu = [r["phase_cpu_seconds"].get(phase, 0.0) for r in records]
        full = [full_exponentiations(r["phase_exponentiations"].get(phase, {})) for r in records]
        row = {
            "wall_seconds": round(wall, 3),
            "cpu_seconds_mean": round(float(np.mean(cpu)), 3),
            "cpu_seconds_max": round(max(cpu), 3),
            "cost_E_mean": round(float(np.mean(cpu)) / e, 1),
            "full_exponentiations_mean": round(float(np.mean(full)), 1),
            "exponentiations_party0": records[0]["phase_exponentiations"].get(phase, {}),
            "bytes_sent_total": sum(s.get(phase, {}).get("bytes_sent", 0) for s in sent),
            "messages_sent_total": sum(s.get(phase, {}).get("messages_sent", 0) for s in sent),
        }
        if phase in ("local", "coordinate"):
            row["cost_E_per_iteration"] = round(row["cost_E_mean"] / its, 1)
        table[phase] = row
    return table


def _in_this_process(
    args: argparse.Namespace, parts: list[tuple[np.ndarray, np.ndarray]], config: HelenConfig
) -> dict[str, Any]:
    """All parties in this process over the memory transport (``helen.local_run``)."""
    cpu0 = time.process_time()
    children0 = resource.getrusage(resource.RUSAGE_CHILDREN)  # the preparation's workers
    first_start: list[float] = []
    prepare_cpu: list[float] = []
    # party 0's phases on stderr as they end (the key and preprocessing are made beforehand)
    progress = PhaseProgress(
        sys.stderr, config.iterations, skip=(pre.OFFLINE_PHASE, pre.MASCOT_PHASE)
    )

    def observer(party: int, phase: str, rnd: int, event: str) -> None:
        if not first_start and event == "start":
            first_start.append(time.perf_counter())
            prepare_cpu.append(time.process_time() - cpu0 + _children_cpu() - _cpu_of(children0))
            print(f"  prepared in {first_start[0] - started:.0f}s", file=sys.stderr)
        progress(party, phase, rnd, event)

    started = time.perf_counter()
    outcome = trio.run(
        lambda: train_locally(
            parts,
            config,
            session=b"bench-helen",
            party_options=lambda _p: {"observer": observer},
            deadlines=deadlines_from(args),
            workers=args.prep_workers,
        )
    )
    wall = time.perf_counter() - started
    if not outcome.completed:
        raise ConfigError(f"the run aborted: {outcome.first_error()}")
    ids = sorted(outcome.results)
    return {
        "layout": f"all {len(parts)} parties in one process (memory transport)",
        "records": [outcome.results[p].record for p in ids],
        "sent": [traffic(outcome.parties[p].stats.as_dict()) for p in ids],
        "stats0": outcome.parties[0].stats.as_dict(),
        "model": outcome.results[0].model,
        "prepare_wall_seconds": round(first_start[0] - started, 2) if first_start else None,
        "prepare_cpu_seconds": round(prepare_cpu[0], 3) if prepare_cpu else None,
        "wall_seconds": wall,
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def _in_processes(
    args: argparse.Namespace, parts: list[tuple[np.ndarray, np.ndarray]], config: HelenConfig
) -> dict[str, Any]:
    """One process per party over loopback TCP: ``coopetition party`` with its own
    preprocessing (``helen_processes``), or the online phases on preprocessing made here
    (``helen_prepared``)."""
    deadlines = deadlines_from(args, helen_processes.PARTY_DEADLINES)
    prepared = args.processes == "prepared"
    layer = helen_prepared if prepared else helen_processes
    with tempfile.TemporaryDirectory(prefix="coopetition-bench-helen-") as folder:
        run = layer.bench_run(
            parts,
            config,
            args.rows,
            work_dir=Path(folder),
            deadlines=deadlines,
            workers=args.prep_workers,
            progress=sys.stderr,
        )
    layout = (
        "the preprocessing made in one process, then one OS process per party "
        if prepared
        else "one OS process per party with its own MASCOT preprocessing "
    )
    rss = [p.peak_rss_mib for p in run.parties]
    return {
        "layout": layout + f"({len(parts)}), loopback TCP",
        "records": run.records,
        "sent": [traffic(s) for s in run.stats],
        "stats0": run.stats[0],
        "model": run.model,
        "prepare_wall_seconds": round(run.prepare_wall_seconds, 2),
        "wall_seconds": run.wall_seconds,
        "peak_rss_mib": max(rss),
        "peak_rss_mib_per_party": rss,
        "party_process_cpu_seconds": [p.cpu_seconds for p in run.parties],
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    if args.sweep:
        return helen_sweep.sweep(args, measure, synthetic)
    return run_one(args)


def run_one(args: argparse.Namespace) -> dict[str, Any]:
    """One run at ``args``' shape."""
    if args.parties < 2 or args.features < 1 or args.iterations < 1:
        raise ConfigError("needs --parties >= 2, --features >= 1, --iterations >= 1")
    if args.rows < args.features:
        raise ConfigError(f"--rows ({args.rows}) must be at least --features ({args.features})")
    parts, truth = synthetic(args.parties, args.features, args.rows, args.seed)
    return measure(args, parts, truth)


def measure(
    args: argparse.Namespace,
    parts: list[tuple[np.ndarray, np.ndarray]],
    truth: np.ndarray | None,
    *,
    lam_per_row: float = 0.02,
    rho_per_row: float = 0.1,
    config: HelenConfig | None = None,
) -> dict[str, Any]:
    """One LASSO run of Helen on ``parts`` (``args`` gives m, d, rows, iterations, key, out).

    ``config`` replaces the one made from the data (bounds) and lambda, rho per row (the
    sweep pins it across its points)."""
    if config is None:
        X = np.vstack([p[0] for p in parts])
        y = np.concatenate([p[1] for p in parts])
        total = len(y)
        config = helen_config(
            Objective("lasso", lam=lam_per_row * total),
            X,
            y,
            rho=rho_per_row * total,
            iterations=args.iterations,
            key_bits=args.key_bits,
            insecure=args.insecure,
        )
    objective = config.objective
    e = e_seconds()
    load_before = os.getloadavg()
    cpu0 = time.process_time()
    children0 = resource.getrusage(resource.RUSAGE_CHILDREN)  # the preparation's workers
    if getattr(args, "processes", False):
        pieces = _in_processes(args, parts, config)
    else:
        pieces = _in_this_process(args, parts, config)
    records, sent, model = pieces["records"], pieces["sent"], pieces["model"]
    admm = numerics.run_plaintext(
        parts,
        objective,
        config.scales(args.features, args.rows, args.parties).rho_quantised,
        config.iterations,
    )
    result: dict[str, Any] = {
        "benchmark": "helen",
        "commit": git_commit(("protocols", "engine", "sims")),
        **machine_info(),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "parties": args.parties,
        "features": args.features,
        "iterations": config.iterations,
        "rows_per_party": args.rows,
        "key_bits": config.key_bits,
        "insecure": bool(config.insecure),
        "key_generation": records[0]["key_generation"],
        "preprocessing": records[0]["preprocessing"],
        "E_seconds": round(e, 6),
        "layout": pieces["layout"],
        # in this process: the key, MAC key, dual masks and SPDZ items before the parties start
        # (all parties); with --processes: the dealer's key shares only
        "prepare_wall_seconds": pieces["prepare_wall_seconds"],
        "prepare_cpu_seconds": pieces.get("prepare_cpu_seconds"),
        "wall_seconds": round(pieces["wall_seconds"], 2),
        "process_cpu_seconds": round(time.process_time() - cpu0, 2),
        # with --processes this includes the party processes (their own figures are below)
        "prep_workers_cpu_seconds": round(_children_cpu() - _cpu_of(children0), 2),
        "party_process_cpu_seconds": pieces.get("party_process_cpu_seconds"),
        "peak_rss_mib": pieces["peak_rss_mib"],
        "peak_rss_mib_per_party": pieces.get("peak_rss_mib_per_party"),
        "phases": _phases(records, sent, e, config.iterations),
        "phase_deadlines": phase_deadlines(pieces["stats0"]),
        "rel_l2_vs_admm": numerics.relative_l2(model, admm),
        "rel_l2_vs_true_model": None if truth is None else numerics.relative_l2(model, truth),
        "per_party": [
            {
                "party": p,
                "phase_seconds": r["phase_seconds"],
                "phase_cpu_seconds": r["phase_cpu_seconds"],
                "phase_exponentiations": r["phase_exponentiations"],
                "phase_traffic": s,
            }
            for p, (r, s) in enumerate(zip(records, sent, strict=True))
        ],
    }
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1, sort_keys=True) + "\n")
    return result
