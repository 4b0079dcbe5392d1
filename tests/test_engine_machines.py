"""The engine's own protocols fed events by hand: echo and dispute, finish barrier, peers'
aborts, failure detector. No network, no clock: each case is a few events and one verdict."""

from __future__ import annotations

import pytest

from coopetition.engine.barrier import (
    FailureDetector,
    FinishBarrier,
    FinishState,
    PeerAborted,
    PeerDone,
)
from coopetition.engine.consistency import EchoCheck, EchoState
from coopetition.engine.errors import (
    BroadcastInconsistent,
    CheatingDetected,
    DeadlineExceeded,
    Equivocation,
    LocalFailure,
    PeerUnreachable,
    ProtocolViolation,
)
from coopetition.engine.evidence import EvidenceJudge
from coopetition.engine.identity import Identity
from coopetition.engine.machine import Abort, Broadcast, Done, Gather, Received, Started, TimedOut
from coopetition.engine.tags import echo_tag, evidence_tag
from coopetition.engine.wire import BROADCAST, EnvelopeHeader, frame_digest, seal

SESSION = b"s" * 16
IDS = (0, 1, 2)
KEYS = {p: Identity.generate(p) for p in IDS}
JUDGE = EvidenceJudge(SESSION, "test", {p: k.verify_key for p, k in KEYS.items()})


def _frame(sender: int, payload: object, *, tag: str = "x", seq: int = 1) -> bytes:
    header = EnvelopeHeader(
        session=SESSION,
        protocol="test",
        phase="p",
        round=0,
        tag=tag,
        sender=sender,
        receiver=BROADCAST,
        seq=seq,
    )
    return seal(header, payload, KEYS[sender].signing_key)


def _held(frames: dict[int, bytes]) -> dict[int, tuple[bytes, bytes]]:
    return {s: (frame_digest(f), f) for s, f in frames.items()}


def _check(frames: dict[int, bytes], party: int = 0) -> EchoCheck:
    check = EchoCheck(party, IDS, 0, outer_phase="p", tag="x", held=_held(frames), judge=JUDGE)
    (echo, gather) = check.handle(Started())
    assert isinstance(echo, Broadcast) and echo.tag == echo_tag("x")
    assert isinstance(gather, Gather) and gather.senders == (1, 2) and gather.report_timeout
    assert check.state is EchoState.ECHOING
    return check


HONEST = {p: _frame(p, {"v": p}) for p in IDS}


def _echo(frames: dict[int, bytes]) -> list[list[object]]:
    return [[s, frame_digest(f)] for s, f in sorted(frames.items())]


def test_agreeing_echoes_finish_the_check() -> None:
    check = _check(HONEST)
    actions = check.handle(
        Received(tag=echo_tag("x"), messages={1: _echo(HONEST), 2: _echo(HONEST)})
    )
    assert actions == [Done()] and check.state is EchoState.DONE


def test_equivocating_sender_is_proven_by_the_two_frames() -> None:
    """Party 2 signed {"v": 2} for us and {"v": 99} for party 1; party 1 shows its frame."""
    theirs = {**HONEST, 2: _frame(2, {"v": 99})}
    check = _check(HONEST)
    actions = check.handle(
        Received(tag=echo_tag("x"), messages={1: _echo(theirs), 2: _echo(HONEST)})
    )
    evidence, gather = actions
    assert check.state is EchoState.DISPUTING
    assert isinstance(evidence, Broadcast) and evidence.tag == evidence_tag("x")
    assert evidence.payload == [[2, HONEST[2]]]
    assert isinstance(gather, Gather) and gather.senders == (1,) and gather.patience is not None
    (abort,) = check.handle(Received(tag=evidence_tag("x"), messages={1: [[2, theirs[2]]]}))
    assert isinstance(abort, Abort) and isinstance(abort.error, Equivocation)
    assert abort.error.culprit == 2 and set(abort.error.evidence) == {HONEST[2], theirs[2]}
    assert check.state is EchoState.ABORTED


