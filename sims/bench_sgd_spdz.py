"""Secure SGD in SPDZ against Helen as rows per party grow (the shape of Helen's Figs. 4-5).

What is measured, in this run: (1) the real preprocessing (threshold-Paillier SPDZ offline
phase, all parties in this process) per item: checked triples, bits, bounded masks, input masks;
(2) secure SGD's online phase per mini-batch (batch = d), run in full for ``--online-rows``;
(3) plaintext ADMM on the same data for every n (10 iterations, engine, memory transport).
Rule for everything else, stated in the output: secure SGD's cost at n rows per party is
``items(n) x measured seconds per item + batches(n) x measured online seconds per batch``:
every item count and the batch count are exactly linear in n (see ``SgdPlan.needs``).
Helen itself is not built yet: its cost is the projection of
``the research notes' helen_cost_projection.md`` (m = 4, table 3.3, interpolated in d;
constant in n) plus the one n-dependent part, the plaintext SVD of each party's rows, measured
here. All times are CPU seconds of this process (core-seconds: insensitive to other load on a shared
machine); Helen's projected core-seconds are converted to this machine through E. Nothing is
written unless ``--out DIR`` is given.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import trio

from coopetition.engine.errors import ConfigError
from coopetition.protocols.admm import AdmmConfig, Objective
from coopetition.protocols.admm.local_run import train_locally
from coopetition.protocols.paillier.keys import check_modulus_bits, generate_keypair
from coopetition.protocols.paillier.threshold import TrustedDealerKeyGeneration
from coopetition.protocols.sgd_spdz import SgdConfig, SgdPlan
from coopetition.protocols.sgd_spdz.program import sgd_program
from coopetition.protocols.sgd_spdz.sources import deal
from coopetition.protocols.spdz.conversion import PaillierParty
from coopetition.protocols.spdz.harness import run_local
from coopetition.protocols.spdz.offline import OfflineParty
from coopetition.protocols.spdz.online import SpdzParty
from coopetition.protocols.zk import interval
from coopetition.sims.baseline_benchkit import loadavg, measure_e, write_csv
from coopetition.sims.benchkit import git_commit, machine_info

#: Helen's projected wall minutes on 2 reference cores at m = 4 (helen_cost_projection.md,
#: table 3.3): d -> (with the SPDZ offline phase, without it).
#: E on the projection's reference machine (helen_cost_projection.md section 1)
E_REF_SECONDS = 0.0092
HELEN_PROJECTION_M4 = {
    10: (272.0, 36.0),
    30: (834.0, 127.0),
    50: (1419.0, 241.0),
    70: (2028.0, 379.0),
    90: (2660.0, 540.0),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--parties", type=int, default=4)
    parser.add_argument("--features", type=int, default=16, help="d (gas sensor: 16)")
    parser.add_argument("--rows-list", default="1000,2000,4000,10000,20000,40000,100000")
    parser.add_argument(
        "--online-rows", type=int, default=1000, help="rows per party of the full online run"
    )
    parser.add_argument("--bits", type=int, default=2048, help="threshold Paillier modulus")
    parser.add_argument(
        "--insecure-bits",
        type=int,
        default=None,
        help="small INSECURE key of this many bits (>= 1280; smoke runs only)",
    )
    parser.add_argument(
        "--interval-repetitions",
        type=int,
        default=interval.DEFAULT_REPETITIONS,
        help="interval-proof repetitions (128; fewer only with --insecure-bits)",
    )
    parser.add_argument("--sample", type=int, default=8, help="items per offline measurement")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None, help="directory for JSON, CSV, PNG")


def _progress(message: str) -> None:
    print(f"  [bench sgd-spdz] {message}", file=sys.stderr, flush=True)


def helen_minutes(d: int) -> tuple[float, float]:
    """Linear interpolation of the projection in d (clamped to its 10..90 range)."""
    ds = sorted(HELEN_PROJECTION_M4)
    d = min(max(d, ds[0]), ds[-1])
    for lo, hi in itertools.pairwise(ds):
        if lo <= d <= hi:
            t = (d - lo) / (hi - lo)
            a, b = HELEN_PROJECTION_M4[lo], HELEN_PROJECTION_M4[hi]
            return a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1])
    raise AssertionError


def _data(m: int, n: int, d: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(np.random.SeedSequence([seed, n, 0x5CD]))
    true = rng.normal(size=d) / np.sqrt(d)
    parts = []
    for _ in range(m):
        X = np.clip(rng.normal(size=(n, d)), -6, 6)
        parts.append((X, np.clip(X @ true + 0.1 * rng.normal(size=n), -6, 6)))
    return parts


def _offline_rates(
    args: argparse.Namespace, config: SgdConfig, out: dict[str, Any]
) -> dict[str, float]:
    """Seconds per item of each kind, all parties' work in this process (real preprocessing)."""
    insecure = args.insecure_bits is not None
    bits = args.insecure_bits if insecure else args.bits
    started = time.perf_counter()
    _progress(f"generating a {bits}-bit Paillier key (safe primes) ...")
    keypair = generate_keypair(bits, insecure_allow_small=insecure)
    out["paillier_keygen_s"] = round(time.perf_counter() - started, 2)
    kg = TrustedDealerKeyGeneration(
        args.parties, bits, insecure_allow_small=insecure, keypair=keypair
    )
    parties = [
        OfflineParty(
            PaillierParty(
                kg.key_share(i), b"bench-sgd-spdz", interval_repetitions=args.interval_repetitions
            )
        )
        for i in range(args.parties)
    ]
    run_local([p.setup() for p in parties])
    f, k, s = config.frac_bits, config.k, args.sample
    widths = sorted({k + 40 - f, k + 40 - 2 * f})
    jobs = {
        "triple": lambda p: p.triples(s),
        "bit": lambda p: p.bits(4 * s),
        **{f"bounded{w}": _bounded_job(s, w) for w in widths},
        "input_mask": lambda p: p.input_masks(0, s),
    }
    rates = {}
    for kind, job in jobs.items():
        count = 4 * s if kind == "bit" else s
        _progress(f"real preprocessing: {count} x {kind} for {args.parties} parties ...")
        started = time.process_time()
        run_local([job(p) for p in parties])
        rates[kind] = (time.process_time() - started) / count
        out[f"offline.{kind}.seconds_per_item"] = round(rates[kind], 4)
    return rates


