"""Party crashes for simulated runs: when a party stops, and the transport wrapper that stops it.

:class:`Crash` says when (a phase/round seen on the party's outgoing envelopes, a virtual time or
a seeded random time) and how (silently or with a connection reset); :class:`CrashTrigger` is
the wrapper a runner puts on top of the party's stack. Reading an envelope's phase needs the
engine's wire format, which this layer does not know: the runner passes ``peek`` (the engine's
``peek_header``), so transports import nothing from the engine.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import trio

from coopetition.transports.base import Frame, Transport
from coopetition.transports.errors import ConfigError, PartyId
from coopetition.transports.schedule import FaultSchedule
from coopetition.transports.topology import derive_rng

__all__ = ["Crash", "CrashTrigger"]


@dataclass
class Crash:
    """Crash ``party``: when it first sends an envelope of ``phase`` (and ``round``, if given),
    at virtual second ``at``, or at a seeded random time in ``[0, random_within)``.

    ``mode="silent"`` stops the party without closing anything (peers learn by timeouts);
    ``mode="reset"`` also closes its transport (peers' sends fail at once, like a TCP reset).
    """

    party: PartyId
    phase: str | None = None
    round: int | None = None
    at: float | None = None
    random_within: float | None = None
    mode: str = "silent"

    def __post_init__(self) -> None:
        if self.mode not in ("silent", "reset"):
            raise ConfigError("crash: mode must be 'silent' or 'reset'")
        if sum(x is not None for x in (self.phase, self.at, self.random_within)) != 1:
            raise ConfigError("crash: give exactly one of phase, at, random_within")
        if self.round is not None and self.phase is None:
            raise ConfigError("crash: round applies only with phase (it would be ignored)")
        if self.phase is not None and not isinstance(self.phase, str):
            raise ConfigError(f"crash: phase must be a string, got {self.phase!r}")
        if self.round is not None and (
            isinstance(self.round, bool) or not isinstance(self.round, int) or self.round < 0
        ):
            raise ConfigError(f"crash: round must be a non-negative integer, got {self.round!r}")
        if self.at is not None and not (_is_number(self.at) and self.at >= 0):
            raise ConfigError(f"crash: at must be a non-negative number, got {self.at!r}")
        if self.random_within is not None and not (
            _is_number(self.random_within) and self.random_within > 0
        ):
            raise ConfigError(
                f"crash: random_within must be a positive number, got {self.random_within!r}"
            )

    def time(self, seed: int) -> float | None:
        if self.at is not None:
            return self.at
        if self.random_within is not None:
            return derive_rng(seed, "crash", self.party).random() * self.random_within
        return None

    def describe(self, seed: int) -> str:
        when = (
            f"on sending phase {self.phase!r}"
            + ("" if self.round is None else f" round {self.round}")
            if self.phase is not None
            else f"at t={self.time(seed):.6f}s"
        )
        return f"crash party {self.party} ({self.mode}) {when}"


class CrashTrigger(Transport):
    """Top of a party's stack: calls ``on_crash`` (which cancels the party) when its crash fires.

    A phase/round crash fires on the first outgoing envelope whose header matches, before that
    envelope leaves; a timed crash is armed by the runner with :meth:`arm_timer`.
    """

    def __init__(
        self,
        inner: Transport,
        crash: Crash,
        on_crash: Callable[[], None],
        schedule: FaultSchedule,
        peek: Callable[[bytes], Any],
    ) -> None:
        self.inner, self.crash, self.on_crash, self.schedule = inner, crash, on_crash, schedule
        self.local_id, self.peers, self.max_frame = inner.local_id, inner.peers, inner.max_frame
        self.crashed = False
        self._peek = peek
        self._t0 = trio.current_time()

    async def connect(self) -> None:
        await self.inner.connect()

    async def send(self, peer: PartyId, data: bytes) -> None:
        if not self.crashed and self.crash.phase is not None:
            header = self._peek(data)
            if header.phase == self.crash.phase and (
                self.crash.round is None or header.round == self.crash.round
            ):
                await self.fire(f"phase {header.phase} round {header.round}")
        if self.crashed:
            await trio.sleep_forever()  # a crashed party never sends (cancelled by on_crash)
        await self.inner.send(peer, data)

    async def receive(self) -> Frame:
        if self.crashed:
            await trio.sleep_forever()
        return await self.inner.receive()

    async def aclose(self) -> None:
        await self.inner.aclose()

    async def fire(self, why: str) -> None:
        if self.crashed:
            return
        self.crashed = True
        self.schedule.add(
            trio.current_time() - self._t0,
            "crash",
            party=self.local_id,
            mode=self.crash.mode,
            trigger=why,
        )
        if self.crash.mode == "reset":
            with trio.CancelScope(shield=True):
                await self.inner.aclose()
        self.on_crash()

    async def arm_timer(self) -> None:
        """Run in the party's nursery: fires a timed crash."""
        when = self.crash.time(self.schedule.seed)
        if when is None:
            return
        await trio.sleep_until(self._t0 + when)
        await self.fire(f"t={when:.6f}s")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
