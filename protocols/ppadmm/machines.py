"""PPADMM's phases as sans-IO machines: setup, key confirmation, secure aggregation.

Roles: participants hold data; the primary server S1 aggregates and runs the coordination
(z) step; the auxiliary server S2 shares one X25519 key with each participant and tells S1 the
sum of the masks. Participants' local steps reuse the plaintext ADMM machine
(:class:`~coopetition.protocols.admm.machines.LocalOptimize`) and the run ends with ADMM's
:class:`~coopetition.protocols.admm.machines.Release`.

Who sees what (the threat model, ``docs/threat-model.md``): a participant's masked vector goes
point to point to S1 only; S2's mask sum goes to S1 only; z is a consistent broadcast to all.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from coopetition.engine.errors import LocalFailure, PartyId, ProtocolViolation
from coopetition.engine.machine import (
    Abort,
    Action,
    Broadcast,
    Compute,
    Computed,
    Done,
    Gather,
    PhaseMachine,
    Received,
    Send,
    Started,
)
from coopetition.engine.wire import encode_payload
from coopetition.protocols.admm.objective import Objective
from coopetition.protocols.ppadmm import masking as M


@dataclass(frozen=True)
class Roles:
    """Party ids of the participants, the primary server S1 and the auxiliary server S2."""

    participants: tuple[PartyId, ...]
    primary: PartyId
    auxiliary: PartyId

    def role_of(self, party: PartyId) -> str:
        if party == self.primary:
            return "primary"
        if party == self.auxiliary:
            return "auxiliary"
        return "participant"


class SetupState(enum.Enum):
    START = "start"
    AGREEING = "agreeing"
    DONE = "done"
    ABORTED = "aborted"


@dataclass
class Setup(PhaseMachine):
    """Agree on the public parameters and learn every participant's and S2's X25519 key.

    Result: ``{party: public key}`` for the participants and S2 (S1 has no key).
    """

    phase: ClassVar[str] = "setup"
    State: ClassVar[type[enum.Enum]] = SetupState
    TRANSITIONS: ClassVar[dict[tuple[Any, type], Any]] = {
        (SetupState.START, Started): (SetupState.AGREEING, "_announce"),
        (SetupState.AGREEING, Received): (SetupState.DONE, "_agree"),
    }

    public_parameters: dict[str, Any] = field(default_factory=dict)
    x25519_public: bytes = b""
    roles: Roles | None = None

    def _announce(self, _: Started) -> list[Action]:
        self.move(SetupState.AGREEING)
        payload = {"parameters": self.public_parameters, "x25519": self.x25519_public}
        return [
            Broadcast(tag="parameters", payload=payload),
            Gather(tag="parameters", senders=tuple(self.parties), consistent=True),
        ]

    def _agree(self, event: Received) -> list[Action]:
        assert self.roles is not None
        mine = encode_payload(self.public_parameters)
        keys: dict[PartyId, bytes] = {}
        for sender, value in sorted(event.messages.items()):
            params = value.get("parameters") if isinstance(value, dict) else None
            if params is None or encode_payload(params) != mine:
                return [self._violation(sender, "announced different training parameters")]
            key = value.get("x25519")
            needs_key = sender != self.roles.primary
            if needs_key and not (isinstance(key, bytes) and len(key) == M.KEY_BYTES):
                return [self._violation(sender, "announced no 32-byte X25519 public key")]
            if needs_key and not M.usable_public_key(key):
                return [self._violation(sender, "announced a low-order X25519 public key")]
            if needs_key:
                keys[sender] = key
        return [Done(result=keys)]

    def _violation(self, sender: PartyId, what: str) -> Abort:
        return Abort(
            error=ProtocolViolation(f"party {sender} {what}", culprit=sender, phase=self.phase)
        )


class KeysState(enum.Enum):
    START = "start"
    CHECKING = "checking"  # S2: waiting for the participants' confirmations
    CONFIRMING = "confirming"  # everyone: waiting for S2's consistent "all confirmed"
    PRECOMPUTING = "precomputing"
    DONE = "done"
    ABORTED = "aborted"


@dataclass
class KeyConfirm(PhaseMachine):
    """Participants prove to S2 that they derived the same key; S2 announces success to all.

    A mismatch (e.g. a participant configured with a stale S2 key) aborts here, before any
    training round, naming the participant. With ``precompute`` the participants and S2 then
    derive every iteration's masks up front (the paper's suggested optimisation).
    Result: ``{iteration: mask words}`` (a participant's own, or S2's sums) or ``{}``.
    """

    phase: ClassVar[str] = "keys"
    State: ClassVar[type[enum.Enum]] = KeysState
    TRANSITIONS: ClassVar[dict[tuple[Any, type], Any]] = {
        (KeysState.START, Started): ((KeysState.CHECKING, KeysState.CONFIRMING), "_start"),
        (KeysState.CHECKING, Received): (KeysState.CONFIRMING, "_check"),
        (KeysState.CONFIRMING, Received): (
            (KeysState.PRECOMPUTING, KeysState.DONE),
            "_confirmed",
        ),
        (KeysState.PRECOMPUTING, Computed): (KeysState.DONE, "_precomputed"),
    }

    roles: Roles | None = None
    session: bytes = b""
    keys: dict[PartyId, bytes] = field(default_factory=dict)  # participant -> agreed key
    precompute: bool = False
    iterations: int = 0
    features: int = 0

    def _start(self, _: Started) -> list[Action]:
        assert self.roles is not None
        role = self.roles.role_of(self.party)
        wait = Gather(tag="confirmed", senders=(self.roles.auxiliary,), consistent=True)
        if role == "auxiliary":
            self.move(KeysState.CHECKING)
            return [Gather(tag="confirm", senders=self.roles.participants)]
        self.move(KeysState.CONFIRMING)
        if role == "participant":
            tag = M.confirmation(self.keys[self.party], self.session, self.party)
            return [Send(to=self.roles.auxiliary, tag="confirm", payload=tag), wait]
        return [wait]

    def _check(self, event: Received) -> list[Action]:
        assert self.roles is not None
        for participant in self.roles.participants:
            shown = event.messages.get(participant)
            if not M.confirmation_ok(self.keys[participant], self.session, participant, shown):
                return [
                    Abort(
                        error=M.KeyMismatch(
                            f"participant {participant}'s key confirmation does not match the "
                            "key S2 agreed with it (wrong or stale S2 public key?)",
                            culprit=participant,
                            phase=self.phase,
                        )
                    )
                ]
        self.move(KeysState.CONFIRMING)
        return [
            Broadcast(tag="confirmed", payload=list(self.roles.participants)),
            Gather(tag="confirmed", senders=(self.roles.auxiliary,), consistent=True),
        ]

    def _confirmed(self, event: Received) -> list[Action]:
        assert self.roles is not None
        confirmed = event.messages.get(self.roles.auxiliary)
        if not (isinstance(confirmed, list) and confirmed == list(self.roles.participants)):
            return [
                Abort(
                    error=ProtocolViolation(
                        "S2 did not confirm every participant's key",
                        culprit=self.roles.auxiliary,
                        phase=self.phase,
                    )
                )
            ]
        role = self.roles.role_of(self.party)
        if not self.precompute or role == "primary":
            return [Done(result={})]
        self.move(KeysState.PRECOMPUTING)
        own = [self.keys[self.party]] if role == "participant" else list(self.keys.values())
        return [
            Compute(
                label="precompute_masks",
                fn=precompute_masks,
                args=(own, self.iterations, self.features),
            )
        ]

    def _precomputed(self, event: Computed) -> list[Action]:
        return [Done(result=event.result)]


def precompute_masks(keys: list[bytes], iterations: int, features: int) -> dict[int, list[int]]:
    """Every iteration's mask (one key) or mask sum (S2's keys), before training starts."""
    return {t: M.mask_sum(keys, t, features) for t in range(iterations)}


def _check_model(
    value: object, features: int, bound: float, sender: PartyId, phase: str, rnd: int
) -> Abort | None:
    """z from honest contributions (each within ``bound``) is within ``bound`` too."""
    if (
        isinstance(value, np.ndarray)
        and value.dtype == np.float64
        and value.shape == (features,)
        and np.isfinite(value).all()
        and np.abs(value).max() <= bound
    ):
        return None
    return Abort(
        error=ProtocolViolation(
            f"S1 sent a model that is not a float64 vector of length {features} within the "
            f"agreed bound {bound:g}",
            culprit=sender,
            phase=phase,
            round=rnd,
        )
    )


class AggState(enum.Enum):
    START = "start"
    COLLECTING = "collecting"  # S1: masked uploads
    SUMMING = "summing"  # S1: S2's mask sum
    COMBINING = "combining"  # S1: unmask and coordinate
    AWAITING = "awaiting"  # everyone: the consistent broadcast of z
    DONE = "done"
    ABORTED = "aborted"


@dataclass
class Aggregate(PhaseMachine):
    """One round of secure aggregation and coordination, for whichever role runs it.

    * participant: upload ``(encode(w_i + u_i) + M_i^t) mod 2**128`` to S1;
    * S2: send S1 ``sum_i M_i^t``;
    * S1: recover ``sum_i encode(w_i + u_i)`` exactly, z = prox(mean) as in plaintext ADMM.

    All then take z from S1's consistent broadcast. Result: z.
    """

    phase: ClassVar[str] = "aggregate"
    State: ClassVar[type[enum.Enum]] = AggState
    TRANSITIONS: ClassVar[dict[tuple[Any, type], Any]] = {
        (AggState.START, Started): ((AggState.COLLECTING, AggState.AWAITING), "_start"),
        (AggState.COLLECTING, Received): (AggState.SUMMING, "_collected"),
        (AggState.SUMMING, Received): (AggState.COMBINING, "_summed"),
        (AggState.COMBINING, Computed): (AggState.AWAITING, "_combined"),
        (AggState.AWAITING, Received): (AggState.DONE, "_received_model"),
    }

    roles: Roles | None = None
    ring: M.FixedPointRing = field(default_factory=M.FixedPointRing)
    features: int = 0
    contribution: np.ndarray | None = None  # participant: w_i + u_i
    key: bytes = b""  # participant: k_i
    keys: tuple[bytes, ...] = ()  # S2: every k_i
    precomputed: list[int] | None = None  # participant: M_i^t; S2: sum of masks
    bound: float = 1e12
    objective: Objective = field(default_factory=Objective)
    rho: float = 1.0
    _uploads: list[list[int]] = field(default_factory=list, init=False)

    def _await_model(self) -> Gather:
        assert self.roles is not None
        return Gather(tag="z", senders=(self.roles.primary,), consistent=True)

    def _start(self, _: Started) -> list[Action]:
        assert self.roles is not None
        role = self.roles.role_of(self.party)
        if role == "primary":
            self.move(AggState.COLLECTING)
            return [Gather(tag="masked", senders=self.roles.participants)]
        if role == "auxiliary":
            total = self.precomputed or M.mask_sum(list(self.keys), self.round, self.features)
            self.move(AggState.AWAITING)
            return [
                Send(to=self.roles.primary, tag="mask_sum", payload=M.pack(total)),
                self._await_model(),
            ]
        assert self.contribution is not None
        value = self.contribution
        if not np.isfinite(value).all() or np.abs(value).max() > self.bound:
            # our own value blew up: a consequence of earlier inputs, never evidence against us
            return [
                Abort(
                    error=LocalFailure(
                        f"this participant's contribution left the agreed bound {self.bound:g}",
                        phase=self.phase,
                        round=self.round,
                    )
                )
            ]
        encoded = self.ring.encode(value)
        if self.precomputed is not None:
            upload = [(e + m) % M.RING for e, m in zip(encoded, self.precomputed, strict=True)]
        else:
            upload = M.masked(encoded, self.key, self.round)
        self.move(AggState.AWAITING)
        return [
            Send(to=self.roles.primary, tag="masked", payload=M.pack(upload)),
            self._await_model(),
        ]

    def _collected(self, event: Received) -> list[Action]:
        assert self.roles is not None
        try:
            self._uploads = [
                M.unpack(event.messages[p], self.features, p, "masked upload")
                for p in self.roles.participants
            ]
        except ProtocolViolation as exc:
            return [self._blame(exc)]
        self.move(AggState.SUMMING)
        return [Gather(tag="mask_sum", senders=(self.roles.auxiliary,))]

    def _summed(self, event: Received) -> list[Action]:
        assert self.roles is not None
        s2 = self.roles.auxiliary
        try:
            total = M.unpack(event.messages[s2], self.features, s2, "mask sum")
        except ProtocolViolation as exc:
            return [self._blame(exc)]
        self.move(AggState.COMBINING)
        return [
            Compute(
                label="coordinate",
                fn=coordinate,
                args=(self._uploads, total, self.ring, self.objective, self.rho, self.bound),
            )
        ]

    def _blame(self, exc: ProtocolViolation) -> Abort:
        return Abort(
            error=ProtocolViolation(
                exc.reason, culprit=exc.culprit, phase=self.phase, round=self.round
            )
        )

    def _combined(self, event: Computed) -> list[Action]:
        if event.result is None:
            # honest uploads sum to at most m * bound: a participant or S2 sent a corrupt
            # vector, and S1 cannot tell which (masked values carry no evidence)
            return [
                Abort(
                    error=ProtocolViolation(
                        "the unmasked sum leaves the range honest contributions can reach: a "
                        "participant's upload or S2's mask sum is corrupt",
                        phase=self.phase,
                        round=self.round,
                    )
                )
            ]
        self.move(AggState.AWAITING)
        return [Broadcast(tag="z", payload=event.result), self._await_model()]

    def _received_model(self, event: Received) -> list[Action]:
        assert self.roles is not None
        z = event.messages.get(self.roles.primary)
        limit = _with_rounding(self.bound, self.ring)
        bad = _check_model(z, self.features, limit, self.roles.primary, self.phase, self.round)
        return [bad] if bad is not None else [Done(result=z)]


def coordinate(
    uploads: list[list[int]],
    masks_total: list[int],
    ring: M.FixedPointRing,
    objective: Objective,
    rho: float,
    bound: float,
) -> np.ndarray | None:
    """S1's coordination: exact sum of encodings -> mean -> ADMM's z-update (eq. 5).

    None when the sum exceeds ``len(uploads) * bound``, which honest contributions cannot reach.
    """
    total = ring.decode_sum(M.unmask_sum(uploads, masks_total))
    if not np.abs(total).max() <= len(uploads) * _with_rounding(bound, ring):
        return None
    return objective.consensus(total / len(uploads), len(uploads), rho)


def _with_rounding(bound: float, ring: M.FixedPointRing) -> float:
    """``bound`` plus the encoding's rounding and a float division's: no honest value exceeds it."""
    return bound * (1 + 1e-9) + 2.0**-ring.frac_bits
