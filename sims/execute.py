"""Run a loaded :class:`~coopetition.sims.scenario.Scenario` and check its ``[expect]`` section."""

from __future__ import annotations

from typing import Any

import trio
import trio.testing

from coopetition.engine.errors import ConfigError
from coopetition.sims.baseline_workloads import BASELINE_PROTOCOLS, baseline_factory
from coopetition.sims.runner import SimResult, run_parties, size_cost_model
from coopetition.sims.scenario import Scenario
from coopetition.sims.workloads import dkg_workload, synthetic_admm


def workload_of(scenario: Scenario) -> Any:
    p, d = scenario.protocol, scenario.data
    if p.get("name") == "dkg":
        return dkg_workload(
            scenario.parties,
            bits=int(p.get("bits", 2048)),
            batch=int(p.get("batch", 256)),
            insecure_allow_small=bool(p.get("insecure_allow_small", False)),
            seed=scenario.seed,
        )
    if p.get("name") == "helen":
        from coopetition.sims.helen_work import synthetic_helen

        if scenario.compute["mode"] != "measured":
            raise ConfigError(
                '[compute] Helen\'s proofs are charged as measured CPU time: set mode = "measured"'
            )
        return synthetic_helen(scenario.parties, p, d, scenario.seed)
    if p.get("name") == "copml":
        from coopetition.sims.copml_work import synthetic_copml

        return synthetic_copml(
            scenario.parties,
            preset=str(p.get("preset", "case1")),
            iterations=int(p.get("iterations", 10)),
            rows_per_party=int(d.get("rows_per_party", 50)),
            features=int(d.get("features", 8)),
            seed=scenario.seed,
        )
    return synthetic_admm(
        scenario.parties,
        rows_per_party=int(d.get("rows_per_party", 50)),
        features=int(d.get("features", 8)),
        noise=float(d.get("noise", 0.1)),
        objective=str(p.get("objective", "lasso")),
        lam=float(p.get("lam", 1.0)),
        l1_ratio=float(p.get("l1_ratio", 0.5)),
        rho=float(p.get("rho", 1.0)),
        iterations=int(p.get("iterations", 10)),
        seed=scenario.seed,
    )


async def run_scenario(scenario: Scenario, *, logger: Any = None) -> SimResult:
    """Inside a trio run (virtual time if its clock is an autojump ``MockClock``)."""
    compute = scenario.compute
    cost_model = None
    if compute["mode"] == "model":
        cost_model = size_cost_model(
            float(compute.get("seconds_per_element", 2e-9)),
            float(compute.get("base_seconds", 1e-5)),
            compute.get("per_operation"),
        )
    if scenario.protocol.get("name") in BASELINE_PROTOCOLS:
        factory = baseline_factory(
            scenario.protocol, scenario.data, scenario.parties, scenario.seed
        )
    else:
        factory = workload_of(scenario).factory()
    return await run_parties(
        factory,
        range(scenario.parties),
        network=scenario.topology,
        seed=scenario.seed,
        link_faults=scenario.link_faults,
        crashes=scenario.crashes,
        byzantine=scenario.byzantine,
        deadlines=scenario.deadlines,
        cost_model=cost_model,
        reliable_options=scenario.reliable,
        logger=logger,
    )


def simulate_scenario(scenario: Scenario, *, logger: Any = None) -> SimResult:
    """A fresh trio run on the autojump virtual clock: a discrete-event simulation."""

    async def main() -> SimResult:
        return await run_scenario(scenario, logger=logger)

    return trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))


def unmet_expectations(scenario: Scenario, result: SimResult) -> list[str]:
    """Differences between ``[expect]`` and what happened (empty when met or not given)."""
    problems = []
    exp = scenario.expect
    if "outcome" in exp and result.outcome != exp["outcome"]:
        problems.append(f"outcome {result.outcome!r}, expected {exp['outcome']!r}")
    if "abort_code" in exp:
        allowed = exp["abort_code"] if isinstance(exp["abort_code"], list) else [exp["abort_code"]]
        if result.abort_code not in allowed:
            problems.append(f"abort code {result.abort_code!r}, expected one of {allowed}")
    if "culprit" in exp and result.culprit != exp["culprit"]:
        problems.append(f"culprit {result.culprit!r}, expected {exp['culprit']!r}")
    return problems
