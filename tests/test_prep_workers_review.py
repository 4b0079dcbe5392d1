"""Review of the worker-hosted preparation (``spdz.party_hosts``, ``helen.local_prep``).

No cryptography here: the steps are tiny programs, so the tests cost the workers' start-up
only. What they check is the host itself: an error raised in a worker reaches the caller
with its type and its culprit (as ``run_local`` gives it), a worker that dies or hangs ends
in a typed abort within a deadline instead of a bare ``EOFError`` or a six-hour wait, and the
workers are gone afterwards.
"""

from __future__ import annotations

import os
import time

import pytest

from coopetition.engine.errors import CheatingDetected, DeadlineExceeded, LocalFailure
from coopetition.protocols.spdz import party_hosts
from coopetition.protocols.spdz.harness import run_local
from coopetition.protocols.spdz.online import Exchange
from coopetition.protocols.spdz.party_hosts import WorkerParties
from coopetition.protocols.zk.errors import ProofRejected


# steps (module level: the workers import them from this module)
def _blame(party: int):  # type: ignore[no-untyped-def]
    """Party 1 finds party 0 cheating in the second round."""
    yield Exchange(None, party, "r")
    if party == 1:
        raise CheatingDetected("bad share", culprit=0, phase="review")
    yield Exchange(None, party, "r")
    return party


def _reject(party: int):  # type: ignore[no-untyped-def]
    """Party 1 rejects party 0's proof with the verifier's own error type."""
    yield Exchange(None, party, "r")
    if party == 1:
        raise ProofRejected("interval", 0, "z out of range", index=3)
    return party


def _die(party: int):  # type: ignore[no-untyped-def]
    """Party 1's process dies (an OOM kill looks like this to the parent)."""
    yield Exchange(None, party, "r")
    if party == 1:
        os._exit(3)
    return party


def _hang(party: int):  # type: ignore[no-untyped-def]
    """Party 1's worker stops answering."""
    yield Exchange(None, party, "r")
    if party == 1:
        time.sleep(600)
    return party


def _both_ways(step):  # type: ignore[no-untyped-def]
    """The error ``run_local`` raises, and the one the worker host raises, for ``step``."""
    with pytest.raises(Exception) as here:
        run_local([step(i) for i in range(2)])
    with WorkerParties([0, 1], 2) as host, pytest.raises(Exception) as there:
        host.run(step)
    return here.value, there.value


def test_an_abort_raised_in_a_worker_keeps_its_type_and_culprit():
    here, there = _both_ways(_blame)
    assert type(there) is type(here) is CheatingDetected
    assert (there.culprit, there.phase, there.reason) == (here.culprit, here.phase, here.reason)


def test_a_proof_rejection_raised_in_a_worker_keeps_its_type_and_prover():
    here, there = _both_ways(_reject)
    assert type(there) is type(here) is ProofRejected
    assert (there.kind, there.prover, there.check, there.index) == ("interval", 0, here.check, 3)


def test_a_worker_that_dies_ends_in_a_typed_abort():
    with WorkerParties([0, 1], 2) as host:
        procs = list(host._procs)
        with pytest.raises(LocalFailure, match="worker 1"):
            host.run(_die)
    assert not any(p.is_alive() for p in procs)


def test_a_worker_that_hangs_ends_at_the_deadline(monkeypatch):
    monkeypatch.setattr(party_hosts, "ROUND_TIMEOUT", 3.0)
    started = time.monotonic()
    with WorkerParties([0, 1], 2) as host:
        procs = list(host._procs)
        with pytest.raises(DeadlineExceeded, match="worker 1"):
            host.run(_hang)
    assert time.monotonic() - started < 120  # the deadline, the start-up and the terminate
    assert not any(p.is_alive() for p in procs)


def test_every_real_mascot_run_is_above_the_worker_threshold():
    """The default worker count: ``MIN_ITEMS_FOR_WORKERS`` keeps only the dealt (INSECURE
    dealer) runs in-process; a MASCOT plan gets a worker per core exactly when its items reach
    the threshold (the smallest shape, 2 parties, 2 features, one iteration, may not). The
    default suite's Helen tests use the dealer (or name ``workers``), so they are unchanged."""
    from coopetition.protocols.admm.objective import Objective
    from coopetition.protocols.helen import local_prep
    from coopetition.protocols.helen.config import HelenConfig
    from coopetition.protocols.helen.local_run import preprocessing_plan

    def plan(preprocessing: str) -> local_prep.Plan:
        config = HelenConfig(
            objective=Objective("ridge", lam=1.0),
            iterations=1,
            key_bits=1024,
            insecure=True,
            preprocessing=preprocessing,
        )
        return preprocessing_plan(config, 2, 2, 10)

    smallest = plan("mascot")
    # since the window bound check (fewer items per iteration) the smallest shape may fall
    # below the threshold: the rule, not the shape, is what must hold
    expected = (
        local_prep.default_workers()
        if smallest.mascot_items >= local_prep.MIN_ITEMS_FOR_WORKERS
        else 1
    )
    assert smallest.mascot_items > 0
    assert local_prep.default_workers_for(smallest, 1024) == expected
    assert local_prep.default_workers_for(plan("insecure-dealer"), 1024) == 1