def test_lying_echoer_cannot_show_a_signed_frame() -> None:
    """Party 1 claims party 2 sent something else, but what it shows is not signed by 2."""
    forged = bytearray(_frame(2, {"v": 99}))
    forged[5] ^= 1  # a broken signature
    lie = {**HONEST, 2: bytes(forged)}
    check = _check(HONEST)
    check.handle(Received(tag=echo_tag("x"), messages={1: _echo(lie), 2: _echo(HONEST)}))
    (abort,) = check.handle(Received(tag=evidence_tag("x"), messages={1: [[2, bytes(forged)]]}))
    assert isinstance(abort.error, BroadcastInconsistent) and abort.error.culprit == 1


def test_lying_echoer_showing_a_frame_of_another_key() -> None:
    """A genuine frame of party 2 under another tag proves nothing about tag x."""
    other = _frame(2, {"v": 99}, tag="y")
    check = _check(HONEST)
    claimed = {**HONEST, 2: other}
    check.handle(Received(tag=echo_tag("x"), messages={1: _echo(claimed), 2: _echo(HONEST)}))
    (abort,) = check.handle(Received(tag=evidence_tag("x"), messages={1: [[2, other]]}))
    assert isinstance(abort.error, BroadcastInconsistent) and abort.error.culprit == 1


def test_silent_peer_is_named_when_the_echo_round_times_out() -> None:
    check = _check(HONEST)
    (abort,) = check.handle(TimedOut(tag=echo_tag("x"), missing=(2,)))
    assert isinstance(abort.error, DeadlineExceeded) and abort.error.culprit == 2
    assert not isinstance(abort.error, CheatingDetected)


def test_several_silent_peers_blame_nobody() -> None:
    check = EchoCheck(0, (0, 1, 2, 3), 0, outer_phase="p", tag="x", held=_held(HONEST), judge=JUDGE)
    check.handle(Started())
    (abort,) = check.handle(TimedOut(tag=echo_tag("x"), missing=(2, 3)))
    assert isinstance(abort.error, DeadlineExceeded) and abort.error.culprit is None


def test_peer_refusing_the_dispute_is_blamed() -> None:
    theirs = {**HONEST, 2: _frame(2, {"v": 99})}
    check = _check(HONEST)
    check.handle(Received(tag=echo_tag("x"), messages={1: _echo(theirs), 2: _echo(HONEST)}))
    (abort,) = check.handle(TimedOut(tag=evidence_tag("x"), missing=(1,)))
    assert isinstance(abort.error, BroadcastInconsistent) and abort.error.culprit == 1


def test_dispute_answered_without_the_disputed_frame() -> None:
    theirs = {**HONEST, 2: _frame(2, {"v": 99})}
    check = _check(HONEST)
    check.handle(Received(tag=echo_tag("x"), messages={1: _echo(theirs), 2: _echo(HONEST)}))
    (abort,) = check.handle(Received(tag=evidence_tag("x"), messages={1: []}))
    assert isinstance(abort.error, BroadcastInconsistent) and abort.error.culprit == 1


def test_echo_listing_other_senders_is_malformed() -> None:
    check = _check(HONEST)
    (abort,) = check.handle(
        Received(tag=echo_tag("x"), messages={1: _echo(HONEST)[:2], 2: _echo(HONEST)})
    )
    assert isinstance(abort.error, ProtocolViolation) and abort.error.culprit == 1


# -- finish barrier ----------------------------------------------------------------------


def test_barrier_waits_for_every_peer() -> None:
    barrier = FinishBarrier(0, IDS)
    (announce,) = barrier.handle(Started())
    assert isinstance(announce, Broadcast) and barrier.state is FinishState.WAITING
    assert barrier.handle(PeerDone(peer=1)) == [] and barrier.state is FinishState.WAITING
    assert barrier.handle(PeerDone(peer=2)) == [Done()] and barrier.state is FinishState.DONE


def test_barrier_remembers_peers_that_finished_first() -> None:
    barrier = FinishBarrier(0, IDS)
    barrier.handle(PeerDone(peer=1))
    barrier.handle(PeerDone(peer=2))
    actions = barrier.handle(Started())
    assert isinstance(actions[0], Broadcast) and actions[-1] == Done()


