"""Where one Helen iteration's conversion work goes: Gadget 3 both ways and the end check, by step.

Why: Helen's ``coordinate`` and ``verify`` phases cost most of a party's E per iteration, and
the benchmark's per-phase figure does not say which step of the gadgets spends it. This tool
runs the Paillier side of one iteration's conversions at Helen's own shapes, with all m parties
in this process (``spdz.harness.run_local``), and charges every CPU second to the innermost
instrumented step it was spent in (exclusive time: an encryption inside a range proof counts as
an encryption, not twice):

* forward: ``ciphertext_to_shares`` on m d ciphertexts of ``HelenScales.k_w`` bits (MACs with
  the batched multiplication proof, range-proved masks, packed threshold decryption);
* back: the Paillier part of ``shares_to_ciphertext`` on (m + 1) d values is now only
  Enc(c - 2^(k-1)) / Enc(R), no proofs (no encrypted shares are published since issue 15:
  docs/crypto.md, "Gadget 3 without published shares"; the SPDZ opening of c and its MAC
  check are SPDZ online work and are not run here, ``bench helen`` charges them to
  ``coordinate``);
* verify: ``verify_conversions`` over both records (a record check; no Paillier work left).

Costs are process CPU seconds (helper threads included) divided by m (the per-party mean; the
parties do the same work) and by E, one full |N|-bit r^N mod N^2 measured in this process.
The step table is the figure; nothing is written unless ``--out`` is given. Used as
``python -m coopetition.sims.conversion_profile`` and by ``bench conversions``.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from coopetition.protocols.helen.config import HelenConfig
from coopetition.protocols.helen.coordinate_phase import back_bits
from coopetition.protocols.paillier import ops
from coopetition.protocols.paillier import threshold as th
from coopetition.protocols.paillier.encryptor import Encryptor
from coopetition.protocols.paillier.keys import generate_keypair
from coopetition.protocols.paillier.threshold import TrustedDealerKeyGeneration
from coopetition.protocols.spdz import conversion as conv_mod
from coopetition.protocols.spdz import field as F
from coopetition.protocols.spdz import gadgets, packing, ranges
from coopetition.protocols.spdz.conversion import BACK, Conversion, PaillierParty
from coopetition.protocols.spdz.harness import run_local
from coopetition.protocols.spdz.shares import Share
from coopetition.protocols.zk import (
    codec,
    multiplication,
    range_proof,
    range_squares,
    transcript,
)
from coopetition.protocols.zk import range_params as rpm
from coopetition.sims.bench_helen import e_seconds_at
from coopetition.sims.benchkit import git_commit, machine_info

#: (owner object, attribute, step name): every instrumented step.
STEPS: list[tuple[Any, str, str]] = [
    (ranges.RangeContributions, "range_proof", "range proof made (per verifier)"),
    (ranges.RangeContributions, "decompose", "four-square decompositions"),
    (range_proof, "verify", "range proof verified"),
    (Encryptor, "encrypt_with_randomness", "encryptions (DJN)"),
    (conv_mod, "partial_decrypt", "decryption shares (c^2d_i)"),
    (th, "prove_decryption_shares", "decryption-share proof made"),
    (th, "verify_share", "decryption-share proofs verified"),
    (conv_mod, "combine", "combining shares"),
    (conv_mod, "multiply", "MAC products Enc(x)^alpha_j"),
    (multiplication, "prove", "MAC multiplication proof made"),
    (multiplication, "verify_batch", "MAC multiplication proofs verified"),
    (conv_mod, "_combine", "MAC batch combinations (rho)"),
    (packing.Packing, "pack", "packing (Horner squarings)"),
    (packing.Packing, "unpack", "unpacking"),
    (codec, "encode", "proof encoding"),
    (codec, "decode", "proof decoding"),
    (transcript.Transcript, "absorb", "Fiat-Shamir hashing"),
    (transcript.Transcript, "challenge_ints", "Fiat-Shamir hashing"),
    (ops, "sum_ct", "homomorphic sums and products"),
    (ops, "mul_plain", "homomorphic sums and products"),
    (ops, "add", "homomorphic sums and products"),
    (ops, "sub", "homomorphic sums and products"),
    (ops, "neg", "homomorphic sums and products"),
    (conv_mod, "ciphertexts_from_wire", "ciphertext checks"),
    (ranges, "ciphertexts_from_wire", "ciphertext checks"),
]
#: Steps whose first list-like argument's length is recorded (items per call).
SIZED = {"range proof made (per verifier)": 2, "range proof verified": 2}


class Profile:
    """Exclusive CPU seconds and call counts per step (single-threaded callers only)."""

    def __init__(self) -> None:
        self.seconds: Counter[str] = Counter()
        self.calls: Counter[str] = Counter()
        self.items: Counter[str] = Counter()
        self._children: list[float] = []

    def wrap(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        sized = SIZED.get(name)

        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.process_time()
            self._children.append(0.0)
            try:
                return fn(*args, **kwargs)
            finally:
                spent = time.process_time() - start
                inner = self._children.pop()
                self.seconds[name] += spent - inner  # type: ignore[assignment]  # float seconds; typeshed says int
                self.calls[name] += 1
                if sized is not None and len(args) > sized:
                    self.items[name] += len(args[sized])
                if self._children:
                    self._children[-1] += spent

        return timed

    @contextmanager
    def installed(self) -> Iterator[None]:
        saved = []
        for owner, attr, name in STEPS:
            original = owner.__dict__[attr] if isinstance(owner, type) else getattr(owner, attr)
            saved.append((owner, attr, original))
            setattr(owner, attr, self.wrap(name, original))
        try:
            yield
        finally:
            for owner, attr, original in reversed(saved):
                setattr(owner, attr, original)

    def snapshot(self) -> tuple[Counter[str], Counter[str], Counter[str]]:
        return Counter(self.seconds), Counter(self.calls), Counter(self.items)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--parties", type=int, default=4, help="m")
    parser.add_argument("--features", type=int, default=3, help="d")
    parser.add_argument("--key-bits", type=int, default=2048, help="Paillier |N|")
    parser.add_argument("--insecure", action="store_true", help="allow an INSECURE small key")
    parser.add_argument(
        "--compare-squares",
        action="store_true",
        help="profile twice in this process: the second square root drawn uniformly (before) "
        "and near sqrt (after, range_squares.SECOND_NEAR)",
    )
    parser.add_argument("--out", type=Path, default=None, help="write JSON here (nothing else)")


KeyMaterial = tuple[TrustedDealerKeyGeneration, list[tuple[Any, Any]], float]


def make_key(m: int, bits: int, insecure: bool) -> KeyMaterial:
    """A trusted-dealer threshold key, one ring-Pedersen set per party, and E in seconds."""
    keypair = generate_keypair(bits, insecure_allow_small=insecure)
    kg = TrustedDealerKeyGeneration(m, bits, insecure_allow_small=insecure, keypair=keypair)
    ring_bits = ranges.INSECURE_RING_BITS if insecure else max(bits, 2048)
    rings = [rpm.generate(ring_bits, insecure_allow_small=insecure) for _ in range(m)]
    return kg, rings, e_seconds_at(keypair[0])


def make_parties(key: KeyMaterial, session: bytes) -> list[PaillierParty]:
    """m parties with checked rings and a fresh MAC key (a new one per profiled run: Gadget 4
    releases alpha)."""
    kg, rings, _ = key
    ps = [PaillierParty(kg.key_share(i), session) for i in range(len(rings))]
    for p, (ring, secret) in zip(ps, rings, strict=True):
        p.ring, p.ring_secret = ring, secret
        assert p.encryptor is not None
        p.encryptor.warm_up()
    run_local([p.setup() for p in ps])
    return ps


def back_records(ps: list[PaillierParty], n: int, bits: int) -> list[tuple[Share, list[int]]]:
    """Honest additive shares (values and MACs) of n random |x| < 2**(bits-1), and Enc(x)."""
    pk, m = ps[0].pk, len(ps)
    alpha = sum(p.alpha_share for p in ps) % F.P
    half = 1 << (bits - 2)
    xs = [secrets.randbelow(2 * half) - half for _ in range(n)]
    vals = [[secrets.randbelow(F.P) for _ in range(n)] for _ in range(m - 1)]
    macs = [[secrets.randbelow(F.P) for _ in range(n)] for _ in range(m - 1)]
    vals.insert(0, [(x - sum(v[t] for v in vals)) % F.P for t, x in enumerate(xs)])
    macs.insert(0, [(alpha * x - sum(c[t] for c in macs)) % F.P for t, x in enumerate(xs)])
    cts = [pk.encrypt(x) for x in xs]
    return [(Share(F.vec(vals[i]), F.vec(macs[i])), cts) for i in range(m)]


def forward_inputs(ps: list[PaillierParty], n: int, k_w: int) -> list[int]:
    """n public Enc(w_full) with |w_full| < 2**(k_w - 1), as the local step publishes them."""
    pk = ps[0].pk
    half = 1 << (k_w - 2)
    return [pk.encrypt(secrets.randbelow(2 * half) - half) for _ in range(n)]


def one_iteration(
    ps: list[PaillierParty],
    cts: list[int],
    recs: list[tuple[Share, list[int]]],
    k_w: int,
    k_back: int,
) -> list[Conversion]:
    """Forward, back (Paillier part); the two records of every party, in party order."""
    forward = run_local([gadgets.ciphertext_to_shares(p, cts, k_w) for p in ps])
    backs = [
        Conversion(
            share=share, ciphertexts=enc, value_bits=k_back, direction=BACK, mac_checked=True
        )
        for share, enc in recs
    ]
    return [x for pair in zip(forward, backs, strict=True) for x in pair]


def profile_once(
    key: KeyMaterial, m: int, d: int, k_w: int, k_back: int, session: bytes
) -> dict[str, dict[str, Any]]:
    """One iteration's conversions and their Gadget 4, step by step (see the module doc)."""
    e = key[2]
    ps = make_parties(key, session)
    cts = forward_inputs(ps, m * d, k_w)
    recs = back_records(ps, (m + 1) * d, k_back)
    prof = Profile()
    with prof.installed():
        before = prof.snapshot()
        start = time.process_time()
        records = one_iteration(ps, cts, recs, k_w, k_back)
        coord_cpu = time.process_time() - start
        mid = prof.snapshot()
        start = time.process_time()
        run_local(
            [
                # forward records only: a way back needs its SPDZ party, which this
                # Paillier-side profile does not run (the end check costs no E either way)
                gadgets.verify_conversions(p, None, records[2 * i : 2 * i + 1])
                for i, p in enumerate(ps)
            ]
        )
        verify_cpu = time.process_time() - start
        after = prof.snapshot()
    elements = m * d + (m + 1) * d
    phases: dict[str, dict[str, Any]] = {}
    for label, cpu, (s0, c0, i0), (s1, c1, i1) in (
        ("coordinate (Paillier side)", coord_cpu, before, mid),
        ("verify", verify_cpu, mid, after),
    ):
        seconds = s1 - s0
        rows = {
            step: {
                "E_per_party": round(sec / m / e, 1),
                "E_per_element": round(sec / m / e / elements, 2),
                "calls_per_party": round((c1 - c0)[step] / m, 1),
                "items_per_party": round((i1 - i0)[step] / m, 1),
            }
            for step, sec in seconds.most_common()
        }
        other = cpu - sum(seconds.values())
        rows["other (Python, unlisted)"] = {
            "E_per_party": round(other / m / e, 1),
            "E_per_element": round(other / m / e / elements, 2),
        }
        phases[label] = {
            "E_per_party": round(cpu / m / e, 1),
            "E_per_element": round(cpu / m / e / elements, 2),
            "elements": elements,
            "steps": rows,
        }
    return phases


