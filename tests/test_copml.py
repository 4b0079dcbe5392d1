"""COPML end to end in memory (virtual time): the model against an independent numpy reference,
stragglers ignored, bad input refused, wrong shares ending in a typed abort naming the sender."""

from __future__ import annotations

import numpy as np
import pytest

from coopetition.engine.errors import ConfigError, ProtocolViolation, Unavailable
from coopetition.engine.party import Deadlines
from coopetition.protocols.copml import CopmlParams, dealer_node
from coopetition.protocols.copml.approx import fit_sigmoid
from coopetition.sims.byzantine import Byzantine
from coopetition.sims.copml_work import BaselineWorkload, CopmlWorkload, split_rows
from coopetition.sims.runner import SimResult, run_parties, size_cost_model
from coopetition.transports.crash import Crash
from coopetition.transports.faults import Slow


def dataset(m: int = 126, d: int = 6, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.uniform(-0.5, 0.5, (m, d))
    X[:, -1] = 0.5  # bias column
    w_true = rng.normal(size=d) * 4
    y = (X @ w_true + rng.normal(size=m) * 0.3 > 0).astype(np.int64)
    return X, y


def numpy_gd(X: np.ndarray, y: np.ndarray, params: CopmlParams) -> np.ndarray:
    """Textbook gradient descent with the same polynomial and step, in floating point."""
    c = fit_sigmoid(params.r, params.fit_range)
    w = np.zeros(X.shape[1])
    for _ in range(params.iterations):
        g = sum(ci * (X @ w) ** i for i, ci in enumerate(c))
        w -= 2.0**-params.eta_exp * X.T @ (g - y)
    return w


PARAMS = CopmlParams(N=7, K=2, T=1, iterations=8, lx=8, lw=12, lc=6, eta_exp=5)
COST = size_cost_model(per_operation={"gradient": 0.01})


async def test_copml_matches_numpy_gradient_descent(autojump_clock):
    X, y = dataset()
    work = CopmlWorkload(PARAMS, split_rows(X, y, PARAMS.N), dealer_seed=1)
    result = await run_parties(work.factory, range(PARAMS.N), network="lan", seed=1)
    assert result.outcome == "completed", result.abort_reason
    models = [r.model for r in result.results.values()]
    assert all((m == models[0]).all() for m in models)
    reference = numpy_gd(X, y, PARAMS)
    assert np.max(np.abs(models[0] - reference)) < 0.02  # fixed-point and stochastic rounding
    # the field was chosen for the data and its statistical security is reported
    assert result.results[0].field_prime.bit_length() <= 61 and result.results[0].kappa >= 8
    agree = ((X @ models[0] > 0) == (X @ reference > 0)).mean()
    assert agree >= 0.97


async def test_degree_three_polynomial(autojump_clock):
    X, y = dataset(m=63, d=4, seed=2)
    params = CopmlParams(
        N=8, K=1, T=1, r=3, iterations=5, lx=3, lw=7, lc=5, eta_exp=4, fit_range=3.0
    )
    work = CopmlWorkload(params, split_rows(X, y, 8), dealer_seed=3)
    result = await run_parties(work.factory, range(8), network="lan", seed=2)
    assert result.outcome == "completed", result.abort_reason
    Xq = np.floor(X * 8 + 0.5) / 8  # the reference sees the same 3-bit data
    reference = numpy_gd(Xq, y, params)
    assert np.max(np.abs(result.results[0].model - reference)) < 0.1


async def test_stragglers_beyond_the_threshold_are_ignored(autojump_clock):
    """N = 9, K = 2, T = 1: R = 7, so two parties may straggle. One party computes 200x slower:
    the others decode without it, and the model is exactly the one of a run without it."""
    X, y = dataset(seed=4)
    params = CopmlParams(N=9, K=2, T=1, iterations=4, lx=8, lw=12, lc=6, eta_exp=5)
    base = CopmlWorkload(params, split_rows(X, y, 9), dealer_seed=7)
    fast = await run_parties(base.factory, range(9), network="lan", seed=3, cost_model=COST)
    slow_work = CopmlWorkload(params, split_rows(X, y, 9), dealer_seed=7)
    slow = await run_parties(
        slow_work.factory,
        range(9),
        network="lan",
        seed=3,
        cost_model=COST,
        link_faults=[Slow(party=8, compute_factor=200.0)],
    )
    assert slow.outcome == "completed", slow.abort_reason
    assert (slow.results[0].model == fast.results[0].model).all()
    assert (slow.results[8].model == fast.results[0].model).all()
    # the fast parties decoded from the others: party 8's gradient shares were never consumed
    decode0 = slow.parties[0].stats.phases["copml-decode"]
    assert decode0.messages_received <= (params.quorum - 1) * params.iterations + 1
    assert slow.parties[0].stats.phases["copml-decode"].network_wait_seconds < 1.0


KILL_PARAMS = CopmlParams(N=9, K=2, T=1, iterations=4, lx=8, lw=12, lc=6, eta_exp=5)
KILL_DEADLINES = Deadlines(phase=120.0, heartbeat_interval=1.0, heartbeat_timeout=8.0, finish=30.0)


async def _kill_run(crashes: list[Crash]) -> SimResult:
    X, y = dataset(seed=4)
    work = CopmlWorkload(KILL_PARAMS, split_rows(X, y, 9), dealer_seed=7)
    return await run_parties(
        work.factory,
        range(9),
        network="lan",
        seed=3,
        cost_model=COST,
        crashes=crashes,
        deadlines=KILL_DEADLINES,
    )


@pytest.mark.parametrize("mode", ["silent", "reset"])
async def test_killed_parties_beyond_the_threshold_leave_the_model_unchanged(autojump_clock, mode):
    """N = 9, R = 7: two parties are killed in the middle of training (one as it sends its
    gradient shares of iteration 1, one in the model phase of iteration 2; "silent" is found by
    the failure detector, "reset" by the broken connection). The seven survivors write them off,
    finish, and release exactly the model of the run without crashes."""
    clean = await _kill_run([])
    assert clean.outcome == "completed", clean.abort_reason
    crashes = [
        Crash(party=3, phase="copml-decode", round=1, mode=mode),
        Crash(party=8, phase="copml-model", round=2, mode=mode),
    ]
    killed = await _kill_run(crashes)
    assert {p for p, o in killed.parties.items() if o.crashed} == {3, 8}
    survivors = set(range(9)) - {3, 8}
    assert not killed.errors, {p: e.reason for p, e in killed.errors.items()}
    assert set(killed.results) == survivors
    for p in survivors:
        assert (killed.results[p].model == clean.results[0].model).all()


async def test_killing_more_parties_than_the_threshold_allows_is_unavailable(autojump_clock):
    """Three of nine killed when R = 7: no quorum can form; every survivor aborts with a typed
    ``Unavailable`` (no hang, no wrong model)."""
    crashes = [Crash(party=p, phase="copml-update", round=1, mode="reset") for p in (2, 5, 8)]
    result = await _kill_run(crashes)
    assert result.outcome == "aborted"
    assert not result.results
    for p in set(range(9)) - {2, 5, 8}:
        assert isinstance(result.errors[p], Unavailable), result.errors[p]


async def test_all_party_protocols_still_abort_on_a_killed_peer(autojump_clock):
    """Crash tolerance is opt-in: the MPC baseline (every step waits for its whole group) does
    not declare it, so a killed party ends the run with ``Unavailable`` naming it."""
    X, y = dataset(m=63, d=4, seed=5)
    work = BaselineWorkload(
        "bgw",
        CopmlParams(N=9, K=2, T=1, iterations=3, lx=8, lw=12, lc=6, eta_exp=5),
        split_rows(X, y, 9),
        dealer_seed=2,
    )
    result = await run_parties(
        work.factory,
        range(9),
        network="lan",
        seed=3,
        crashes=[Crash(party=4, phase="mpc-update", round=1, mode="reset")],
        deadlines=KILL_DEADLINES,
    )
    assert result.outcome == "aborted" and not result.results
    assert any(isinstance(e, Unavailable) and e.culprit == 4 for e in result.errors.values()), {
        p: e.reason for p, e in result.errors.items()
    }


def test_bad_input_is_refused_naming_the_rule():
    X, y = dataset()
    with pytest.raises(ConfigError, match="recovery threshold"):
        CopmlParams(N=6, K=2, T=1)
    with pytest.raises(ConfigError, match="labels must be 0 or 1"):
        CopmlWorkload(PARAMS, split_rows(X, y * 2, 7))
    with pytest.raises(ConfigError, match="do not fit the field"):
        CopmlWorkload(PARAMS, split_rows(X * 3, y, 7))
    with pytest.raises(ConfigError, match="do not fit the field"):
        CopmlWorkload(CopmlParams(N=7, K=2, T=1, lx=12, lw=20, lc=8), split_rows(X, y, 7))
    with pytest.raises(ConfigError, match="stragglers"):
        CopmlParams(N=7, K=2, T=1, stragglers=1)


def test_presets_at_fifty_parties():
    c1 = CopmlParams.preset("case1", 50)
    c2 = CopmlParams.preset("case2", 50)
    assert (c1.K, c1.T, c1.threshold) == (16, 1, 49)
    assert (c2.K, c2.T, c2.threshold) == (10, 7, 49)


async def test_a_tampered_opening_share_aborts_naming_the_sender(autojump_clock):
    X, y = dataset()
    work = CopmlWorkload(PARAMS, split_rows(X, y, 7), dealer_seed=1)
    result = await run_parties(
        work.factory,
        range(7),
        network="lan",
        seed=1,
        byzantine=[Byzantine(party=3, phase="copml-update", round=1, tag="c", action="tamper")],
    )
    assert result.outcome == "aborted"
    assert result.abort_code in ("inconsistent_shares", "protocol_violation")
    assert result.culprit == 3


async def test_a_wrong_coded_gradient_is_detected_with_redundancy(autojump_clock):
    """Waiting for all N = 9 results leaves N - R = 2 spare evaluations of the degree-(R-1)
    polynomial, so a party whose coded gradient is off is located."""
    X, y = dataset(seed=5)
    params = CopmlParams(N=9, K=2, T=1, iterations=3, lx=8, lw=12, lc=6, eta_exp=5, stragglers=0)
    work = CopmlWorkload(params, split_rows(X, y, 9), dealer_seed=2)
    result = await run_parties(
        work.factory,
        range(9),
        network="lan",
        seed=1,
        byzantine=[Byzantine(party=5, phase="copml-decode", round=0, tag="f", action="tamper")],
    )
    assert result.outcome == "aborted"
    assert result.abort_code in ("inconsistent_shares", "protocol_violation")
    assert result.culprit == 5


def test_a_malformed_share_names_its_sender():
    X, y = dataset()
    work = CopmlWorkload(PARAMS, split_rows(X, y, 7), dealer_seed=1)
    run = work.factory(0, tuple(range(7)))
    with pytest.raises(ProtocolViolation) as info:
        run._expect({4: np.zeros(3, dtype=np.float64)}, (3,), "share")
    assert info.value.culprit == 4
    with pytest.raises(ProtocolViolation):
        run._expect({2: np.full(3, run.field.p, dtype=np.int64)}, (3,), "share")


@pytest.mark.parametrize("mode", ["bgw", "bh08"])
async def test_mpc_baselines_match_numpy(autojump_clock, mode):
    """BGW and BH08 with three groups (N = 10: T = 1, groups of 4, 3, 3 holding different
    numbers of rows) train the same model."""
    from coopetition.sims.copml_work import BaselineWorkload

    X, y = dataset()
    params = CopmlParams(N=10, K=2, T=1, iterations=4, lx=8, lw=12, lc=6, eta_exp=5)
    work = BaselineWorkload(mode, params, split_rows(X, y, 10), dealer_seed=1)
    result = await run_parties(work.factory, range(10), network="lan", seed=1)
    assert result.outcome == "completed", result.abort_reason
    models = list(result.results.values())
    assert all((m == models[0]).all() for m in models)
    assert np.max(np.abs(models[0] - numpy_gd(X, y, params))) < 0.02


@pytest.mark.long  # full-width CIFAR (d = 3073) through the simulator: minutes on 2 cores
def test_bench_copml_small_run_has_table_one_fields(tmp_path):
    import argparse

    from coopetition.sims import bench_copml

    parser = argparse.ArgumentParser()
    bench_copml.add_arguments(parser)
    out = tmp_path / "bench.json"
    argv = ["--parties", "9", "--iterations", "1", "--rows", "90", "--no-full-accuracy"]
    args = parser.parse_args([*argv, "--out", str(out)])
    result = bench_copml.run(args)
    for key in ("case1_total_s", "case2_total_s", "bgw_total_s", "bh08_total_s"):
        assert result[key] > 0
    for key in ("accuracy", "plaintext_accuracy", "parties", "commit"):
        assert result[key] is not None
    assert out.exists()


def test_copml_scenario_runs_in_the_simulator(tmp_path):
    from coopetition.sims.execute import simulate_scenario, unmet_expectations
    from coopetition.sims.scenario import load

    path = tmp_path / "copml.toml"
    path.write_text(
        '[run]\nparties = 7\nseed = 2\n[protocol]\nname = "copml"\npreset = "case1"\n'
        "iterations = 2\n[data]\nrows_per_party = 6\nfeatures = 5\n"
        '[network]\npreset = "wan-40mbps"\n[expect]\noutcome = "completed"\n'
    )
    scenario = load(path)
    result = simulate_scenario(scenario)
    assert not unmet_expectations(scenario, result), result.abort_reason


@pytest.mark.long
def test_copml_fifty_parties_on_the_wan():
    """N = 50, Case 1 (K = 16, T = 1, R = 49) on the 40 Mbit/s WAN preset (small data)."""
    from coopetition.sims.execute import simulate_scenario, unmet_expectations
    from coopetition.sims.scenario import load

    scenario = load("sims/scenarios/copml-protocol-50-wan.toml")
    result = simulate_scenario(scenario)
    assert not unmet_expectations(scenario, result), result.abort_reason


async def test_fixed_point_model_matches_the_protocol(autojump_clock):
    """The benchmark's all-rows accuracy uses COPML's arithmetic without parties: check it
    against a protocol run (same data, same scales; truncation randomness differs)."""
    from coopetition.sims.copml_work import fixed_point_model

    X, y = dataset(seed=6)
    work = CopmlWorkload(PARAMS, split_rows(X, y, 7), dealer_seed=4)
    result = await run_parties(work.factory, range(7), network="lan", seed=4)
    assert result.outcome == "completed"
    assert np.max(np.abs(fixed_point_model(X, y, PARAMS) - result.results[0].model)) < 0.01


async def test_the_dealer_as_its_own_node_trains_the_same_model(autojump_clock):
    """The crypto-service provider as party 7 of 8 (signed messages over the bus, no shared
    object): the seven data owners train exactly the model of the in-process dealer's run."""
    X, y = dataset()
    local = CopmlWorkload(PARAMS, split_rows(X, y, PARAMS.N), dealer_seed=1)
    reference = await run_parties(local.factory, range(PARAMS.N), network="lan", seed=1)
    node = CopmlWorkload(PARAMS, split_rows(X, y, PARAMS.N), dealer_seed=1, dealer_node=True)
    result = await run_parties(node.factory, range(PARAMS.N + 1), network="lan", seed=1)
    assert result.outcome == "completed", result.abort_reason
    assert result.results[PARAMS.N] is None  # the dealer learns no model
    for p in range(PARAMS.N):
        assert (result.results[p].model == reference.results[0].model).all()
    dealer_stats = result.parties[PARAMS.N].stats
    assert dealer_stats.phases["copml-model"].messages_sent == PARAMS.N * PARAMS.iterations
    assert "copml-input" not in dealer_stats.phases  # it never sees data or coded values


def test_a_malformed_dealer_message_names_the_dealer():
    """What the dealer node sends is checked for shape and range; a wrong one is a
    ``ProtocolViolation`` naming the dealer (the dealer is trusted not to send wrong values of
    the right shape: docs/threat-model.md)."""
    X, y = dataset()
    node = CopmlWorkload(PARAMS, split_rows(X, y, PARAMS.N), dealer_seed=1, dealer_node=True)
    run = node.factory(2, tuple(range(PARAMS.N + 1)))
    d, T = X.shape[1], PARAMS.T
    good = [np.zeros((T, d), np.int64), np.zeros((T, d), np.int64), np.zeros(d, np.int64)]
    for bad in (
        [*good, np.zeros(d - 1, np.int64)],  # wrong shape
        [*good, np.full(d, node.plan.field.p, np.int64)],  # not a field element
        good,  # an item missing
    ):
        program = dealer_node.receive_iteration(run)
        next(program)
        with pytest.raises(ProtocolViolation, match="dealer") as caught:
            program.send({PARAMS.N: bad})
        assert caught.value.culprit == PARAMS.N
