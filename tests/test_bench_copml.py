"""The COPML benchmark's measured-iterations mode: per-iteration virtual times and the labelled
extrapolation to 50 iterations (checked against hand-computed figures)."""

from __future__ import annotations

import argparse
from types import SimpleNamespace

import pytest

from coopetition.sims import bench_copml, copml_progress


class _FakeResult:
    virtual_seconds = 100.0

    def per_phase(self) -> dict[str, dict[str, float]]:
        return {
            "copml-encode": {"compute_seconds": 50.0, "network_seconds": 50.0},
            "copml-model": {"compute_seconds": 1.0, "network_seconds": 9.0},
            "copml-update": {"compute_seconds": 1.0, "network_seconds": 1.0},
        }


def test_iteration_times_run_from_start_to_start_and_end_at_the_release():
    progress = SimpleNamespace(iteration_starts=[30.0, 170.0, 172.5], training_end=175.5)
    times = copml_progress.iteration_times(progress)  # type: ignore[arg-type]
    assert times == {"setup_virtual_s": 30.0, "iteration_virtual_s": [140.0, 2.5, 3.0]}
    assert copml_progress.iteration_times(None) == {}


def test_extrapolation_leaves_out_the_first_iteration():
    # the first iteration waited 140 s for the setup's uploads; the steady ones cost 2.5 and 3
    out = bench_copml._extrapolate(_FakeResult(), [140.0, 2.5, 3.0], 3)
    assert out["extrapolated_iterations"] == 47
    assert out["total_s_extrapolated"] == pytest.approx(100.0 + 47 * 2.75, abs=0.1)
    assert "2..3" in out["extrapolation_basis"]


def test_extrapolation_from_one_iteration_uses_the_phase_maxima():
    out = bench_copml._extrapolate(_FakeResult(), [140.0], 1)
    # iteration phases only (model, update): 10 + 2 virtual s per iteration, 49 more
    assert out["total_s_extrapolated"] == pytest.approx(100.0 + 49 * 12.0)
    assert "pessimistic" in out["extrapolation_basis"]


@pytest.mark.parametrize("k", [0, 50, 51])
def test_measure_iterations_out_of_range_is_refused(k):
    parser = argparse.ArgumentParser()
    bench_copml.add_arguments(parser)
    args = parser.parse_args(["--measure-iterations", str(k)])
    with pytest.raises(ValueError, match="--measure-iterations"):
        bench_copml.run(args)


@pytest.mark.long  # full-width CIFAR (d = 3073) through the simulator: minutes on 2 cores
def test_measured_iterations_mode_labels_its_figures(tmp_path):
    parser = argparse.ArgumentParser()
    bench_copml.add_arguments(parser)
    argv = ["--parties", "9", "--measure-iterations", "2", "--rows", "90", "--cases", "case1"]
    result = bench_copml.run(parser.parse_args([*argv, "--out", str(tmp_path / "b.json")]))
    assert result["case1_outcome"] == "completed"
    assert len(result["case1_iteration_virtual_s"]) == 2
    assert result["case1_total_s_extrapolated"] > result["case1_total_s"]
    assert result["accuracy"] == result["fixed_point_accuracy_all_rows_50_iterations"]
    assert "fixed-point" in result["accuracy_source"]
    assert "extrapolated" in result["mode"]
