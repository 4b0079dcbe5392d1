"""Helen in process with proof steps on the event loop (inline) against worker threads.

The same small honest run (synthetic data, INSECURE test key) twice per round: once with every
party's offloaded steps run inline on the trio loop (``InlineCompute``, what Helen did before
its machines offloaded; it needs long heartbeat deadlines), once in worker threads with gmpy2
releasing the GIL (``ThreadCompute``, the default, with the engine's default deadlines). Reports
wall and CPU seconds of each (the whole run: key, preprocessing and protocol; the preparation
is identical in both), their ratios, the event loop's longest stall (how late a 50 ms sleep
woke up: what a heartbeat would wait), the protocol's CPU in E (one 2048-bit r^N mod N^2 measured
here) and the load average, because other jobs on the machine change the wall times. Nothing is
written unless ``--out`` is given.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import trio

from coopetition.engine.compute import InlineCompute
from coopetition.engine.party import Deadlines
from coopetition.protocols.helen import numerics
from coopetition.protocols.helen.local_run import train_locally
from coopetition.sims.baseline_benchkit import loadavg, measure_e
from coopetition.sims.benchkit import git_commit, machine_info
from coopetition.sims.helen_work import synthetic_helen

#: the ``--help`` example (a quick, valid command)
EXAMPLE = "coopetition bench helen-offload --iterations 1 --features 2 --json"
#: what in-process Helen runs needed while their proofs ran on the loop
BLOCKING_DEADLINES = Deadlines(phase=7200.0, heartbeat_timeout=3600.0, finish=600.0)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--parties", type=int, default=3, help="in-process parties")
    parser.add_argument("--features", type=int, default=3, help="d")
    parser.add_argument("--rows", type=int, default=30, help="rows per party")
    parser.add_argument("--iterations", type=int, default=2, help="ADMM iterations")
    parser.add_argument("--key-bits", type=int, default=1280, help="INSECURE test key size")
    parser.add_argument("--rounds", type=int, default=1, help="pairs of runs; the best is kept")
    parser.add_argument("--out", type=Path, default=None, help="write JSON here (nothing else)")


def _one(workload: Any, threads: bool, session: bytes) -> dict[str, float]:
    options = {} if threads else {"offload": InlineCompute()}
    deadlines = None if threads else BLOCKING_DEADLINES

    stall = [0.0]

    async def watchdog() -> None:
        """The loop's longest stall: how late a 50 ms sleep wakes up (heartbeats wait as long)."""
        while True:
            before = time.perf_counter()
            await trio.sleep(0.05)
            stall[0] = max(stall[0], time.perf_counter() - before - 0.05)

    async def main() -> Any:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(watchdog)
            outcome = await train_locally(
                workload.parts,
                workload.config,
                session=session,
                deadlines=deadlines,
                party_options=lambda pid: options,
            )
            nursery.cancel_scope.cancel()
        return outcome

    load = loadavg()
    wall, cpu = time.perf_counter(), time.process_time()
    run = trio.run(main)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    if not run.completed:
        raise RuntimeError(f"Helen run did not complete: {run.first_error()}")
    model = run.results[0].model
    return {
        "wall_s": wall,
        "cpu_s": cpu,
        "loop_max_stall_s": stall[0],
        "load_before": load,
        "load_after": loadavg(),
        "rel_l2_vs_admm": numerics.relative_l2(model, workload.plaintext_model()),
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    if args.parties < 2 or args.rounds < 1:
        raise ValueError("--parties must be at least 2 and --rounds at least 1")
    m, d = args.parties, args.features
    protocol = {
        "lam": 0.02 * m * args.rows,
        "rho": 0.1 * m * args.rows,
        "iterations": args.iterations,
        "w_bound": 1024.0,
        "precision": 20,
        "key_bits": args.key_bits,
        "insecure": True,
        "interval_repetitions": 16,
        "preprocessing": "insecure-dealer",
    }
    workload = synthetic_helen(m, protocol, {"rows_per_party": args.rows, "features": d}, 1)
    e_cpu = measure_e(clock=time.process_time)
    best: dict[str, dict[str, float]] = {}
    for r in range(args.rounds):
        for mode, threads in (("inline", False), ("threads", True)):
            row = _one(workload, threads, f"bench-offload-{r}-{mode}".encode())
            if mode not in best or row["wall_s"] < best[mode]["wall_s"]:
                best[mode] = row
    inline, threaded = best["inline"], best["threads"]
    result: dict[str, Any] = {
        "benchmark": "helen-offload",
        "git_commit": git_commit(("engine", "protocols", "sims")),
        "parties": m,
        "features": d,
        "rows_per_party": args.rows,
        "iterations": args.iterations,
        "key_bits": f"{args.key_bits} (INSECURE test key)",
        "E_cpu_s": e_cpu,
        **{f"{mode}.{k}": float(f"{v:.4g}") for mode, row in best.items() for k, v in row.items()},
        "inline_cpu_E": round(inline["cpu_s"] / e_cpu),
        "wall_ratio_inline_over_threads": round(inline["wall_s"] / threaded["wall_s"], 3),
        "cpu_ratio_threads_over_inline": round(threaded["cpu_s"] / inline["cpu_s"], 3),
        **machine_info(),
    }
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    return result
