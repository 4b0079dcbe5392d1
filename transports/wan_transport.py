"""One party's view of the simulated WAN (the simulator itself is ``transports.wan``).

``WanTransport`` sends through the simulator and receives from the wrapped transport, where
frames arrive at their simulated delivery time. It knows the simulator only through
``SimulatorPort``, so this module does not import ``wan`` (which creates these transports).
"""

from __future__ import annotations

from typing import Protocol

import trio

from coopetition.transports.base import Frame, Transport
from coopetition.transports.errors import ConnectionClosed, PartyId, UnknownPeer

__all__ = ["SimulatorPort", "WanTransport"]


class SimulatorPort(Protocol):
    """What a party's WAN transport needs from the simulator."""

    @property
    def running(self) -> bool: ...

    async def submit(self, src: PartyId, dst: PartyId, data: bytes) -> None: ...

    def request_close(self, inner: Transport) -> None: ...

    def note_closed(self, party: PartyId) -> None: ...

    def departure(self, src: PartyId, dst: PartyId, handed_over: float) -> float: ...


class WanTransport(Transport):
    """One party's view of the simulated WAN: sends go through the simulator, receives are the
    wrapped transport's (frames arrive there at their simulated delivery time)."""

    def __init__(self, sim: SimulatorPort, inner: Transport) -> None:
        self.sim = sim
        self.inner = inner
        self.local_id = inner.local_id
        self.peers = inner.peers
        self.max_frame = inner.max_frame
        self._closed = False

    async def connect(self) -> None:
        await self.inner.connect()

    async def send(self, peer: PartyId, data: bytes) -> None:
        if self._closed:
            raise ConnectionClosed("transport is closed", peer=peer)
        if peer not in self.peers:
            raise UnknownPeer(f"party {peer} is not a peer of party {self.local_id}", peer=peer)
        self.check_frame_size(len(data), peer=peer)
        await self.sim.submit(self.local_id, peer, bytes(data))

    def departure(self, peer: PartyId, handed_over: float) -> float:
        """When the frames sent to ``peer`` up to ``handed_over`` left this host (see
        ``WanSimulator.departure``)."""
        return self.sim.departure(self.local_id, peer, handed_over)

    async def receive(self) -> Frame:
        if self._closed:
            raise ConnectionClosed("transport is closed")
        return await self.inner.receive()

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        if not self.sim.running:  # the simulator has stopped: nothing to order against
            self.sim.note_closed(self.local_id)
            await self.inner.aclose()
            return
        self.sim.request_close(self.inner)
        await trio.lowlevel.checkpoint()
