"""Plaintext ADMM over the engine: the released model matches scikit-learn, and every way a
party can misbehave or vanish ends the run at every party with a typed error naming it."""

import numpy as np
import pytest
import structlog
import trio

from coopetition.engine.errors import (
    CheatingDetected,
    ConfigMismatch,
    DeadlineExceeded,
    Equivocation,
    PeerCrashed,
    PeerUnreachable,
    ProtocolViolation,
)
from coopetition.engine.local import local_configs, run_parties
from coopetition.engine.party import Deadlines
from coopetition.protocols.admm import AdmmConfig, AdmmRun, Objective
from coopetition.protocols.admm.local_run import train_locally
from coopetition.protocols.admm.reference import reference_fit
from coopetition.sims.data import load
from coopetition.transports.base import Frame, Transport
from coopetition.transports.memory import MemoryNetwork

WINE = load("wine-red")
N = WINE.X.shape[0]
FAST = Deadlines(phase=30, heartbeat_interval=1, heartbeat_timeout=10, finish=10, abort_send=2)


def _config(kind="lasso", lam=0.02 * N, iterations=60):
    return AdmmConfig(
        Objective(kind, lam=0.0 if kind == "least_squares" else lam),
        rho=0.1 * N,
        iterations=iterations,
    )


@pytest.mark.parametrize("kind", ["lasso", "ridge", "least_squares", "elastic_net"])
async def test_model_matches_scikit_learn(kind, autojump_clock):
    config = _config(kind)
    run = await train_locally(WINE.split(4, seed=1), config, deadlines=FAST)
    assert run.completed, run.errors
    models = [run.results[p].model for p in range(4)]
    assert all(np.array_equal(models[0], m) for m in models[1:])
    reference = reference_fit(WINE.X, WINE.y, config.objective)
    np.testing.assert_allclose(models[0], reference, atol=1e-4)
    ours = config.objective.value(WINE.X, WINE.y, models[0])
    best = config.objective.value(WINE.X, WINE.y, reference)
    assert ours == pytest.approx(best, rel=1e-8)
    if kind == "lasso":
        assert (reference == 0).any() and np.array_equal(models[0] == 0, reference == 0)


async def test_same_inputs_same_transcript(autojump_clock):
    session = b"fixed-session-id"
    digests = []
    for _ in range(2):
        run = await train_locally(
            WINE.split(3), _config(iterations=5), session=session, deadlines=FAST
        )
        assert run.completed
        per_party = {p.transcript_digest for p in run.parties.values()}
        assert len(per_party) == 1
        digests.append(per_party.pop())
    assert digests[0] == digests[1]


async def test_equivocating_party_is_named_by_honest_parties(autojump_clock):
    def equivocate(header, payload, destination):
        if header.tag == "w_plus_u" and header.round == 2 and destination == 0:
            return payload + 1.0  # party 0 is told something else than parties 1 and 3
        return payload

    run = await train_locally(
        WINE.split(4),
        _config(iterations=5),
        deadlines=FAST,
        party_options=lambda pid: {"payload_hook": equivocate} if pid == 2 else {},
    )
    assert set(run.errors) == {0, 1, 2, 3}
    for honest in (0, 1, 3):
        error = run.errors[honest]
        assert isinstance(error, Equivocation), error
        assert error.culprit == 2
        assert error.round == 2
    assert trio.current_time() < FAST.phase


async def test_malformed_contribution_is_named(autojump_clock):
    def poison(header, payload, destination):
        if header.tag == "w_plus_u" and header.round == 1:
            return payload.astype(np.float32)
        return payload

    run = await train_locally(
        WINE.split(3),
        _config(iterations=4),
        deadlines=FAST,
        party_options=lambda pid: {"payload_hook": poison} if pid == 1 else {},
    )
    assert set(run.errors) == {0, 1, 2}
    assert isinstance(run.errors[0], ProtocolViolation) and run.errors[0].culprit == 1
    assert isinstance(run.errors[2], ProtocolViolation) and run.errors[2].culprit == 1


async def test_parameter_mismatch_is_caught_at_setup(autojump_clock):
    ids = [0, 1, 2]
    configs = local_configs(ids, deadlines=FAST)
    parts = WINE.split(3)
    protocols = [
        AdmmRun(_config(lam=50.0 if pid == 2 else 10.0), *parts[pid], party=pid, parties=(0, 1, 2))
        for pid in ids
    ]
    run = await run_parties(configs, MemoryNetwork(ids).transports(), protocols)
    error = run.errors[0]
    assert isinstance(error, ConfigMismatch) and not isinstance(error, CheatingDetected)
    assert error.parameter == "objective.lam" and error.phase == "setup"
    assert error.values == {0: "10.0", 1: "10.0", 2: "50.0"}
    assert error.culprit is None and "objective.lam" in str(error)
    # the other parties reach the same verdict on their own
    assert isinstance(run.errors[2], ConfigMismatch) and run.errors[2].parameter == "objective.lam"


