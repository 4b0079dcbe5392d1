"""Everything a party sends: envelope headers with sequence numbers, signing, bounded sends.

Protocol messages and control messages (heartbeats, ``done``, aborts) are numbered apart: the
first are the same at every run of the same inputs, the second depend on timing. A Byzantine
test hook may rewrite a payload per destination after the protocol built it and before signing;
for a broadcast the sender records (and signs as "what it said") the copy the hook returns for
its own id.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import trio

from coopetition.engine.bus import CONTROL_PHASE, Bus
from coopetition.engine.config import PartyConfig, PayloadHook
from coopetition.engine.errors import (
    ConnectionClosed,
    FrameTooLarge,
    LocalFailure,
    PartyId,
    PeerUnreachable,
)
from coopetition.engine.stats import RunStats
from coopetition.engine.wire import BROADCAST, EnvelopeHeader, open_frame, seal
from coopetition.transports.base import Transport

__all__ = ["Outbox", "Outgoing"]


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A signed protocol message and the peers it goes to, ready to send."""

    header: EnvelopeHeader
    payload: object
    frame: bytes
    targets: tuple[PartyId, ...]


class Outbox:
    def __init__(
        self,
        config: PartyConfig,
        transport: Transport,
        stats: RunStats,
        *,
        payload_hook: PayloadHook | None = None,
        on_sent: Callable[[PartyId, float], None] | None = None,
    ) -> None:
        self.config = config
        self.id = config.party_id
        self.peers = tuple(p for p in config.parties if p != self.id)
        self.transport = transport
        self.stats = stats
        self.payload_hook = payload_hook
        self.on_sent = on_sent
        self.protocol = ""
        self.phase_name = "setup"  # for blame in errors raised while sending
        #: crash-tolerant runs only (``Party``): peers declared dead are skipped, and a failed
        #: send to a peer declares it dead through ``on_dead`` instead of aborting the run
        self.dead: set[PartyId] = set()
        self.on_dead: Callable[[PartyId], None] | None = None
        self._seq = 0
        self._control_seq = 0

    def header(self, phase: str, rnd: int, tag: str, receiver: PartyId) -> EnvelopeHeader:
        if phase == CONTROL_PHASE:
            self._control_seq += 1
            seq = self._control_seq
        else:
            self._seq += 1
            seq = self._seq
        return EnvelopeHeader(
            session=self.config.session,
            protocol=self.protocol,
            phase=phase,
            round=rnd,
            tag=tag,
            sender=self.id,
            receiver=receiver,
            seq=seq,
        )

    def prepare(
        self, bus: Bus, phase: str, rnd: int, tag: str, payload: object, receiver: PartyId
    ) -> Outgoing:
        """Number, sign and (for a broadcast) record a message, without sending it.

        Synchronous, so a driver fixes the sequence numbers in program order before any send
        waits on the network.
        """
        header = self.header(phase, rnd, tag, receiver)
        signing_key = self.config.identity.signing_key
        frame = seal(header, payload, signing_key)
        if receiver == BROADCAST:
            own = frame
            if self.payload_hook is not None:  # a Byzantine sender keeps what it says it sent
                altered = self.payload_hook(header, payload, self.id)
                if altered is not payload:
                    own = seal(header, altered, signing_key)
            bus.record_own(own, open_frame(own, self.config.verify_keys))
            targets = self.peers
        else:
            targets = (receiver,)
        return Outgoing(header=header, payload=payload, frame=frame, targets=targets)

    async def send(self, outgoing: Outgoing) -> None:
        """Send a prepared message to its targets in order (the test hook may alter each copy)."""
        header, payload = outgoing.header, outgoing.payload
        stats = self.stats.phase(header.phase)
        for peer in outgoing.targets:
            if peer in self.dead:
                continue
            frame = outgoing.frame
            if self.payload_hook is not None:
                altered = self.payload_hook(header, payload, peer)
                if altered is not payload:
                    frame = seal(header, altered, self.config.identity.signing_key)
            try:
                await self.send_frame(peer, frame)
            except (ConnectionClosed, PeerUnreachable):
                if self.on_dead is None:
                    raise
                self.on_dead(peer)
                continue
            stats.bytes_sent += len(frame)
            stats.messages_sent += 1

    def seal_control(self, tag: str, payload: object, *, rnd: int = 0) -> bytes:
        header = self.header(CONTROL_PHASE, rnd, tag, BROADCAST)
        return seal(header, payload, self.config.identity.signing_key)

    async def send_control(
        self, tag: str, payload: object, *, rnd: int = 0, gone: set[PartyId] | None = None
    ) -> None:
        """A control broadcast; peers in ``gone`` (finished) may have closed already."""
        frame = self.seal_control(tag, payload, rnd=rnd)
        for peer in self.peers:
            if peer in self.dead:
                continue
            try:
                await self.send_frame(peer, frame)
            except ConnectionClosed:
                if self.on_dead is not None:
                    self.on_dead(peer)
                elif gone is None or peer not in gone:
                    raise

    async def send_frame(self, peer: PartyId, frame: bytes) -> None:
        """One send, bounded by ``Deadlines.send``: a peer that stops reading is named."""
        if self.on_sent is not None:
            self.on_sent(peer, trio.current_time())
        limit = self.config.deadlines.send_limit
        try:
            with trio.fail_after(limit):
                await self.transport.send(peer, frame)
        except trio.TooSlowError:
            raise PeerUnreachable(
                f"party {peer} did not accept a frame within {limit}s",
                culprit=peer,
                phase=self.phase_name,
            ) from None
        except FrameTooLarge as exc:
            raise LocalFailure(
                f"this party produced a {len(frame)}-byte frame, over the transport's limit: {exc}",
                phase=self.phase_name,
            ) from None
