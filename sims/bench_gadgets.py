"""Gadget 3 (forward) and Gadget 4 per converted value: tight range proofs against interval proofs.

Both runs use the same threshold key, the same m in-process parties and the same ciphertexts;
they differ only in ``PaillierParty.range_kind``: ``"interval"`` (the binary-challenge proof,
128 repetitions, 2^80 slack: how the gadgets were proved before) and ``"range"`` (the tight
ring-Pedersen range proof, one batched proof per verifier and round: how they are proved now).
Costs are CPU seconds of this process, which runs every party, divided by the number of
converted values and by E (one full |N|-bit r^N mod N^2, measured in this process); so a
figure is the work of ALL m parties per value (divide by m for one party). Ring-Pedersen
parameters are generated before the timed part (once per party and session); their
parameter proofs are timed with the MAC-key setup. Nothing is written unless ``--out`` is given.
"""

from __future__ import annotations

import argparse
import json
import secrets
import time
from pathlib import Path
from typing import Any

from coopetition.protocols.paillier.keys import generate_keypair
from coopetition.protocols.paillier.threshold import TrustedDealerKeyGeneration
from coopetition.protocols.spdz.conversion import INTERVAL, RANGE, PaillierParty
from coopetition.protocols.spdz.gadgets import ciphertext_to_shares, verify_conversions
from coopetition.protocols.spdz.harness import run_local
from coopetition.protocols.zk import group, interval
from coopetition.protocols.zk import range_params as rpm
from coopetition.sims.benchkit import git_commit, key_bits, machine_info


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--bits", type=int, default=2048, help="Paillier |N| (2048 or more)")
    parser.add_argument(
        "--insecure-bits", type=int, default=None, help="small INSECURE key (smoke tests)"
    )
    parser.add_argument("--parties", type=int, default=3, help="m, parties in this process")
    parser.add_argument("--values", type=int, default=8, help="values converted per run")
    parser.add_argument("--value-bits", type=int, default=64, help="|a| < 2^bits")
    parser.add_argument(
        "--interval-repetitions",
        type=int,
        default=interval.DEFAULT_REPETITIONS,
        help="interval-proof repetitions of the 'before' run (below 128 only when insecure)",
    )
    parser.add_argument("--out", type=Path, default=None, help="write JSON here (nothing else)")


def _cpu(op: Any) -> tuple[Any, float]:
    start = time.process_time()
    out = op()
    return out, time.process_time() - start


def _measure(
    kind: str,
    kg: TrustedDealerKeyGeneration,
    rings: list[tuple[rpm.RingPedersen, rpm.RingPedersenSecret]],
    cts: list[int],
    args: argparse.Namespace,
) -> dict[str, float]:
    m = args.parties
    ps = [
        PaillierParty(
            kg.key_share(i),
            f"bench-gadgets-{kind}".encode(),
            interval_repetitions=args.interval_repetitions,
            range_kind=kind,
        )
        for i in range(m)
    ]
    for p, (ring, secret) in zip(ps, rings, strict=True):
        p.ring, p.ring_secret = ring, secret
        assert p.encryptor is not None
        p.encryptor.warm_up()
    _, setup = _cpu(lambda: run_local([p.setup() for p in ps]))
    convs, g3 = _cpu(lambda: run_local([ciphertext_to_shares(p, cts, args.value_bits) for p in ps]))
    _, g4 = _cpu(
        lambda: run_local(
            [verify_conversions(p, None, [c]) for p, c in zip(ps, convs, strict=True)]
        )
    )
    return {"setup_s": setup, "gadget3_s": g3, "gadget4_s": g4}


def run(args: argparse.Namespace) -> dict[str, Any]:
    bits, insecure = key_bits(args)
    if args.parties < 2 or args.values < 1:
        raise ValueError("need at least 2 parties and 1 value")
    keypair = generate_keypair(bits, insecure_allow_small=insecure)
    kg = TrustedDealerKeyGeneration(
        args.parties, bits, insecure_allow_small=insecure, keypair=keypair
    )
    pk = keypair[0]
    ring_bits = rpm.MIN_TEST_BITS if insecure else max(bits, 2048)
    rings = [rpm.generate(ring_bits, insecure_allow_small=insecure) for _ in range(args.parties)]
    m0, r0 = secrets.randbelow(pk.n), group.random_unit(pk)
    reps = 20
    e_start = time.process_time()
    for _ in range(reps):
        group.encrypt(pk, m0, r0)
    e_seconds = (time.process_time() - e_start) / reps
    half = 1 << (args.value_bits - 1)
    cts = [pk.encrypt(secrets.randbelow(2 * half) - half) for _ in range(args.values)]
    result: dict[str, Any] = {
        "bits": bits,
        "ring_bits": ring_bits,
        "insecure_small_key": insecure,
        "parties": args.parties,
        "values": args.values,
        "value_bits": args.value_bits,
        "interval_repetitions": args.interval_repetitions,
        "E_ms": round(e_seconds * 1e3, 3),
        "commit": git_commit(("protocols", "sims")),
    }
    result.update(machine_info())
    costs = {kind: _measure(kind, kg, rings, cts, args) for kind in (INTERVAL, RANGE)}
    for kind, label in ((INTERVAL, "before_interval"), (RANGE, "after_range")):
        c = costs[kind]
        result[f"{label}.mac_key_setup_E"] = round(c["setup_s"] / e_seconds, 1)
        for gadget in ("gadget3", "gadget4"):
            per_value = c[f"{gadget}_s"] / e_seconds / args.values
            result[f"{label}.{gadget}_E_per_value_all_parties"] = round(per_value, 1)
            result[f"{label}.{gadget}_E_per_value_per_party"] = round(per_value / args.parties, 1)
    for gadget in ("gadget3", "gadget4"):
        result[f"speedup.{gadget}"] = round(
            costs[INTERVAL][f"{gadget}_s"] / max(costs[RANGE][f"{gadget}_s"], 1e-9), 2
        )
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    return result
