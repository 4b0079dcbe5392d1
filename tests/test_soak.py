"""The soak in CI: a few 4-party TCP sessions, one OS process per party (long-lived, as in the
full soak), each with a different fault from the catalogue. The 200-run soak is recorded in
results/soak.json (``python -m coopetition.sims.soak --runs 200 --out ...``; docs/faults.md).
"""

from __future__ import annotations

import random

import numpy as np
import pytest

from coopetition.sims import soak
from coopetition.sims.workloads import synthetic_admm

pytestmark = pytest.mark.processes

#: The issue's figure for CI: ten runs, rotating through the fault kinds (each at least once).
CI_RUNS = 10


def test_soak_runs_end_typed_with_the_right_model_and_no_hang() -> None:
    report = soak.soak(CI_RUNS, seed=3, hang_after=90.0, rotate=True)
    summary = report["summary"]
    assert summary["runs"] == CI_RUNS
    assert summary["hangs"] == 0
    assert summary["wrong_models"] == 0
    assert {r["fault"]["kind"] for r in report["runs"]} == set(soak.FAULTS)
    for run in report["runs"]:
        assert run["outcome"] in ("completed", "aborted"), run
        assert all(code in soak.TYPED_ABORTS for code, _ in run["abort_codes"].values()), run
        assert all(p["rss_mib"] > 0 and p["fds"] > 0 for p in run["parties"].values()), run
        if run["fault"]["kind"] == "equivocate" and run["outcome"] == "aborted":
            culprits = {c for code, c in run["abort_codes"].values() if code == "equivocation"}
            assert culprits <= {run["fault"]["params"]["party"]}, run


def test_textbook_reference_matches_a_least_squares_solve_at_convergence() -> None:
    """The soak's reference is itself checked: with no penalty, consensus ADMM converges to the
    pooled least-squares solution (numpy lstsq)."""
    work = synthetic_admm(
        4, rows_per_party=30, features=5, objective="least_squares", iterations=3000, seed=1
    )
    X, y = work.pooled()
    expected = np.linalg.lstsq(X, y, rcond=None)[0]
    np.testing.assert_allclose(soak.textbook_admm(work), expected, atol=1e-6)


def test_fault_plans_cover_the_catalogue_and_stay_valid() -> None:
    rng = random.Random(0)
    kinds = set()
    for _ in range(300):
        fault = soak.plan_fault(rng, iterations=12)
        kinds.add(fault["kind"])
        expects = soak.catalogue_expects(fault)
        assert expects in ("completes", "aborts", "either")
        if fault["kind"] == "equivocate":
            params = fault["params"]
            assert 0 <= params["round"] < 12 and params["party"] not in params["targets"]
    assert kinds == set(soak.FAULTS)


def test_summary_growth_compares_first_and_last_runs() -> None:
    def run(rss: float, fds: int) -> dict:
        return {
            "fault": {"kind": "delay"},
            "outcome": "completed",
            "catalogue_expects": "completes",
            "wrong_model": False,
            "problems": [],
            "seconds": 1.0,
            "parties": {"0": {"rss_mib": rss, "fds": fds, "threads": 2}},
        }

    runs = [run(50.0, 10)] * 20 + [run(60.0, 12)] * 20
    driver = [{"rss_mib": 30.0, "fds": 5}] * 40
    summary = soak.summarise(runs, driver)
    assert summary["rss_growth_mib"] == 10.0 and summary["fd_growth"] == 2.0
    assert summary["driver_fd_growth"] == 0.0 and summary["runs"] == 40
