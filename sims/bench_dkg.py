"""Distributed key generation: seconds to a 2048-bit threshold Paillier key, against TNO's DKG.

Our DKG runs with one process per party over TCP on 127.0.0.1 (``sims.dkg_local``); the time
to a key is random (the number of candidates tried is geometric), so each configuration is run
``--runs`` times and the median and spread are reported. The peer, measured in the same run,
is TNO's semi-honest Boneh-Franklin DKG (``tno.mpc.protocols.distributed_keygen``, all parties
in one asyncio process over its HTTP pools) at 1024 bits and 3 parties, as in the issue. It is
an optional dependency (the ``bench`` extra); without it the peer is skipped and the JSON says
how to install it. Every figure carries the load average at its start, since the machine is
shared, and each party's CPU seconds (load-independent up to cache effects). ``E`` is one
2048-bit r^N mod N^2 measured in this process.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import secrets
import statistics
import subprocess
import time
from pathlib import Path
from typing import Any

import gmpy2

from coopetition.protocols.paillier.dkg import DkgParams
from coopetition.protocols.paillier.dkg.params import MULTIPLIERS
from coopetition.protocols.paillier.keys import register_insecure_test_key
from coopetition.protocols.paillier.threshold import threshold_decrypt
from coopetition.protocols.zk.transcript import ProofContext
from coopetition.sims.benchkit import machine_info
from coopetition.sims.dkg_local import run_dkg_processes

#: a quick, valid command shown in ``coopetition bench dkg --help``
EXAMPLE = (
    "coopetition bench dkg --bits 512 --insecure-bits --runs 1 --parties 3 --tno-runs 0 --json"
)
DEFAULT_OUT = Path("results/bench_dkg.json")
TNO_INSTALL = (
    "pip install 'tno.mpc.protocols.distributed_keygen' 'tno.mpc.communication==4.8.1' "
    "'tno.mpc.encryption_schemes.utils==0.15.0'  (or: pip install -e '.[bench]')"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--bits", type=int, default=2048, help="modulus length of our DKG")
    parser.add_argument("--runs", type=int, default=5, help="runs per configuration (median)")
    parser.add_argument(
        "--parties", type=int, nargs="+", default=[4, 3], help="party counts to measure"
    )
    parser.add_argument("--batch", type=int, default=256, help="candidates per batch")
    parser.add_argument("--tno-bits", type=int, default=1024, help="modulus length for TNO")
    parser.add_argument("--tno-parties", type=int, default=3)
    parser.add_argument("--tno-runs", type=int, default=3, help="TNO runs (0: skip the peer)")
    parser.add_argument(
        "--insecure-bits", action="store_true", help="allow --bits below 2048 (smoke tests)"
    )
    parser.add_argument(
        "--multiplier",
        choices=MULTIPLIERS,
        default="additive",
        help="additive: secret against m-1 colluders (default); shamir: honest majority only",
    )
    parser.add_argument("--out", type=Path, default=None, help=f"write JSON (e.g. {DEFAULT_OUT})")


def _load() -> float:
    return os.getloadavg()[0]


def _commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _e_seconds() -> float:
    """One 2048-bit r^N mod N^2 (the project's cost unit E), best of 5."""
    n = gmpy2.mpz(secrets.randbits(2048) | (1 << 2047) | 1)
    n2 = n * n
    r = gmpy2.mpz(secrets.randbits(2047))
    best = float("inf")
    for _ in range(5):
        t = time.perf_counter()
        gmpy2.powmod(r, n, n2)
        best = min(best, time.perf_counter() - t)
    return best


def _spread(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    q = statistics.quantiles(ordered, n=4) if len(ordered) >= 2 else [ordered[0]] * 3
    return {"min": ordered[0], "q1": q[0], "q3": q[2], "max": ordered[-1]}


def _check_key(outcome: Any, m: int, insecure: bool) -> None:
    """The key decrypts with the existing threshold decryption and its proofs."""
    shares = [outcome.results[i].key_share for i in range(m)]
    tpk = shares[0].threshold_public
    if insecure:  # the small key was made in the child processes, at our request
        register_insecure_test_key(tpk.public)
    if any(s.threshold_public != tpk for s in shares):
        raise RuntimeError("parties disagree on the public key")
    values = [secrets.randbelow(1 << 64) - (1 << 63) for _ in range(2)]
    cts = [tpk.public.encrypt(v) for v in values]
    if threshold_decrypt(shares, cts, ProofContext(b"bench-dkg", "check", 0, 0)) != values:
        raise RuntimeError("the generated key does not decrypt")


def _ours(
    bits: int,
    m: int,
    runs: int,
    batch: int,
    insecure: bool,
    say: Any,
    multiplier: str = "additive",
    on_run: Any = None,
) -> dict[str, Any]:
    """Our DKG, ``runs`` times; ``on_run(partial)`` after each run, so a stopped job keeps it."""
    params = DkgParams(bits, m, batch=batch, insecure_allow_small=insecure, multiplier=multiplier)
    walls, cpus, candidates, loads = [], [], [], []
    for run in range(runs):
        loads.append(_load())

        def progress(p: Any, number: int = run + 1) -> None:
            say(f"  {bits}-bit m={m} run {number}: {p.candidates_tried} candidates tried")

        outcome = run_dkg_processes(params, progress=progress)
        if outcome.errors:
            raise RuntimeError(f"DKG aborted: {outcome.errors}")
        _check_key(outcome, m, insecure)
        walls.append(outcome.seconds)
        cpus.append(max(outcome.cpu_seconds.values()))
        candidates.append(outcome.results[0].candidates_tried)
        say(f"  {bits}-bit m={m} run {run + 1}: {outcome.seconds:.1f} s, load {loads[-1]:.1f}")
        if on_run is not None:
            on_run({"runs": walls, "cpu_max_party": cpus, "candidates": candidates, "loads": loads})
    return {
        "runs": walls,
        "median": statistics.median(walls),
        "spread": _spread(walls),
        "cpu_max_party": cpus,
        "candidates": candidates,
        "load_at_start": loads,
        "params": params.describe(),
    }


def _tno_child(bits: int, m: int, queue: Any) -> None:
    from tno.mpc.communication import Pool
    from tno.mpc.protocols.distributed_keygen import DistributedPaillier

    async def main() -> float:
        base = 20000 + secrets.randbelow(20000)
        pools = []
        for i in range(m):
            pool = Pool()
            pool.add_http_server(port=base + i)
            for j in range(m):
                if j != i:
                    pool.add_http_client(f"local{j}", "127.0.0.1", base + j)
            pools.append(pool)
        started = time.perf_counter()
        await asyncio.gather(
            *[
                DistributedPaillier.from_security_parameter(
                    pool, corruption_threshold=1, key_length=bits, distributed=False
                )
                for pool in pools
            ]
        )
        elapsed = time.perf_counter() - started
        await asyncio.gather(*[pool.shutdown() for pool in pools])
        return elapsed

    queue.put(asyncio.run(main()))


def _tno(bits: int, m: int, runs: int, say: Any) -> dict[str, Any]:
    try:
        import tno.mpc.protocols.distributed_keygen  # noqa: F401
    except ImportError:
        return {"skipped": f"tno.mpc.protocols.distributed_keygen is not installed: {TNO_INSTALL}"}
    ctx = multiprocessing.get_context("spawn")
    walls, loads = [], []
    for run in range(runs):
        loads.append(_load())
        queue = ctx.Queue()
        proc = ctx.Process(target=_tno_child, args=(bits, m, queue), daemon=True)
        proc.start()
        walls.append(queue.get(timeout=3600))
        proc.join(timeout=30)
        say(f"  TNO {bits}-bit m={m} run {run + 1}: {walls[-1]:.1f} s, load {loads[-1]:.1f}")
    return {
        "runs": walls,
        "median": statistics.median(walls),
        "spread": _spread(walls),
        "load_at_start": loads,
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    quiet = getattr(args, "json", False)

    def say(text: str) -> None:
        if not quiet:
            print(text, flush=True)
        else:
            import sys

            print(text, file=sys.stderr, flush=True)

    if args.bits < 2048 and not args.insecure_bits:
        raise SystemExit("--bits below 2048 needs --insecure-bits (smoke test; not recorded)")
    out: dict[str, Any] = {"benchmark": "dkg", "commit": _commit(), **machine_info()}
    out["E_seconds"] = _e_seconds()
    if args.out is not None and args.bits < 2048:
        raise SystemExit("refusing to record an insecure-size run")

    def save() -> None:  # after every configuration, so a long run keeps what it measured
        if args.out is not None:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(out, indent=2, sort_keys=True) + "\n")

    for index, m in enumerate(args.parties):
        say(f"our DKG, {args.bits} bits, {m} parties, {args.runs} runs")
        key = f"{args.bits}_m{m}"

        def partial(done: dict[str, Any], key: str = key) -> None:
            out[f"partial_{key}"] = done  # replaced by the full figures once all runs are in
            save()

        ours = _ours(
            args.bits, m, args.runs, args.batch, args.insecure_bits, say, args.multiplier, partial
        )
        out.pop(f"partial_{key}", None)
        out[f"median_s_{key}"] = ours["median"]
        out[f"runs_{key}"] = ours["runs"]
        out[f"spread_{key}"] = ours["spread"]
        out[f"cpu_s_max_party_{key}"] = ours["cpu_max_party"]
        out[f"candidates_{key}"] = ours["candidates"]
        out[f"load_{key}"] = ours["load_at_start"]
        out[f"median_E_{key}"] = ours["median"] / out["E_seconds"]
        out["params"] = ours["params"]
        save()
        if index == 0:
            _peer(args, out, say)
            save()
    out["load_at_end"] = _load()
    save()
    return out


def _peer(args: argparse.Namespace, out: dict[str, Any], say: Any) -> None:
    if args.tno_runs > 0:
        say(f"TNO DKG, {args.tno_bits} bits, {args.tno_parties} parties, {args.tno_runs} runs")
        tno = _tno(args.tno_bits, args.tno_parties, args.tno_runs, say)
        tkey = f"{args.tno_bits}_m{args.tno_parties}"
        if "skipped" in tno:
            out["tno"] = tno["skipped"]
        else:
            out[f"tno_median_s_{tkey}"] = tno["median"]
            out[f"tno_runs_{tkey}"] = tno["runs"]
            out[f"tno_spread_{tkey}"] = tno["spread"]
            out[f"tno_load_{tkey}"] = tno["load_at_start"]
            ours_key = f"median_s_{args.bits}_m{args.parties[0]}"
            out["ratio_tno_over_ours"] = tno["median"] / out[ours_key]
