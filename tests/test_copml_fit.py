"""The per-product baselines' extrapolation rule (sims.copml_fit), checked against hand-computed
figures: 50-iteration components from per-phase maxima, the least-squares line in rows, bad
input refused."""

from __future__ import annotations

import argparse

import pytest

from coopetition.engine.errors import ConfigError
from coopetition.sims import bench_copml, copml_fit

PHASES = {
    "mpc-input": {"compute_seconds": 2.0, "network_seconds": 3.0},
    "mpc-gradient": {"compute_seconds": 4.0, "network_seconds": 10.0},
    "mpc-update": {"compute_seconds": 0.5, "network_seconds": 1.0},
    "mpc-release": {"compute_seconds": 0.25, "network_seconds": 0.75},
}


def test_components_scale_only_the_training_phases_to_fifty_iterations():
    out = copml_fit.components_at_50(PHASES, 2)  # 2 measured iterations: x25
    assert out["comp_s"] == pytest.approx(4.0 * 25)
    assert out["comm_s"] == pytest.approx(3.0 + 0.75 + (10.0 + 1.0) * 25)
    assert out["encdec_s"] == pytest.approx(2.0 + 0.25 + 0.5 * 25)


def test_linear_fit_recovers_a_line_and_reports_residuals_beyond_two_points():
    fit = copml_fit.linear_fit([50, 100], [7.0, 12.0], 9019)
    assert fit["a"] == pytest.approx(2.0) and fit["b_per_row"] == pytest.approx(0.1)
    assert fit["value"] == pytest.approx(2.0 + 0.1 * 9019)
    assert "max_relative_residual" not in fit
    bent = copml_fit.linear_fit([50, 100, 150], [7.0, 12.0, 20.0], 9019)
    assert bent["max_relative_residual"] > 0.01


def test_fit_case_fits_every_component_from_the_runs_it_asks_for():
    asked = []

    def run_at(rows: int) -> dict:
        asked.append(rows)
        k = rows / 50  # every phase costs in proportion to the rows
        phases = {n: {key: v * k for key, v in s.items()} for n, s in PHASES.items()}
        return {
            "outcome": "completed",
            "iterations": 2,
            "phases": phases,
            "total_s_extrapolated": 100.0 * k + 5.0,
            "extrapolated_iterations": 48,
        }

    out = copml_fit.fit_case("bgw-per-product", [50, 100], 9019, run_at)
    assert asked == [50, 100]
    assert out["total_s_extrapolated"] == pytest.approx(100.0 * 9019 / 50 + 5.0, abs=0.1)
    assert out["comp_s_extrapolated"] == pytest.approx(100.0 * 9019 / 50, abs=0.1)
    assert out["comp_s_fit"]["a"] == pytest.approx(0.0, abs=1e-6)
    assert "least squares" in out["fit_rule"] and out["by_rows"]["100"]["iterations"] == 2


def test_fit_case_refuses_runs_without_measured_iterations():
    def run_at(rows: int) -> dict:
        return {"outcome": "completed", "iterations": 50, "phases": PHASES}

    with pytest.raises(ConfigError, match="--measure-iterations"):
        copml_fit.fit_case("bgw-per-product", [50, 100], 9019, run_at)


@pytest.mark.parametrize("text", ["100", "100,100", "0,50", "a,b"])
def test_bad_fit_rows_are_refused(text):
    with pytest.raises(ConfigError, match="--fit-rows"):
        copml_fit.parse_rows(text)


@pytest.mark.parametrize(
    "extra",
    [["--fit-rows", "5,100"], ["--fit-rows", "50,100000"], ["--fit-rows", "100,125"], []],
    ids=["fewer-rows-than-parties", "more-rows-than-data", "uneven-split", "no-iterations"],
)
def test_per_product_cases_refuse_bad_settings_before_running(extra):
    parser = argparse.ArgumentParser()
    bench_copml.add_arguments(parser)
    argv = ["--cases", "bgw-per-product", "--no-full-accuracy", *extra]
    if extra:
        argv += ["--measure-iterations", "2"]
    with pytest.raises(ConfigError, match=r"--fit-rows|--measure-iterations"):
        bench_copml.run(parser.parse_args(argv))


