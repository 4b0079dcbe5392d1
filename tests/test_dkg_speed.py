"""The additive DKG's speed levers (docs/crypto.md, DKG chapter, "Speed"), each checked against
an independent reference: the DJN form of the OLE requests against the textbook encryption
with r = h^alpha, the audit's cost in exponentiations, and the expected candidate count
(prime number theorem) against primes counted with gmpy2 among sampled candidates.

Keys are 512-bit and INSECURE (``insecure_allow_small``) except where a test says 2048.
"""

from __future__ import annotations

import secrets

import gmpy2
import pytest

from coopetition.engine.errors import CheatingDetected
from coopetition.protocols.paillier import opcount
from coopetition.protocols.paillier.dkg.additive import (
    AdditiveCandidate,
    OleKeys,
    _private_key,
    ole_key_bits,
    short_exponent,
)
from coopetition.protocols.paillier.dkg.additive_audit import audit_additive
from coopetition.protocols.paillier.dkg.additive_local import (
    PartyView,
    _candidate,
    _Wire,
)
from coopetition.protocols.paillier.dkg.candidate import lift_prime_share, seed_commitment
from coopetition.protocols.paillier.dkg.params import (
    DkgParams,
    expected_candidates,
    prime_probability,
)
from coopetition.protocols.paillier.encryptor import djn_generator

INSECURE_BITS = 512


def _params(parties: int = 3) -> DkgParams:
    return DkgParams(INSECURE_BITS, parties, insecure_allow_small=True)


def _one_candidate(parties: int = 3):
    """One honest candidate and a function that audits it from its transcript."""
    params = _params(parties)
    keys = [OleKeys.generate(params) for _ in range(parties)]
    seeds = [secrets.token_bytes(32) for _ in range(parties)]
    wire = _Wire([PartyView() for _ in range(parties)], None)
    _, n = _candidate(params, keys, seeds, wire)
    commitments = [seed_commitment(b"s", 0, j, 0, s) for j, s in enumerate(seeds)]

    def audit() -> None:
        audit_additive(
            params,
            [k.public for k in keys],
            commitments,
            seeds,
            wire.transcript.check,
            session=b"s",
            batch=0,
            index=0,
            n=n,
        )

    return wire, audit


