"""The error bases every layer shares, defined in the lowest layer that needs them.

``CoopetitionError`` is the base of every error this package raises on purpose; ``ConfigError``
is local misuse (nothing was sent); the ``TransportError`` family is what transports raise, and
drivers translate it into typed aborts at the boundary (``coopetition.engine.errors``). Living
here keeps the layering one-way: transports import nothing from the engine.
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "ConnectionClosed",
    "CoopetitionError",
    "FrameTooLarge",
    "HandshakeFailed",
    "PartyId",
    "TransportError",
    "UnknownPeer",
]

PartyId = int


class CoopetitionError(Exception):
    """Base of every error this package raises on purpose."""


class ConfigError(CoopetitionError, ValueError):
    """The caller gave a bad configuration, key, dataset or argument; nothing was run."""


class TransportError(CoopetitionError):
    """A transport failed; ``peer`` names the far end when there is one."""

    def __init__(self, message: str, *, peer: PartyId | None = None) -> None:
        super().__init__(message)
        self.peer = peer


class FrameTooLarge(TransportError):
    """A frame's announced length exceeds the transport's maximum; it was not read."""


class UnknownPeer(TransportError):
    """A connection or frame came from (or was addressed to) a party outside the roster."""


class HandshakeFailed(TransportError):
    """Mutual authentication with a peer failed (bad signature, wrong identity, timeout)."""


class ConnectionClosed(TransportError):
    """The connection to ``peer`` (or the whole transport) is closed."""
