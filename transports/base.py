"""The Transport interface: move opaque frames between parties named by integer ids.

A transport knows nothing of envelopes or signatures: the engine signs and checks every frame
itself, so a transport only has to deliver bytes to the right peer and say honestly who sent
them (TCP proves it with a handshake; the memory transport knows it by construction). Keeping
the interface this small is what lets the WAN simulator and the fault injectors wrap any
transport.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass

from coopetition.transports.errors import FrameTooLarge, PartyId

#: Largest frame any transport accepts by default (64 MiB): checked before allocating.
DEFAULT_MAX_FRAME = 64 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Frame:
    """One received frame and the authenticated id of the peer it came from."""

    peer: PartyId
    data: bytes


class Transport(abc.ABC):
    """Connections from ``local_id`` to every id in ``peers``.

    Lifecycle: ``await connect()`` (returns when every peer is reachable, or raises a
    ``TransportError`` naming the peer: ``HandshakeFailed``, or a ``ConnectionClosed`` subclass
    such as TCP's ``ConnectTimeout``), then any number of ``send``/``receive``, then
    ``aclose()``. ``receive`` raises ``ConnectionClosed`` once the transport is closed; a peer's
    connection breaking is reported by raising ``ConnectionClosed(peer=...)`` from ``receive``
    or ``send``. Implementations must be usable as ``async with``.
    """

    local_id: PartyId
    peers: frozenset[PartyId]
    max_frame: int = DEFAULT_MAX_FRAME

    @abc.abstractmethod
    async def connect(self) -> None:
        """Open connections to all peers."""

    @abc.abstractmethod
    async def send(self, peer: PartyId, data: bytes) -> None:
        """Queue ``data`` for ``peer``; may block for back-pressure, never drops silently."""

    @abc.abstractmethod
    async def receive(self) -> Frame:
        """The next frame from any peer."""

    @abc.abstractmethod
    async def aclose(self) -> None:
        """Close every connection; idempotent."""

    def check_frame_size(self, size: int, *, peer: PartyId | None = None) -> None:
        if size > self.max_frame:
            raise FrameTooLarge(
                f"frame of {size} bytes exceeds the maximum of {self.max_frame}", peer=peer
            )

    async def __aenter__(self) -> Transport:
        await self.connect()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