@pytest.mark.parametrize("bits", [INSECURE_BITS, pytest.param(2048, marks=pytest.mark.long)])
def test_ole_requests_are_textbook_encryptions_with_a_short_djn_exponent(bits):
    """Reference: Enc(u; r) = (1 + N)^u r^N mod N^2 with r = h^alpha mod N computed by gmpy2,
    h the hash-derived DJN generator and alpha < 2^ceil(|N|/2) (the request's own label).
    At 2048 bits too (a 2 140-bit product key, 1 070-bit exponents)."""
    params = DkgParams(bits, 3, insecure_allow_small=bits < 2048)
    product_bits, _ = ole_key_bits(params)
    product = _private_key(product_bits)  # the key-stage key plays no part in a request
    keys = [OleKeys(product, product) for _ in range(3)]
    publics = [k.public for k in keys]
    holder = AdditiveCandidate(params, 0, secrets.token_bytes(32), keys[0], publics)
    public = publics[0][0]
    request = holder.sieve_request(1)
    for sigma, c in zip("pq", request, strict=True):
        label = f"dm/sieve/1/{sigma}/enc"
        alpha = short_exponent(public, holder.seed, label)
        assert 0 <= alpha < 1 << ((public.bits + 1) // 2)
        assert public.bits == product_bits
        r = gmpy2.powmod(djn_generator(public), alpha, public.n)
        n2 = public.n * public.n
        textbook = pow(1 + public.n, holder.sieve_shares[sigma], n2) * pow(r, public.n, n2) % n2
        assert c == textbook
        assert keys[0].product.decrypt(c) == holder.sieve_shares[sigma]


def test_the_audit_replays_a_candidate_without_a_full_exponentiation():
    """Requests are replayed from their DJN exponents (fixed-base walks), replies as
    plaintexts: no general exponentiation and no decryption, and the audit passes."""
    _, audit = _one_candidate(3)
    with opcount.counting() as counted:
        audit()
    requests = 2 * (1 + 2) + 2 * 3  # sieve: 2 per OLE, 3 OLEs at m = 3; modulus: 2 per party
    assert counted == {"fixed_base": requests}


def test_a_reply_whose_decrypted_plaintext_differs_names_its_sender():
    """The audit compares a reply as the plaintext its receiver decrypted."""
    wire, audit = _one_candidate(3)
    audit()
    sent = wire.transcript.sent
    for stage, sender in (("modulus-reply", 2), ("sieve-reply/2", 2), ("sieve-reply/1", 1)):
        honest = sent[(stage, sender, 0)]
        sent[(stage, sender, 0)] = [honest[0] + 1, *honest[1:]]
        with pytest.raises(CheatingDetected) as caught:
            audit()
        assert caught.value.culprit == sender and stage in str(caught.value)
        sent[(stage, sender, 0)] = honest


def test_re_randomised_replies_with_the_right_plaintext_pass_the_audit():
    """A reply's randomness is its sender's own business (docs/crypto.md, "Speed"): party 2
    re-randomises every reply it sends (c * Enc(0)); the receivers decrypt the same values,
    the candidate's N is unchanged and its audit names no one."""
    params = _params(3)
    keys = [OleKeys.generate(params) for _ in range(3)]
    seeds = [secrets.token_bytes(32) for _ in range(3)]
    changed = []

    def tamper(stage, sender, receiver, value):
        if sender != 2 or stage not in ("sieve-reply", "modulus-reply"):
            return value
        public = keys[receiver].public[0]
        cts = [value] if isinstance(value, int) else list(value)
        new = [public.encrypt(0) * c % public.n_square for c in cts]
        changed.extend(a != b for a, b in zip(cts, new, strict=True))
        return new[0] if isinstance(value, int) else new

    def run(hook):
        wire = _Wire([PartyView() for _ in range(3)], hook)
        return wire, _candidate(params, keys, seeds, wire)[1]

    _, honest_n = run(None)
    wire, n = run(tamper)
    assert n == honest_n and changed and all(changed)
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


def _sampled_prime_rate(params: DkgParams, samples: int) -> float:
    """Candidates drawn exactly as the DKG draws them (a random unit modulo M split into m
    additive shares, each lifted by ``lift_prime_share`` with a random high part), counted
    prime by gmpy2."""
    m, modulus = params.parties, params.sieve_modulus
    primes = 0
    for _ in range(samples):
        while True:
            unit = secrets.randbelow(modulus)
            if gmpy2.gcd(unit, modulus) == 1:
                break
        shares = [secrets.randbelow(modulus) for _ in range(m - 1)]
        shares.append((unit - sum(shares)) % modulus)
        p = sum(
            lift_prime_share(params, j, b, secrets.randbelow(params.high_range))
            for j, b in enumerate(shares)
        )
        assert p.bit_length() == params.half and p % modulus == unit and p % 4 == 3
        primes += bool(gmpy2.is_prime(p, 25))
    return primes / samples


@pytest.mark.parametrize(
    ("bits", "samples"), [(512, 6000), pytest.param(2048, 12000, marks=pytest.mark.long)]
)
def test_the_expected_candidate_count_matches_sampled_candidates(bits, samples):
    """The prime number theorem's estimate against a count: within 4 standard deviations of
    the sampled rate (binomial), and the 2048-bit expectation is ~3 600 candidates."""
    params = DkgParams(bits, 4, insecure_allow_small=bits < 2048)
    predicted = prime_probability(params)
    rate = _sampled_prime_rate(params, samples)
    sigma = (predicted * (1 - predicted) / samples) ** 0.5
    assert abs(rate - predicted) < 4 * sigma, (rate, predicted)
    if bits == 2048:
        assert 3_400 < expected_candidates(params) < 3_900
