"""SPDZ preprocessing: MASCOT (oblivious transfer) against the threshold-Paillier generator.

All m parties run in this one process through the local harness (their messages CBOR-encoded
as on the wire), so every rate is the whole system's work on this machine. Measured in the
same run: MASCOT checked triples/s and bits/s at each m, the Paillier generator's triples/s
(a short run), KOS random OTs/s for one pair, and E, one full 2048-bit r^N mod N^2, so
every figure can also be read as a cost in E. The load average is recorded before and after
because other jobs share the machine, and every MASCOT rate is also given per CPU second.
Two more layouts run the same protocol with the parties in several processes: spread over
``--workers`` processes with the harness's wire encoding (:mod:`.mascot_workers`), and with
``--tcp-processes`` one process per party over loopback TCP and the full engine
(:mod:`.mascot_processes`). Nothing is written unless ``--out`` is given.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gmpy2
import numpy as np

from coopetition.protocols.ot.kos import KosReceiver, KosSender
from coopetition.protocols.paillier.keys import generate_keypair
from coopetition.protocols.paillier.threshold import TrustedDealerKeyGeneration
from coopetition.protocols.spdz import field as F
from coopetition.protocols.spdz.conversion import PaillierParty
from coopetition.protocols.spdz.generators import (
    DEFAULT_PREPROCESSING,
    PREPROCESSING,
    local_generator,
)
from coopetition.protocols.spdz.harness import HarnessStats, run_local
from coopetition.protocols.spdz.mascot import TAU, MascotParty
from coopetition.protocols.spdz.offline import OfflineParty
from coopetition.protocols.spdz.online import SpdzParty
from coopetition.protocols.zk import interval
from coopetition.sims.benchkit import git_commit, key_bits, machine_info
from coopetition.sims.mascot_processes import run_processes
from coopetition.sims.mascot_workers import run_workers

#: Where the published reference figures come from (quoted in docs/benchmarks.md).
PUBLISHED = "Keller, Orsini, Scholl, MASCOT, ACM CCS 2016, Section 6 (C++, SSE, LAN)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--parties-list", default="2,4", help="party counts (all in this process)")
    parser.add_argument("--triples", type=int, default=256, help="MASCOT triples per party count")
    parser.add_argument("--bits", type=int, default=128, help="MASCOT random bits per party count")
    parser.add_argument("--batch", type=int, default=128, help="MASCOT items per batch")
    parser.add_argument("--ots", type=int, default=1 << 16, help="OTs in the KOS measurement")
    parser.add_argument("--paillier-bits", type=int, default=2048, help="Paillier modulus length")
    parser.add_argument(
        "--insecure-paillier-bits",
        dest="insecure_bits",  # the name the bench CLI looks for (it then writes no file)
        type=int,
        default=None,
        help="INSECURE small Paillier key for smoke tests (>= 1280); nothing is written",
    )
    parser.add_argument(
        "--paillier-triples", type=int, default=2, help="triples of the short Paillier run"
    )
    parser.add_argument(
        "--preprocessing",
        choices=PREPROCESSING,
        default=DEFAULT_PREPROCESSING,
        help="generator whose items feed the online drop-in check (both are measured)",
    )
    parser.add_argument(
        "--tcp-processes",
        action="store_true",
        help="also run every party in its own process over loopback TCP and the engine",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=2,
        help="also run the m parties spread over this many processes (0: skip)",
    )
    parser.add_argument("--out", type=Path, default=None, help="write the JSON result here")


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def _progress(msg: str) -> None:
    print(f"[bench preprocessing] {msg}", file=sys.stderr, flush=True)


def _one_e(n: int) -> float:
    """Seconds for one full-length r^N mod N^2 (the unit E of the project's benchmarks)."""
    n2 = n * n
    rs = [gmpy2.mpz(secrets.randbelow(n)) for _ in range(5)]
    start = time.perf_counter()
    for r in rs:
        gmpy2.powmod(r, n, n2)
    return (time.perf_counter() - start) / len(rs)


def _ot_rate(n: int) -> float:
    s, r = KosSender(b"bench-ot", peer=1), KosReceiver(b"bench-ot", peer=0)
    r.setup_finish(s.setup_reply(r.setup_first()))
    s.setup_finish()
    x = np.frombuffer(secrets.token_bytes(n), dtype=np.uint8) & 1
    start = time.perf_counter()
    seed = s.extend(n, r.extend(x))
    s.verify(r.check(seed))
    s.outputs(2)
    r.outputs(2)
    return n / (time.perf_counter() - start)


def _timed(
    m: int, what: str, total: int, batch: int, make: Callable[[int], list[Any]]
) -> tuple[float | None, int | None, float | None]:
    """Items per second (wall), bytes per item and items per CPU second for ``total`` items
    made ``batch`` at a time. All parties share this process, so CPU time is the whole
    system's work; on a loaded machine it is the figure to compare."""
    stats, made, elapsed, cpu = HarnessStats(), 0, 0.0, 0.0
    while made < total:
        k = min(batch, total - made)
        start, cpu_start = time.perf_counter(), time.process_time()
        run_local(make(k), stats=stats)
        elapsed += time.perf_counter() - start
        cpu += time.process_time() - cpu_start
        made += k
        _progress(f"m={m}: {made}/{total} {what}, {made / elapsed:.1f}/s, {made / cpu:.1f}/CPU-s")
    if not made:
        return None, None, None
    return round(made / elapsed, 2), stats.bytes_sent // made, round(made / cpu, 2)


def _mascot(m: int, args: argparse.Namespace) -> dict[str, Any]:
    parties = [MascotParty(i, m, f"bench-mascot-{m}".encode()) for i in range(m)]
    out: dict[str, Any] = {"m": m, "load_before": _load()}
    start = time.perf_counter()
    run_local([p.setup() for p in parties])
    out["setup_s"] = round(time.perf_counter() - start, 2)
    rate, per, cpu = _timed(
        m, "triples", args.triples, args.batch, lambda k: [p.triples(k) for p in parties]
    )
    out["mascot_triples_per_s"], out["bytes_per_triple"] = rate, per
    out["mascot_triples_per_cpu_s"] = cpu
    out["ots_per_triple"] = TAU * F.P_BITS * m * (m - 1)
    rate, per, cpu = _timed(
        m, "bits", args.bits, args.batch, lambda k: [p.bits(k) for p in parties]
    )
    out["mascot_bits_per_s"], out["bytes_per_bit"] = rate, per
    out["mascot_bits_per_cpu_s"] = cpu
    out["load_after"] = _load()
    return out


def _paillier(kg: TrustedDealerKeyGeneration, m: int, args: argparse.Namespace) -> float:
    reps = interval.DEFAULT_REPETITIONS if args.insecure_bits is None else 16
    parties = [
        OfflineParty(PaillierParty(kg.key_share(i), b"bench-pp", interval_repetitions=reps))
        for i in range(m)
    ]
    for p in parties:
        assert p.paillier.encryptor is not None
        p.paillier.encryptor.warm_up()
    run_local([p.setup() for p in parties])
    start = time.perf_counter()
    run_local([p.triples(args.paillier_triples) for p in parties])
    return args.paillier_triples / (time.perf_counter() - start)


def _drop_in(kg: TrustedDealerKeyGeneration, m: int, args: argparse.Namespace) -> bool:
    """Items from the chosen generator drive one online product and output, checked.

    For MASCOT the Paillier MAC-key setup runs first and MASCOT's key shares are bound to the
    published Enc(alpha_i) (``mascot_keybind``), as Helen needs them.
    """
    reps = interval.DEFAULT_REPETITIONS if args.insecure_bits is None else 16
    paillier = [
        PaillierParty(kg.key_share(i), b"bench-drop-in", interval_repetitions=reps)
        for i in range(m)
    ]
    if args.preprocessing == "mascot":
        run_local([p.setup() for p in paillier])
    gen = local_generator(args.preprocessing, m, paillier=paillier, session=b"bench-drop-in")
    gen.triples(2).input_masks(0, 2)
    xs = [123456789, -987654321]

    def prog(store):  # type: ignore[no-untyped-def]
        p = SpdzParty(store, session=b"bench-drop-in")
        x = yield from p.input(0, 2, F.vec(xs) if p.party == 0 else None)
        return (yield from p.output((yield from p.mul(x, x))))

    out = run_local([prog(s) for s in gen.stores])
    return all(list(F.signed(r)) == [v * v for v in xs] for r in out)


def run(args: argparse.Namespace) -> dict[str, Any]:
    bits, insecure = key_bits(args, "paillier_bits")
    counts = [int(x) for x in args.parties_list.split(",")]
    if any(m < 2 for m in counts) or args.triples < 1:
        raise ValueError("party counts must be >= 2 and --triples >= 1")
    if args.workers < 0 or args.workers > min(counts):
        raise ValueError("--workers must be between 0 and the smallest party count")
    result: dict[str, Any] = {
        "field_bits": F.P_BITS,
        "tau": TAU,
        "kos_kappa": 128,
        "kos_statistical_bits": 64,
        "git_commit": git_commit(("protocols", "sims")),
        "paillier_bits": bits,
        "insecure_paillier_key": insecure,
        "published": PUBLISHED,
    }
    result.update(machine_info())
    _progress("KOS OT rate")
    result["ot_per_s"] = round(_ot_rate(args.ots), 1)
    _progress(f"Paillier key ({bits} bits)")
    keypair = generate_keypair(bits, insecure_allow_small=insecure)
    e_s = _one_e(keypair[0].n)
    result["E_s"] = round(e_s, 6)
    runs = []
    for m in counts:
        entry = _mascot(m, args)
        _progress(f"m={m}: Paillier generator, {args.paillier_triples} triples")
        kg = TrustedDealerKeyGeneration(m, bits, insecure_allow_small=insecure, keypair=keypair)
        entry["paillier_triples_per_s"] = round(_paillier(kg, m, args), 4)
        entry["ratio_mascot_vs_paillier"] = round(
            entry["mascot_triples_per_s"] / entry["paillier_triples_per_s"], 1
        )
        entry["mascot_triple_cost_in_E"] = round(1 / entry["mascot_triples_per_s"] / e_s, 2)
        entry["paillier_triple_cost_in_E"] = round(1 / entry["paillier_triples_per_s"] / e_s, 1)
        entry[f"online_drop_in_ok.{args.preprocessing}"] = _drop_in(kg, m, args)
        if args.workers > 0:
            _progress(f"m={m}: parties spread over {args.workers} worker processes")
            entry.update(run_workers(m, args.triples, args.bits, args.batch, args.workers))
            entry["load_after_workers"] = _load()
        # the target (>= 100 checked triples and bits per second at m = 4, every party on this
        # machine) may be met by either no-engine layout: one process, or spread over the cores
        best = max(
            ("one_process", entry["mascot_triples_per_s"], entry["mascot_bits_per_s"]),
            (
                "workers",
                entry.get("mascot_triples_per_s_workers", 0.0),
                entry.get("mascot_bits_per_s_workers", 0.0),
            ),
            key=lambda layout: layout[1],
        )
        entry["best_layout"] = best[0]
        entry["meets_100_per_s"] = best[1] >= 100 and best[2] >= 100
        if args.tcp_processes:
            _progress(f"m={m}: one process per party over loopback TCP")
            entry.update(run_processes(m, args.triples, args.bits, args.batch))
            entry["load_after_processes"] = _load()
        runs.append(entry)
    result["runs"] = runs
    result.update({k: v for k, v in runs[-1].items()})  # the largest m is the headline
    if args.out is not None:
        if insecure:
            raise ValueError("results with an INSECURE Paillier key are not written")
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
        result["written_to"] = str(args.out)
    return result
