"""A batch of 2048-bit-key exponentiations on threads, worker processes and a local Dask cluster.

The cut a party can send to its cluster (``[compute] backend``, ``paillier.pools``): one list
of ``--count`` exponentiations b^e mod N^2 (N of ``--bits`` bits, e of ``--bits`` bits, as a
decryption share's 2·s_i or a Gadget-3 power) computed by ``paillier.parallel`` through each
backend, after one warm-up list (worker start-up is reported apart: a party starts its pool
once per session). For each: wall seconds, the workers' CPU seconds (each chunk's thread
CPU, measured where it ran), and the cost in E (one 2048-bit r^N mod N^2 in this process,
``measure_e``). Ratios are against the serial single-thread list and against ``threads`` in
the same run. The result is checked against Python's ``pow`` on a sample. The load average
is recorded before and after: on a shared machine wall ratios mean little without it.
Nothing is written unless ``--out`` is given.
"""

from __future__ import annotations

import argparse
import json
import secrets
import time
from pathlib import Path
from typing import Any

import gmpy2

from coopetition.protocols.paillier import parallel, pools
from coopetition.sims.baseline_benchkit import loadavg, measure_e
from coopetition.sims.benchkit import git_commit, machine_info

#: the ``--help`` example (a quick, valid command)
EXAMPLE = "coopetition bench cluster --count 16 --json"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--bits", type=int, default=2048, help="bits of N (and of e)")
    parser.add_argument("--count", type=int, default=64, help="exponentiations in the list")
    parser.add_argument("--workers", type=int, default=2, help="Dask workers (1 thread each)")
    parser.add_argument(
        "--backends",
        default="threads,processes,dask",
        help="comma-separated subset of threads, processes, dask",
    )
    parser.add_argument("--out", type=Path, default=None, help="write JSON here (nothing else)")


def _timed_list(pool: parallel.Pool, bases: list, e: int, n2: Any) -> tuple[list, float, float]:
    """(results, wall seconds, workers' CPU seconds) of one list through ``pool``."""
    chunks = [bases[i :: pool.width] for i in range(pool.width)]
    wall = time.perf_counter()
    futures = [pool.submit(parallel.timed_chunk, gmpy2.powmod_base_list, c, e, n2) for c in chunks]
    outs = [f.result() for f in futures]
    wall = time.perf_counter() - wall
    values: list = [None] * len(bases)
    for i, (chunk, _) in enumerate(outs):
        values[i :: pool.width] = chunk
    return values, wall, sum(cpu for _, cpu in outs)


def _dask_pool(workers: int) -> tuple[Any, pools.DaskPool]:
    from distributed import LocalCluster

    cluster = LocalCluster(
        n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
    )
    return cluster, pools.DaskPool(cluster.scheduler_address)


def run(args: argparse.Namespace) -> dict[str, Any]:
    wanted = [b.strip() for b in args.backends.split(",") if b.strip()]
    if not wanted or any(b not in pools.BACKENDS for b in wanted):
        raise ValueError(f"--backends takes a subset of {', '.join(pools.BACKENDS)}")
    if args.count < 2 or args.workers < 1 or args.bits < 256:
        raise ValueError("--count >= 2, --workers >= 1, --bits >= 256")
    n = gmpy2.mpz(secrets.randbits(args.bits) | (1 << (args.bits - 1)) | 1)
    n2 = n * n
    bases = [gmpy2.mpz(secrets.randbelow(int(n2))) for _ in range(args.count)]
    e = gmpy2.mpz(secrets.randbits(args.bits))
    e_cpu = measure_e(clock=time.process_time)
    load_before = loadavg()
    wall = time.perf_counter()
    serial = gmpy2.powmod_base_list(bases, e, n2)
    serial_wall = time.perf_counter() - wall
    sample = range(0, args.count, max(1, args.count // 4))
    if any(serial[i] != pow(int(bases[i]), int(e), int(n2)) for i in sample):
        raise RuntimeError("gmpy2's list disagrees with pow")
    result: dict[str, Any] = {
        "benchmark": "cluster",
        "git_commit": git_commit(("protocols", "sims")),
        "bits": args.bits,
        "count": args.count,
        "E_cpu_s": e_cpu,
        "serial.wall_s": round(serial_wall, 4),
        "serial.E_per_exp": round(serial_wall / args.count / e_cpu, 3),
    }
    for name in wanted:
        started = time.perf_counter()
        cluster = None
        if name == "dask":
            cluster, pool = _dask_pool(args.workers)
        else:
            pool = pools.pool_from_config(name)
        try:
            _timed_list(pool, bases[: 2 * pool.width], e, n2)  # warm-up (imports, spawn)
            startup = time.perf_counter() - started
            values, seconds, cpu = _timed_list(pool, bases, e, n2)
        finally:
            pool.close()
            if cluster is not None:
                cluster.close()
        if values != serial:
            raise RuntimeError(f"{name}: results differ from the serial list")
        result[f"{name}.width"] = pool.width
        result[f"{name}.startup_s"] = round(startup, 3)
        result[f"{name}.wall_s"] = round(seconds, 4)
        result[f"{name}.worker_cpu_s"] = round(cpu, 4)
        result[f"{name}.speedup_vs_serial"] = round(serial_wall / seconds, 3)
    if "threads" in wanted:
        for name in wanted:
            result[f"{name}.speedup_vs_threads"] = round(
                result["threads.wall_s"] / result[f"{name}.wall_s"], 3
            )
    result.update(load_before=load_before, load_after=loadavg(), **machine_info())
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    return result
