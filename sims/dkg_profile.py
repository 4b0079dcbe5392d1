"""Where the additive DKG's per-candidate CPU goes, stage by stage, all m parties in one process.

``python -m coopetition.sims.dkg_profile --bits 2048 --parties 4 --candidates 30`` runs
``--candidates`` candidates through the in-process reference (``additive_local``): sieve,
modulus, trial division, the first Boneh-Franklin base (what the networked program runs for
every survivor), and the audit replay of every candidate by every one of the m parties (what
``program_additive`` does for each audited candidate). It reports CPU seconds and E (one
2048-bit r^N mod N^2, measured in this process) per candidate and per stage, the
exponentiations counted by ``opcount``, and the per-key estimate:

    per key = expected candidates x (live + audited fraction x audit),

with the expected candidates from ``params.expected_candidates`` (prime number theorem) and
the audited fraction = P(N survives trial division) + the rest x ``--audit-fraction``.

``--lever`` re-runs the same measurement with a speed lever switched OFF, by restoring the
earlier code path's cost inside this process (same process, same E, so the ratios are fair):
without ``djn-requests`` the OLE requests are encrypted with full-length randomness r^N instead
of DJN h_s^alpha; without ``plaintext-audit`` the audit recomputes every reply ciphertext (two or
three exponentiations modulo N_i^2 each) as it did before replies were compared as plaintexts.
The fixed-base tables and the trial-division product are built before the clock starts (once
per key and process; 0.2 s per 2 140-bit key).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import gmpy2

from coopetition.protocols.paillier import opcount
from coopetition.protocols.paillier.dkg import additive, additive_audit, additive_local, derive
from coopetition.protocols.paillier.dkg.additive import AdditiveCandidate, OleKeys
from coopetition.protocols.paillier.dkg.candidate import seed_commitment
from coopetition.protocols.paillier.dkg.params import (
    DkgParams,
    expected_candidates,
    odd_primes_below,
    trial_division_product,
)
from coopetition.protocols.paillier.dkg.replay import BIPRIME_FIRST
from coopetition.protocols.paillier.encryptor import Encryptor
from coopetition.protocols.paillier.keys import PublicKey
from coopetition.sims.benchkit import random_modulus

LEVERS = ("djn-requests", "plaintext-audit")


def e_seconds(samples: int = 20) -> float:
    """CPU seconds of one 2048-bit r^N mod N^2 in this process."""
    public = random_modulus(2048)
    r = public.random_unit()
    started = time.process_time()
    for _ in range(samples):
        gmpy2.powmod(r, public.n_mpz, public.n2_mpz)
    return (time.process_time() - started) / samples


def trial_survival(params: DkgParams) -> float:
    """P(N = pq has no prime factor in (B, trial bound)) for sieved p, q (independent)."""
    survive = 1.0
    for prime in odd_primes_below(params.trial_bound):
        if prime > params.sieve_bound:
            survive *= 1 - 1 / prime
    return survive**2


@contextmanager
def levers_off(names: Sequence[str]) -> Iterator[None]:
    """Restore these levers' earlier cost for the duration of the block (see the module doc)."""
    if not names:
        yield
        return
    with lever_off(names[0]), levers_off(names[1:]):
        yield


@contextmanager
def lever_off(name: str) -> Iterator[None]:
    """Restore one lever's earlier cost for the duration of the block."""
    if name == "djn-requests":
        saved: Any = additive._enc_short

        def full(public: PublicKey, value: int, seed: bytes, label: str, table: Any = None) -> int:
            return additive._enc(public, value, seed, label)  # a table, if given, goes unused

        additive._enc_short = full
        try:
            yield
        finally:
            additive._enc_short = saved
        return
    if name != "plaintext-audit":
        raise ValueError(f"unknown lever {name!r} (one of {', '.join(LEVERS)})")
    replayed: Any = additive_audit._Replayed
    token_reply = replayed._reply

    def reply(
        self: Any, public: PublicKey, pairs: Sequence[tuple[int, int]], mask: int, label: str
    ) -> int:
        AdditiveCandidate._reply(self, public, pairs, mask, label)  # the cost being compared
        return int(token_reply(self, public, pairs, mask, label))

    replayed._reply = reply
    try:
        yield
    finally:
        replayed._reply = token_reply


def _biprimality_rows(
    parties: Sequence[AdditiveCandidate], n: int, bases: Sequence[int]
) -> list[list[int]]:
    """Every party's first Boneh-Franklin value (run for a survivor of trial division)."""
    return [c.biprimality_values(n, bases) for c in parties]


