"""Tight range proofs (ring-Pedersen, four squares) against binary-challenge interval proofs.

Costs per proved value in E, one full |N|-bit r^N mod N^2 measured in this process, for the
prover (with DJN nonces, as Helen's provers run) and for one verifier (batched, as Helen
verifies), at several batch sizes of the range proof. The peer is the interval proof of
``zk.interval`` at its defaults (128 binary repetitions, 80-bit slack), proving the same
64-bit values and verified in batches of 8. Figures are CPU seconds of this single-threaded
process (best of ``--rounds``), so load from other jobs inflates them less than wall time.
Nothing is written unless ``--out`` is given.
"""

from __future__ import annotations

import argparse
import functools
import json
import secrets
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from coopetition.protocols.fixedpoint import HelenScales
from coopetition.protocols.helen import input_proof, numerics
from coopetition.protocols.paillier.encryptor import Encryptor
from coopetition.protocols.paillier.keys import PublicKey, register_insecure_test_key
from coopetition.protocols.zk import group, interval
from coopetition.protocols.zk import range_params as rpm
from coopetition.protocols.zk import range_proof as rproof
from coopetition.protocols.zk.transcript import ProofContext
from coopetition.sims.benchkit import machine_info, random_modulus


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--bits", type=int, default=2048, help="|N| and |N~| (2048 or more)")
    parser.add_argument(
        "--insecure-bits", type=int, default=None, help="small INSECURE moduli (smoke tests)"
    )
    parser.add_argument("--value-bits", type=int, default=64, help="values lie in [0, 2^bits)")
    parser.add_argument(
        "--batches", type=str, default="1,16,64", help="range-proof batch sizes, comma-separated"
    )
    parser.add_argument("--rounds", type=int, default=2, help="repetitions; the best is kept")
    parser.add_argument(
        "--input-d",
        type=int,
        default=0,
        help="also time Helen's input-preparation proof (section V) at this d (0: skip)",
    )
    parser.add_argument("--out", type=Path, default=None, help="write JSON here (nothing else)")


def _best_cpu(op: Callable[[], object], rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.process_time()
        op()
        best = min(best, time.process_time() - start)
    return best


def _commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
        )
        return out.stdout.strip() or "unknown"
    except OSError:
        return "unknown"


