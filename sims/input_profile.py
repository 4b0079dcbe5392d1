"""Where Helen's input phase (section V) spends its CPU, per component, as d grows.

One party's proving (``input_proof.prove`` with range proofs for ``--verifiers`` verifiers) and
one verifier's checking (``input_proof.verify``) run in this process, one after the other, at
each d of ``--features``; no engine, no transport, no other party. Each component (encryption,
the fresh products, the two-sided Gadget 1 proofs, the range proof's commitments, four-square
decompositions, multi-exponentiations, transcripts, the codec) is wrapped in a timer that
charges CPU seconds (``time.process_time``) to the innermost component running, so the shares
add up to the total. Beside the seconds it records deterministic counts: calls per component,
the proof library's exponentiation tallies (``zk.full``, ``zk.short``, multi-exponentiations
and their bases), the Paillier tallies, fixed-base table powers and the bytes hashed by the
Fiat–Shamir transcripts. From two or more d it prints each component's growth exponent
log(t2/t1) / log(d2/d1) between neighbouring points: an exponent above 2 is what the d <= 30
fit of the sweep could not see.

The key is an INSECURE test key (``--key-bits``, 1024 by default) and N~ is INSECURE
(``--ring-bits``, 512 by default), the Fig. 3 sweep's sizes; proofs use production challenge
lengths. ``--cost-only-2048`` uses 2048-bit N and N~ made from random primes instead (the
arithmetic of production sizes, without the safe primes that binding needs: for costs only).
Data are the sweep's synthetic rows (``bench_helen.synthetic``). ``--compare`` runs every
stage twice, first with the code before this profile's levers (:func:`before_levers`), and
records the CPU ratio; E (one 2048-bit-class r^N mod N^2 at this key) is measured in the same
process. Nothing is written unless ``--out`` is given.

Run: ``nice -n 19 python -m coopetition.sims.input_profile --features 20,40 --out out.json``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import secrets
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from coopetition.protocols.fixedpoint import HelenScales
from coopetition.protocols.helen import input_phase, input_proof, numerics
from coopetition.protocols.paillier import encryptor as enc_mod
from coopetition.protocols.paillier import opcount
from coopetition.protocols.paillier import tracked as T
from coopetition.protocols.paillier.encryptor import Encryptor
from coopetition.protocols.paillier.keys import insecure_test_keypair
from coopetition.protocols.zk import codec, group, multiplication, twosided
from coopetition.protocols.zk import range_params as rpm
from coopetition.protocols.zk import range_proof as rproof
from coopetition.protocols.zk import transcript as tr
from coopetition.sims.bench_helen import e_seconds_at, synthetic
from coopetition.sims.benchkit import git_commit, random_modulus


class Clock:
    """Exclusive CPU seconds and calls per component: the innermost wrapped call is charged."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: Counter[str] = Counter()
        self._stack: list[str] = []
        self._mark = time.process_time()

    def _switch(self) -> None:
        now = time.process_time()
        self.seconds[self._stack[-1] if self._stack else "other"] += now - self._mark
        self._mark = now

    def wrap(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            self._switch()
            self._stack.append(name)
            self.calls[name] += 1
            try:
                return fn(*args, **kwargs)
            finally:
                self._switch()
                self._stack.pop()

        return timed

    def reset(self) -> None:
        self._switch()
        self.seconds.clear()
        self.calls.clear()

    def snapshot(self) -> dict[str, Any]:
        self._switch()
        return {"seconds": dict(self.seconds), "calls": dict(self.calls)}


#: (module, attribute, component name): every place a component is looked up at call time
_TARGETS: list[tuple[Any, str, str]] = [
    (numerics, "prepare_input", "svd+prepare"),
    (T, "encrypt_vector", "paillier encrypt (commitments, fresh products)"),
    (input_proof, "_product", "integer products A B (Python)"),
    (input_proof, "_multiply", "multiplication proofs (prove)"),
    (multiplication, "verify_batch", "multiplication proofs (verify)"),
    (twosided, "prove", "two-sided Gadget 1 (prove, own work)"),
    (twosided, "equations", "two-sided Gadget 1 (verify, own work)"),
    (group, "require", "batched Paillier equations (verify)"),
    (group, "multi_pow", "multi-exponentiation (Pippenger)"),
    (input_proof, "statements", "range statements (residues)"),
    (rproof, "_prove_unchecked", "range proof (prove, own work)"),
    (rproof, "four_squares", "range: four-square decompositions"),
    (rpm, "power_s", "range: ring-Pedersen s^x (table)"),
    (rpm, "power_t", "range: ring-Pedersen t^x (table)"),
    (rproof, "power_s", "range: ring-Pedersen s^x (table)"),
    (rproof, "power_t", "range: ring-Pedersen t^x (table)"),
    (rproof, "verify", "range proof (verify, own work)"),
    (rproof, "_Parsed", "range: parse + unit checks (verify)"),
    (rproof, "_equations", "range: build equations (verify)"),
    (rproof, "_batch_holds", "range: batch combination (verify)"),
    (tr.Transcript, "_put", "transcript hashing"),
    (codec, "encode", "codec encode"),
    (codec, "decode", "codec decode"),
]


@contextmanager
def instrumented(clock: Clock) -> Iterator[Counter[str]]:
    """Wrap every target while the block runs; yields a counter of hashed bytes and table powers."""
    extra: Counter[str] = Counter()
    saved = [(obj, attr, getattr(obj, attr)) for obj, attr, _ in _TARGETS]
    table_pow = enc_mod.FixedBaseTable.pow
    put = tr.Transcript._put

    def counted_put(self: Any, tag: bytes, raw: bytes) -> None:
        extra["transcript bytes"] += len(raw)
        extra["transcript items"] += 1
        put(self, tag, raw)

    def counted_pow(self: Any, e: int) -> Any:
        extra["fixed-base table powers"] += 1
        return table_pow(self, e)

    try:
        for obj, attr, name in _TARGETS:
            fn = counted_put if (obj, attr) == (tr.Transcript, "_put") else getattr(obj, attr)
            setattr(obj, attr, clock.wrap(name, fn))
        enc_mod.FixedBaseTable.pow = counted_pow
        yield extra
    finally:
        for obj, attr, fn in saved:
            setattr(obj, attr, fn)
        enc_mod.FixedBaseTable.pow = table_pow


def scales_for(d: int, rows: int, parties: int, x_bound: float, y_bound: float) -> HelenScales:
    return HelenScales(
        features=d, rows=rows, parties=parties, rho=40.0, x_bound=x_bound, y_bound=y_bound
    )


@dataclass
class _Setting:
    """What one d's stages share: keys, the party's data and scales, the wire bytes."""

    args: argparse.Namespace
    pk: Any
    ring: dict[int, rpm.RingPedersen]
    d: int
    wire: tuple[Any, Any, type, type] | None = None


def measure(
    d: int, args: argparse.Namespace, pk: Any, ring: dict[int, rpm.RingPedersen]
) -> dict[str, Any]:
    """One party proves (to ``args.verifiers`` verifiers), one verifier checks, at this d.

    With ``args.compare`` each stage runs first with :func:`before_levers` (the code before
    this profile's levers) and then as it is, and the CPU ratio is recorded.
    """
    setting = _Setting(args, pk, ring, d)
    out: dict[str, Any] = {"d": d, "range_values": 4 * d * d + 6 * d}
    for stage in ("prove", "verify"):
        if args.compare:
            with before_levers():
                out[f"{stage} before"] = _stage(setting, stage)
        out[stage] = _stage(setting, stage)
        if args.compare:
            ratio = out[f"{stage} before"]["cpu_seconds"] / out[stage]["cpu_seconds"]
            out[f"{stage} before/after"] = ratio
            print(f"d={d} {stage}: before / after = {ratio:.2f}", file=sys.stderr, flush=True)
    return out


@contextmanager
def before_levers() -> Iterator[None]:
    """The code before this profile's levers: Pippenger's window capped at 6, and the prover's
    four-square decompositions made once per verifier (``decompose`` answering None makes
    ``range_proof.prove`` decompose inside, as before)."""
    decompose = rproof.decompose
    group.WIDE_WINDOWS = False
    rproof.decompose = lambda statements, witnesses: None
    try:
        yield
    finally:
        group.WIDE_WINDOWS = True
        rproof.decompose = decompose


def _stage(setting: _Setting, stage: str) -> dict[str, Any]:
    """One timed prove (which leaves the wire bytes in ``setting``) or verify of them."""
    args, pk, ring, d = setting.args, setting.pk, setting.ring, setting.d
    prover = 0
    ctx = input_phase.context(b"input-profile", prover)
    clock = Clock()
    with instrumented(clock) as extra, group.counting() as zk, opcount.counting() as pa:
        clock.reset()
        t0 = time.process_time()
        if stage == "prove":
            parts, _ = synthetic(args.parties, d, args.rows, args.seed)
            scales = scales_for(d, args.rows, args.parties, args.x_bound, args.y_bound)
            verifiers = {j: ring[j] for j in range(1, args.verifiers + 1)}
            prep = numerics.prepare_input(*parts[0], scales)
            encryptor = Encryptor(pk)
            com, proof, _ = input_proof.prove(pk, prep, scales, ctx, verifiers, encryptor=encryptor)
            setting.wire = (codec.encode(com), codec.encode(proof), type(com), type(proof))
        else:
            assert setting.wire is not None
            scales = scales_for(d, args.rows, args.parties, args.x_bound, args.y_bound)
            max_bits = codec.max_bits_for(pk.n.bit_length(), ring[1].bits)
            raw_com, raw_proof, com_type, proof_type = setting.wire
            com_in = codec.decode(com_type, raw_com, prover=prover, max_bits=max_bits)
            proof_in = codec.decode(proof_type, raw_proof, prover=prover, max_bits=max_bits)
            input_proof.verify(pk, com_in, proof_in, scales, ctx, 1, ring[1])
        total = time.process_time() - t0
        snap = clock.snapshot()
    print(f"d={d} {stage}: {total:.1f} CPU s", file=sys.stderr, flush=True)
    return {
        "cpu_seconds": total,
        "components": snap["seconds"],
        "calls": snap["calls"],
        "counts": {**{f"zk.{k}": v for k, v in zk.items()}, **dict(pa), **dict(extra)},
    }


def exponents(points: list[dict[str, Any]], stage: str) -> dict[str, list[float | None]]:
    """Growth exponent in d of every component between neighbouring points."""
    names = sorted({n for p in points for n in p[stage]["components"]})
    out: dict[str, list[float | None]] = {}
    for name in ["total", *names]:
        row: list[float | None] = []
        for a, b in itertools.pairwise(points):
            ta = a[stage]["cpu_seconds"] if name == "total" else a[stage]["components"].get(name)
            tb = b[stage]["cpu_seconds"] if name == "total" else b[stage]["components"].get(name)
            ok = ta and tb and ta > 0.02 and tb > 0.02
            row.append(math.log(tb / ta) / math.log(b["d"] / a["d"]) if ok else None)
        out[name] = row
    return out


def report(points: list[dict[str, Any]]) -> str:
    lines = []
    for stage in ("prove", "verify"):
        exps = exponents(points, stage)
        head = " | ".join(f"d={p['d']} s" for p in points)
        lines.append(f"\n{stage}: component | {head} | exponents")
        names = sorted(exps, key=lambda n: -(points[-1][stage]["components"].get(n, 0.0)))
        for name in names:
            secs = [
                p[stage]["cpu_seconds"] if name == "total" else p[stage]["components"].get(name, 0)
                for p in points
            ]
            ex = ", ".join("-" if x is None else f"{x:.2f}" for x in exps[name])
            lines.append(f"  {name} | " + " | ".join(f"{s:.2f}" for s in secs) + f" | {ex}")
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--features", default="20,40", help="comma-separated d values")
    parser.add_argument("--rows", type=int, default=100)
    parser.add_argument("--parties", type=int, default=4, help="m (enters the scales)")
    parser.add_argument("--verifiers", type=int, default=1, help="range proofs made (<= m - 1)")
    parser.add_argument("--key-bits", type=int, default=1024, help="INSECURE test key size")
    parser.add_argument("--ring-bits", type=int, default=512, help="INSECURE N~ size")
    parser.add_argument("--x-bound", type=float, default=4.0)
    parser.add_argument("--y-bound", type=float, default=32.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--compare", action="store_true", help="each stage also with the code before the levers"
    )
    parser.add_argument(
        "--cost-only-2048",
        action="store_true",
        help="2048-bit N and N~ from random primes (not safe primes): costs only, no security",
    )
    parser.add_argument("--out", default=None, help="write JSON here (nothing else)")


def cost_only_keys(verifiers: int) -> tuple[Any, dict[int, rpm.RingPedersen]]:
    """A 2048-bit Paillier N and 2048-bit N~ of random primes (``benchkit.random_modulus``).

    Proving and verifying cost the same as with safe primes (only the sizes enter the
    arithmetic), which is all this profile measures; binding, which needs safe primes, is
    not what a cost measurement relies on. Never use these for data.
    """
    pk = random_modulus(2048)
    ring = {}
    for j in range(1, verifiers + 1):
        n = random_modulus(2048).n
        t = pow(secrets.randbelow(n - 3) + 2, 2, n)
        s = pow(t, secrets.randbelow(n), n)
        ring[j] = rpm.RingPedersen(n, s, t)
        ring[j].check()
    return pk, ring


def run(args: argparse.Namespace) -> dict[str, Any]:
    ds = [int(x) for x in args.features.split(",")]
    if not 1 <= args.verifiers < args.parties:
        raise SystemExit("--verifiers must be between 1 and m - 1")
    if not args.cost_only_2048 and (args.key_bits >= 2048 or args.ring_bits >= 2048):
        raise SystemExit("2048 bits only with --cost-only-2048; below, INSECURE test sizes")
    if args.cost_only_2048:
        pk, ring = cost_only_keys(args.verifiers)
    else:
        pk, _ = insecure_test_keypair(args.key_bits)
        ring = {}
        for j in range(1, args.verifiers + 1):
            params, _secret = rpm.generate(args.ring_bits, insecure_allow_small=True)
            ring[j] = params
    e = e_seconds_at(pk, 5)
    points = [measure(d, args, pk, ring) for d in ds]
    with open("/proc/loadavg") as fh:
        load = fh.read().split()[:3]
    result = {
        "commit": git_commit(("protocols", "sims")),
        "args": vars(args),
        "key_bits": pk.bits,
        "E_seconds": e,
        "load": load,
        "points": points,
    }
    print(report(points))
    for p in points:
        cpu = p["prove"]["cpu_seconds"], p["verify"]["cpu_seconds"]
        print(
            f"d={p['d']}: prove {cpu[0] / e:.0f} E, verify {cpu[1] / e:.0f} E (E = {e * 1e3:.1f} ms)"
        )
    print(f"load average {' '.join(load)}")
    if args.out:
        with open(args.out, "w") as fh:
            json.dump(result, fh, indent=1, default=str)
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    run(parser.parse_args(argv))


if __name__ == "__main__":
    main()
