"""In-process transport over trio memory channels, for tests and single-process runs.

Each party owns one bounded inbox; a send blocks while the inbox is full (back-pressure, never a
silent drop). Closing a party's transport closes its inbox, so peers sending to it get
``ConnectionClosed(peer=...)`` exactly as a broken TCP connection would report.
"""

from __future__ import annotations

import trio

from coopetition.transports.base import DEFAULT_MAX_FRAME, Frame, Transport
from coopetition.transports.errors import ConfigError, ConnectionClosed, PartyId, UnknownPeer

DEFAULT_INBOX_FRAMES = 1024


class MemoryNetwork:
    """A hub that creates one connected ``MemoryTransport`` per party id."""

    def __init__(
        self,
        party_ids: list[PartyId] | range,
        *,
        inbox_frames: int = DEFAULT_INBOX_FRAMES,
        max_frame: int = DEFAULT_MAX_FRAME,
    ) -> None:
        ids = list(party_ids)
        if len(set(ids)) != len(ids) or len(ids) < 1:
            raise ConfigError(f"party ids must be distinct and non-empty, got {ids}")
        self.party_ids = ids
        self.max_frame = max_frame
        self._inboxes: dict[PartyId, tuple[trio.MemorySendChannel, trio.MemoryReceiveChannel]]
        self._inboxes = {pid: trio.open_memory_channel[Frame](inbox_frames) for pid in ids}

    def transport(self, party_id: PartyId) -> MemoryTransport:
        if party_id not in self._inboxes:
            raise ConfigError(f"party {party_id} is not part of this network")
        return MemoryTransport(self, party_id)

    def transports(self) -> list[MemoryTransport]:
        return [self.transport(pid) for pid in self.party_ids]


class MemoryTransport(Transport):
    def __init__(self, network: MemoryNetwork, local_id: PartyId) -> None:
        self.network = network
        self.local_id = local_id
        self.peers = frozenset(p for p in network.party_ids if p != local_id)
        self.max_frame = network.max_frame
        self._closed = False

    async def connect(self) -> None:
        await trio.lowlevel.checkpoint()

    async def send(self, peer: PartyId, data: bytes) -> None:
        if self._closed:
            raise ConnectionClosed("this party's transport is closed")
        if peer not in self.peers:
            raise UnknownPeer(f"party {peer} is not a peer of party {self.local_id}", peer=peer)
        self.check_frame_size(len(data), peer=peer)
        sender, _ = self.network._inboxes[peer]
        try:
            await sender.send(Frame(self.local_id, bytes(data)))
        except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            raise ConnectionClosed(f"party {peer} has closed its transport", peer=peer) from exc

    async def receive(self) -> Frame:
        _, inbox = self.network._inboxes[self.local_id]
        try:
            return await inbox.receive()
        except (trio.EndOfChannel, trio.ClosedResourceError) as exc:
            raise ConnectionClosed("transport is closed") from exc

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        _, inbox = self.network._inboxes[self.local_id]
        await inbox.aclose()
