"""Smoke test of ``coopetition bench paillier`` with a small insecure key (no numbers asserted
beyond sanity: speed is the benchmark's business, not CI's)."""

import argparse
import json

import pytest

from coopetition.sims import bench_paillier


def test_bench_smoke(tmp_path):
    parser = argparse.ArgumentParser()
    bench_paillier.add_arguments(parser)
    out = tmp_path / "bench.json"
    args = parser.parse_args(
        [
            "--insecure-bits",
            "512",
            "--seconds",
            "0.02",
            "--wide-window",
            "10",
            "--parties",
            "3",
            "--decrypt-batch",
            "2",
            "--out",
            str(out),
        ]
    )
    result = bench_paillier.run(args)
    assert result["insecure_small_key"] is True and result["bits"] == 512
    for op in ("encrypt", "decrypt", "add", "scalar_multiply"):
        assert result[f"rate_per_s.{op}.phe"] > 0
    assert result["modexp_per_op.encrypt.ours_djn_1core"] == {"fixed_base": 1.0}
    assert result["modexp_per_op.encrypt.ours_pool_online"] == {}
    assert result["modexp_per_op.decrypt.ours_private_key"] == {"powmod_crt": 2.0}
    assert result["modexp_per_op.add.ours"] == {}
    assert result["modexp_per_op.scalar_multiply.ours"] == {"powmod_short": 1.0}
    # phe on all cores: the like-for-like peer of our all-cores rate (issue 5)
    assert result["rate_per_s.encrypt.phe_all_cores"] > 0
    like_for_like = (
        result["rate_per_s.encrypt.ours_djn_all_cores"] / result["rate_per_s.encrypt.phe_all_cores"]
    )
    assert result["ratio_vs_phe.encrypt_all_cores_vs_phe_all_cores"] == pytest.approx(
        like_for_like, rel=0.02, abs=0.01
    )
    assert "encrypt_all_cores_vs_phe_one_process" in result["ratio_definition"]
    written = json.loads(out.read_text())
    assert written["ratio_vs_phe.encrypt_1core"] == result["ratio_vs_phe.encrypt_1core"]


def test_bench_without_out_writes_nothing_for_insecure_keys(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    parser = argparse.ArgumentParser()
    bench_paillier.add_arguments(parser)
    args = parser.parse_args(
        ["--insecure-bits", "512", "--seconds", "0.01", "--parties", "2", "--decrypt-batch", "1"]
    )
    result = bench_paillier.run(args)
    assert "written_to" not in result
    assert not (tmp_path / "results").exists()
