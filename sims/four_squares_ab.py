"""Before/after of the four-square search on one party's statements of a Helen iteration.

Which values one party decomposes per iteration at ``bench helen``'s shape (``--parties``,
``--features``, 1 000 rows, the synthetic data's bounds), from the same scales and budgets
Helen uses: in ``coordinate`` Gadget 3's value masks r (k_w + kappa bits) and MAC masks s
(k_w + |alpha| + kappa bits) for m d values, and the published shares b, c in [0, P) for m d
values forward and (m + 1) d back; in ``verify`` Gadget 4's masks r, r' for all of them. Each
value is a uniform honest one of its interval; the prover splits B^2 - x'^2 once for all its
verifiers (``ranges.prove_groups``). The two searches (``range_squares.QUICK_CANDIDATES``)
alternate over ``--rounds`` rounds in this process, the order swapped every round, with E (one
full 2048-bit r^N mod N^2) measured in every round, so load drift hits both alike.

Run: ``python -m coopetition.sims.four_squares_ab [--parties 4 --features 20 --rounds 4]``;
``--out PATH`` writes the JSON (nothing is written without it).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import time
from pathlib import Path
from typing import Any

from coopetition.protocols.spdz import field as F
from coopetition.protocols.spdz.conversion import ALPHA_BITS
from coopetition.protocols.spdz.gadgets import gadget4_budget
from coopetition.protocols.spdz.online import DEFAULT_KAPPA
from coopetition.protocols.zk import range_squares
from coopetition.sims.bench_helen import e_seconds_at, synthetic
from coopetition.sims.benchkit import git_commit, random_modulus
from coopetition.sims.helen_phase_profile import profile_config


def widths(parties: int, features: int, rows: int = 1000) -> dict[str, list[int]]:
    """The interval highs one party range-proves per iteration, by phase (module docstring)."""
    parts, _ = synthetic(parties, features, rows, seed=0)
    config = profile_config(parts, 1)
    scales = config.scales(features, rows, parties)
    m, d, kappa = parties, features, DEFAULT_KAPPA
    alpha_bits = ALPHA_BITS + m.bit_length()
    share = F.P - 1
    forward, back = m * d, (m + 1) * d
    coordinate = [(1 << (scales.k_w + kappa)) - 1] * forward
    coordinate += [(1 << (scales.k_w + alpha_bits + kappa)) - 1] * forward
    coordinate += [share] * (2 * forward + 2 * back)
    budget = gadget4_budget(scales.k_w, m, kappa)
    verify = [(1 << budget.r_bits) - 1, (1 << budget.rm_bits) - 1]  # one random combination
    return {"coordinate": coordinate, "verify": verify}


def gaps(highs: list[int]) -> list[int]:
    """B^2 - x'^2 for a uniform honest value of each [0, high]."""
    out = []
    for high in highs:
        centred = 2 * secrets.randbelow(high + 1) - high
        out.append(high * high - centred * centred)
    return out


def _timed(values: list[int], quick: bool) -> float:
    saved = range_squares.QUICK_CANDIDATES
    range_squares.QUICK_CANDIDATES = quick
    try:
        start = time.process_time()
        for n in values:
            range_squares.four_squares(n)
        return time.process_time() - start
    finally:
        range_squares.QUICK_CANDIDATES = saved


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parties", type=int, default=4)
    parser.add_argument("--features", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    key = random_modulus(2048)
    load_before = os.getloadavg()
    phases = {name: gaps(highs) for name, highs in widths(args.parties, args.features).items()}
    seconds: dict[str, dict[str, list[float]]] = {p: {"before": [], "after": []} for p in phases}
    es: list[float] = []
    for rnd in range(args.rounds):
        es.append(e_seconds_at(key, reps=10))
        for arm in ("before", "after") if rnd % 2 == 0 else ("after", "before"):
            for name, values in phases.items():
                seconds[name][arm].append(_timed(values, quick=arm == "after"))
    e = sum(es) / len(es)
    result: dict[str, Any] = {
        "commit": git_commit(("protocols", "sims")),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "parties": args.parties,
        "features": args.features,
        "E_seconds_per_round": es,
        "statements": {name: len(values) for name, values in phases.items()},
        "cpu_seconds": seconds,
        "E_per_party_iteration": {
            name: {arm: round(sum(v) / len(v) / e, 1) for arm, v in arms.items()}
            for name, arms in seconds.items()
        },
    }
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1) + "\n")
    return result


if __name__ == "__main__":
    print(json.dumps(main(), indent=1))