def _input_preparation(
    pk: PublicKey, ring: rpm.RingPedersen, d: int, e_seconds: float, djn: Encryptor
) -> dict[str, Any]:
    """One party's section V commitments and proofs for one verifier, at dimension d."""
    rng = np.random.default_rng(d)
    rows = 4 * d
    X = rng.normal(size=(rows, d))
    y = X @ rng.normal(size=d) + rng.normal(size=rows)
    scales = HelenScales(
        features=d,
        rows=rows,
        parties=2,
        rho=0.1 * rows,
        x_bound=float(np.ceil(np.abs(X).max())),
        y_bound=float(np.ceil(np.abs(y).max())),
    )
    prep = numerics.prepare_input(X, y, scales)
    ctx = ProofContext(b"bench", "input-prep", 0, 1)
    start = time.process_time()
    com, proof, _ = input_proof.prove(pk, prep, scales, ctx, {0: ring}, encryptor=djn)
    t_prove = time.process_time() - start
    start = time.process_time()
    input_proof.verify(pk, com, proof, scales, ctx, 0, ring)
    t_verify = time.process_time() - start
    return {
        "input_prep.d": d,
        "input_prep.range_values": 4 * d * d + 7 * d,
        "input_prep.prove_E": round(t_prove / e_seconds, 1),
        "input_prep.verify_E": round(t_verify / e_seconds, 1),
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    insecure = args.insecure_bits is not None
    bits = args.insecure_bits if insecure else args.bits
    if bits < 2048 and not insecure:
        raise ValueError("moduli below 2048 bits only with --insecure-bits")
    batches = [int(b) for b in args.batches.split(",") if b.strip()]
    if not batches or min(batches) < 1:
        raise ValueError("--batches needs positive sizes")
    pk = random_modulus(bits)
    if insecure:
        register_insecure_test_key(pk)
    ring, secret = rpm.generate(bits, insecure_allow_small=insecure)
    ctx = ProofContext(b"bench", "range", 0, 0)
    setup_start = time.process_time()
    param_proof = rpm.prove_params(ring, secret, ctx)
    setup_prove = time.process_time() - setup_start
    setup_verify = _best_cpu(lambda: rpm.verify_params(ring, param_proof, ctx), 1)
    djn = Encryptor(pk).warm_up()
    lo, hi = 0, (1 << args.value_bits) - 1

    m0, r0 = secrets.randbelow(pk.n), group.random_unit(pk)
    reps = 20
    e_seconds = _best_cpu(lambda: [group.encrypt(pk, m0, r0) for _ in range(reps)], 3) / reps

    def items(count: int) -> tuple[list[Any], list[Any]]:
        sts, wits = [], []
        for _ in range(count):
            x = secrets.randbelow(hi + 1)
            c, r = djn.encrypt_with_randomness(x)
            sts.append(rproof.RangeStatement(int(c), lo, hi))
            wits.append(rproof.RangeWitness(x, int(r)))
        return sts, wits

    result: dict[str, Any] = {"bits": bits, "insecure_small_key": insecure, "commit": _commit()}
    result.update(machine_info())
    result["value_bits"] = args.value_bits
    result["E_ms"] = round(e_seconds * 1e3, 3)
    result["setup.param_proof_prove_E"] = round(setup_prove / e_seconds, 1)
    result["setup.param_proof_verify_E"] = round(setup_verify / e_seconds, 1)
    for size in batches:
        sts, wits = items(size)
        prove = functools.partial(rproof.prove, pk, ring, sts, wits, ctx, encryptor=djn)
        t_prove = _best_cpu(prove, args.rounds)
        verify = functools.partial(rproof.verify, pk, ring, sts, prove(), ctx)
        t_verify = _best_cpu(verify, args.rounds)
        result[f"range.batch{size}.prove_E_per_value"] = round(t_prove / size / e_seconds, 3)
        result[f"range.batch{size}.verify_E_per_value"] = round(t_verify / size / e_seconds, 3)

    params = interval.IntervalParams(bits=args.value_bits)
    iv = []
    for _ in range(8):
        x = secrets.randbelow(hi + 1)
        c, r = djn.encrypt_with_randomness(x)
        iv.append((int(c), x, int(r)))
    c, x, r = iv[0]
    t_iprove = _best_cpu(
        lambda: interval.prove(pk, c, x, r, ctx, params, encryptor=djn), args.rounds
    )
    iproofs = [
        (cc, interval.prove(pk, cc, xx, rr, ctx, params, encryptor=djn), ctx) for cc, xx, rr in iv
    ]
    t_iverify = _best_cpu(lambda: interval.verify_batch(pk, iproofs, params), args.rounds) / 8
    result["interval.prove_E_per_value"] = round(t_iprove / e_seconds, 3)
    result["interval.verify_batch8_E_per_value"] = round(t_iverify / e_seconds, 3)
    big = max(batches)
    result[f"ratio.interval_over_range_batch{big}.prove"] = round(
        result["interval.prove_E_per_value"] / result[f"range.batch{big}.prove_E_per_value"], 2
    )
    result[f"ratio.interval_over_range_batch{big}.verify"] = round(
        result["interval.verify_batch8_E_per_value"]
        / result[f"range.batch{big}.verify_E_per_value"],
        2,
    )
    if args.input_d:
        result.update(_input_preparation(pk, ring, args.input_d, e_seconds, djn))
    result["slack.interval_bits"] = params.slack_bits
    result["slack.range_bits"] = 0
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1, sort_keys=True) + "\n")
    return result
