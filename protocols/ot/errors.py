"""Aborts of the OT layer, inside the project's error hierarchy (each names the peer)."""

from __future__ import annotations

from coopetition.engine.errors import CheatingDetected, ProtocolViolation


class MalformedOtMessage(ProtocolViolation):
    """An OT message of the wrong size or holding an invalid group element."""

    code = "ot_malformed_message"


class CorrelationCheckFailed(CheatingDetected):
    """The KOS consistency check failed: the receiver used inconsistent choice bits."""

    code = "ot_correlation_check_failed"
