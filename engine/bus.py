"""The message bus: keyed delivery, duplicate suppression and equivocation detection.

Every protocol message is stored under ``(phase, round, tag, sender)``. A state machine asks for
what it needs by key, so it never depends on arrival order (which trio's scheduler and any
network reorder freely): that is what makes runs reproducible. Messages that arrive early wait
in the store, bounded per sender; a message whose bytes equal a stored one is a duplicate and is
dropped; a *different* validly signed message under the same key is equivocation, and the two
signed frames are the evidence that names the sender.

A point-to-point message's frame and payload are let go once its step has consumed it
(``spend``): only its digest and size stay until the round is released. A phase that streams
gigabytes of such messages in one round (MASCOT's OT extension at Helen's song size) would
otherwise hold all of them, twice (frame and decoded payload), until the phase ends. Nothing is
lost: a point-to-point frame proves nothing to other parties (each receiver legitimately gets
its own under one key), the digest still catches a second, different frame as equivocation, and
the transcript records digests. Broadcast frames are kept until the round is released, since
they are the evidence a peer's abort is judged against.

The bus is sans-IO apart from the ``trio.Event`` a waiting receiver parks on; verification and
bookkeeping happen synchronously in ``deliver``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import trio
from nacl.signing import VerifyKey

from coopetition.engine.errors import (
    DeadlineExceeded,
    Equivocation,
    PartyId,
    ProtocolViolation,
)
from coopetition.engine.wire import Envelope, WireError, frame_digest, open_frame

Key = tuple[str, int, str, PartyId]
CONTROL_PHASE = "_control"

#: Bytes of not-yet-consumed messages one sender may park at a receiver.
DEFAULT_SENDER_BUDGET = 256 * 1024 * 1024


@dataclass
class _Slot:
    frame: bytes | None = None
    digest: bytes | None = None
    envelope: Envelope | None = None
    arrived: trio.Event = field(default_factory=trio.Event)
    consumed: bool = False
    #: the frame's length (kept when a spent point-to-point frame is let go)
    size: int = 0
    #: a consumed point-to-point message whose frame and payload were let go (``spend``)
    spent: bool = False
    #: whether the frame that arrived was signed as a broadcast (kept when it is let go)
    broadcast: bool = False


class Bus:
    def __init__(
        self,
        *,
        local_id: PartyId,
        session: bytes,
        protocol: str,
        verify_keys: dict[PartyId, VerifyKey],
        sender_budget: int = DEFAULT_SENDER_BUDGET,
    ) -> None:
        self.local_id = local_id
        self.session = session
        self.protocol = protocol
        self.verify_keys = dict(verify_keys)
        self.sender_budget = sender_budget
        self._slots: dict[Key, _Slot] = {}
        self._released: set[tuple[str, int]] = set()
        self._parked_bytes: dict[PartyId, int] = dict.fromkeys(self.verify_keys, 0)
        self.duplicates_dropped = 0
        self.stale_dropped = 0

    # -- inbound ---------------------------------------------------------------------------

    def deliver(self, frame: bytes, peer: PartyId) -> Envelope | None:
        """Accept one frame that ``peer`` handed us.

        Returns the envelope of a control message (the party handles those), ``None`` for a
        stored, duplicate or stale protocol message. Raises ``ProtocolViolation`` naming ``peer``
        for a frame that does not verify or is misaddressed, and ``Equivocation`` naming the
        sender for a second, different, signed message under one key.
        """
        try:
            envelope = open_frame(frame, self.verify_keys)
        except WireError as exc:
            raise ProtocolViolation(
                f"undecodable or badly signed frame: {exc}", culprit=peer
            ) from None
        header = envelope.header
        if header.sender != peer:
            raise ProtocolViolation(
                f"party {peer} relayed a frame signed by party {header.sender}", culprit=peer
            )
        if header.session != self.session or header.protocol != self.protocol:
            raise ProtocolViolation("frame for another session or protocol", culprit=peer)
        if not (header.is_broadcast or header.receiver == self.local_id):
            raise ProtocolViolation(
                f"frame addressed to party {header.receiver} delivered here", culprit=peer
            )
        if header.phase == CONTROL_PHASE:
            return envelope
        if (header.phase, header.round) in self._released:
            self.stale_dropped += 1
            return None
        self._store(header.key, frame, envelope)
        return None

    def record_own(self, frame: bytes, envelope: Envelope) -> None:
        """Store a message this party broadcast, so round digests cover what it said too."""
        self._store(envelope.header.key, frame, envelope, own=True)

    def _store(self, key: Key, frame: bytes, envelope: Envelope, *, own: bool = False) -> None:
        slot = self._slots.setdefault(key, _Slot())
        digest = frame_digest(frame)
        if slot.digest is not None:
            if slot.digest == digest:
                self.duplicates_dropped += 1
                return
            evidence = [slot.frame] if slot.frame is not None else []
            raise Equivocation(
                f"party {key[3]} signed two different messages for phase={key[0]} "
                f"round={key[1]} tag={key[2]}",
                culprit=key[3],
                evidence=[*evidence, frame],
                phase=key[0],
                round=key[1],
            )
        sender = key[3]
        if not own:
            parked = self._parked_bytes.get(sender, 0) + len(frame)
            if parked > self.sender_budget:
                raise ProtocolViolation(
                    f"party {sender} parked more than {self.sender_budget} bytes of unread messages",
                    culprit=sender,
                )
            self._parked_bytes[sender] = parked
        slot.frame, slot.digest, slot.envelope = frame, digest, envelope
        slot.size, slot.broadcast = len(frame), envelope.header.is_broadcast
        slot.arrived.set()

    # -- outbound to machines --------------------------------------------------------------

    async def gather(
        self,
        phase: str,
        round: int,
        tag: str,
        senders: list[PartyId],
        *,
        deadline: float,
        at_least: int | None = None,
    ) -> dict[PartyId, Any]:
        """Wait until every sender's message for ``(phase, round, tag)`` is here, or the deadline.

        With ``at_least`` the wait ends once that many senders delivered, and only the senders
        present then are returned. Missing messages at the deadline raise ``DeadlineExceeded``
        naming the missing sender when there is exactly one (with several, no single party can
        be blamed).
        """
        slots = {s: self._slots.setdefault((phase, round, tag, s), _Slot()) for s in senders}
        need = len(slots) if at_least is None else max(0, min(at_least, len(slots)))
        with trio.move_on_at(deadline):
            await _wait_for(list(slots.values()), need)
        present = [s for s, slot in slots.items() if slot.arrived.is_set()]
        if len(present) >= need:
            slots = {s: slots[s] for s in present}
        missing = sorted(s for s, slot in slots.items() if not slot.arrived.is_set())
        if missing:
            raise DeadlineExceeded(
                f"no message tagged {tag!r} from parties {missing} before the deadline",
                culprit=missing[0] if len(missing) == 1 else None,
                phase=phase,
                round=round,
            )
        payloads = {}
        for sender in sorted(slots):
            slot = slots[sender]
            if slot.spent:
                raise RuntimeError(
                    f"message tagged {tag!r} from party {sender} was gathered twice "
                    f"(phase={phase} round={round}): its payload was let go after the first"
                )
            assert slot.envelope is not None and slot.frame is not None
            if not slot.consumed and sender != self.local_id:
                slot.consumed = True
                self._parked_bytes[sender] -= len(slot.frame)
            payloads[sender] = slot.envelope.payload
        return payloads

    def frame(self, key: Key) -> bytes | None:
        """The stored frame (``None`` if none arrived, or a spent point-to-point one)."""
        slot = self._slots.get(key)
        return None if slot is None else slot.frame

    def arrived(self, key: Key) -> bool:
        slot = self._slots.get(key)
        return slot is not None and slot.arrived.is_set()

    def size(self, key: Key) -> int:
        """The length of the frame that arrived under ``key`` (0 if none), spent or not."""
        slot = self._slots.get(key)
        return 0 if slot is None else slot.size

    def is_broadcast(self, key: Key) -> bool:
        """Whether the frame that arrived under ``key`` was signed as a broadcast."""
        slot = self._slots.get(key)
        return slot is not None and slot.broadcast

    def spend(self, phase: str, round: int, tag: str, senders: list[PartyId]) -> None:
        """Let go of the consumed point-to-point frames (and payloads) of a finished step.

        Their digests and sizes stay until the round is released; broadcast frames stay whole
        (module docstring)."""
        for sender in senders:
            slot = self._slots.get((phase, round, tag, sender))
            if slot is None or not slot.consumed or slot.spent or slot.broadcast:
                continue
            slot.frame, slot.envelope, slot.spent = None, None, True

    def held_bytes(self) -> int:
        """Bytes of frames this bus still holds (parked, or kept as evidence)."""
        return sum(len(slot.frame) for slot in self._slots.values() if slot.frame is not None)

    def digest(self, key: Key) -> bytes | None:
        slot = self._slots.get(key)
        return None if slot is None else slot.digest

    def release(self, phase: str, round: int) -> None:
        """Forget a finished ``(phase, round)``; later frames for it are dropped as stale."""
        self._released.add((phase, round))
        for key in [k for k in self._slots if k[0] == phase and k[1] == round]:
            slot = self._slots.pop(key)
            if slot.frame is not None and not slot.consumed and key[3] != self.local_id:
                self._parked_bytes[key[3]] -= slot.size


async def _wait_for(slots: list[_Slot], need: int) -> None:
    """Return once ``need`` of ``slots`` have arrived (all of them when ``need`` is their count)."""
    if need >= len(slots):
        for slot in slots:
            await slot.arrived.wait()
        return
    if sum(slot.arrived.is_set() for slot in slots) >= need:
        return
    enough = trio.Event()
    # every watcher counts its slot once, arrived before or after it started: counting the
    # arrived ones up front instead would lose a slot that arrives before its watcher runs
    count = [0]

    async def watch(slot: _Slot) -> None:
        await slot.arrived.wait()
        count[0] += 1
        if count[0] >= need:
            enough.set()

    async with trio.open_nursery() as nursery:
        for slot in slots:
            nursery.start_soon(watch, slot)
        await enough.wait()
        nursery.cancel_scope.cancel()
