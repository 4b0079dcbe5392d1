"""Zero-knowledge proof rates (prove, verify, batch verify) and their exponentiation counts.

Every figure is measured in one run on one key. The peers measured alongside are: one Paillier
encryption with full-length randomness (prove and verify costs are quoted as multiples of it;
a DJN short-exponent encryption is measured too), provers with uniform nonces against provers
with DJN nonces (``encryptor=``),
individual verification (against batch verification of the same proofs), and the naive O(l^3)
matrix-product proof (one multiplication proof per scalar product, priced at the measured rate
of multiplication proofs) against Gadgets 1 and 2 with the random-vector reduction.

Rates are operations per CPU-second of this (single-threaded) process, the best of
``--rounds`` interleaved rounds.
Counts: ``full`` is an exponentiation with an exponent longer than 256 bits (|N|-bit N-th powers
and plaintext exponents), ``short`` one with a 128-bit challenge or 64-bit batch exponent.
"""

from __future__ import annotations

import argparse
import json
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gmpy2

from coopetition.protocols.paillier.encryptor import Encryptor
from coopetition.protocols.paillier.keys import (
    register_insecure_test_key,
)
from coopetition.protocols.zk import equality, gadgets, group, interval, multiplication, plaintext
from coopetition.protocols.zk.transcript import ProofContext
from coopetition.sims.benchkit import key_bits, machine_info, random_modulus

#: a quick, valid command shown in ``coopetition bench zk --help``
EXAMPLE = "coopetition bench zk --insecure-bits 512 --seconds 0.2 --json"
DEFAULT_OUT = Path("results/bench_zk.json")
#: Gadget 3's mask range: a 256-bit SPDZ prime plus a 40-bit statistical parameter.
GADGET3_BITS = 256 + 40


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--bits", type=int, default=2048, help="modulus length (2048 or 3072)")
    parser.add_argument(
        "--insecure-bits",
        type=int,
        default=None,
        help="use a small INSECURE key of this many bits (smoke tests; nothing is written)",
    )
    parser.add_argument("--seconds", type=float, default=1.0, help="time budget per measurement")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (best is kept)")
    parser.add_argument("--batch", type=int, default=32, help="proofs per batch verification")
    parser.add_argument("--dim", type=int, default=4, help="l for the l x l gadget products")
    parser.add_argument(
        "--out", type=Path, default=None, help=f"result file (default {DEFAULT_OUT})"
    )


def _rate(op: Callable[[], int], seconds: float) -> float:
    """Operations per CPU-second of this process (single-threaded work, so one core's time).

    CPU time rather than wall-clock keeps the figures stable on a machine shared with other
    jobs; run ``op`` (returning how many operations it did) until ``seconds`` of it are spent.
    """
    done, start = 0, time.process_time()
    while True:
        done += op()
        elapsed = time.process_time() - start
        if elapsed >= seconds:
            return done / elapsed


def _count(op: Callable[[], int]) -> dict[str, float]:
    with group.counting() as counts:
        n = op()
    return {k: round(v / n, 3) for k, v in sorted(counts.items())}


