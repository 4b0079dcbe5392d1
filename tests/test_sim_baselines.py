"""The baselines in ``coopetition sim``: scenarios run in virtual time; bad targets fail at load."""

from __future__ import annotations

from pathlib import Path

import pytest

from coopetition.engine.errors import ConfigError
from coopetition.sims.execute import simulate_scenario, unmet_expectations
from coopetition.sims.scenario import load, parse

SCENARIOS = Path(__file__).resolve().parent.parent / "sims" / "scenarios"


@pytest.mark.parametrize("name", ["ppadmm-s2-crash", "sgd-spdz-lan"])
def test_baseline_scenarios_meet_their_expectations(name: str) -> None:
    scenario = load(SCENARIOS / f"{name}.toml")
    result = simulate_scenario(scenario)
    assert unmet_expectations(scenario, result) == []


def _doc(protocol: dict, faults: list | None = None) -> dict:  # type: ignore[type-arg]
    return {"run": {"parties": 5}, "protocol": protocol, "faults": faults or []}


def test_faults_aimed_at_phases_a_baseline_never_runs_are_refused() -> None:
    crash = {"kind": "crash", "party": 1, "phase": "coordinate", "round": 0}
    with pytest.raises(ConfigError, match="never sends"):
        parse(_doc({"name": "ppadmm"}, [crash]))
    with pytest.raises(ConfigError, match="round 9"):
        parse(_doc({"name": "dssgd", "iterations": 3}, [{**crash, "phase": "share", "round": 9}]))


def test_bad_baseline_parameters_fail_at_load() -> None:
    with pytest.raises(ConfigError, match="epsilon"):
        parse(_doc({"name": "dssgd", "epsilon": 0.0}))
    with pytest.raises(ConfigError, match="not admm keys"):
        parse(_doc({"name": "admm", "epsilon": 1.0}))
    with pytest.raises(ConfigError, match="preprocessing"):
        parse(_doc({"name": "sgd-spdz", "preprocessing": "oracle"}))
