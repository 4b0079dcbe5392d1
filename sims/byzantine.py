"""Byzantine party faults: a payload rewrite applied by the engine before signing.

A :class:`Byzantine` fault builds a ``payload_hook`` for ``Party``; :func:`perturb` changes a
payload while keeping its shape. It lives with the simulations (not the transports) because it
acts on envelope headers and payloads, which are the engine's, and leaves the engine's own
echo/evidence messages alone by asking ``coopetition.engine.tags``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import trio

from coopetition.engine.errors import ConfigError, PartyId
from coopetition.engine.tags import is_internal
from coopetition.transports.schedule import FaultSchedule

__all__ = ["Byzantine", "perturb"]


def perturb(payload: Any) -> Any:
    """A payload of the same shape and type that differs from ``payload`` (for Byzantine tests):
    numbers moved by one (NaN and infinities become 0), bytes bit-flipped, strings extended,
    containers changed in their first element (by sorted key for maps), ``None`` replaced by 0.

    A Byzantine event is logged only when the payload really changed, so this raises
    ``ConfigError`` for a type it cannot change rather than hand the payload back untouched.
    """
    changed = _perturbed(payload)
    if _same(changed, payload):
        raise ConfigError(f"perturb: cannot change a payload of type {type(payload).__name__}")
    return changed


def _perturbed(payload: Any) -> Any:
    import numpy as np

    if isinstance(payload, np.ndarray):
        if payload.dtype == np.bool_:
            return ~payload
        if payload.size == 0:
            return np.zeros(1, dtype=payload.dtype)
        if not np.issubdtype(payload.dtype, np.number):
            out = payload.copy()
            out.reshape(-1)[0] = _perturbed(out.reshape(-1)[0])
            return out
        out = payload + 1
        # x + 1 is x again for NaN, infinities and floats beyond 2**53: those become 0.
        stuck = ~np.isfinite(out) | (out == payload)
        out[stuck] = 0
        return out
    if isinstance(payload, (bool, np.bool_)):
        return type(payload)(not payload)
    if isinstance(payload, (int, np.integer)):
        return payload + 1
    if isinstance(payload, (float, np.floating)):
        if not np.isfinite(payload) or payload + 1 == payload:
            return type(payload)(0.0 if payload != 0 else 1.0)
        return payload + 1
    if isinstance(payload, complex):
        return payload + 1
    if payload is None:
        return 0
    if isinstance(payload, (bytes, bytearray)):
        return type(payload)(bytes([payload[0] ^ 1]) + bytes(payload[1:]) if payload else b"\x00")
    if isinstance(payload, str):
        return payload + "!"
    if isinstance(payload, (list, tuple)):
        items = [_perturbed(payload[0]), *payload[1:]] if payload else [0]
        return type(payload)(items) if type(payload) in (list, tuple) else items
    if isinstance(payload, dict):
        if not payload:
            return {"x": 0}
        first = sorted(payload, key=repr)[0]
        return {**payload, first: _perturbed(payload[first])}
    raise ConfigError(f"perturb: cannot change a payload of type {type(payload).__name__}")


def _same(a: Any, b: Any) -> bool:
    """Structural equality that treats NaN as equal to NaN (so NaN -> NaN counts as unchanged)."""
    import numpy as np

    if type(a) is not type(b):
        return False
    if isinstance(a, np.ndarray):
        if a.shape != b.shape or a.dtype != b.dtype:
            return False
        if np.issubdtype(a.dtype, np.inexact):
            return bool(np.array_equal(a, b, equal_nan=True))
        return bool(np.array_equal(a, b))
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (float, np.floating)) and a != a and b != b:
        return True
    return bool(a == b)


@dataclass
class Byzantine:
    """A payload rewrite on ``party``'s outgoing messages of ``phase`` (and ``round``/``tag`` if
    given), applied after the protocol built the payload and before signing.

    ``action``: ``equivocate`` sends the perturbed payload only to ``targets`` (default: the
    lower half of the other parties) and the true one to the rest; ``tamper`` sends the perturbed
    payload to every peer; ``nan`` sends float arrays replaced by NaNs (a malformed value). In
    every action the sender's own record (the hook called with ``peer == party``) keeps the true
    payload: that is what a cheater signs as "sent", and what honest parties catch it with.
    """

    party: PartyId
    phase: str
    round: int | None = None
    tag: str | None = None
    action: str = "equivocate"
    targets: Sequence[PartyId] | None = None

    def __post_init__(self) -> None:
        if self.action not in ("equivocate", "tamper", "nan"):
            raise ConfigError("byzantine: action must be equivocate, tamper or nan")
        if not isinstance(self.phase, str):
            raise ConfigError(f"byzantine: phase must be a string, got {self.phase!r}")
        if self.round is not None and (
            isinstance(self.round, bool) or not isinstance(self.round, int) or self.round < 0
        ):
            raise ConfigError(
                f"byzantine: round must be a non-negative integer, got {self.round!r}"
            )
        if self.tag is not None and not isinstance(self.tag, str):
            raise ConfigError(f"byzantine: tag must be a string, got {self.tag!r}")
        if self.targets is not None:
            if self.action != "equivocate":
                raise ConfigError("byzantine: targets apply only to action 'equivocate'")
            if self.party in self.targets:
                raise ConfigError("byzantine: targets must not include the Byzantine party")

    def check_peers(self, peers: Sequence[PartyId]) -> None:
        """Raise ``ConfigError`` unless the targets make sense for a run of ``peers``."""
        others = sorted(p for p in peers if p != self.party)
        targets = set(self.targets if self.targets is not None else others[: len(others) // 2])
        if not targets <= set(others):
            raise ConfigError(f"byzantine: targets {sorted(targets - set(others))} are not peers")
        if self.action == "equivocate" and not (targets and set(others) - targets):
            raise ConfigError(
                "byzantine equivocation needs a non-empty proper subset of peers "
                "as targets (some peers must get the true payload)"
            )

    def describe(self) -> str:
        where = f"phase {self.phase!r}" + ("" if self.round is None else f" round {self.round}")
        return f"byzantine party {self.party}: {self.action} on {where}"

    def hook(
        self, schedule: FaultSchedule, peers: Sequence[PartyId]
    ) -> Callable[[Any, Any, PartyId], Any]:
        import numpy as np

        self.check_peers(peers)
        others = sorted(p for p in peers if p != self.party)
        targets = set(self.targets if self.targets is not None else others[: len(others) // 2])

        def rewrite(header: Any, payload: Any, peer: PartyId) -> Any:
            if header.phase != self.phase or (
                self.round is not None and header.round != self.round
            ):
                return payload
            if self.tag is not None and header.tag != self.tag:
                return payload
            if self.tag is None and is_internal(header.tag):
                return payload  # leave the runtime's echo/evidence messages alone by default
            if peer == self.party:
                # The engine asks for the copy the sender records (and signs as what it sent):
                # a Byzantine party keeps the true one, so what peers receive differs from it
                # and the echo round can prove the equivocation.
                return payload
            if self.action == "equivocate" and peer not in targets:
                return payload
            schedule.add(
                trio.current_time() - schedule_t0,
                "byzantine",
                party=self.party,
                peer=peer,
                action=self.action,
                phase=header.phase,
                round=header.round,
                tag=header.tag,
            )
            if self.action == "nan" and isinstance(payload, np.ndarray):
                return np.full_like(payload, np.nan, dtype=np.float64)
            return perturb(payload)

        schedule_t0 = trio.current_time()
        return rewrite