def _bounded_job(count: int, width: int) -> Any:
    return lambda p: p.bounded(count, width)


def _online_seconds_per_batch(args: argparse.Namespace, config: SgdConfig) -> tuple[float, int]:
    parts = _data(args.parties, args.online_rows, args.features, args.seed)
    plan = SgdPlan(tuple(len(y) for _, y in parts), args.features, config)
    dealer = deal(*plan.needs(), args.parties)  # INSECURE items: only the online time is measured
    programs = [
        sgd_program(SpdzParty(dealer.stores[i], session=b"bench"), plan, X, y)
        for i, (X, y) in enumerate(parts)
    ]
    batches = len(plan.batches())
    _progress(f"online phase: {args.online_rows} rows per party, {batches} batches ...")
    started = time.process_time()
    run_local(programs)
    return (time.process_time() - started) / batches, batches


def _admm_seconds(parts: list[tuple[np.ndarray, np.ndarray]]) -> float:
    n = sum(len(y) for _, y in parts)
    config = AdmmConfig(Objective("lasso", lam=0.01 * n), rho=0.1 * n, iterations=10)
    started = time.process_time()
    run = trio.run(lambda: train_locally(parts, config))
    if not run.completed:
        raise RuntimeError(str(run.first_error()))
    return time.process_time() - started


def _svd_seconds(parts: list[tuple[np.ndarray, np.ndarray]]) -> float:
    started = time.process_time()
    for X, _ in parts:
        np.linalg.svd(X, full_matrices=False)
    return time.process_time() - started