def run(args: argparse.Namespace) -> dict[str, Any]:
    bits, insecure = key_bits(args)
    seconds, batch, dim = args.seconds, args.batch, args.dim
    pk = random_modulus(bits)
    if insecure:  # verifiers refuse small keys not made through the insecure option
        register_insecure_test_key(pk)
    ctx = ProofContext(b"bench", "zk", 0, 0)
    result: dict[str, Any] = {"bits": bits, "insecure_small_key": insecure}
    result.update(machine_info())
    result.update({"batch_size": batch, "gadget_dim": dim, "interval_bits": GADGET3_BITS})
    result.update({"seconds_per_measurement": seconds, "rounds": args.rounds})
    rates: dict[str, float] = {}
    costs: dict[str, dict[str, float]] = {}

    ops: dict[str, Callable[[], int]] = {}

    def measure(name: str, op: Callable[[], int]) -> None:
        costs[name] = _count(op)
        ops[name] = op

    def enc() -> tuple[int, int, int]:
        m, r = secrets.randbelow(pk.n), group.random_unit(pk)
        return pk.raw_encrypt(m, r), m, r

    # -- peers: one encryption with full-length randomness, and with DJN randomness ---------
    m0, r0 = secrets.randbelow(pk.n), group.random_unit(pk)
    measure("encrypt", lambda: (group.encrypt(pk, m0, r0), 1)[1])
    djn = Encryptor(pk).warm_up()
    # what a prover's DJN nonce costs: Enc(m; r) together with r (two table walks)
    measure("encrypt_djn", lambda: (group.encrypt_fresh(pk, m0, djn), 1)[1])

    # -- proof of plaintext knowledge ----------------------------------------------------------
    pt = [enc() for _ in range(batch)]
    pt_proofs = [(c, plaintext.prove(pk, c, m, r, ctx), ctx) for c, m, r in pt]
    c, m, r = pt[0]
    measure("plaintext.prove", lambda: (plaintext.prove(pk, c, m, r, ctx), 1)[1])
    measure(
        "plaintext.prove_djn",
        lambda: (plaintext.prove(pk, c, m, r, ctx, encryptor=djn), 1)[1],
    )
    measure("plaintext.verify", lambda: (plaintext.verify(pk, *pt_proofs[0]), 1)[1])
    measure("plaintext.verify_batch", lambda: (plaintext.verify_batch(pk, pt_proofs), batch)[1])

    # -- multiplication --------------------------------------------------------------------------
    mult_items = []
    for _ in range(batch):
        a, ra = secrets.randbelow(pk.n), group.random_unit(pk)
        eb, _, _ = enc()
        gamma = group.random_unit(pk)
        st = multiplication.Statement(pk.raw_encrypt(a, ra), eb, group.multiply(pk, eb, a, gamma))
        mult_items.append((st, a, ra, gamma))
    mult_proofs = [
        (st, multiplication.prove(pk, st, a, ra, g, ctx), ctx) for st, a, ra, g in mult_items
    ]
    st, a, ra, g = mult_items[0]
    measure("multiplication.prove", lambda: (multiplication.prove(pk, st, a, ra, g, ctx), 1)[1])
    measure(
        "multiplication.prove_djn",
        lambda: (multiplication.prove(pk, st, a, ra, g, ctx, encryptor=djn), 1)[1],
    )
    measure("multiplication.verify", lambda: (multiplication.verify(pk, *mult_proofs[0]), 1)[1])
    measure(
        "multiplication.verify_batch",
        lambda: (multiplication.verify_batch(pk, mult_proofs), batch)[1],
    )

    # -- equality of plaintexts --------------------------------------------------------------
    eq_items = []
    for _ in range(batch):
        e2, _, _ = enc()
        rho = group.random_unit(pk)
        eq_items.append((int(e2 * gmpy2.powmod(rho, pk.n, pk.n_square) % pk.n_square), e2, rho))
    eq_proofs = [(e1, e2, equality.prove(pk, e1, e2, rho, ctx), ctx) for e1, e2, rho in eq_items]
    e1, e2, rho = eq_items[0]
    measure("equality.prove", lambda: (equality.prove(pk, int(e1), e2, rho, ctx), 1)[1])
    measure("equality.verify", lambda: (equality.verify(pk, *eq_proofs[0]), 1)[1])
    measure("equality.verify_batch", lambda: (equality.verify_batch(pk, eq_proofs), batch)[1])

    # -- interval (Gadget 3's mask) ------------------------------------------------------------
    params = interval.IntervalParams(bits=GADGET3_BITS)
    ib = max(2, batch // 8)
    iv = []
    for _ in range(ib):
        mm, rr = secrets.randbits(GADGET3_BITS), group.random_unit(pk)
        cc = pk.raw_encrypt(mm, rr)
        iv.append((cc, mm, rr))
    iv_proofs = [(cc, interval.prove(pk, cc, mm, rr, ctx, params), ctx) for cc, mm, rr in iv]
    cc, mm, rr = iv[0]
    measure("interval.prove", lambda: (interval.prove(pk, cc, mm, rr, ctx, params), 1)[1])
    measure(
        "interval.prove_djn",
        lambda: (interval.prove(pk, cc, mm, rr, ctx, params, encryptor=djn), 1)[1],
    )
    measure(
        "interval.verify_unbatched",
        lambda: (interval.verify(pk, *iv_proofs[0], params, batch=False), 1)[1],
    )
    measure("interval.verify", lambda: (interval.verify(pk, *iv_proofs[0], params), 1)[1])
    measure("interval.verify_batch", lambda: (interval.verify_batch(pk, iv_proofs, params), ib)[1])

    # -- Gadgets 1 and 2 on l x l matrices --------------------------------------------------------
    am = [[secrets.randbits(64) for _ in range(dim)] for _ in range(dim)]
    bm = [[secrets.randbits(64) for _ in range(dim)] for _ in range(dim)]
    ea, ra_m = gadgets.encrypt_matrix(pk, am)
    eb, rb_m = gadgets.encrypt_matrix(pk, bm)
    ec1 = gadgets.matmul_encrypted(pk, am, eb)
    g1 = gadgets.prove_gadget1(pk, ea, eb, ec1, am, ra_m, ctx)
    measure("gadget1.prove", lambda: (gadgets.prove_gadget1(pk, ea, eb, ec1, am, ra_m, ctx), 1)[1])
    measure(
        "gadget1.prove_djn",
        lambda: (gadgets.prove_gadget1(pk, ea, eb, ec1, am, ra_m, ctx, encryptor=djn), 1)[1],
    )
    measure("gadget1.verify", lambda: (gadgets.verify_gadget1(pk, ea, eb, ec1, g1, ctx), 1)[1])
    cm = [[sum(am[i][h] * bm[h][j] for h in range(dim)) for j in range(dim)] for i in range(dim)]
    ec2, rc_m = gadgets.encrypt_matrix(pk, cm)
    g2 = gadgets.prove_gadget2(pk, ea, eb, ec2, am, ra_m, bm, rb_m, rc_m, ctx)
    measure(
        "gadget2.prove",
        lambda: (gadgets.prove_gadget2(pk, ea, eb, ec2, am, ra_m, bm, rb_m, rc_m, ctx), 1)[1],
    )
    measure(
        "gadget2.prove_djn",
        lambda: (
            gadgets.prove_gadget2(pk, ea, eb, ec2, am, ra_m, bm, rb_m, rc_m, ctx, encryptor=djn),
            1,
        )[1],
    )
    measure("gadget2.verify", lambda: (gadgets.verify_gadget2(pk, ea, eb, ec2, g2, ctx), 1)[1])

    # -- timing: interleaved rounds, best rate of each, so that a burst of load from other jobs
    # on the machine hits every operation alike and is filtered out ----------------------------
    for _ in range(args.rounds):
        for name, op in ops.items():
            rates[name] = max(rates.get(name, 0.0), _rate(op, seconds / args.rounds))

    # -- report -------------------------------------------------------------------------------------
    enc_rate = rates["encrypt"]
    for name, rate in rates.items():
        result[f"rate.{name}_per_s"] = round(rate, 3)
        result[f"cost.{name}.modexp"] = costs[name]
        if name != "encrypt":
            result[f"ratio.{name}_in_encryptions"] = round(enc_rate / rate, 3)
    for kind in ("plaintext", "multiplication", "interval", "gadget1", "gadget2"):
        result[f"ratio.{kind}.djn_prove_speedup"] = round(
            rates[f"{kind}.prove_djn"] / rates[f"{kind}.prove"], 3
        )
    for kind in ("plaintext", "multiplication", "equality", "interval"):
        result[f"ratio.{kind}.batch_speedup"] = round(
            rates[f"{kind}.verify_batch"] / rates[f"{kind}.verify"], 3
        )
    result["ratio.interval.batched_vs_unbatched_verify"] = round(
        rates["interval.verify"] / rates["interval.verify_unbatched"], 3
    )
    naive = dim**3  # one multiplication proof per scalar product, plus knowledge of B for G2
    result["ratio.gadget1.naive_prove_over_gadget"] = round(
        (naive / rates["multiplication.prove"]) / (1 / rates["gadget1.prove"]), 3
    )
    result["ratio.gadget1.naive_verify_over_gadget"] = round(
        (naive / rates["multiplication.verify"]) / (1 / rates["gadget1.verify"]), 3
    )
    naive2_verify = naive / rates["multiplication.verify"] + dim * dim / rates["plaintext.verify"]
    result["ratio.gadget2.naive_verify_over_gadget"] = round(
        naive2_verify * rates["gadget2.verify"], 3
    )

    out = args.out if args.out is not None else (None if insecure else DEFAULT_OUT)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=1, sort_keys=True) + "\n")
    return result
