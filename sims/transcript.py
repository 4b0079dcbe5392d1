"""A run's protocol transcript: which protocol message every party received, timing-free.

The party runtime keeps its own digest, but that one covers envelope sequence numbers, which
count heartbeats too, so it shifts whenever a run takes longer (loss, a slow link). This digest
keeps only what the protocol means: ``(receiver, phase, round, tag, sender, sha256(payload))``
for every protocol message delivered to a party (control messages such as heartbeats left out),
sorted (the echo messages of broadcast-consistency checks are left out, see ``_DERIVED``). So loss, duplication, reordering and delay must leave it unchanged, and a repeated seed
must reproduce it; the fault matrix asserts both.
"""

from __future__ import annotations

import hashlib

import cbor2

from coopetition.engine.bus import CONTROL_PHASE
from coopetition.engine.errors import PartyId
from coopetition.engine.tags import ECHO_SUFFIX, EVIDENCE_SUFFIX
from coopetition.engine.wire import split_frame
from coopetition.transports.base import Frame, Transport

#: Broadcast-consistency echoes carry digests of whole envelopes, sequence numbers included, and
#: sequence numbers also count heartbeats: they are left out (what they confirm is logged).
_DERIVED = (ECHO_SUFFIX, EVIDENCE_SUFFIX)


class TranscriptLog:
    def __init__(self) -> None:
        self.entries: list[tuple[PartyId, str, int, str, PartyId, str]] = []

    def record(self, receiver: PartyId, frame: bytes) -> None:
        # A plain decode (no strict hooks: the bus checks frames) and a re-encode of the payload
        # alone: the envelope's sequence number must not reach the digest.
        try:
            items = cbor2.loads(split_frame(frame)[1])
            _, _, _, phase, rnd, tag, sender, _, _, payload = items
            digest = hashlib.sha256(cbor2.dumps(payload, canonical=True)).hexdigest()
        except Exception:  # anything undecodable is the bus's business; log the raw bytes
            self.entries.append((receiver, "?", -1, "?", -1, hashlib.sha256(frame).hexdigest()))
            return
        if phase != CONTROL_PHASE and not str(tag).endswith(_DERIVED):
            self.entries.append((receiver, phase, rnd, tag, sender, digest))

    def digest(self) -> str:
        h = hashlib.sha256()
        for entry in sorted(set(self.entries)):
            h.update(repr(entry).encode())
        return h.hexdigest()


class RecordingTransport(Transport):
    """Pass-through that logs every frame handed to the party above it."""

    def __init__(self, inner: Transport, log: TranscriptLog) -> None:
        self.inner, self.log = inner, log
        self.local_id, self.peers, self.max_frame = inner.local_id, inner.peers, inner.max_frame

    async def connect(self) -> None:
        await self.inner.connect()

    async def send(self, peer: PartyId, data: bytes) -> None:
        await self.inner.send(peer, data)

    async def receive(self) -> Frame:
        frame = await self.inner.receive()
        self.log.record(self.local_id, frame.data)
        return frame

    async def aclose(self) -> None:
        await self.inner.aclose()
