"""Audit of a rejected additive (dishonest-majority) candidate: replay everyone from seeds.

A rejected candidate is worthless, so every party reveals its seed. Everything a party sent for
the candidate is a deterministic function of its seed, the public OLE keys and what it received,
so the auditor re-runs all m parties and compares, message by message in protocol order, with
what was actually sent. The replay needs no decryption key: the plaintext of every ciphertext
is known to the replay (a request encrypts a replayed share; a reply's plaintext is
sum(plaintext(c) * e) + mask with everything replayed), so ``_Replayed._decrypt`` looks it up.

Requests are compared as ciphertexts (recomputed from the seed; their DJN randomness makes that
a fixed-base table walk). Replies are compared as the PLAINTEXTS their receiver decrypted: the
receiver owns the key, so the plaintext is everything a reply gives it, and the replay gets it
with integer arithmetic instead of two exponentiations modulo N_i^2 (docs/crypto.md, "Speed":
the randomness of a reply is its sender's own business; a reply with the right plaintext and
other randomness harms no one else).

The first message that differs from its replay names its sender. Within a stage, messages are
compared in sending order, and a reply is replayed from the *replayed* request, so a party that
received a bad request is not blamed for answering it: the request's sender is named first.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from coopetition.engine.errors import CheatingDetected
from coopetition.protocols.paillier.encryptor import Encryptor, FixedBaseTable
from coopetition.protocols.paillier.keys import PublicKey

from . import additive
from .additive import AdditiveCandidate
from .candidate import seed_commitment
from .params import DkgParams

#: (stage, sender, receiver or None for a broadcast, the replayed value as a list of ints; for a
#: reply stage, the plaintexts its receiver decrypted)
#: -> None, or raise naming whom the evidence names.
Check = Callable[[str, int, "int | None", list[int]], None]


def as_row(value: object) -> list[int]:
    """A message as the list of integers the transcript and the network carry."""
    if isinstance(value, (list, tuple)):
        return [int(x) for x in value]
    return [int(value)]  # type: ignore[call-overload]


@dataclass
class AdditiveTranscript:
    """What each party sent for one candidate, as sent: (stage, sender, receiver) -> row (for a
    reply, the plaintexts its receiver decrypted)."""

    sent: dict[tuple[str, int, int | None], list[int]] = field(default_factory=dict)

    def check(self, stage: str, sender: int, receiver: int | None, replayed: list[int]) -> None:
        if self.sent.get((stage, sender, receiver)) != replayed:
            raise blame(stage, sender)


class _Replayed(AdditiveCandidate):
    """A party re-run from its seed: knows every plaintext through the shared ``known`` map."""

    def __init__(
        self,
        params: DkgParams,
        party: int,
        seed: bytes,
        peers: Sequence[tuple[PublicKey, PublicKey]],
        known: dict[int, int],
        tables: dict[PublicKey, FixedBaseTable],
    ) -> None:
        super().__init__(params, party, seed, None, peers)
        self.known = known
        self.tables = tables

    def _encrypt(self, public: PublicKey, value: int, label: str, *, short: bool = False) -> int:
        if short:  # the replay walks every party's table: held here, not in encryptor's LRU of 8
            if public not in self.tables:
                self.tables[public] = Encryptor(public).table
            c = additive._enc_short(public, value, self.seed, label, self.tables[public])
        else:
            c = super()._encrypt(public, value, label)
        self.known[c] = int(value)
        return c

    def _reply(
        self, public: PublicKey, pairs: Sequence[tuple[int, int]], mask: int, label: str
    ) -> int:
        """No ciphertext: a negative token (never a ciphertext) standing for the reply, whose
        plaintext is all the audit compares."""
        token = -1 - len(self.known)
        self.known[token] = int(mask) + sum(self.known[x] * int(e) for x, e in pairs)
        return token

    def _checked(self, owner: int, which: int, values: object, count: int) -> list[int]:
        return as_row(values)  # replayed values: requests are real ciphertexts, replies tokens

    def _decrypt(self, which: int, reply: int) -> int:
        return self.known[reply]


def blame(stage: str, sender: int) -> CheatingDetected:
    return CheatingDetected(
        f"audit: party {sender} sent {stage} values that its revealed seed does not produce",
        culprit=sender,
    )


def audit_additive(
    params: DkgParams,
    peers: Sequence[tuple[PublicKey, PublicKey]],
    commitment_of: Sequence[bytes],
    seeds: Sequence[bytes],
    check: Check,
    *,
    session: bytes,
    batch: int,
    index: int,
    n: int,
    biprimality: Sequence[tuple[str, Sequence[int]]] = (),
    tables: dict[PublicKey, FixedBaseTable] | None = None,
) -> None:
    """Raise naming the first party whose messages its seed does not give (``check`` decides
    whom the evidence names; ``AdditiveTranscript.check`` for a complete transcript).
    ``tables``: the product keys' DJN tables, kept by the caller across audits (built here on
    first use; with more than 8 parties encryptor's LRU alone would rebuild them per request)."""
    m = len(seeds)
    for j in range(m):
        if seed_commitment(session, batch, j, index, seeds[j]) != commitment_of[j]:
            raise CheatingDetected(
                f"audit: party {j} revealed a seed that does not match its commitment", culprit=j
            )
    known: dict[int, int] = {}
    held = {} if tables is None else tables
    replay = [_Replayed(params, j, seeds[j], peers, known, held) for j in range(m)]
    for step in range(1, m):
        for holder in range(step):
            request = replay[holder].sieve_request(step)
            check(f"sieve-request/{step}", holder, step, as_row(request))
            reply = replay[step].sieve_reply(step, holder, request)
            check(f"sieve-reply/{step}", step, holder, replay[holder].sieve_absorb(reply))
        replay[step].sieve_close(step)
    requests = []
    for j, c in enumerate(replay):
        c.finish_sieve()
        requests.append(c.modulus_request())
        check("modulus-request", j, None, as_row(requests[j]))
    replies: list[dict[int, int]] = [{} for _ in range(m)]
    for holder in range(m):
        for j in range(holder + 1, m):
            replies[holder][j] = replay[j].modulus_reply(holder, requests[holder])
            check("modulus-reply", j, holder, [known[replies[holder][j]]])
    for j, c in enumerate(replay):
        check("modulus-share", j, None, as_row(c.n_share(replies[j])))
    for stage, bases in biprimality:
        for j, c in enumerate(replay):
            check(stage, j, None, as_row(c.biprimality_values(n, bases)))
