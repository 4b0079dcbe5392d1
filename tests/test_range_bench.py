"""Smoke test of ``coopetition bench range`` on INSECURE small moduli: it runs, reports costs in
E for the range proof and its peer (the interval proof), and writes nothing without --out."""

from __future__ import annotations

import argparse
import json

import pytest

from coopetition.sims import bench_range


def _args(*extra: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    bench_range.add_arguments(parser)
    return parser.parse_args(
        ["--insecure-bits", "512", "--batches", "1,3", "--rounds", "1", *extra]
    )


def test_bench_range_smoke(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = bench_range.run(_args("--input-d", "2"))
    assert not any(tmp_path.iterdir())  # nothing written without --out
    for key in (
        "range.batch3.prove_E_per_value",
        "range.batch3.verify_E_per_value",
        "interval.prove_E_per_value",
        "interval.verify_batch8_E_per_value",
        "ratio.interval_over_range_batch3.prove",
    ):
        assert result[key] > 0
    assert result["insecure_small_key"] is True and result["slack.range_bits"] == 0
    assert result["input_prep.range_values"] == 4 * 4 + 7 * 2 and result["input_prep.prove_E"] > 0
    out = tmp_path / "r.json"
    bench_range.run(_args("--out", str(out)))
    assert json.loads(out.read_text())["bits"] == 512


def test_bench_range_refuses_small_moduli_without_the_flag():
    parser = argparse.ArgumentParser()
    bench_range.add_arguments(parser)
    with pytest.raises(ValueError, match="insecure"):
        bench_range.run(parser.parse_args(["--bits", "1024"]))
