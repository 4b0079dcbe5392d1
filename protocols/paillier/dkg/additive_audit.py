"""Audit of a rejected additive (dishonest-majority) candidate: replay everyone from seeds.

A rejected candidate is worthless, so every party reveals its seed. Everything a party sent for
the candidate is a deterministic function of its seed, the public OLE keys and what it received,
so the auditor re-runs all m parties and compares, message by message in protocol order, with
what was actually sent. The replay needs no decryption key: the plaintext of every ciphertext
is known to the replay (a request encrypts a replayed share; a reply's plaintext is
sum(plaintext(c) * e) + mask with everything replayed), so ``_Replayed._decrypt`` looks it up.

The first message that differs from its replay names its sender. Within a stage, messages are
compared in sending order, and a reply is replayed from the *replayed* request, so a party that
received a bad request is not blamed for answering it: the request's sender is named first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from coopetition.engine.errors import CheatingDetected
from coopetition.protocols.paillier.keys import PublicKey

from .additive import AdditiveCandidate
from .candidate import seed_commitment


@dataclass
class AdditiveTranscript:
    """What each party sent for one candidate, as it was sent (indexed as in ``additive``)."""

    sieve_requests: dict[tuple[int, int], list[int]] = field(default_factory=dict)
    sieve_replies: dict[tuple[int, int], list[int]] = field(default_factory=dict)
    modulus_requests: dict[int, list[int]] = field(default_factory=dict)
    modulus_replies: dict[tuple[int, int], int] = field(default_factory=dict)
    modulus_shares: dict[int, int] = field(default_factory=dict)
    biprimality: dict[int, list[int]] = field(default_factory=dict)


class _Replayed(AdditiveCandidate):
    """A party re-run from its seed: knows every plaintext through the shared ``known`` map."""

    def __init__(
        self,
        params: object,
        party: int,
        seed: bytes,
        peers: Sequence[tuple[PublicKey, PublicKey]],
        known: dict[int, int],
    ) -> None:
        super().__init__(params, party, seed, None, peers)  # type: ignore[arg-type]
        self.known = known

    def _encrypt(self, public: PublicKey, value: int, label: str) -> int:
        c = super()._encrypt(public, value, label)
        self.known[c] = int(value)
        return c

    def _reply(
        self, public: PublicKey, pairs: Sequence[tuple[int, int]], mask: int, label: str
    ) -> int:
        c = super()._reply(public, pairs, mask, label)
        self.known[c] = int(mask) + sum(self.known[x] * int(e) for x, e in pairs)
        return c

    def _decrypt(self, which: int, reply: int) -> int:
        return self.known[reply]


def _blame(stage: str, sender: int) -> CheatingDetected:
    return CheatingDetected(
        f"audit: party {sender} sent {stage} values that its revealed seed does not produce",
        culprit=sender,
    )


def audit_additive(
    params: object,
    peers: Sequence[tuple[PublicKey, PublicKey]],
    commitment_of: Sequence[bytes],
    seeds: Sequence[bytes],
    transcript: AdditiveTranscript,
    *,
    session: bytes,
    batch: int,
    index: int,
    bases: Sequence[int] | None,
) -> None:
    """Raise ``CheatingDetected`` naming the first party whose messages its seed does not give."""
    m = len(seeds)
    for j in range(m):
        if seed_commitment(session, batch, j, index, seeds[j]) != commitment_of[j]:
            raise CheatingDetected(
                f"audit: party {j} revealed a seed that does not match its commitment", culprit=j
            )
    known: dict[int, int] = {}
    replay = [_Replayed(params, j, seeds[j], peers, known) for j in range(m)]
    for step in range(1, m):
        for holder in range(step):
            request = replay[holder].sieve_request(step)
            if transcript.sieve_requests.get((step, holder)) != request:
                raise _blame("sieve-request", holder)
            reply = replay[step].sieve_reply(step, holder, request)
            if transcript.sieve_replies.get((step, holder)) != reply:
                raise _blame("sieve-reply", step)
            replay[holder].sieve_absorb(reply)
        replay[step].sieve_close(step)
    requests = []
    for j, c in enumerate(replay):
        c.finish_sieve()
        requests.append(c.modulus_request())
        if transcript.modulus_requests.get(j) != requests[j]:
            raise _blame("modulus-request", j)
    replies: list[dict[int, int]] = [{} for _ in range(m)]
    for holder in range(m):
        for j in range(holder + 1, m):
            replies[holder][j] = replay[j].modulus_reply(holder, requests[holder])
            if transcript.modulus_replies.get((holder, j)) != replies[holder][j]:
                raise _blame("modulus-reply", j)
    for j, c in enumerate(replay):
        if transcript.modulus_shares.get(j) != c.modulus_share(replies[j]):
            raise _blame("modulus-share", j)
    if bases is None:
        return
    n = sum(transcript.modulus_shares.values())
    for j, c in enumerate(replay):
        if transcript.biprimality.get(j) != c.biprimality_values(n, bases):
            raise _blame("biprimality", j)
