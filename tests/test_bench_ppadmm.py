"""``coopetition bench ppadmm``: a tiny run has the papers' shapes and writes only under --out."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from coopetition.main import main


def test_tiny_bench_shapes_and_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "ppadmm"
    args = ["bench", "ppadmm", "--json", "--rows", "60", "--iterations", "4"]
    assert main([*args, "--epsilons", "0.1,10", "--out", str(out)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["ppadmm.max_abs_diff_vs_admm"] < 1e-8  # PPADMM = ADMM (Fig. 3, 4)
    assert result["dssgd.eps0.1.final_rmse"] > 5 * 20  # far above the noise (Fig. 3)
    assert result["dssgd.eps0.1.final_rmse"] > result["dssgd.eps10.final_rmse"]
    for name in ("fig3_rmse", "fig4_mped", "fig5_time"):
        assert (out / f"ppadmm_{name}.png").stat().st_size > 1000
    with (out / "ppadmm_curves.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert {r["algorithm"] for r in rows} == {"ADMM", "PPADMM", "PPADMM-precomputed", "DSSGD"}
    assert len(rows) == 4 * (3 + 2)
    assert json.loads((out / "bench_ppadmm.json").read_text())["git_commit"]


def test_bad_epsilon_fails_before_training(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["bench", "ppadmm", "--epsilons", "0", "--out", str(tmp_path / "x")]) == 2
    assert "epsilon must be a positive number" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