def test_barrier_names_the_one_silent_peer() -> None:
    barrier = FinishBarrier(0, IDS, finish_timeout=7.0)
    barrier.handle(Started())
    barrier.handle(PeerDone(peer=1))
    (abort,) = barrier.handle(TimedOut(tag="done", missing=(2,)))
    assert isinstance(abort.error, DeadlineExceeded) and abort.error.culprit == 2
    assert abort.error.phase == "finish" and barrier.state is FinishState.ABORTED


def test_late_abort_at_the_barrier_ends_the_run_as_hearsay() -> None:
    """Party 1 said done, then reported an abort while we waited for party 2."""
    barrier = FinishBarrier(0, IDS)
    barrier.handle(Started())
    barrier.handle(PeerDone(peer=1))
    claim = JUDGE.adjudicate_abort(
        CheatingDetected("party 2 cheated", culprit=2).to_wire(), 1, lambda key: None
    )
    (abort,) = barrier.handle(PeerAborted(error=claim))
    assert abort.error is claim and claim.hearsay and claim.reported_by == 1
    assert claim.culprit is None and claim.claimed_culprit == 2  # no proof, no blame
    assert barrier.state is FinishState.ABORTED


def test_done_from_a_stranger_is_a_local_bug() -> None:
    barrier = FinishBarrier(0, IDS)
    barrier.handle(Started())
    with pytest.raises(ValueError):
        barrier.handle(PeerDone(peer=7))
    assert barrier.state is FinishState.ABORTED


# -- peers' aborts -----------------------------------------------------------------------


def test_abort_with_two_signed_frames_proves_equivocation() -> None:
    other = _frame(2, {"v": 99})
    wire = Equivocation("seen", culprit=2, evidence=[HONEST[2], other]).to_wire()
    verdict = JUDGE.adjudicate_abort(wire, 1, lambda key: None)
    assert isinstance(verdict, Equivocation) and verdict.culprit == 2


def test_abort_evidence_checked_against_the_frame_held_here() -> None:
    other = _frame(2, {"v": 99})
    wire = CheatingDetected("look", evidence=[other]).to_wire()
    verdict = JUDGE.adjudicate_abort(wire, 1, lambda key: HONEST[2] if key[3] == 2 else None)
    assert isinstance(verdict, Equivocation) and verdict.culprit == 2


def test_peer_reporting_its_own_failure_is_its_culprit() -> None:
    verdict = JUDGE.adjudicate_abort(LocalFailure("disk full").to_wire(), 2, lambda key: None)
    assert isinstance(verdict, LocalFailure) and verdict.culprit == 2 and verdict.hearsay


# -- failure detector --------------------------------------------------------------------


def test_detector_suspects_a_silent_peer_and_greets_quiet_links() -> None:
    detector = FailureDetector((1, 2), interval=1.0, timeout=5.0)
    tick = detector.tick(1.0)
    assert tick.suspect is None and tick.greet
    detector.sent(1, 1.0)
    detector.sent(2, 1.0)
    detector.heard(1, 4.0)
    assert not detector.tick(1.5).greet
    tick = detector.tick(5.5)
    assert tick.suspect == 2
    assert isinstance(detector.unreachable(2, "p"), PeerUnreachable)


def test_detector_excuses_peers_that_finished() -> None:
    detector = FailureDetector((1, 2), interval=1.0, timeout=5.0)
    detector.excuse({2})
    detector.heard(1, 9.0)
    assert detector.tick(9.0).suspect is None


def test_config_mismatch_travels_with_its_parameter_and_values() -> None:
    from coopetition.engine.errors import ConfigMismatch, ProtocolAborted

    sent = ConfigMismatch.between("objective.lam", {0: 10.0, 1: 10.0, 2: 50.0}, phase="setup")
    assert "objective.lam" in str(sent) and "party 2: 50.0" in str(sent)
    received = ProtocolAborted.from_wire(sent.to_wire(), reported_by=1)
    assert isinstance(received, ConfigMismatch) and not isinstance(received, CheatingDetected)
    assert received.parameter == "objective.lam" and received.values[2] == "50.0"
    assert received.culprit is None and received.hearsay
