"""Smoke test of ``coopetition bench spdz`` with a small INSECURE key (no file is written)."""

from __future__ import annotations

import argparse

from coopetition.sims import bench_spdz


def test_bench_spdz_smoke(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    parser = argparse.ArgumentParser()
    bench_spdz.add_arguments(parser)
    args = parser.parse_args(
        [
            "--insecure-bits",
            "1280",
            "--triples",
            "1",
            "--parties-list",
            "2",
            "--online-mults",
            "8",
            "--comparisons",
            "2",
            "--interval-repetitions",
            "16",
            "--bits-count",
            "1",
        ]
    )
    result = bench_spdz.run(args)
    assert result["insecure_small_key"] is True
    assert result["offline.m2.triples.per_s"] > 0
    assert result["offline.m2.triples.bytes_per_triple"] > 10_000  # ciphertexts and proofs travel
    assert result["online.m2.mults_per_s"] > 0 and result["online.m2.comparisons_per_s"] > 0
    assert result["online.m2.triples_per_comparison"] == 62
    assert "written_to" not in result and not (tmp_path / "results").exists()


def test_bench_refuses_weak_proofs_with_a_real_key():
    parser = argparse.ArgumentParser()
    bench_spdz.add_arguments(parser)
    args = parser.parse_args(["--interval-repetitions", "16"])
    try:
        bench_spdz.run(args)
    except ValueError as exc:
        assert "insecure" in str(exc)
    else:
        raise AssertionError("a real-key benchmark must refuse weakened interval proofs")