@pytest.mark.long  # full-width CIFAR (d = 3073): each product share is a (rows/3 x 3073) matrix
def test_bench_runs_a_per_product_case_at_two_row_counts(tmp_path):
    parser = argparse.ArgumentParser()
    bench_copml.add_arguments(parser)
    argv = ["--parties", "9", "--measure-iterations", "2", "--cases", "bgw-per-product"]
    argv += ["--fit-rows", "18,36", "--no-full-accuracy", "--out", str(tmp_path / "b.json")]
    result = bench_copml.run(parser.parse_args(argv))
    assert set(result["bgw-per-product_by_rows"]) == {"18", "36"}
    by = result["bgw-per-product_by_rows"]
    # 18 more rows: each group (3 members, T = 1) holds 6 more rows; per iteration 2T+1 = 3
    # members reshare 2 x 6 x 3073 more products to 2 others, and the input shares 18 more
    # rows with 2 others (8-byte elements; the number of frames is the same)
    extra = 2 * 3 * 3 * 2 * (2 * 6 * 3073 * 8) + 18 * 3073 * 8 * 2
    grown = by["36"]["link_bytes"] - by["18"]["link_bytes"]
    assert abs(grown - extra) < 0.03 * extra, (grown, extra)
    assert result["bgw-per-product_total_s_extrapolated"] > by["36"]["total_s_at_50_iterations"]


def _never_run(monkeypatch) -> list[str]:
    """Replace the bench's case runner: a test that reaches it has let a bad setting through."""
    ran: list[str] = []

    def one_case(name, *rest):
        ran.append(name)
        raise AssertionError(f"{name} ran; the bad setting should have been refused first")

    monkeypatch.setattr(bench_copml, "_one_case", one_case)
    return ran


def test_one_measured_iteration_is_refused_for_the_per_product_fit(monkeypatch):
    """The rule (and --help) say K >= 2: with K = 1 the total would come from the per-phase
    maxima, not from 'iterations 2..K' as the JSON's fit_rule states."""
    ran = _never_run(monkeypatch)
    parser = argparse.ArgumentParser()
    bench_copml.add_arguments(parser)
    argv = ["--cases", "bgw-per-product", "--no-full-accuracy", "--measure-iterations", "1"]
    with pytest.raises(ConfigError, match="--measure-iterations"):
        bench_copml.run(parser.parse_args(argv))
    assert ran == []


def test_fit_case_refuses_a_single_measured_iteration():
    def run_at(rows: int) -> dict:
        return {
            "outcome": "completed",
            "iterations": 1,
            "phases": PHASES,
            "total_s_extrapolated": 10.0,
            "extrapolated_iterations": 49,
        }

    with pytest.raises(ConfigError, match="--measure-iterations"):
        copml_fit.fit_case("bgw-per-product", [50, 100], 9019, run_at)


def test_bad_fit_rows_are_refused_before_the_cases_listed_first(monkeypatch):
    """A full-size case listed before the per-product one takes hours: the per-product
    settings must be checked before anything runs."""
    ran = _never_run(monkeypatch)
    parser = argparse.ArgumentParser()
    bench_copml.add_arguments(parser)
    argv = ["--cases", "bgw,bgw-per-product", "--no-full-accuracy", "--measure-iterations", "2"]
    with pytest.raises(ConfigError, match="--fit-rows"):
        bench_copml.run(parser.parse_args([*argv, "--fit-rows", "100,125"]))
    assert ran == []


def test_the_json_says_at_top_level_that_per_product_rows_are_fitted(monkeypatch):
    """The top-level ``rows`` is the full count; a reader of the JSON must learn from ``mode``
    that the per-product cases ran at the --fit-rows counts and were fitted to it."""
    monkeypatch.setattr(bench_copml, "_fitted_case", lambda *a: {"total_s_extrapolated": 1.0})
    monkeypatch.setattr(bench_copml, "_plaintext_accuracy", lambda *a: 0.5)
    parser = argparse.ArgumentParser()
    bench_copml.add_arguments(parser)
    argv = ["--cases", "bh08-per-product", "--no-full-accuracy", "--measure-iterations", "2"]
    result = bench_copml.run(parser.parse_args([*argv, "--parties", "10", "--fit-rows", "20,40"]))
    assert "--fit-rows" in result["mode"] and "fit_rule" in result["mode"], result["mode"]
