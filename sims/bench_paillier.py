"""Paillier rates (encrypt, threshold decrypt, add, scalar multiply) against python-paillier.

Both libraries run in the same process on the same machine and, where it matters, on the same
key: phe's key objects are built from our N, p and q. Every rate is an operation per second of
wall-clock time; each ratio is ours / phe. Exponentiation counts per operation come from
``coopetition.protocols.paillier.opcount``.

What is compared with what:
- encrypt: phe's ``PaillierPublicKey.encrypt(int)`` (a full |N|-bit r**N) against ours with
  (a) the same full-length randomness, (b) DJN short-exponent randomness from the default
  fixed-base table (8-bit windows) on one core, (b') the same with a wider window (a larger
  table: faster, but ~230 MB per process at 12 bits), (c) the wide table on every core
  (randomness from a ``RandomnessPool`` of worker processes, then one multiplication per
  ciphertext; the rate includes filling the pool), and (d) the online cost once a pool is
  filled. phe has no parallel API, so for (c) it is measured twice: phe in one process
  (library against library as shipped) and phe in as many spawned worker processes as we
  use, encrypting the same plaintexts (like for like). Both ratios are reported:
  ``encrypt_all_cores_vs_phe_one_process`` and ``encrypt_all_cores_vs_phe_all_cores``.
- decrypt: phe's CRT decryption against our CRT decryption with the private key, and against
  m-party threshold decryption (every party's share with its proof, verification of all m
  proofs, combination), all parties simulated in this process.
- add and scalar multiply: ``EncryptedNumber`` operators against ``ops.add``/``ops.mul_plain``
  with 64-bit signed scalars (fixed-point weights), one at a time and as vectors.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import secrets
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

from coopetition.protocols.paillier import opcount, ops, parallel
from coopetition.protocols.paillier.encryptor import Encryptor, RandomnessPool
from coopetition.protocols.paillier.keys import generate_keypair
from coopetition.protocols.paillier.threshold import (
    TrustedDealerKeyGeneration,
    combine,
    partial_decrypt,
)
from coopetition.protocols.zk.transcript import ProofContext
from coopetition.sims.benchkit import git_commit, key_bits, machine_info

#: a quick, valid command shown in ``coopetition bench paillier --help``
EXAMPLE = "coopetition bench paillier --insecure-bits 512 --seconds 0.2 --json"
DEFAULT_OUT = Path("results/bench_paillier.json")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--bits", type=int, default=2048, help="modulus length (2048 or 3072)")
    parser.add_argument(
        "--insecure-bits",
        type=int,
        default=None,
        help="use a small INSECURE key of this many bits (smoke tests only; nothing is written)",
    )
    parser.add_argument("--parties", type=int, default=4, help="parties in threshold decryption")
    parser.add_argument("--seconds", type=float, default=2.0, help="time budget per measurement")
    parser.add_argument(
        "--decrypt-batch", type=int, default=8, help="ciphertexts per threshold decryption (<= 64)"
    )
    parser.add_argument(
        "--wide-window",
        type=int,
        default=12,
        help="window of the second, larger DJN table measured on one core (default 12: ~230 MB)",
    )
    parser.add_argument(
        "--out", type=Path, default=None, help=f"result file (default {DEFAULT_OUT})"
    )


CPU_RATES: dict[str, float] = {}


def _race(batches: dict[str, Callable[[], int]], seconds: float) -> dict[str, float]:
    """Rates of competing batches, run in turn until each has had ``seconds`` of wall time.

    Taking turns in small batches means a change in machine load during the measurement hits
    every contender alike, so the ratios stay meaningful on a shared machine. The CPU time of
    this process is recorded too (in ``CPU_RATES``): for single-threaded contenders it is the
    load-independent cost; for multi-threaded ones it is the sum over threads; worker
    processes are not in it.
    """
    done = dict.fromkeys(batches, 0)
    spent = dict.fromkeys(batches, 0.0)
    cpu = dict.fromkeys(batches, 0.0)
    while min(spent.values()) < seconds:
        for name, batch in batches.items():
            if spent[name] >= seconds:
                continue
            start, cpu_start = time.perf_counter(), time.process_time()
            done[name] += batch()
            spent[name] += time.perf_counter() - start
            cpu[name] += time.process_time() - cpu_start
    for name in batches:
        CPU_RATES[name] = done[name] / cpu[name] if cpu[name] > 0 else float("nan")
    return {name: done[name] / spent[name] for name in batches}


#: What each ``ratio_vs_phe.*`` divides by what (rates in the same run, same key, same plaintexts).
RATIO_DEFINITIONS = {
    "encrypt_1core": "ours, DJN 8-bit-window table, 1 thread / phe, 1 process",
    "encrypt_1core_wide_window": "ours, DJN wide-window table, 1 thread / phe, 1 process",
    "encrypt_all_cores_vs_phe_one_process": "ours, wide table, pool workers on every core "
    "(fill included) / phe, 1 process (library vs library: phe has no parallel API)",
    "encrypt_all_cores_vs_phe_all_cores": "ours, wide table, pool workers on every core "
    "(fill included) / phe in as many spawned processes (like for like)",
    "encrypt_pool_online": "ours, randomness already in the pool (fill excluded) / phe, 1 process",
    "encrypt_full_exponent": "ours with full |N|-bit randomness / phe, 1 process",
    "decrypt_private_key": "ours CRT / phe CRT",
    "decrypt_threshold": "ours m-party threshold with proofs, all parties in 1 process / phe CRT",
    "add": "ours one at a time / phe",
    "add_vector": "ours add_vec / phe one at a time",
    "scalar_multiply": "ours one at a time, 64-bit signed scalars / phe",
    "scalar_multiply_vector_all_cores": "ours mul_plain_vec on every core / phe one at a time",
}

_PHE_WORKER: dict[str, Any] = {}


def _phe_worker_init(n: int) -> None:
    from phe import paillier as phe_paillier

    _PHE_WORKER["pk"] = phe_paillier.PaillierPublicKey(n)


def _phe_worker_encrypt(values: list[int]) -> int:
    pk = _PHE_WORKER["pk"]
    for v in values:
        pk.encrypt(v)
    return len(values)


def _phe_all_cores(n: int, procs: int) -> tuple[ProcessPoolExecutor, Callable[[list[int]], int]]:
    """phe's encryption in ``procs`` spawned processes: the like-for-like peer of our all-cores
    rate (phe has no parallel API of its own). Returns the executor and a batch function that
    gives every worker the same plaintexts and waits for all of them."""
    ex = ProcessPoolExecutor(
        max_workers=procs,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_phe_worker_init,
        initargs=(n,),
    )

    def batch(values: list[int]) -> int:
        return sum(
            f.result() for f in [ex.submit(_phe_worker_encrypt, values) for _ in range(procs)]
        )

    batch([1])  # start the workers (and import phe) before anything is timed
    return ex, batch


def _counted(fn: Callable[[], int]) -> dict[str, float]:
    """Exponentiations per operation for one batch of ``fn``."""
    with opcount.counting() as counts:
        n = fn()
    return {k: round(v / n, 3) for k, v in sorted(counts.items())}


def _machine() -> dict[str, Any]:
    return {**machine_info(), "machine.cores_used": parallel.cores()}


def run(args: argparse.Namespace) -> dict[str, Any]:
    from phe import paillier as phe_paillier

    bits, insecure = key_bits(args)
    if not 1 <= args.decrypt_batch <= 64:
        raise ValueError("--decrypt-batch must be in 1..64")
    seconds = args.seconds
    result: dict[str, Any] = {"bits": bits, "insecure_small_key": insecure, "parties": args.parties}
    result["git_commit"] = _git_commit()
    result.update(_machine())
    result["machine.phe"] = getattr(phe_paillier, "__version__", None) or _phe_version()

    t0 = time.perf_counter()
    pk, sk = generate_keypair(bits, insecure_allow_small=insecure)
    result["setup.keygen_s"] = round(time.perf_counter() - t0, 3)
    phe_pk = phe_paillier.PaillierPublicKey(pk.n)
    phe_sk = phe_paillier.PaillierPrivateKey(phe_pk, sk.p, sk.q)

    rates: dict[str, float] = {}
    costs: dict[str, dict[str, float]] = {}
    values = [secrets.randbits(62) - (1 << 61) for _ in range(64)]
    result["machine.loadavg_before"] = round(os.getloadavg()[0], 2)

    # -- encrypt -------------------------------------------------------------------------
    t0 = time.perf_counter()
    enc = Encryptor(pk).warm_up()
    result["setup.djn_table_s"] = round(time.perf_counter() - t0, 3)
    wide = Encryptor(pk, window_bits=args.wide_window).warm_up()
    costs["encrypt.ours_full_exponent"] = _counted(lambda: _each(values[:8], pk.encrypt))
    costs["encrypt.ours_djn_1core"] = _counted(lambda: len(enc.encrypt_vector(values)))
    procs = parallel.cores()
    phe_ex, phe_batch = _phe_all_cores(pk.n, procs)
    with phe_ex, RandomnessPool(pk, window_bits=args.wide_window) as pool:
        t0 = time.perf_counter()
        pool.fill(procs, processes=procs)  # start the workers and build their tables
        pool._values.clear()
        result["setup.pool_workers_s"] = round(time.perf_counter() - t0, 3)
        pooled = Encryptor(pk, pool=pool)
        batch = 64 * procs

        def all_cores() -> int:
            pool.fill(batch, processes=procs)
            return len(pooled.encrypt_vector(values * (batch // len(values))))

        rates.update(
            _race(
                {
                    "encrypt.phe": lambda: _each(values[:8], phe_pk.encrypt),
                    "encrypt.phe_all_cores": lambda: phe_batch(values[:8]),
                    "encrypt.ours_full_exponent": lambda: _each(values[:8], pk.encrypt),
                    "encrypt.ours_djn_1core": lambda: len(enc.encrypt_vector(values)),
                    "encrypt.ours_djn_1core_wide_window": lambda: len(wide.encrypt_vector(values)),
                    "encrypt.ours_djn_all_cores": all_cores,
                },
                seconds,
            )
        )
        online = values * 64
        pool.fill(len(online) + len(values), processes=procs)
        costs["encrypt.ours_pool_online"] = _counted(lambda: len(pooled.encrypt_vector(values)))
        t0 = time.perf_counter()
        pooled.encrypt_vector(online)
        rates["encrypt.ours_pool_online"] = len(online) / (time.perf_counter() - t0)
        if len(pool):
            raise AssertionError("the online measurement must use only precomputed randomness")

    # -- decrypt -------------------------------------------------------------------------
    cts = enc.encrypt_vector(values)
    phe_cts = [phe_paillier.EncryptedNumber(phe_pk, c) for c in cts]
    assert (
        [phe_sk.decrypt(c) for c in phe_cts[:4]] == [sk.decrypt(c) for c in cts[:4]] == values[:4]
    )
    costs["decrypt.ours_private_key"] = _counted(lambda: _each(cts[:16], sk.decrypt))

    t0 = time.perf_counter()
    dealer = TrustedDealerKeyGeneration(
        args.parties, keypair=(pk, sk), insecure_allow_small=insecure
    )
    result["setup.dealer_s"] = round(time.perf_counter() - t0, 3)
    tpk = dealer.threshold_public
    ctx = ProofContext(b"bench", "decrypt", 0, 0)
    batch_cts = cts[: args.decrypt_batch]
    result["decrypt_batch"] = len(batch_cts)
    result["djn.exponent_bits"] = enc.exponent_bits
    result["djn.window_bits"] = enc.window_bits
    result["djn.wide_window_bits"] = wide.window_bits

    def threshold_batch() -> int:
        shares = {
            s.party: partial_decrypt(s, batch_cts, replace(ctx, prover=s.party))
            for s in dealer.key_shares()
        }
        out = combine(tpk, shares, batch_cts, ctx)
        if out != values[: len(batch_cts)]:
            raise AssertionError("threshold decryption returned wrong plaintexts")
        return len(batch_cts)

    costs["decrypt.ours_threshold"] = _counted(threshold_batch)
    share0 = dealer.key_share(0)
    shares = {
        s.party: partial_decrypt(s, batch_cts, replace(ctx, prover=s.party))
        for s in dealer.key_shares()
    }
    rates.update(
        _race(
            {
                "decrypt.phe": lambda: _each(phe_cts[:8], phe_sk.decrypt),
                "decrypt.ours_private_key": lambda: _each(cts[:8], sk.decrypt),
                "decrypt.ours_threshold": threshold_batch,
                "decrypt.ours_partial_one_party": lambda: len(
                    partial_decrypt(share0, batch_cts, ctx).values
                ),
                "decrypt.ours_verify_and_combine": lambda: len(
                    combine(tpk, shares, batch_cts, ctx)
                ),
            },
            seconds,
        )
    )

    # -- add and scalar multiply --------------------------------------------------------
    a, b = cts[:32], cts[32:]
    pa, pb = phe_cts[:32], phe_cts[32:]
    scalars = [secrets.randbits(64) - (1 << 63) for _ in range(32)]
    costs["add.ours"] = _counted(lambda: _pairs(a, b, lambda x, y: ops.add(pk, x, y)))
    costs["scalar_multiply.ours"] = _counted(
        lambda: _pairs(a, scalars, lambda x, k: ops.mul_plain(pk, x, k))
    )
    rates.update(
        _race(
            {
                "add.phe": lambda: _pairs(pa, pb, lambda x, y: x + y),
                "add.ours": lambda: _pairs(a, b, lambda x, y: ops.add(pk, x, y)),
                "add.ours_vector": lambda: len(ops.add_vec(pk, a, b)),
            },
            seconds,
        )
    )
    rates.update(
        _race(
            {
                "scalar_multiply.phe": lambda: _pairs(pa, scalars, lambda x, k: x * k),
                "scalar_multiply.ours": lambda: _pairs(
                    a, scalars, lambda x, k: ops.mul_plain(pk, x, k)
                ),
                "scalar_multiply.ours_vector_all_cores": lambda: len(
                    ops.mul_plain_vec(pk, a, scalars)
                ),
            },
            seconds,
        )
    )
    check = ops.mul_plain(pk, a[0], scalars[0])
    if sk.decrypt(check) != values[0] * scalars[0]:
        raise AssertionError("scalar multiplication returned a wrong plaintext")
    result["machine.loadavg_after"] = round(os.getloadavg()[0], 2)

    for key, value in rates.items():
        result[f"rate_per_s.{key}"] = round(value, 2)
    for key, value in costs.items():
        result[f"modexp_per_op.{key}"] = value
    ratio = {
        "encrypt_1core": rates["encrypt.ours_djn_1core"] / rates["encrypt.phe"],
        "encrypt_1core_wide_window": rates["encrypt.ours_djn_1core_wide_window"]
        / rates["encrypt.phe"],
        "encrypt_all_cores_vs_phe_one_process": rates["encrypt.ours_djn_all_cores"]
        / rates["encrypt.phe"],
        "encrypt_all_cores_vs_phe_all_cores": rates["encrypt.ours_djn_all_cores"]
        / rates["encrypt.phe_all_cores"],
        "encrypt_pool_online": rates["encrypt.ours_pool_online"] / rates["encrypt.phe"],
        "encrypt_full_exponent": rates["encrypt.ours_full_exponent"] / rates["encrypt.phe"],
        "decrypt_private_key": rates["decrypt.ours_private_key"] / rates["decrypt.phe"],
        "decrypt_threshold": rates["decrypt.ours_threshold"] / rates["decrypt.phe"],
        "add": rates["add.ours"] / rates["add.phe"],
        "add_vector": rates["add.ours_vector"] / rates["add.phe"],
        "scalar_multiply": rates["scalar_multiply.ours"] / rates["scalar_multiply.phe"],
        "scalar_multiply_vector_all_cores": rates["scalar_multiply.ours_vector_all_cores"]
        / rates["scalar_multiply.phe"],
    }
    for key, value in ratio.items():
        result[f"ratio_vs_phe.{key}"] = round(value, 2)
    result["ratio_definition"] = RATIO_DEFINITIONS
    single_threaded = {
        "encrypt_1core": "encrypt.ours_djn_1core",
        "encrypt_1core_wide_window": "encrypt.ours_djn_1core_wide_window",
        "encrypt_full_exponent": "encrypt.ours_full_exponent",
        "decrypt_private_key": "decrypt.ours_private_key",
        "add": "add.ours",
        "scalar_multiply": "scalar_multiply.ours",
    }
    for key, name in single_threaded.items():
        phe_name = name.split(".")[0] + ".phe"
        result[f"cpu_rate_per_s.{name}"] = round(CPU_RATES[name], 2)
        result[f"cpu_rate_per_s.{phe_name}"] = round(CPU_RATES[phe_name], 2)
        result[f"ratio_vs_phe_cpu_time.{key}"] = round(CPU_RATES[name] / CPU_RATES[phe_name], 2)

    out = args.out if args.out is not None else (None if insecure else DEFAULT_OUT)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
        result["written_to"] = str(out)
    return result


def _each(items: list[Any], fn: Callable[[Any], Any]) -> int:
    for item in items:
        fn(item)
    return len(items)


def _pairs(xs: list[Any], ys: list[Any], fn: Callable[[Any, Any], Any]) -> int:
    for x, y in zip(xs, ys, strict=True):
        fn(x, y)
    return len(xs)


def _git_commit() -> str | None:
    """The commit measured, so a result file can be matched to the code (``+dirty`` if edited)."""
    return git_commit(("protocols/paillier", "protocols/zk", "sims"))


def _phe_version() -> str | None:
    try:
        from importlib.metadata import version

        return version("phe")
    except Exception:
        return None