def run(args: argparse.Namespace) -> dict[str, Any]:
    m, d = args.parties, args.features
    if m < 2 or d < 1:
        raise ValueError("need at least 2 parties and 1 feature")
    cfg = HelenConfig(key_bits=args.key_bits, insecure=args.insecure)
    scales = cfg.scales(d, 1000, m)
    k_w, k_back = scales.k_w, back_bits(scales, cfg.objective)
    load_before = os.getloadavg()
    key = make_key(m, args.key_bits, args.insecure)
    runs: dict[str, dict[str, Any]] = {}
    variants = [("before: second root uniform", False), ("after: second root near", True)]
    if not args.compare_squares:
        variants = [("current code", range_squares.SECOND_NEAR)]
    saved = range_squares.SECOND_NEAR
    try:
        for label, near in variants:
            range_squares.SECOND_NEAR = near
            runs[label] = profile_once(key, m, d, k_w, k_back, label.encode())
    finally:
        range_squares.SECOND_NEAR = saved
    result: dict[str, Any] = {
        "parties": m,
        "features": d,
        "key_bits": args.key_bits,
        "insecure_small_key": args.insecure,
        "k_w": k_w,
        "k_back": k_back,
        "forward_elements": m * d,
        "back_elements": (m + 1) * d,
        "E_ms": round(key[2] * 1e3, 3),
        "commit": git_commit(("protocols", "sims")),
        "load_average_before": [round(x, 1) for x in load_before],
        "load_average_after": [round(x, 1) for x in os.getloadavg()],
        "runs": runs,
    }
    result.update(machine_info())
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n")
    return result


def render(result: dict[str, Any]) -> str:
    lines = [
        f"m = {result['parties']}, d = {result['features']}, {result['key_bits']}-bit key, "
        f"E = {result['E_ms']} ms, commit {result['commit']}, load "
        f"{result['load_average_before']} -> {result['load_average_after']}"
    ]
    for run_label, phases in result["runs"].items():
        lines.append(f"\n== {run_label}")
        lines += _render_phases(phases)
    return "\n".join(lines)


def _render_phases(phases: dict[str, dict[str, Any]]) -> list[str]:
    lines = []
    for label, ph in phases.items():
        lines.append(
            f"\n{label}: {ph['E_per_party']} E per party, {ph['E_per_element']} E per element "
            f"({ph['elements']} elements)"
        )
        for step, row in ph["steps"].items():
            extra = f"  calls {row.get('calls_per_party', '')}"
            if row.get("items_per_party"):
                extra += f"  items {row['items_per_party']}"
            lines.append(
                f"  {step:36s} {row['E_per_party']:9.1f} E {row['E_per_element']:7.2f} E/el{extra}"
            )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    print(render(run(parser.parse_args())))


if __name__ == "__main__":
    main()
