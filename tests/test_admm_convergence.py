"""Plaintext ADMM stops on its residuals (Boyd et al. 2011, section 3.3) and matches scikit-learn.

References are scikit-learn fits on the pooled data (``reference_fit``), never our own output.
Every party must stop in the same round with bit-identical models, scaling is agreed and undone,
and every frame the bus drops is logged with its reason.
"""

import numpy as np
import pytest
import structlog
from hypothesis import given, settings
from hypothesis import strategies as st

from coopetition.engine.party import Deadlines
from coopetition.protocols.admm import AdmmConfig, Objective
from coopetition.protocols.admm.local import local_step, summarise
from coopetition.protocols.admm.local_run import train_locally
from coopetition.protocols.admm.reference import reference_fit
from coopetition.protocols.admm.residuals import Consensus, ResidualTracker
from coopetition.sims.data import load
from coopetition.transports.base import Frame, Transport
from coopetition.transports.memory import MemoryNetwork

FAST = Deadlines(phase=30, heartbeat_interval=1, heartbeat_timeout=10, finish=10, abort_send=2)


def _demo_config(rows, kind="lasso", **overrides):
    values = dict(rho=0.1 * rows, iterations=1000, tolerance=1e-10, adaptive_rho=True)
    values.update(overrides)
    lam = 0.0 if kind == "least_squares" else 0.02 * rows
    return AdmmConfig(Objective(kind, lam=lam), **values)


@pytest.mark.parametrize(
    "dataset, parties, kind",
    [("wine-red", 3, "ridge"), ("diabetes", 2, "lasso")],  # wine lasso x 4: tests/test_cli.py
)
async def test_demo_defaults_match_scikit_learn_to_1e_6(dataset, parties, kind, autojump_clock):
    data = load(dataset)
    config = _demo_config(data.X.shape[0], kind)
    run = await train_locally(data.split(parties), config, deadlines=FAST)
    assert run.completed, run.errors
    results = [run.results[p] for p in range(parties)]
    assert all(np.array_equal(results[0].model, r.model) for r in results[1:])
    assert len({r.iterations for r in results}) == 1  # every party stopped in the same round
    assert results[0].converged and results[0].iterations < 1000
    reference = reference_fit(data.X, data.y, config.objective)
    assert np.abs(results[0].model - reference).max() < 1e-6


async def test_residual_balancing_rescues_a_bad_rho(autojump_clock):
    data = load("wine-red")
    parts = data.split(2)
    reference = reference_fit(data.X, data.y, Objective("lasso", lam=0.02 * data.X.shape[0]))
    fixed = _demo_config(data.X.shape[0], rho=1.0, adaptive_rho=False, iterations=120)
    run = await train_locally(parts, fixed, deadlines=FAST)
    assert not run.results[0].converged
    assert np.abs(run.results[0].model - reference).max() > 1e-6
    adaptive = _demo_config(data.X.shape[0], rho=1.0, iterations=120)
    run = await train_locally(parts, adaptive, deadlines=FAST)
    assert run.results[0].converged and run.results[0].iterations < 120
    assert np.abs(run.results[0].model - reference).max() < 1e-6
    assert run.results[0].history[-1].rho > 1.0  # rho was raised, by powers of two


async def test_without_tolerance_the_round_count_is_fixed(autojump_clock):
    data = load("wine-red")
    config = _demo_config(data.X.shape[0], tolerance=None, adaptive_rho=False, iterations=7)
    run = await train_locally(data.split(2), config, deadlines=FAST)
    assert run.results[0].iterations == 7 and not run.results[0].converged


async def test_agreed_standardisation_is_undone_in_the_released_model(autojump_clock):
    from sklearn.linear_model import Ridge

    rng = np.random.default_rng(3)
    X = rng.normal(loc=[5.0, -3.0, 100.0], scale=[1.0, 10.0, 0.1], size=(300, 3))
    y = X @ [2.0, -0.5, 30.0] + 7.0 + rng.normal(size=300)
    parts = [(X[:90], y[:90]), (X[90:200], y[90:200]), (X[200:], y[200:])]
    config = AdmmConfig(
        Objective("ridge", lam=3.0),
        rho=1.0,
        iterations=1000,
        tolerance=1e-10,
        adaptive_rho=True,
        scaling="standardize",
    )
    run = await train_locally(parts, config, deadlines=FAST)
    result = run.results[0]
    mean, std = X.mean(axis=0), X.std(axis=0)
    ref = Ridge(alpha=6.0, solver="cholesky").fit((X - mean) / std, y)  # Ridge(alpha = 2 lam)
    np.testing.assert_allclose(result.coef, ref.coef_ / std, rtol=1e-7)
    assert result.intercept == pytest.approx(ref.intercept_ - mean @ (ref.coef_ / std), rel=1e-7)
    assert all(np.array_equal(result.coef, run.results[p].coef) for p in (1, 2))


