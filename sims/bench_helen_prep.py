"""Helen's input preparation and local step, per party: two-sided Gadget 1 against Gadget 1, in E.

For each d of ``--features`` (one party's synthetic data, in this process, CPU seconds):

* ``input``: the whole input proof (``input_proof.prove``) split into its range proof for one
  verifier and the rest, and one verification split the same way. Per party at m parties:
  prove_rest + (m - 1) (range proof + verification), since a party proves once per verifier
  and checks every other party.
* ``product``: one d x d product of input preparation (V^T Enc(V)) made and proved both ways in
  the same run: Gadget 1 (A * Enc(B) homomorphically, d^2 + d proofs) and the two-sided proof
  on a fresh Enc(A B) (d + 1 proofs); and one verification of each. Gadget 1 only up to
  ``--old-max-d`` (its prover is cubic in d).
* ``local``: the local step's product Enc(A_i v) and its proof (``local_phase.local_product``)
  and one verification, against the same with Gadget 1. Per party per iteration:
  prove + (m - 1) verifications.

Every encryption and proof nonce uses a DJN ``Encryptor`` (fixed-base tables, built before
timing), as Helen's parties do. Costs are CPU seconds and E = one full 2048-bit r^N mod N^2 measured in this process. With two
or more d, each per-party cost is fitted as a d^2 + b d and extrapolated to ``--project-d``
(labelled ``projected``). Nothing is written unless ``--out`` is given.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from coopetition.engine.errors import ConfigError
from coopetition.protocols.fixedpoint import HelenScales
from coopetition.protocols.helen import input_proof, local_phase, numerics
from coopetition.protocols.helen.config import SECURE_KEY_BITS
from coopetition.protocols.paillier.encryptor import Encryptor
from coopetition.protocols.paillier.keys import PublicKey, insecure_test_keypair
from coopetition.protocols.zk import gadgets, group, twosided
from coopetition.protocols.zk import range_params as rpm
from coopetition.protocols.zk import range_proof as rproof
from coopetition.protocols.zk.transcript import ProofContext
from coopetition.sims.bench_helen import e_seconds, synthetic
from coopetition.sims.benchkit import git_commit, machine_info, random_modulus

EXAMPLE = "coopetition bench helen-prep --features 4,6 --key-bits 1024 --insecure --json"
ROWS = 300


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--features", default="10,20", help="comma-separated d values")
    parser.add_argument("--key-bits", type=int, default=SECURE_KEY_BITS, help="|N| and |N~|")
    parser.add_argument("--insecure", action="store_true", help="allow keys below 2048 bits")
    parser.add_argument("--old-max-d", type=int, default=20, help="largest d for Gadget 1")
    parser.add_argument("--project-d", type=int, default=90, help="d to extrapolate to")
    parser.add_argument("--out", type=Path, default=None, help="write JSON here (nothing else)")


@contextmanager
def _timing(module: Any, name: str, into: dict[str, float]) -> Iterator[None]:
    """CPU seconds spent inside ``module.name`` while the block runs (summed into ``into``)."""
    original: Callable[..., Any] = getattr(module, name)

    def timed(*args: Any, **kwargs: Any) -> Any:
        start = time.process_time()
        try:
            return original(*args, **kwargs)
        finally:
            into[name] = into.get(name, 0.0) + time.process_time() - start

    setattr(module, name, timed)
    try:
        yield
    finally:
        setattr(module, name, original)


def _cpu(fn: Callable[[], Any]) -> tuple[Any, float]:
    start = time.process_time()
    out = fn()
    return out, time.process_time() - start


def _keys(bits: int, insecure: bool) -> tuple[PublicKey, rpm.RingPedersen]:
    if bits < SECURE_KEY_BITS and not insecure:
        raise ConfigError(f"--key-bits {bits} is below {SECURE_KEY_BITS}: add --insecure")
    pk = insecure_test_keypair(bits)[0] if bits < SECURE_KEY_BITS else random_modulus(bits)
    params, _ = rpm.generate(bits, insecure_allow_small=bits < SECURE_KEY_BITS)
    return pk, params


def _one_d(
    pk: PublicKey, params: rpm.RingPedersen, enc: Encryptor, d: int, old: bool
) -> dict[str, float]:
    parts, _ = synthetic(1, d, ROWS, seed=d)
    X, y = parts[0]
    scales = HelenScales(
        features=d, rows=ROWS, parties=4, rho=4.0, x_bound=6.0, y_bound=float(np.abs(y).max()) + 1
    )
    prep = numerics.prepare_input(X, y, scales)
    ctx = ProofContext(b"bench-helen-prep", "input-prep", 0, 1)
    out: dict[str, float] = {}
    inside: dict[str, float] = {}
    with _timing(rproof, "prove", inside):
        (com, proof, witness), total = _cpu(
            lambda: input_proof.prove(pk, prep, scales, ctx, {0: params}, encryptor=enc)
        )
    out["input_range_prove"] = inside["prove"]
    out["input_prove_rest"] = total - inside["prove"]
    with _timing(rproof, "verify", inside):
        _, total = _cpu(lambda: input_proof.verify(pk, com, proof, scales, ctx, 0, params))
    out["input_range_verify"] = inside["verify"]
    out["input_verify_rest"] = total - inside["verify"]

    # one d x d product of section V (V^T Enc(V)), both ways
    V = [[int(x) for x in row] for row in prep.V]
    Vt = [list(col) for col in zip(*V, strict=True)]
    ev, rv = gadgets.encrypt_matrix(pk, V, enc)
    evt, rvt = [list(c) for c in zip(*ev, strict=True)], [list(c) for c in zip(*rv, strict=True)]
    pctx = ProofContext(b"bench-helen-prep", "product", 0, 1)

    def new_product() -> tuple[list[list[int]], twosided.TwoSidedProof]:
        prod = (np.array(Vt, dtype=object) @ np.array(V, dtype=object)).tolist()
        ec, rc = gadgets.encrypt_matrix(pk, prod, enc)
        return ec, twosided.prove(pk, evt, ev, ec, Vt, rvt, pctx, fresh=(rv, rc), encryptor=enc)

    (ec, p2), out["product_prove_twosided"] = _cpu(new_product)
    _, out["product_verify_twosided"] = _cpu(lambda: twosided.verify(pk, evt, ev, ec, p2, pctx))

    # the local step's product against the committed Enc(A)
    ez = [group.encrypt_fresh(pk, int(x), enc)[0] for x in np.arange(d) * 1000 - 77]
    lctx = local_phase.context(b"bench-helen-prep", 0, 1)
    (w, lp), out["local_prove_twosided"] = _cpu(
        lambda: local_phase.local_product(pk, witness, com, ez, lctx, enc)
    )
    ecol, ezcol = [[c] for c in w], [[c] for c in ez]
    _, out["local_verify_twosided"] = _cpu(
        lambda: twosided.verify(pk, com.A, ezcol, ecol, lp, lctx)
    )
    if old:
        A = [[t.plaintext for t in row] for row in witness.A]
        rA = [[t.randomness for t in row] for row in witness.A]

        def old_local() -> tuple[list[list[int]], gadgets.MatMulProof]:
            gammas = [[group.random_unit(pk)] for _ in range(d)]
            ew = gadgets.matmul_encrypted(pk, A, ezcol, gammas)
            return ew, gadgets.prove_gadget1(
                pk, com.A, ezcol, ew, A, rA, lctx, gammas, encryptor=enc
            )

        (ew, g1), out["local_prove_gadget1"] = _cpu(old_local)
        _, out["local_verify_gadget1"] = _cpu(
            lambda: gadgets.verify_gadget1(pk, com.A, ezcol, ew, g1, lctx)
        )

        def old_product() -> tuple[list[list[int]], gadgets.MatMulProof]:
            gammas = [[group.random_unit(pk) for _ in range(d)] for _ in range(d)]
            ec1 = gadgets.matmul_encrypted(pk, Vt, ev, gammas)
            return ec1, gadgets.prove_gadget1(
                pk, evt, ev, ec1, Vt, rvt, pctx, gammas, encryptor=enc
            )

        (ec1, g1p), out["product_prove_gadget1"] = _cpu(old_product)
        _, out["product_verify_gadget1"] = _cpu(
            lambda: gadgets.verify_gadget1(pk, evt, ev, ec1, g1p, pctx)
        )
    return out


def per_party(row: dict[str, float], m: int) -> dict[str, float]:
    """Input preparation and one local step of one party among m (CPU seconds)."""
    pair = row["input_range_prove"] + row["input_range_verify"] + row["input_verify_rest"]
    return {
        "input": row["input_prove_rest"] + (m - 1) * pair,
        "local_per_iteration": row["local_prove_twosided"] + (m - 1) * row["local_verify_twosided"],
    }


def fit_quadratic(ds: list[int], values: list[float], at: int) -> float:
    """a d^2 + b d (+ c from three points on), least squares, evaluated at ``at``.

    Costs do not fall with d: a negative coefficient (few, noisy points) drops its term and
    the rest is refitted, so two points never extrapolate to a negative cost.
    """
    terms = [2, 1, 0][: 3 if len(ds) >= 3 else 2]
    while True:
        basis = np.array([[float(d) ** t for t in terms] for d in ds])
        coef, *_ = np.linalg.lstsq(basis, np.array(values, dtype=float), rcond=None)
        if min(coef) >= 0 or len(terms) == 1:
            return float(sum(c * float(at) ** t for c, t in zip(coef, terms, strict=True)))
        terms.pop(int(np.argmin(coef)))


def run(args: argparse.Namespace) -> dict[str, Any]:
    try:
        ds = [int(x) for x in str(args.features).split(",")]
    except ValueError:
        raise ConfigError(
            f"--features must be comma-separated integers, not {args.features!r}"
        ) from None
    if not ds or min(ds) < 2:
        raise ConfigError("--features needs d >= 2")
    load_before = os.getloadavg()
    pk, params = _keys(args.key_bits, args.insecure)
    e = e_seconds()
    enc = Encryptor(pk).warm_up()  # DJN nonces and encryptions, as Helen's parties use
    rows = {d: _one_d(pk, params, enc, d, d <= args.old_max_d) for d in ds}
    result: dict[str, Any] = {
        "benchmark": "helen-prep",
        "key_bits": args.key_bits,
        "insecure": args.key_bits < SECURE_KEY_BITS,
        "E_seconds": round(e, 6),
        "rows_per_party": ROWS,
        "cpu_seconds": {str(d): {k: round(v, 3) for k, v in r.items()} for d, r in rows.items()},
        "cost_E": {str(d): {k: round(v / e, 1) for k, v in r.items()} for d, r in rows.items()},
    }
    ratios = {}
    for d, r in rows.items():
        if "local_prove_gadget1" in r:
            ratios[str(d)] = {
                "local_prove": round(r["local_prove_gadget1"] / r["local_prove_twosided"], 2),
                "local_verify": round(r["local_verify_gadget1"] / r["local_verify_twosided"], 2),
                "product_prove": round(r["product_prove_gadget1"] / r["product_prove_twosided"], 2),
                "product_verify": round(
                    r["product_verify_gadget1"] / r["product_verify_twosided"], 2
                ),
            }
    result["gadget1_over_twosided"] = ratios
    result["per_party_E"] = {
        f"m={m}": {
            str(d): {k: round(v / e, 1) for k, v in per_party(r, m).items()}
            for d, r in rows.items()
        }
        for m in (3, 4)
    }
    if len(ds) >= 2:
        result["projected"] = {
            "d": args.project_d,
            "fit": "a d^2 + b d (+ c from three d on), non-negative terms, least squares",
            **{
                f"m={m}": {
                    key: round(
                        fit_quadratic(
                            ds, [per_party(rows[d], m)[key] / e for d in ds], args.project_d
                        ),
                        0,
                    )
                    for key in ("input", "local_per_iteration")
                }
                for m in (3, 4)
            },
        }
    result["load_average_before"] = [round(x, 2) for x in load_before]
    result["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    result["commit"] = git_commit(("protocols", "sims"))
    result.update(machine_info())
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    return result
