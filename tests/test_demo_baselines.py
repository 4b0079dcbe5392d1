"""``coopetition demo --protocol ppadmm|dssgd|sgd-spdz``: JSON fields and bad input."""

from __future__ import annotations

import json

import pytest

from coopetition.main import main


def _json(capsys: pytest.CaptureFixture[str], *args: str) -> dict:  # type: ignore[type-arg]
    assert main(["demo", "--json", *args]) == 0
    return json.loads(capsys.readouterr().out)


def test_ppadmm_demo_equals_admm(capsys: pytest.CaptureFixture[str]) -> None:
    report = _json(capsys, "--protocol", "ppadmm", "--iterations", "20", "--precompute-masks")
    assert report["protocol"] == "ppadmm" and report["bit_exact_vs_fixed_point_admm"]
    assert len(report["admm_model"]) == report["features"]
    assert report["max_abs_coef_diff_vs_admm"] < 1e-8


def test_dssgd_demo_reports_its_noise(capsys: pytest.CaptureFixture[str]) -> None:
    report = _json(capsys, "--protocol", "dssgd", "--iterations", "5", "--epsilon", "10")
    assert report["laplace_scale"] == pytest.approx(2 * 4.0 * report["features"] / 10)
    assert report["max_abs_coef_diff_vs_admm"] > 0 and "admm_model" in report


def test_sgd_spdz_demo_says_when_preprocessing_is_insecure(
    capsys: pytest.CaptureFixture[str],
) -> None:
    report = _json(
        capsys,
        "--protocol",
        "sgd-spdz",
        "--preprocessing",
        "insecure-dealer",
        "--rows-per-party",
        "3",
        "--parties",
        "2",
    )
    assert report["preprocessing"] == "insecure-dealer" and not report["preprocessing_secure"]
    assert report["rows_per_party"] == [3, 3] and "max_abs_coef_diff_vs_admm" in report


@pytest.mark.parametrize(
    "args",
    [
        ["--protocol", "dssgd", "--epsilon", "0"],
        ["--protocol", "dssgd", "--epsilon", "-1"],
        ["--protocol", "ppadmm", "--transport", "tcp"],
        ["--protocol", "sgd-spdz", "--rows-per-party", "0"],
    ],
)
def test_bad_input_is_a_one_line_error(capsys: pytest.CaptureFixture[str], args: list[str]) -> None:
    assert main(["demo", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("coopetition demo") or "error:" in err
