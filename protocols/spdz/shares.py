"""One party's view of an authenticated sharing: value shares and MAC shares.

For a shared vector x the parties hold x_i and g_i with ``sum x_i = x`` and
``sum g_i = alpha * x`` (mod P), alpha being the global MAC key that stays additively shared
(``alpha = sum alpha_i``) until the end. All operations here are local; the ones that take a
public constant need the party id (only party 0 adds the constant to its value share) and the
party's key share (every party adds ``alpha_i * c`` to its MAC share).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import field as F


@dataclass(frozen=True, slots=True)
class Share:
    """Party-local shares of a vector: ``value`` and ``mac``, 1-d object arrays mod P."""

    value: np.ndarray
    mac: np.ndarray

    def __post_init__(self) -> None:
        if self.value.shape != self.mac.shape or self.value.ndim != 1:
            raise ValueError("value and MAC shares must be 1-d vectors of one length")

    def __len__(self) -> int:
        return len(self.value)

    def __add__(self, other: Share) -> Share:
        return Share(F.add(self.value, other.value), F.add(self.mac, other.mac))

    def __sub__(self, other: Share) -> Share:
        return Share(F.sub(self.value, other.value), F.sub(self.mac, other.mac))

    def __neg__(self) -> Share:
        return Share(F.neg(self.value), F.neg(self.mac))

    def scale(self, c: np.ndarray | int) -> Share:
        """Multiply by a public constant (scalar or vector)."""
        return Share(F.mul(self.value, c), F.mul(self.mac, c))

    def add_public(self, c: np.ndarray | int, party: int, alpha_share: int) -> Share:
        """Add a public constant: party 0 adds it to its value share, everyone to the MAC."""
        c = np.asarray(c, dtype=object) if not isinstance(c, int) else c
        value = F.add(self.value, c) if party == 0 else self.value.copy()
        return Share(
            value,
            F.add(
                self.mac,
                F.mul(
                    np.broadcast_to(np.asarray(c, dtype=object), self.value.shape).copy(),
                    alpha_share,
                ),
            ),
        )

    def __getitem__(self, idx: slice | np.ndarray) -> Share:
        return Share(self.value[idx], self.mac[idx])

    @staticmethod
    def concat(parts: list[Share]) -> Share:
        if not parts:
            return Share(F.zeros(0), F.zeros(0))
        return Share(
            np.concatenate([p.value for p in parts]).astype(object),
            np.concatenate([p.mac for p in parts]).astype(object),
        )

    @staticmethod
    def public(c: np.ndarray, party: int, alpha_share: int) -> Share:
        """A sharing of a public vector (no communication)."""
        c = F.vec(c)
        value = c.copy() if party == 0 else F.zeros(len(c))
        return Share(value, F.mul(c, alpha_share))
