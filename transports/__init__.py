"""Transports: how a party's frames reach the others (memory, TCP, simulated WAN, faults).

The public names are in ``__all__`` (and ``docs/api.md``). This package imports nothing from
the engine: its error bases live in ``transports.errors``.
"""

from coopetition.transports.base import DEFAULT_MAX_FRAME, Frame, Transport
from coopetition.transports.errors import (
    ConfigError,
    ConnectionClosed,
    CoopetitionError,
    FrameTooLarge,
    HandshakeFailed,
    PartyId,
    TransportError,
    UnknownPeer,
)
from coopetition.transports.memory import MemoryNetwork
from coopetition.transports.tcp import PeerAddress, TcpTransport
from coopetition.transports.topology import LinkSpec, Topology, preset
from coopetition.transports.wan import WanSimulator, open_wan

__all__ = [
    "DEFAULT_MAX_FRAME",
    "ConfigError",
    "ConnectionClosed",
    "CoopetitionError",
    "Frame",
    "FrameTooLarge",
    "HandshakeFailed",
    "LinkSpec",
    "MemoryNetwork",
    "PartyId",
    "PeerAddress",
    "TcpTransport",
    "Topology",
    "Transport",
    "TransportError",
    "UnknownPeer",
    "WanSimulator",
    "open_wan",
    "preset",
]
