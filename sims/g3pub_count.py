"""What dropping Gadget 3's per-value published shares saves, counted (no timing).

Counts, per party, the range-proved values and the range proofs a party makes and checks in one
Helen coordination (Gadget 3 both ways), and what Gadget 4 cost once per run, before and after
the change of docs/crypto.md, "Gadget 3 without published shares". The counts follow from the
run's public shape alone (``coordinate_phase.expected_sizes``: m d values forward, (m + 1) d
back), so nothing cryptographic runs. A range proof covers all values of one exchange and goes
to every other party (one proof for all of them under the dealer's common ring-Pedersen
modulus, ``--common-ring``). Used as ``python -m coopetition.sims.g3pub_count``.
"""

from __future__ import annotations

import argparse
import json
from typing import Any


def counts(m: int, d: int, iterations: int, common_ring: bool) -> dict[str, Any]:
    forward, back = m * d, (m + 1) * d
    per_exchange = 1 if common_ring else m - 1  # proofs a prover makes per exchange
    checked = m - 1  # other provers whose proof a verifier checks per exchange

    def side(values: int, exchanges: int) -> dict[str, int]:
        return {
            "range_proved_values_made": values,
            "range_proofs_made": exchanges * per_exchange,
            "range_proofs_checked": exchanges * checked,
            "statements_checked": values * checked,
        }

    before = {
        # masks r, s (Gadget 3 forward), shares b, c forward, shares b, c back: three exchanges
        "coordinate_per_iteration": side(2 * forward + 2 * forward + 2 * back, 3),
        # two masks, three joint decryptions (value test, alpha, MAC test)
        "verify_per_run": {**side(2, 1), "joint_decryptions": 3},
    }
    after = {
        "coordinate_per_iteration": side(2 * forward, 1),
        "verify_per_run": {**side(0, 0), "joint_decryptions": 0},
    }
    b, a = before["coordinate_per_iteration"], after["coordinate_per_iteration"]
    return {
        "shape": {
            "parties": m,
            "features": d,
            "iterations": iterations,
            "common_ring": common_ring,
        },
        "before": before,
        "after": after,
        "coordinate_range_proved_values_saved_per_iteration": b["range_proved_values_made"]
        - a["range_proved_values_made"],
        "coordinate_range_proved_values_kept_fraction": round(
            a["range_proved_values_made"] / b["range_proved_values_made"], 3
        ),
        "run_range_proved_values_saved": iterations
        * (b["range_proved_values_made"] - a["range_proved_values_made"])
        + 2,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parties", type=int, default=4)
    parser.add_argument("--features", type=int, default=11)
    parser.add_argument("--iterations", type=int, default=3)
    parser.add_argument("--common-ring", action="store_true")
    args = parser.parse_args(argv)
    print(
        json.dumps(counts(args.parties, args.features, args.iterations, args.common_ring), indent=2)
    )


if __name__ == "__main__":
    main()
