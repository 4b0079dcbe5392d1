"""Bus: keyed delivery regardless of order, duplicates dropped, equivocation named, deadlines."""

import pytest
import trio
from nacl.signing import SigningKey

from coopetition.engine.bus import Bus
from coopetition.engine.errors import DeadlineExceeded, Equivocation, ProtocolViolation
from coopetition.engine.wire import BROADCAST, EnvelopeHeader, seal

SESSION = b"x" * 16
KEYS = {i: SigningKey.generate() for i in range(3)}


def _bus(**kw):
    return Bus(
        local_id=0,
        session=SESSION,
        protocol="admm",
        verify_keys={i: k.verify_key for i, k in KEYS.items()},
        **kw,
    )


def _frame(sender, payload, *, tag="t", rnd=0, receiver=BROADCAST, session=SESSION, seq=1):
    header = EnvelopeHeader(session, "admm", "coordinate", rnd, tag, sender, receiver, seq)
    return seal(header, payload, KEYS[sender])


async def test_early_messages_wait_and_order_does_not_matter(autojump_clock):
    bus = _bus()
    bus.deliver(_frame(2, "from 2", rnd=1), 2)  # a later round arrives first
    bus.deliver(_frame(1, "from 1", rnd=1), 1)
    got = await bus.gather("coordinate", 1, "t", [2, 1], deadline=trio.current_time() + 5)
    assert got == {1: "from 1", 2: "from 2"}
    assert list(got) == [1, 2]


async def test_gather_waits_for_late_message(autojump_clock):
    bus = _bus()

    async def later():
        await trio.sleep(3)
        bus.deliver(_frame(1, 42), 1)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(later)
        got = await bus.gather("coordinate", 0, "t", [1], deadline=trio.current_time() + 10)
    assert got == {1: 42}
    assert trio.current_time() == pytest.approx(3)


async def test_missing_message_names_the_silent_party(autojump_clock):
    bus = _bus()
    bus.deliver(_frame(1, "here"), 1)
    with pytest.raises(DeadlineExceeded) as info:
        await bus.gather("coordinate", 0, "t", [1, 2], deadline=trio.current_time() + 7)
    assert info.value.culprit == 2
    assert trio.current_time() == pytest.approx(7)


def test_duplicate_is_dropped_and_equivocation_named():
    bus = _bus()
    frame = _frame(1, "a")
    bus.deliver(frame, 1)
    bus.deliver(frame, 1)
    assert bus.duplicates_dropped == 1
    with pytest.raises(Equivocation) as info:
        bus.deliver(_frame(1, "b", seq=2), 1)
    assert info.value.culprit == 1
    assert len(info.value.evidence) == 2


@pytest.mark.parametrize(
    "make, peer",
    [
        (lambda: _frame(1, "x", session=b"y" * 16), 1),  # another session
        (lambda: _frame(1, "x", receiver=2), 1),  # addressed to someone else
        (lambda: _frame(2, "x"), 1),  # party 1 relays party 2's frame
        (lambda: b"\x00" * 80, 1),  # garbage
    ],
)
def test_bad_frames_blame_the_peer_that_delivered_them(make, peer):
    with pytest.raises(ProtocolViolation) as info:
        _bus().deliver(make(), peer)
    assert info.value.culprit == peer


def test_flooding_sender_is_named():
    bus = _bus(sender_budget=2000)
    with pytest.raises(ProtocolViolation) as info:
        for rnd in range(100):
            bus.deliver(_frame(1, b"z" * 100, rnd=rnd), 1)
    assert info.value.culprit == 1


def test_released_rounds_are_forgotten_and_late_frames_dropped():
    bus = _bus()
    bus.deliver(_frame(1, "a"), 1)
    bus.release("coordinate", 0)
    assert bus.frame(("coordinate", 0, "t", 1)) is None
    bus.deliver(_frame(1, "different", seq=5), 1)  # late: stale, not an equivocation
    assert bus.stale_dropped == 1


def test_abort_types_round_trip_over_the_wire():
    from coopetition.engine.errors import ABORT_TYPES, ProtocolAborted

    for code, cls in ABORT_TYPES.items():
        sent = cls("why", culprit=3, evidence=[b"frame"], phase="coordinate", round=2)
        received = ProtocolAborted.from_wire(sent.to_wire(), reported_by=1)
        assert type(received) is cls and received.code == code
        assert (received.culprit, received.phase, received.round) == (3, "coordinate", 2)
        assert received.evidence == [b"frame"] and received.reported_by == 1


async def test_spent_point_to_point_frames_are_let_go_but_still_catch_equivocation(
    autojump_clock,
):
    bus = _bus()
    frame = _frame(1, b"p" * 100_000, receiver=0)
    bus.deliver(frame, 1)
    key = ("coordinate", 0, "t", 1)
    got = await bus.gather("coordinate", 0, "t", [1], deadline=trio.current_time() + 5)
    assert got == {1: b"p" * 100_000}
    bus.spend("coordinate", 0, "t", [1])
    assert bus.frame(key) is None and bus.held_bytes() == 0
    assert bus.arrived(key) and bus.size(key) == len(frame) and bus.digest(key) is not None
    bus.deliver(frame, 1)  # the same bytes again: still a duplicate
    assert bus.duplicates_dropped == 1
    with pytest.raises(Equivocation) as info:
        bus.deliver(_frame(1, b"q", receiver=0, seq=2), 1)
    assert info.value.culprit == 1 and len(info.value.evidence) == 1
    with pytest.raises(RuntimeError, match="gathered twice"):
        await bus.gather("coordinate", 0, "t", [1], deadline=trio.current_time() + 5)


async def test_spend_keeps_broadcasts_and_unconsumed_messages(autojump_clock):
    bus = _bus()
    bus.deliver(_frame(1, "everyone"), 1)  # a broadcast: evidence for a peer's abort
    bus.deliver(_frame(2, "just you", receiver=0), 2)  # arrived, not yet gathered
    await bus.gather("coordinate", 0, "t", [1], deadline=trio.current_time() + 5)
    bus.spend("coordinate", 0, "t", [1, 2])
    assert bus.frame(("coordinate", 0, "t", 1)) is not None
    assert bus.frame(("coordinate", 0, "t", 2)) is not None
    got = await bus.gather("coordinate", 0, "t", [2], deadline=trio.current_time() + 5)
    assert got == {2: "just you"}
