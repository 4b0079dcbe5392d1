"""The dishonest-majority DKG (``additive.py``) run for m parties inside one process.

This is the reference for the additive protocol: every message is produced by the sending
party's ``AdditiveCandidate`` and handed to the receiving party's, in protocol order, and each
party's ``view`` records every integer it held or received (what a coalition could pool). It is
NOT yet the networked program: ``program.py`` (engine, consistent broadcast, audit of rejected
candidates) still runs the honest-majority Shamir protocol. The steps after N are the same as
there: trial division of N, Boneh-Franklin with transcript-derived bases, the key stage,
verification keys and the public key in the form ``threshold.py`` consumes.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import gmpy2

from coopetition.engine.errors import CheatingDetected
from coopetition.protocols.paillier.keys import PublicKey, register_insecure_test_key
from coopetition.protocols.paillier.threshold import KeyShare, ThresholdPublicKey

from . import derive
from .additive import AdditiveCandidate, OleKeys
from .additive_audit import AdditiveTranscript, as_row, audit_additive
from .candidate import payload_digest, seed_commitment
from .checks import boneh_franklin
from .params import DkgParams, coprime_to, trial_division_product
from .replay import BIPRIME_FULL


class AdditiveDkgGaveUp(RuntimeError):
    """No key within the candidate budget (the run is random; raise the budget)."""


@dataclass
class PartyView:
    """Every integer one party held or received during the run (inspection by tests)."""

    integers: list[int] = field(default_factory=list, repr=False)

    def see(self, *values: object) -> None:
        for value in values:
            if isinstance(value, (list, tuple)):
                self.see(*value)
            elif isinstance(value, dict):
                self.see(*value.values())
            elif isinstance(value, bytes):
                self.integers.append(int.from_bytes(value, "big"))
            else:
                self.integers.append(int(value))  # type: ignore[call-overload]


@dataclass
class AdditiveDkgResult:
    public: ThresholdPublicKey
    shares: list[KeyShare] = field(repr=False)
    candidates: int
    seconds: float
    views: list[PartyView] = field(repr=False)
    #: the accepted candidate's per-party state (tests pool a coalition's additive shares)
    accepted: list[AdditiveCandidate] = field(repr=False)


#: Byzantine test hook: (stage, sender, receiver or None, value) -> value actually sent.
Tamper = Callable[[str, int, int | None, Any], Any]


@dataclass
class _Wire:
    """Delivers one candidate's messages: applies the tamper hook, records the transcript and
    what each receiver saw."""

    views: list[PartyView]
    tamper: Tamper | None
    transcript: AdditiveTranscript = field(default_factory=AdditiveTranscript)

    def send(self, stage: str, sender: int, receiver: int | None, value: Any) -> Any:
        if self.tamper is not None:
            value = self.tamper(stage.split("/")[0], sender, receiver, value)
        if not isinstance(value, bytes):
            self.transcript.sent[(stage, sender, receiver)] = as_row(value)
        for j, view in enumerate(self.views):
            if receiver is None or j == receiver:
                view.see(value)
        return value


def _sieve(parties: list[AdditiveCandidate], wire: _Wire) -> None:
    m = len(parties)
    for step in range(1, m):
        responder = parties[step]
        for holder in range(step):
            request = wire.send(
                f"sieve-request/{step}", holder, step, parties[holder].sieve_request(step)
            )
            stage = f"sieve-reply/{step}"
            reply = wire.send(stage, step, holder, responder.sieve_reply(step, holder, request))
            wire.transcript.sent[(stage, step, holder)] = parties[holder].sieve_absorb(reply)
        responder.sieve_close(step)
    for party, view in zip(parties, wire.views, strict=True):
        party.finish_sieve()
        view.see(party.sieve_units, party.sieve_shares, party.prime_share)


def _products(
    stage: str,
    requests: list[list[int]],
    reply: list[Any],
    share: list[Any],
    wire: _Wire,
) -> int:
    """One all-pairs product round: broadcast requests, replies j -> i < j, open the sum."""
    m = len(requests)
    sent = [wire.send(f"{stage}-request", i, None, r) for i, r in enumerate(requests)]
    replies: list[dict[int, int]] = [{} for _ in range(m)]
    for holder in range(m):
        for j in range(holder + 1, m):
            value = wire.send(f"{stage}-reply", j, holder, reply[j](holder, sent[holder]))
            replies[holder][j] = value
    opened = [wire.send(f"{stage}-share", i, None, share[i](replies[i])) for i in range(m)]
    return sum(opened)


def _candidate(
    params: DkgParams, keys: list[OleKeys], seeds: list[bytes], wire: _Wire
) -> tuple[list[AdditiveCandidate], int]:
    publics = [k.public for k in keys]
    parties = [AdditiveCandidate(params, j, seed, keys[j], publics) for j, seed in enumerate(seeds)]
    _sieve(parties, wire)
    n = _modulus(parties, wire)
    for c, view in zip(parties, wire.views, strict=True):
        view.see(c.masks)
    return parties, n


def _modulus(parties: list[AdditiveCandidate], wire: _Wire) -> int:
    """N from the sieved shares; the transcript keeps each reply as the plaintext its
    receiver decrypted (what the audit compares)."""
    n = _products(
        "modulus",
        [c.modulus_request() for c in parties],
        [c.modulus_reply for c in parties],
        [c.n_share for c in parties],
        wire,
    )
    for c in parties:
        for j, plain in c.reply_plaintexts.items():
            wire.transcript.sent[("modulus-reply", j, c.party)] = [plain]
    return n


def _plausible(params: DkgParams, n: int) -> bool:
    if n.bit_length() != params.bits or n % 4 != 1:
        return False
    product = trial_division_product(2, params.trial_bound)
    return coprime_to([n], product)[0]


def generate_additive(
    params: DkgParams,
    *,
    session: bytes = b"additive-dkg",
    keys: list[OleKeys] | None = None,
    max_candidates: int = 100_000,
    audit_fraction: float = 0.125,
    tamper: Tamper | None = None,
) -> AdditiveDkgResult:
    """Candidates one at a time until one passes the sieve, trial division, Boneh-Franklin
    (``params.biprimality_rounds`` bases) and yields an invertible theta.

    A rejected candidate that reached Boneh-Franklin, and a public random fraction
    ``audit_fraction`` of the others, is audited (``audit_additive``): a deviation raises
    ``CheatingDetected`` naming the party.
    """
    started = time.perf_counter()
    m = params.parties
    keys = keys if keys is not None else [OleKeys.generate(params) for _ in range(m)]
    publics = [k.public for k in keys]
    views = [PartyView() for _ in range(m)]
    for key, view in zip(keys, views, strict=True):
        view.see(key.product.p, key.product.q, key.key.p, key.key.q)
    for index in range(max_candidates):
        seeds = [secrets.token_bytes(32) for _ in range(m)]
        commitments = [seed_commitment(session, 0, j, index, s) for j, s in enumerate(seeds)]
        wire = _Wire(views, tamper)
        parties, n = _candidate(params, keys, seeds, wire)
        bases: list[int] | None = None
        accepted = False
        if _plausible(params, n):
            bases = derive.biprimality_bases(
                session, 0, index, n, BIPRIME_FULL, params.biprimality_rounds
            )
            rows = [
                wire.send("biprimality", j, None, c.biprimality_values(n, bases))
                for j, c in enumerate(parties)
            ]
            accepted = boneh_franklin(n, rows)
        if not accepted:
            coin = derive.audit_coin(session, 0, index, payload_digest(commitments, n))
            if bases is not None or coin < audit_fraction:
                revealed = [wire.send("audit-seed", j, None, s) for j, s in enumerate(seeds)]
                audit_additive(
                    params,
                    publics,
                    commitments,
                    revealed,
                    wire.transcript.check,
                    session=session,
                    batch=0,
                    index=index,
                    n=n,
                    biprimality=[("biprimality", bases)] if bases is not None else [],
                )
            continue
        opened = _products(
            "key",
            [c.key_request(n) for c in parties],
            [c.key_reply for c in parties],
            [lambda replies, c=c, n=n: c.key_open_share(n, replies) for c in parties],
            wire,
        )
        if not all(c.set_key_open(n, opened) for c in parties):
            continue
        for c, view in zip(parties, views, strict=True):
            view.see(c.key_inputs, c.masks, c.decryption_exponent)
        try:
            public, shares = _threshold_key(params, session, n, parties)
        except ValueError:
            # the accepted candidate cannot be audited (its seeds are the key): abort, no culprit
            raise CheatingDetected(
                "the key stage produced verification keys that do not fit together"
            ) from None
        for view in views:
            view.see(list(public.verification_keys))
        return AdditiveDkgResult(
            public, shares, index + 1, time.perf_counter() - started, views, parties
        )
    raise AdditiveDkgGaveUp(f"no key within {max_candidates} candidates")


def _threshold_key(
    params: DkgParams, session: bytes, n: int, parties: list[AdditiveCandidate]
) -> tuple[ThresholdPublicKey, list[KeyShare]]:
    public = PublicKey(n)
    if params.insecure_allow_small:
        register_insecure_test_key(public)
    v = derive.verification_base(session, n)
    exponents = [c.decryption_exponent for c in parties]
    keys = tuple(int(gmpy2.powmod(v, d, n * n)) for d in exponents if d is not None)
    tpk = ThresholdPublicKey(public, v, keys, params.share_bits)
    return tpk, [KeyShare(tpk, j, d) for j, d in enumerate(exponents) if d is not None]
