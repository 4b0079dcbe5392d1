"""The conversion profile (issue 15): exclusive step times add up, and the patches come off.

An INSECURE 1024-bit key and 512-bit ring-Pedersen moduli, m = 2, d = 1 (a few CPU seconds).
"""

from __future__ import annotations

import argparse
import time

from coopetition.protocols.zk import range_proof, range_squares
from coopetition.sims import conversion_profile as cp


def test_nested_time_is_charged_once() -> None:
    prof = cp.Profile()

    def inner() -> None:
        end = time.process_time() + 0.02
        while time.process_time() < end:
            pass

    wrapped_inner = prof.wrap("inner", inner)

    def outer() -> None:
        wrapped_inner()

    prof.wrap("outer", outer)()
    assert prof.seconds["inner"] >= 0.02
    assert prof.seconds["outer"] < prof.seconds["inner"]  # the inner 20 ms are not in outer
    assert prof.calls == {"inner": 1, "outer": 1}


def test_profile_runs_and_restores_the_code() -> None:
    verify_before = range_proof.verify
    args = argparse.Namespace(
        parties=2, features=1, key_bits=1024, insecure=True, compare_squares=True, out=None
    )
    result = cp.run(args)
    assert range_proof.verify is verify_before and range_squares.SECOND_NEAR is True
    assert set(result["runs"]) == {"before: second root uniform", "after: second root near"}
    for phases in result["runs"].values():
        coordinate = phases["coordinate (Paillier side)"]
        verify = phases["verify"]
        assert coordinate["elements"] == verify["elements"] == 2 * 1 + 3 * 1
        for phase in (coordinate, verify):
            steps = phase["steps"]
            total = sum(row["E_per_party"] for row in steps.values())
            assert abs(total - phase["E_per_party"]) <= 0.1 * len(steps) + 1e-9
        assert coordinate["steps"]["range proof made (per verifier)"]["E_per_party"] > 0
        # forward: the masks r, s for 2 values; nothing published either way (it was r, s, b, c
        # forward and b, c back: 2 * 4 + 3 * 2; docs/crypto.md, "Gadget 3 without published
        # shares")
        made = coordinate["steps"]["range proof made (per verifier)"]
        assert made["items_per_party"] == 2 * 2
        # the end check proves nothing (Gadget 4 made one mask per test: 2)
        none: dict[str, float] = {}
        assert (
            verify["steps"].get("range proof made (per verifier)", none).get("items_per_party", 0)
            == 0
        )
    assert "E per element" in cp.render(result)