@settings(max_examples=30, deadline=None)
@given(
    st.lists(st.floats(-1e3, 1e3), min_size=6, max_size=6),
    st.lists(st.floats(-1e3, 1e3), min_size=6, max_size=6),
    st.floats(0.01, 100.0),
)
def test_tracker_decisions_are_order_free_of_numpy_summation(a, b, rho):
    """The stop/rho decision uses correctly rounded sums: reversing element order changes nothing."""
    contributions = (np.array(a[:3]), np.array(b[:3]))
    z = np.array(a[3:])
    first = ResidualTracker(2, 3, rho, tolerance=1e-6, adaptive_rho=True)
    second = ResidualTracker(2, 3, rho, tolerance=1e-6, adaptive_rho=True)
    one = first.update(Consensus(z, contributions))
    other = second.update(Consensus(z[::-1].copy()[::-1], tuple(c.copy() for c in contributions)))
    assert one == other


def test_eigen_summary_matches_the_explicit_inverse():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(20, 4)), rng.normal(size=20)
    summary = summarise(X, y, rho=2.0)
    z, u = rng.normal(size=4), rng.normal(size=4)
    for rho in (0.5, 2.0, 64.0):
        explicit = np.linalg.solve(X.T @ X + rho * np.eye(4), X.T @ y + rho * (z - u))
        np.testing.assert_allclose(local_step(summary, z, u, rho), explicit, rtol=1e-10)


class _ReceiveTwice(Transport):
    """Hands every received frame to the party twice: the bus must drop and log the copy."""

    def __init__(self, inner):
        self.inner, self.local_id, self.peers = inner, inner.local_id, inner.peers
        self.pending = None

    async def connect(self):
        await self.inner.connect()

    async def send(self, peer, data):
        await self.inner.send(peer, data)

    async def receive(self) -> Frame:
        if self.pending is not None:
            frame, self.pending = self.pending, None
            return frame
        self.pending = await self.inner.receive()
        return self.pending

    async def aclose(self):
        await self.inner.aclose()


async def test_dropped_frames_are_logged_with_their_reason_and_bytes_counted(autojump_clock):
    data = load("wine-red")
    transports = [_ReceiveTwice(t) for t in MemoryNetwork([0, 1]).transports()]
    config = _demo_config(data.X.shape[0], iterations=3, tolerance=None)
    with structlog.testing.capture_logs() as logs:
        run = await train_locally(
            data.split(2),
            config,
            transports=transports,
            deadlines=FAST,
            party_options=lambda _pid: {"logger": structlog.get_logger()},
        )
    assert run.completed, run.errors
    dropped = [e for e in logs if e["event"] == "frame_dropped"]
    assert dropped and all(e["reason"] in ("duplicate", "stale") for e in dropped)
    stats = run.parties[0].stats.phase("coordinate")
    assert stats.messages_received > 0 and stats.bytes_received > 0
    peer = run.parties[1].stats.phase("coordinate")  # two parties: all it sent came here
    assert (stats.bytes_received, stats.messages_received) == (peer.bytes_sent, peer.messages_sent)


async def test_different_parameters_are_named_in_the_scaling_phase(autojump_clock):
    from coopetition.engine.errors import ProtocolViolation
    from coopetition.engine.local import local_configs, run_parties
    from coopetition.protocols.admm import AdmmRun

    data = load("wine-red")
    parts = data.split(2)
    lams = (1.0, 2.0)  # party 1 has another copy of the session file
    protocols = [
        AdmmRun(
            AdmmConfig(Objective("lasso", lam=lam), scaling="standardize"),
            X,
            y,
            party=pid,
            parties=(0, 1),
        )
        for pid, ((X, y), lam) in enumerate(zip(parts, lams, strict=True))
    ]
    configs = local_configs([0, 1], deadlines=FAST)
    run = await run_parties(configs, MemoryNetwork([0, 1]).transports(), protocols)
    error = run.errors[0]
    assert isinstance(error, ProtocolViolation) and error.culprit == 1
    assert "(objective.lam)" in error.reason and error.phase == "scaling"
