"""``coopetition bench sgd-spdz`` smoke run: real (small-key) preprocessing, linear rule, no files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from coopetition.main import main
from coopetition.sims.bench_sgd_spdz import helen_minutes


@pytest.mark.long  # ~20 s of real (small-key) preprocessing; the engine path is in test_sgd_spdz
def test_smoke_run_scales_linearly_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["bench", "sgd-spdz", "--json", "--insecure-bits", "1280", "--interval-repetitions"]
    args += ["16", "--sample", "1", "--online-rows", "4", "--rows-list", "4,400", "--parties", "2"]
    args += ["--features", "2", "--out", str(tmp_path / "out")]
    assert main(args) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["insecure_small_key"] and "not_written" in result
    assert not (tmp_path / "out").exists()
    for kind in ("triple", "bit", "input_mask"):
        assert result[f"offline.{kind}.seconds_per_item"] > 0
    # secure SGD grows ~100x from 4 to 400 rows per party; Helen's projection is flat in n
    ratio = result["n400.sgd_total_s"] / result["n4.sgd_total_s"]
    assert 90 < ratio < 110
    assert result["n400.helen_projected_s"] == pytest.approx(
        result["n4.helen_projected_s"], rel=0.01
    )


def test_helen_projection_interpolates_in_d() -> None:
    assert helen_minutes(10) == (272.0, 36.0)
    assert helen_minutes(20) == pytest.approx(((272 + 834) / 2, (36 + 127) / 2))
    assert helen_minutes(200) == (2660.0, 540.0)


def test_small_key_without_the_insecure_flag_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "sgd-spdz", "--bits", "1024"]) == 2
    assert "coopetition bench sgd-spdz" in capsys.readouterr().err