def run(args: argparse.Namespace) -> dict[str, Any]:
    insecure = args.insecure_bits is not None
    try:
        check_modulus_bits(
            args.insecure_bits if insecure else args.bits, insecure_allow_small=insecure
        )
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    if args.interval_repetitions < interval.DEFAULT_REPETITIONS and not insecure:
        raise ConfigError("fewer than 128 interval-proof repetitions only with --insecure-bits")
    rows_list = [int(x) for x in args.rows_list.split(",")]
    if args.parties < 2 or args.features < 1 or min(rows_list) < 1 or args.online_rows < 1:
        raise ConfigError("need >= 2 parties, >= 1 feature and >= 1 row per party")
    config = SgdConfig(learning_rate=0.01, data_bound=8.0, model_bound=64.0)
    config.check_range(args.features)
    result: dict[str, Any] = {
        "parties": args.parties,
        "features": args.features,
        "batch_size": args.features,
        "frac_bits": config.frac_bits,
        "k": config.k,
        "paillier_bits": args.insecure_bits if insecure else args.bits,
        "insecure_small_key": insecure,
        "interval_repetitions": args.interval_repetitions,
        "machine.loadavg_before": loadavg(),
        "git_commit": git_commit(("protocols/sgd_spdz", "protocols/spdz", "sims")),
        "extrapolation_rule": "secure SGD(n) = sum over kinds of items(n) x measured s/item "
        "+ batches(n) x measured online s/batch (items and batches exactly linear in n)",
        "helen_source": "helen_cost_projection.md table 3.3 (m = 4, 2 reference cores), "
        "interpolated in d, converted to this machine's core-seconds via E (9.2 ms on the "
        "reference machine); plus the plaintext SVD measured here. Helen is not built yet.",
        "time_unit": "CPU core-seconds of this process (all parties simulated in it)",
    }
    result.update(machine_info())
    e = measure_e(clock=time.process_time)
    result["E_seconds"] = round(e, 6)
    rates = _offline_rates(args, config, result)
    online_per_batch, measured_batches = _online_seconds_per_batch(args, config)
    result["online.seconds_per_batch"] = round(online_per_batch, 5)
    result["online.measured_rows_per_party"] = args.online_rows
    result["online.measured_batches"] = measured_batches
    helen_with, helen_without = helen_minutes(args.features)
    # the projection's wall minutes on 2 reference cores -> core-seconds -> E -> this machine
    helen_core_s = helen_with * 60 * 2 / E_REF_SECONDS * e
    helen_core_s_without = helen_without * 60 * 2 / E_REF_SECONDS * e
    if args.parties != 4:
        result["helen_note"] = "the projection table is for m = 4; used unchanged"
    rows = []
    for n in rows_list:
        _progress(f"n = {n}: plaintext ADMM, SVD, extrapolation ...")
        parts = _data(args.parties, n, args.features, args.seed)
        plan = SgdPlan(tuple([n] * args.parties), args.features, config)
        needs, masks = plan.needs()
        bounded = dict(needs.bounded)
        offline = (
            needs.triples * rates["triple"]
            + needs.bits * rates["bit"]
            + sum(c * rates[f"bounded{w}"] for w, c in bounded.items())
            + sum(masks.values()) * rates["input_mask"]
        )
        batches = len(plan.batches())
        online = batches * online_per_batch
        svd = _svd_seconds(parts)
        helen_total = helen_core_s + svd
        row = {
            "rows_per_party": n,
            "batches": batches,
            "triples": needs.triples,
            "bits": needs.bits,
            "bounded_masks": sum(bounded.values()),
            "input_masks": sum(masks.values()),
            "sgd_offline_s": round(offline, 1),
            "sgd_online_s": round(online, 2),
            "sgd_online_measured": n == args.online_rows,
            "sgd_total_s": round(offline + online, 1),
            "sgd_total_E": round((offline + online) / e),
            "admm_plaintext_s": round(_admm_seconds(parts), 3),
            "helen_svd_s": round(svd, 4),
            "helen_projected_s": round(helen_total, 1),
            "helen_projected_without_offline_s": round(helen_core_s_without + svd, 1),
            "sgd_over_helen": round((offline + online) / helen_total, 2),
            "sgd_offline_over_helen": round(offline / helen_total, 2),
        }
        rows.append(row)
        for key in ("sgd_total_s", "admm_plaintext_s", "helen_projected_s", "sgd_over_helen"):
            result[f"n{n}.{key}"] = row[key]
    result["machine.loadavg_after"] = loadavg()
    if args.out is not None and not insecure:
        _write(args.out, rows, result)
    elif args.out is not None:
        result["not_written"] = "insecure small key: results are not written"
    return result


def _write(out: Path, rows: list[dict[str, Any]], result: dict[str, Any]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    write_csv(out / "sgd_spdz_vs_helen.csv", rows)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = [r["rows_per_party"] for r in rows]
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    ax.plot(
        n, [r["sgd_total_s"] for r in rows], "o-", label="secure SGD in SPDZ (offline + online)"
    )
    ax.plot(n, [r["sgd_offline_s"] for r in rows], "o--", label="secure SGD, offline only")
    ax.plot(n, [r["helen_projected_s"] for r in rows], "s-", label="Helen (projection + SVD)")
    ax.plot(
        n,
        [r["helen_projected_without_offline_s"] for r in rows],
        "s--",
        label="Helen without SPDZ offline (projection)",
    )
    ax.plot(n, [r["admm_plaintext_s"] for r in rows], "^-", label="plaintext ADMM (measured)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("rows per party")
    ax.set_ylabel("core-seconds (this machine)")
    ax.set_title(f"m = {result['parties']}, d = {result['features']} (Helen Figs. 4-5 shape)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "sgd_spdz_vs_helen.png", dpi=110)
    plt.close(fig)
    (out / "bench_sgd_spdz.json").write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    result["written_to"] = str(out)
