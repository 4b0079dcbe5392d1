"""SPDZ: offline triples/s from threshold Paillier, online multiplications and comparisons/s.

All m parties run in this one process through the local harness, so an offline rate is the
whole system's work done on one core; ``*.estimated_one_core_per_party`` divides the elapsed
time by m and is an estimate, labelled as such. Peers measured in the same run: one Paillier
encryption with python-paillier (``phe``) and with our own short-exponent encryptor (what a
triple costs in encryptions), and the same arithmetic in the clear (what the online phase
costs over plaintext numpy).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from coopetition.protocols.paillier.encryptor import Encryptor
from coopetition.protocols.paillier.keys import generate_keypair
from coopetition.protocols.paillier.threshold import TrustedDealerKeyGeneration
from coopetition.protocols.spdz import field as F
from coopetition.protocols.spdz.conversion import PaillierParty
from coopetition.protocols.spdz.harness import HarnessStats, run_local
from coopetition.protocols.spdz.offline import OfflineParty
from coopetition.protocols.spdz.online import SpdzParty, needs_ltz, needs_soft_threshold
from coopetition.protocols.spdz.preprocessing import InsecureDealerPreprocessing
from coopetition.protocols.zk import interval
from coopetition.sims.benchkit import key_bits, machine_info

DEFAULT_OUT = Path("results/bench_spdz.json")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--bits", type=int, default=2048, help="Paillier modulus length")
    parser.add_argument(
        "--insecure-bits",
        type=int,
        default=None,
        help="use a small INSECURE key of this many bits (>= 1280; smoke tests only, nothing written)",
    )
    parser.add_argument("--parties-list", default="2,4", help="party counts for the offline phase")
    parser.add_argument("--triples", type=int, default=4, help="triples per offline measurement")
    parser.add_argument(
        "--bits-count", type=int, default=8, help="random bits in the offline bit measurement"
    )
    parser.add_argument(
        "--interval-repetitions",
        type=int,
        default=interval.DEFAULT_REPETITIONS,
        help="interval-proof repetitions (128 = soundness 2^-128; fewer is INSECURE)",
    )
    parser.add_argument(
        "--online-mults", type=int, default=2000, help="multiplications per online run"
    )
    parser.add_argument(
        "--comparisons", type=int, default=200, help="comparisons (LTZ, k=64) per online run"
    )
    parser.add_argument(
        "--out", type=Path, default=None, help=f"result file (default {DEFAULT_OUT})"
    )


class _Timer:
    def __enter__(self) -> _Timer:
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self.wall
        self.cpu = time.process_time() - self.cpu


def _encryption_peers(public: Any, seconds: float = 1.0) -> dict[str, float]:
    from phe import paillier as phe_paillier

    phe_pk = phe_paillier.PaillierPublicKey(public.n)
    rates = {}
    for name, fn in {
        "phe": lambda i: phe_pk.encrypt(i),
        "ours_djn": (lambda enc: lambda i: enc.encrypt(i))(Encryptor(public).warm_up()),
    }.items():
        count, start, cpu = 0, time.perf_counter(), time.process_time()
        while time.perf_counter() - start < seconds:
            fn(count)
            count += 1
        rates[name] = count / (time.perf_counter() - start)
        rates[name + "_cpu"] = count / max(time.process_time() - cpu, 1e-9)
    return rates


def _offline(
    kg: TrustedDealerKeyGeneration, m: int, args: argparse.Namespace, result: dict[str, Any]
) -> None:
    session = f"bench-spdz-{m}".encode()
    parties = [
        OfflineParty(
            PaillierParty(kg.key_share(i), session, interval_repetitions=args.interval_repetitions)
        )
        for i in range(m)
    ]
    for p in parties:  # build the fixed-base tables outside the timed part
        assert p.paillier.encryptor is not None
        p.paillier.encryptor.warm_up()
    with _Timer() as t:
        run_local([p.setup() for p in parties])
    result[f"offline.m{m}.mac_key_setup_s"] = round(t.wall, 3)
    stats = HarnessStats()
    with _Timer() as t:
        run_local([p.triples(args.triples) for p in parties], stats=stats)
    pre = f"offline.m{m}.triples"
    result[f"{pre}.count"] = args.triples
    result[f"{pre}.per_s"] = round(args.triples / t.wall, 4)
    result[f"{pre}.cpu_s_per_triple"] = round(t.cpu / args.triples, 3)
    result[f"{pre}.per_s.estimated_one_core_per_party"] = round(args.triples * m / t.wall, 4)
    result[f"{pre}.bytes_per_triple"] = stats.bytes_sent // args.triples
    result[f"{pre}.rounds"] = stats.rounds
    if m == min(int(x) for x in args.parties_list.split(",")) and args.bits_count:
        stats = HarnessStats()
        with _Timer() as t:
            run_local([p.bits(args.bits_count) for p in parties], stats=stats)
        result[f"offline.m{m}.bits.per_s"] = round(args.bits_count / t.wall, 4)
        result[f"offline.m{m}.bits.bytes_per_bit"] = stats.bytes_sent // args.bits_count
        result[f"offline.m{m}.bits.cpu_s_per_bit"] = round(t.cpu / args.bits_count, 3)
        # Peer: the textbook square-root method, same parties, same run.
        stats = HarnessStats()
        with _Timer() as t:
            run_local([p.bits_from_squares(args.bits_count) for p in parties], stats=stats)
        result[f"offline.m{m}.bits_from_squares.per_s"] = round(args.bits_count / t.wall, 4)
        result[f"offline.m{m}.bits_from_squares.cpu_s_per_bit"] = round(t.cpu / args.bits_count, 3)
        result[f"offline.m{m}.bits.cpu_speedup_over_squares"] = round(
            result[f"offline.m{m}.bits_from_squares.cpu_s_per_bit"]
            / max(result[f"offline.m{m}.bits.cpu_s_per_bit"], 1e-9),
            2,
        )
        stats = HarnessStats()
        with _Timer() as t:
            run_local([p.bounded(args.bits_count, 41) for p in parties], stats=stats)
        result[f"offline.m{m}.bounded41.per_s"] = round(args.bits_count / t.wall, 4)


def _online(m: int, args: argparse.Namespace, result: dict[str, Any]) -> None:
    n = args.online_mults
    d = InsecureDealerPreprocessing(m).randoms(2 * n).triples(n)
    stats = HarnessStats()

    def mul_prog(p: SpdzParty):  # type: ignore[no-untyped-def]
        xy = p.store.take("random", 2 * n).parts[0]
        z = yield from p.mul(xy[:n], xy[n:])
        yield from p.open(z)
        yield from p.mac_check()

    with _Timer() as t:
        run_local([mul_prog(SpdzParty(s, session=b"bench")) for s in d.stores], stats=stats)
    pre = f"online.m{m}"
    result[f"{pre}.mults_per_s"] = round(n / t.wall, 1)
    result[f"{pre}.bytes_per_mult"] = stats.bytes_sent // n
    # Peer: the same products in the clear (object arrays modulo P, and float64).
    rng = np.random.default_rng(0)
    a, b = F.random_vec(n), F.random_vec(n)
    with _Timer() as tp:
        for _ in range(10):
            F.mul(a, b)
    result[f"{pre}.plaintext_modp_mults_per_s"] = round(10 * n / tp.wall, 1)
    result[f"{pre}.ratio_plaintext_modp_over_spdz_mult"] = round(
        (10 * n / tp.wall) / (n / t.wall), 1
    )

    c, k = args.comparisons, 64
    need = needs_ltz(c, k)
    d = (
        InsecureDealerPreprocessing(m, alpha_shares=None)
        .triples(need.triples)
        .bits(need.bits)
        .randoms(c)
    )
    for bits, count in need.bounded:
        d.bounded(count, bits)
    stats = HarnessStats()
    values = F.vec([int(v) for v in rng.integers(-(2**62), 2**62, size=c)])

    def ltz_prog(p: SpdzParty):  # type: ignore[no-untyped-def]
        # A shared random value times 0 plus public values in [-2^62, 2^62): a valid sharing
        # with MACs; only the comparison's cost matters here, not the values.
        x = p.store.take("random", c).parts[0].scale(0).add_public(values, p.party, p.alpha_share)
        f = yield from p.ltz(x, k)
        yield from p.open(f)
        yield from p.mac_check()

    with _Timer() as t:
        run_local([ltz_prog(SpdzParty(s, session=b"bench")) for s in d.stores], stats=stats)
    result[f"{pre}.comparisons_per_s"] = round(c / t.wall, 1)
    result[f"{pre}.bytes_per_comparison"] = stats.bytes_sent // c
    result[f"{pre}.rounds_per_comparison_batch"] = stats.rounds
    result[f"{pre}.triples_per_comparison"] = need.triples // c
    result[f"{pre}.bits_per_comparison"] = need.bits // c
    st = needs_soft_threshold(1, k)
    result[f"{pre}.soft_threshold.triples_per_element"] = st.triples
    result[f"{pre}.soft_threshold.bits_per_element"] = st.bits


def run(args: argparse.Namespace) -> dict[str, Any]:
    bits, insecure = key_bits(args)
    party_counts = [int(x) for x in args.parties_list.split(",")]
    result: dict[str, Any] = {
        "bits": bits,
        "insecure_small_key": insecure,
        "interval_repetitions": args.interval_repetitions,
        "spdz_prime_bits": F.P_BITS,
        "statistical_security_bits": 40,
    }
    result.update(machine_info())
    with _Timer() as t:
        keypair = generate_keypair(bits, insecure_allow_small=insecure)
    result["paillier_keygen_s"] = round(t.wall, 2)
    peers = _encryption_peers(keypair[0])
    result["peer.phe_encryptions_per_s"] = round(peers["phe"], 1)
    result["peer.ours_djn_encryptions_per_s"] = round(peers["ours_djn"], 1)
    result["peer.phe_encryptions_per_cpu_s"] = round(peers["phe_cpu"], 1)
    for m in party_counts:
        kg = TrustedDealerKeyGeneration(m, bits, insecure_allow_small=insecure, keypair=keypair)
        _offline(kg, m, args, result)
        rate = result[f"offline.m{m}.triples.per_s"]
        result[f"offline.m{m}.triples.cost_in_phe_encryptions"] = round(peers["phe"] / rate, 1)
        result[f"offline.m{m}.triples.cost_in_djn_encryptions"] = round(peers["ours_djn"] / rate, 1)
        # CPU time on both sides: insensitive to other load on a shared machine.
        cpu = result[f"offline.m{m}.triples.cpu_s_per_triple"]
        result[f"offline.m{m}.triples.cpu_cost_in_phe_encryptions"] = round(
            cpu * peers["phe_cpu"], 1
        )
    for m in party_counts:
        _online(m, args, result)
    out = args.out if args.out is not None else (None if insecure else DEFAULT_OUT)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
        result["written_to"] = str(out)
    return result