class _CrashAfter(Transport):
    """Closes the wrapped transport (as a killed process would) after ``frames`` sends."""

    def __init__(self, inner, frames):
        self.inner, self.frames = inner, frames
        self.local_id, self.peers = inner.local_id, inner.peers

    async def connect(self):
        await self.inner.connect()

    async def send(self, peer, data):
        self.frames -= 1
        if self.frames < 0:
            await self.inner.aclose()
            await trio.sleep_forever()
        await self.inner.send(peer, data)

    async def receive(self) -> Frame:
        return await self.inner.receive()

    async def aclose(self):
        await self.inner.aclose()


class _GoSilent(_CrashAfter):
    """Stops sending anything (also heartbeats) but keeps its connections open."""

    async def send(self, peer, data):
        self.frames -= 1
        if self.frames >= 0:
            await self.inner.send(peer, data)


async def test_crashed_party_is_named_and_nobody_hangs(autojump_clock):
    transports = MemoryNetwork([0, 1, 2]).transports()
    transports[1] = _CrashAfter(transports[1], frames=25)
    with trio.fail_after(FAST.phase * 3):
        run = await train_locally(
            WINE.split(3), _config(iterations=20), transports=transports, deadlines=FAST
        )
    for honest in (0, 2):
        error = run.errors[honest]
        assert isinstance(error, (PeerCrashed, PeerUnreachable, DeadlineExceeded)), error
        assert error.culprit == 1


async def test_silent_party_is_detected_by_the_failure_detector(autojump_clock):
    transports = MemoryNetwork([0, 1, 2]).transports()
    transports[2] = _GoSilent(transports[2], frames=20)
    started = trio.current_time()
    run = await train_locally(
        WINE.split(3), _config(iterations=20), transports=transports, deadlines=FAST
    )
    for honest in (0, 1):
        error = run.errors[honest]
        assert isinstance(error, PeerUnreachable) and error.culprit == 2, error
    # detected by heartbeat timeout, well before the phase deadline
    assert trio.current_time() - started < FAST.phase


async def test_logs_carry_no_secrets(autojump_clock):
    ids = [0, 1]
    configs = local_configs(ids, deadlines=FAST)
    parts = WINE.split(2)
    protocols = [AdmmRun(_config(iterations=3), *parts[p], party=p, parties=(0, 1)) for p in ids]
    with structlog.testing.capture_logs() as logs:
        run = await run_parties(
            configs,
            MemoryNetwork(ids).transports(),
            protocols,
            party_options=lambda _p: {"logger": structlog.get_logger("test")},
        )
    assert run.completed and logs
    text = repr(logs)
    secrets = [c.identity.signing_key.encode().hex() for c in configs]
    secrets += [repr(float(v)) for v in parts[0][0][:5].ravel()]
    secrets += [repr(float(v)) for v in run.results[0].model if v != 0]
    for secret in secrets:
        assert secret not in text


async def test_transcript_does_not_depend_on_network_timing(autojump_clock):
    import random

    class Jittery(_CrashAfter):
        def __init__(self, inner, rng):
            super().__init__(inner, frames=10**9)
            self.rng = rng

        async def send(self, peer, data):
            await trio.sleep(self.rng.uniform(0, 0.5))  # heartbeats interleave differently
            await self.inner.send(peer, data)

    session = b"timing-independent"
    digests = set()
    for seed in (None, 1, 2):
        transports = MemoryNetwork([0, 1, 2]).transports()
        if seed is not None:
            rng = random.Random(seed)
            transports = [Jittery(t, rng) for t in transports]
        run = await train_locally(
            WINE.split(3),
            _config(iterations=8),
            transports=transports,
            session=session,
            deadlines=FAST,
        )
        assert run.completed, run.errors
        digests |= {p.transcript_digest for p in run.parties.values()}
    assert len(digests) == 1


async def test_a_party_runs_once(autojump_clock):
    from coopetition.engine.errors import ConfigError

    run = await train_locally(WINE.split(2), _config(iterations=2), deadlines=FAST)
    assert run.completed
    with pytest.raises(ConfigError, match="already run"):
        await run.parties[0].run(
            AdmmRun(_config(iterations=2), *WINE.split(2)[0], party=0, parties=(0, 1))
        )
