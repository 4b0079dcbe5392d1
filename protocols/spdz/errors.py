"""SPDZ-specific aborts, all inside the project's error hierarchy.

``MacCheckFailed`` cannot name a culprit: a wrong MAC sum shows that *some* opened value or
MAC share was wrong, not whose. Every other detected deviation (a commitment opened to a
different value, a preprocessing item id that differs from ours, a bad proof) names the party.
"""

from __future__ import annotations

from coopetition.engine.errors import CheatingDetected, LocalFailure, ProtocolViolation


class MacCheckFailed(CheatingDetected):
    """The MAC check over opened values failed; by design it cannot tell who cheated."""

    code = "spdz_mac_check_failed"


class CommitmentMismatch(CheatingDetected):
    """A party opened a commitment to something else than it committed to."""

    code = "spdz_commitment_mismatch"


class PreprocessingMismatch(ProtocolViolation):
    """A party used a different (e.g. already consumed) preprocessing item than everyone else."""

    code = "spdz_preprocessing_mismatch"


class SacrificeFailed(CheatingDetected):
    """A generated triple failed its check against a sacrificed one (no culprit can be named)."""

    code = "spdz_sacrifice_failed"


class ConversionRejected(CheatingDetected):
    """Gadget 4 found a conversion whose shares or MACs do not match its ciphertext."""

    code = "spdz_conversion_rejected"


class PreprocessingReused(LocalFailure):
    """A preprocessing batch or item was offered for use a second time."""

    code = "spdz_preprocessing_reused"


class PreprocessingExhausted(LocalFailure):
    """Not enough preprocessed material of some kind for the requested operation."""

    code = "spdz_preprocessing_exhausted"