def profile(params: DkgParams, count: int, audit_fraction: float) -> dict[str, Any]:
    """CPU seconds and exponentiation counts per stage, summed over ``count`` candidates."""
    m = params.parties
    keys = [OleKeys.generate(params) for _ in range(m)]
    publics = [k.public for k in keys]
    for key in keys:  # one-off per key and process: not per-candidate work
        Encryptor(key.product.public).warm_up()
    trial_division_product(2, params.trial_bound)
    cpu: dict[str, float] = {}
    ops: dict[str, Counter[str]] = {}

    def timed(stage: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        started = time.process_time()
        with opcount.counting() as counted:
            out = fn(*args, **kwargs)
        cpu[stage] = cpu.get(stage, 0.0) + time.process_time() - started
        ops.setdefault(stage, Counter()).update(counted)
        return out

    session = b"dkg-profile"
    for index in range(count):
        seeds = [secrets.token_bytes(32) for _ in range(m)]
        wire = additive_local._Wire([additive_local.PartyView() for _ in range(m)], None)
        parties = [AdditiveCandidate(params, j, s, keys[j], publics) for j, s in enumerate(seeds)]
        timed("sieve", additive_local._sieve, parties, wire)

        n = timed("modulus", additive_local._modulus, parties, wire)
        biprimality: list[tuple[str, list[int]]] = []
        if timed("trial division", additive_local._plausible, params, n):
            bases = derive.biprimality_bases(session, 0, index, n, BIPRIME_FIRST, 1)
            rows = timed("bf first base", _biprimality_rows, parties, n, bases)
            for j, row in enumerate(rows):
                wire.send(BIPRIME_FIRST, j, None, row)
            biprimality.append((BIPRIME_FIRST, bases))
        commitments = [seed_commitment(session, 0, j, index, s) for j, s in enumerate(seeds)]
        for _ in range(m):  # every party replays every party
            timed(
                "audit (m replays)",
                additive_audit.audit_additive,
                params,
                publics,
                commitments,
                seeds,
                wire.transcript.check,
                session=session,
                batch=0,
                index=index,
                n=n,
                biprimality=biprimality,
            )
    survive = trial_survival(params)
    audited = survive + (1 - survive) * audit_fraction
    live = sum(v for k, v in cpu.items() if not k.startswith("audit")) / count
    audit = cpu.get("audit (m replays)", 0.0) / count
    per_candidate = live + audited * audit
    return {
        "candidates_profiled": count,
        "stages_cpu_s_per_candidate": {k: v / count for k, v in cpu.items()},
        "ops_per_candidate": {k: {o: n / count for o, n in v.items()} for k, v in ops.items()},
        "trial_survival": survive,
        "audited_fraction": audited,
        "cpu_s_per_candidate": per_candidate,
        "expected_candidates": expected_candidates(params),
        "cpu_s_per_key_estimate": per_candidate * expected_candidates(params),
    }


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bits", type=int, default=2048)
    parser.add_argument("--parties", type=int, default=4)
    parser.add_argument("--candidates", type=int, default=30)
    parser.add_argument("--audit-fraction", type=float, default=0.125)
    parser.add_argument("--lever", action="append", choices=LEVERS, default=[])
    args = parser.parse_args(argv)
    params = DkgParams(args.bits, args.parties, insecure_allow_small=args.bits < 2048)
    e = e_seconds()
    load = os.getloadavg()[0]
    out: dict[str, Any] = {"E_seconds": e, "load_at_start": load, "params": params.describe()}
    configs: list[tuple[str, ...]] = [(), *((lever,) for lever in args.lever)]
    if len(args.lever) > 1:
        configs.append(tuple(args.lever))
    for off in configs:
        with levers_off(off):
            result = profile(params, args.candidates, args.audit_fraction)
        label = "now" if not off else "without " + " and ".join(off)
        out[label] = result
        per = result["cpu_s_per_candidate"]
        print(
            f"{label}: {per:.3f} CPU-s = {per / e:.1f} E per candidate; "
            f"x {result['expected_candidates']:.0f} candidates = "
            f"{result['cpu_s_per_key_estimate']:.0f} CPU-s per key (E = {e * 1e3:.1f} ms)"
        )
        for stage, seconds in result["stages_cpu_s_per_candidate"].items():
            counted = {k: round(v, 2) for k, v in result["ops_per_candidate"][stage].items()}
            print(f"  {stage:18s} {seconds / e:6.1f} E  {counted}")
    out["load_at_end"] = os.getloadavg()[0]
    print(json.dumps(out, default=float))
    return out


if __name__ == "__main__":
    main()
