"""The input profile's tools run, their shares add up and their counts show the levers.

INSECURE 512-bit keys, d = 2 and 3: seconds, not minutes.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import pytest

from coopetition.sims import input_profile, input_threads

SQUARES = "range: four-square decompositions"


def _args(module: Any, argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    module.add_arguments(parser)
    return parser.parse_args(argv)


def test_profile_shares_add_up_and_the_before_run_decomposes_per_verifier(tmp_path, capsys):
    out = tmp_path / "profile.json"
    argv = ["--features", "2,3", "--parties", "3", "--verifiers", "2", "--rows", "20"]
    argv += ["--key-bits", "512", "--ring-bits", "512", "--compare", "--out", str(out)]
    result = input_profile.run(_args(input_profile, argv))
    assert json.loads(out.read_text())["points"][1]["d"] == 3
    for point in result["points"]:
        values = 4 * point["d"] ** 2 + 6 * point["d"]
        assert point["range_values"] == values
        for stage in ("prove", "verify", "prove before", "verify before"):
            shares = sum(point[stage]["components"].values())
            assert abs(shares - point[stage]["cpu_seconds"]) < 0.05 + 0.05 * shares
        # the lever's count: one decomposition per value, not one per value and verifier
        assert point["prove"]["calls"][SQUARES] == values
        assert point["prove before"]["calls"][SQUARES] == 2 * values
        assert point["prove"]["counts"]["fixed-base table powers"] > 20 * values
        assert point["prove before/after"] > 0 and point["verify before/after"] > 0
    assert "exponents" in capsys.readouterr().out


def test_profile_refuses_production_sizes_without_the_cost_only_flag():
    with pytest.raises(SystemExit, match="cost-only"):
        input_profile.run(_args(input_profile, ["--key-bits", "2048"]))
    with pytest.raises(SystemExit, match="verifiers"):
        input_profile.run(_args(input_profile, ["--verifiers", "4", "--parties", "4"]))


def test_threads_tool_reports_three_ways(tmp_path):
    out = tmp_path / "threads.json"
    argv = ["--features", "2", "--parties", "2", "--rows", "20", "--key-bits", "512"]
    result = input_threads.run(
        _args(input_threads, [*argv, "--ring-bits", "512", "--out", str(out)])
    )
    ways = result["ways"]
    assert list(ways) == list(input_threads.WAYS)
    assert ways["sequential"]["cpu_ratio_to_sequential"] == 1.0
    assert all(w["cpu_seconds"] > 0 for w in ways.values())
    assert json.loads(out.read_text())["ways"].keys() == ways.keys()
