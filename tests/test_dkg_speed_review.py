"""Adversarial review of the additive DKG's speed levers (docs/crypto.md, DKG "Speed").

Checks the two levers where the branch's own tests do not: over the engine (signed private
messages, digests of received messages, third parties' verdicts) rather than the in-process
reference, the cost of the audit's request replays with more than a handful of parties, the
key-stage requests' randomness, and the J-membership that the DJN argument cited for the
requests assumes. Keys are 512-bit and INSECURE (``insecure_allow_small``).
"""

from __future__ import annotations

import secrets

import gmpy2
from test_dkg_additive_net import _run, _tamper

from coopetition.engine.errors import CheatingDetected, ProtocolAborted
from coopetition.protocols.paillier import encryptor
from coopetition.protocols.paillier.dkg.additive import (
    AdditiveCandidate,
    OleKeys,
    encryption_randomness,
)
from coopetition.protocols.paillier.dkg.additive_audit import audit_additive
from coopetition.protocols.paillier.dkg.additive_local import PartyView, _candidate, _Wire
from coopetition.protocols.paillier.dkg.candidate import seed_commitment
from coopetition.protocols.paillier.dkg.params import DkgParams
from coopetition.protocols.paillier.dkg.run import DkgGaveUp
from coopetition.protocols.paillier.encryptor import djn_generator
from coopetition.protocols.paillier.keys import PrivateKey, PublicKey

INSECURE_BITS = 512


async def test_over_the_engine_a_reply_with_another_plaintext_is_named_by_its_receiver():
    """Party 2 swaps its two sieve replies to party 0 (both valid ciphertexts under 0's key,
    other plaintexts). Party 0 compares the plaintexts it decrypted and names 2; party 1 holds
    only 0's digest of plaintexts and cannot tell which of 0 and 2 lies."""
    run = await _run(
        3,
        batch=6,
        max_batches=1,
        options=_tamper(2, "sieve-reply/2", lambda v: [v[1], v[0]], receiver=0),
    )
    assert isinstance(run.errors[0], CheatingDetected) and run.errors[0].culprit == 2
    assert isinstance(run.errors[1], ProtocolAborted)
    assert run.errors[1].culprit in (2, None)


async def test_over_the_engine_re_randomised_replies_name_no_one(monkeypatch):
    """docs/crypto.md, "Speed": a party that re-randomises its replies (same plaintexts) is not
    named, harmlessly. Party 2 multiplies every reply it sends by a fresh Enc(0); every
    candidate of the batch is audited (fraction 1) and no party is blamed: the run ends only
    because one batch of 6 holds no key (DkgGaveUp), at every party, or, in the rare run whose
    batch does hold a biprime (about one in twenty CI runs), completes with no error at all."""
    answer = AdditiveCandidate._reply
    changed = []

    def re_randomised(self, public, pairs, mask, label):
        c = answer(self, public, pairs, mask, label)
        if self.party == 2 and self.own is not None:  # live party 2, not a replay
            new = c * public.encrypt(0) % public.n_square
            changed.append(new != c)
            return new
        return c

    monkeypatch.setattr(AdditiveCandidate, "_reply", re_randomised)
    run = await _run(3, batch=6, max_batches=1, audit_fraction=1.0)
    assert changed and all(changed)
    if run.completed:  # the batch held a key: the audit passed everyone, nobody was named
        keys = [run.results[p] for p in (0, 1, 2)]
        assert all(k is not None for k in keys)
        return
    assert set(run.errors) == {0, 1, 2}
    assert all(isinstance(e, DkgGaveUp) for e in run.errors.values()), run.errors


def test_key_stage_requests_keep_full_length_randomness():
    """docs/crypto.md, "Speed": the key stage's requests are textbook Enc(v; r) with the full r
    its range proofs take as witness (not DJN h^alpha). Reference: (1 + N)^v r^N by gmpy2."""
    params = DkgParams(INSECURE_BITS, 3, insecure_allow_small=True)
    keys = [OleKeys.generate(params) for _ in range(3)]
    party = AdditiveCandidate(params, 1, secrets.token_bytes(32), keys[1], [k.public for k in keys])
    party.prime_share = {"p": 12345, "q": 67891}
    n = 1 << (INSECURE_BITS - 1) | 1
    cts = party.key_request(n)
    public = keys[1].key.public
    n2 = public.n * public.n
    for (value, r), c, name in zip(party.key_witnesses(), cts, ("phi", "beta"), strict=True):
        assert r == encryption_randomness(public, party.seed, f"dm/key/{name}/enc")
        assert r.bit_length() > public.bits - 64  # full length, not a short exponent's h^alpha
        textbook = pow(1 + public.n, value % public.n, n2) * pow(r, public.n, n2) % n2
        assert c == textbook


def _audit_table_builds(parties: int) -> int:
    params = DkgParams(INSECURE_BITS, parties, insecure_allow_small=True)
    keys = [OleKeys.generate(params) for _ in range(parties)]
    seeds = [secrets.token_bytes(32) for _ in range(parties)]
    wire = _Wire([PartyView() for _ in range(parties)], None)
    _, n = _candidate(params, keys, seeds, wire)
    before = encryptor._tables.cache_info().misses
    audit_additive(
        params,
        [k.public for k in keys],
        [seed_commitment(b"s", 0, j, 0, s) for j, s in enumerate(seeds)],
        seeds,
        wire.transcript.check,
        session=b"s",
        batch=0,
        index=0,
        n=n,
    )
    return encryptor._tables.cache_info().misses - before


def test_the_audit_builds_each_request_table_at_most_once_with_twelve_parties():
    """The lever's premise: a request replay is a walk of a table built once per key. With 12
    parties an audited candidate's replay may build at most 12 tables (fewer if cached).
    Review finding: encryptor's LRU holds 8 tables, and the replay, which interleaves the
    holders, rebuilt one (~19.5 full r^N at 2 140 bits) for most requests: 42 builds per
    audited candidate at m = 12, slower than the full r^N the lever replaced. The audit now
    holds the tables it walks (``audit_additive(tables=...)``, kept for the run by
    ``AdditiveSetup.tables``)."""
    assert _audit_table_builds(12) <= 12


def _key_with_residues(bits: int, p_mod4: int, q_mod4: int) -> PublicKey:
    from coopetition.protocols.paillier.primes import random_prime

    def prime(residue: int) -> int:
        while True:
            p = random_prime(bits // 2)
            if p % 4 == residue:
                return p

    p, q = prime(p_mod4), prime(q_mod4)
    return PrivateKey(PublicKey(p * q), p, q).public


def test_the_djn_generator_of_a_plain_prime_ole_key_can_lie_outside_j():
    """crypto.md's DJN argument (cited by "Speed" for the requests) takes h = -x^2 in J, the
    Jacobi-symbol-1 subgroup. OLE keys are plain primes (``additive._private_key``): when one
    factor is 1 and the other 3 mod 4 (half of all such keys), -1 has Jacobi symbol -1, so h is
    outside J. Reference: gmpy2.jacobi. crypto.md, "Speed", now states the assumption for such keys."""
    public = _key_with_residues(INSECURE_BITS, 1, 3)
    assert gmpy2.jacobi(djn_generator(public), public.n) == -1
    blum = _key_with_residues(INSECURE_BITS, 3, 3)
    assert gmpy2.jacobi(djn_generator(blum), blum.n) == 1
