"""The fault matrix: every fault of the catalogue against plaintext ADMM, over several seeds.

Each run must either complete with exactly the fault-free model (and the fault-free protocol
transcript: faults below the reliable layer change timing, never content) or abort, at every
surviving party, with the expected typed error naming the expected culprit, within its deadline.
The fault-free model itself is checked against a textbook consensus-ADMM loop written here in
numpy (Boyd et al., section 7.1), not against the engine's own output.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from coopetition.engine.errors import (
    CheatingDetected,
    DeadlineExceeded,
    Equivocation,
    PeerUnreachable,
    ProtocolAborted,
)
from coopetition.engine.party import Deadlines
from coopetition.sims.byzantine import Byzantine
from coopetition.sims.runner import run_parties, size_cost_model
from coopetition.sims.soak import textbook_admm
from coopetition.sims.workloads import synthetic_admm
from coopetition.transports.faults import (
    BurstDrop,
    Corrupt,
    Crash,
    Delay,
    Drop,
    Duplicate,
    Partition,
    Reorder,
    Slow,
)

PARTIES = (0, 1, 2)
DEADLINES = Deadlines(
    phase=40.0, heartbeat_interval=1.0, heartbeat_timeout=8.0, finish=20.0, abort_send=3.0
)
#: Longest any run may take: a crash is detected within heartbeat_timeout + interval, a stuck
#: phase within its deadline; the finish barrier and abort sending add theirs.
RUN_BOUND = 60.0 + DEADLINES.phase + DEADLINES.finish + DEADLINES.abort_send
WORKLOAD = synthetic_admm(
    len(PARTIES), rows_per_party=30, features=6, lam=0.5, iterations=8, seed=7
)
SEEDS = (1, 2, 3)


@dataclass
class Case:
    name: str
    link: tuple = ()
    crashes: tuple = ()
    byzantine: tuple = ()
    expect: type[ProtocolAborted] | None = None  # None: completes with the fault-free model
    culprits: dict | None = None  # survivor -> set of acceptable culprits
    parties: int = 3  # 4 for cases that need a majority of honest peers besides the victim


CASES = [
    Case("none"),
    Case("drop", link=(Drop(probability=0.15),)),
    Case("burst-drop", link=(BurstDrop(mean_good=1.0, mean_bad=0.1),)),
    Case("delay", link=(Delay(probability=0.5, delay=0.2, jitter=0.3),)),
    Case("duplicate", link=(Duplicate(probability=0.3, gap=0.05),)),
    Case("reorder", link=(Reorder(probability=0.3, delay=0.08),)),
    Case("corrupt", link=(Corrupt(probability=0.15),)),
    Case(
        "drop+dup+reorder+corrupt",
        link=(
            Drop(probability=0.1),
            Duplicate(probability=0.2),
            Reorder(probability=0.2),
            Corrupt(probability=0.1),
        ),
    ),
    Case("partition-healed", link=(Partition(side_a=[0], side_b=[1, 2], start=0.05, stop=3.0),)),
    # Healed at 0.9 x the heartbeat timeout: the peers must not be declared unreachable
    # (the frames held behind the probe used to stay held up to rto_max after the heal).
    Case(
        "partition-healed-0.9-timeout",
        link=(
            Partition(
                side_a=[0], side_b=[1, 2], start=0.05, stop=0.05 + 0.9 * DEADLINES.heartbeat_timeout
            ),
        ),
    ),
    Case("slow-party", link=(Slow(party=2, delay=0.5, compute_factor=20.0),)),
    Case(
        "partition-permanent",
        link=(Partition(side_a=[0], side_b=[1, 2], start=0.05),),
        expect=PeerUnreachable,
        culprits={0: {1, 2}, 1: {0}, 2: {0}},
    ),
    Case(
        "crash-silent-at-round",
        crashes=(Crash(1, phase="coordinate", round=3),),
        expect=PeerUnreachable,
        culprits={0: {1}, 2: {1}},
    ),
    Case(
        "crash-reset-at-setup",
        crashes=(Crash(2, phase="setup", mode="reset"),),
        expect=PeerUnreachable,
        culprits={0: {2}, 1: {2}},
    ),
    Case(
        "crash-random-time",
        crashes=(Crash(0, random_within=0.5),),
        expect=PeerUnreachable,
        culprits={1: {0}, 2: {0}},
    ),
    Case(
        "slow-beyond-timeouts",
        link=(Slow(party=1, delay=30.0),),
        expect=PeerUnreachable,
        culprits={0: {1}, 2: {1}},
    ),
    Case(
        "byzantine-equivocation",
        byzantine=(Byzantine(party=1, phase="coordinate", round=2, action="equivocate"),),
        expect=Equivocation,
        culprits={0: {1}, 2: {1}},
    ),
    Case(
        "byzantine-nan",
        byzantine=(Byzantine(party=2, phase="coordinate", round=1, action="nan"),),
        # The sender's own record keeps the true payload, so the echo round may prove the
        # difference (Equivocation) before the NaN check (ProtocolViolation): both name 2.
        expect=CheatingDetected,
        culprits={0: {2}, 1: {2}},
    ),
    # The same wrong payload to every peer: only the sender's signed record of what it sent
    # (which keeps the true payload) differs, and the echo round proves it.
    Case(
        "byzantine-tamper",
        byzantine=(Byzantine(party=1, phase="coordinate", round=1, action="tamper"),),
        expect=Equivocation,
        culprits={0: {1}, 2: {1}},
    ),
    Case(
        "byzantine-nan-4-parties",
        byzantine=(Byzantine(party=2, phase="coordinate", round=2, action="nan"),),
        expect=CheatingDetected,
        culprits={0: {2}, 1: {2}, 3: {2}},
        parties=4,
    ),
]
WORKLOAD_4 = synthetic_admm(4, rows_per_party=30, features=6, lam=0.5, iterations=8, seed=7)


async def _run(case: Case, seed: int):
    workload, parties = (WORKLOAD, PARTIES) if case.parties == 3 else (WORKLOAD_4, (0, 1, 2, 3))
    return await run_parties(
        workload.factory(),
        parties,
        network="us-west-east",
        seed=seed,
        link_faults=case.link,
        crashes=case.crashes,
        byzantine=case.byzantine,
        deadlines=DEADLINES,
        cost_model=size_cost_model(),
    )


@pytest.fixture(scope="module")
def expected_model():
    return textbook_admm(WORKLOAD)


_BASELINE: dict[str, object] = {}


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
async def test_fault_matrix(autojump_clock, case: Case, seed: int, expected_model):
    if "transcript" not in _BASELINE:
        baseline = await _run(CASES[0], 99)
        _BASELINE["transcript"] = baseline.transcript_sha256
        _BASELINE["duration"] = baseline.virtual_seconds
    result = await _run(case, seed)
    assert result.virtual_seconds <= RUN_BOUND
    if case.expect is not None:
        # Detected within one heartbeat timeout (+ the detector's period and the abort
        # broadcast) of a fault that starts, at the latest, where a clean run would have ended.
        detect = (
            _BASELINE["duration"]
            + DEADLINES.heartbeat_timeout
            + 2 * DEADLINES.heartbeat_interval
            + DEADLINES.abort_send
        )
        assert result.virtual_seconds <= detect, result.virtual_seconds
    crashed = {p for p, o in result.parties.items() if o.crashed}
    assert crashed == {c.party for c in case.crashes}
    if case.expect is None:
        assert result.outcome == "completed", result.as_dict()
        for pid in PARTIES:
            model = result.results[pid].model
            np.testing.assert_allclose(model, expected_model, rtol=1e-9, atol=1e-12)
        # identical bits at every party and the same transcript as the fault-free run
        assert len({result.results[p].model.tobytes() for p in PARTIES}) == 1
        assert result.transcript_sha256 == _BASELINE["transcript"]
        return
    assert result.outcome == "aborted"
    assert case.culprits is not None
    for pid, allowed in case.culprits.items():
        outcome = result.parties[pid]
        assert not outcome.crashed and outcome.result is None
        error = outcome.error
        assert isinstance(error, case.expect), (pid, error)
        # A party that learnt of the abort from a peer before detecting it keeps the peer's
        # accusation as "claimed" when it cannot check the evidence itself.
        claimed = getattr(error, "claimed_culprit", None) if error.reported_by is not None else None
        assert error.culprit in allowed or claimed in allowed, (pid, error)
    assert result.culprit in set().union(*case.culprits.values())


async def test_fault_free_model_matches_scikit_learn_at_convergence(autojump_clock):
    from coopetition.protocols.admm.reference import reference_fit

    workload = synthetic_admm(
        3, rows_per_party=40, features=5, lam=2.0, iterations=40, rho=20.0, seed=3
    )
    result = await run_parties(
        workload.factory(),
        (0, 1, 2),
        network="wan-40mbps",
        seed=5,
        link_faults=(Drop(probability=0.05),),
        deadlines=DEADLINES,
        cost_model=size_cost_model(),
    )
    assert result.outcome == "completed"
    X, y = workload.pooled()
    np.testing.assert_allclose(
        result.results[0].model, reference_fit(X, y, workload.config.objective), atol=1e-6
    )


async def test_phase_deadline_aborts_a_stuck_phase(autojump_clock):
    """A one-way partition keeps heartbeats flowing one way only: the cut-off receivers must
    still end, by heartbeat timeout or phase deadline, never hang."""
    deadlines = Deadlines(
        phase=5.0, heartbeat_interval=1.0, heartbeat_timeout=30.0, finish=5.0, abort_send=2.0
    )
    result = await run_parties(
        WORKLOAD.factory(),
        PARTIES,
        network="lan",
        seed=4,
        link_faults=(Partition(side_a=[2], side_b=[0, 1], one_way=True, start=0.0),),
        deadlines=deadlines,
        cost_model=size_cost_model(),
    )
    assert result.outcome == "aborted"
    for pid in (0, 1):
        error = result.parties[pid].error
        assert isinstance(error, DeadlineExceeded | PeerUnreachable)
        assert error.culprit in (2, None)
    assert result.virtual_seconds <= deadlines.phase + deadlines.finish + 10
