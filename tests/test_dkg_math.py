"""The DKG's arithmetic without the network: Shamir openings, the Boneh-Franklin test, the sieve
and the distribution of N, each against an independent reference (gmpy2 primality, numpy)."""

from __future__ import annotations

import hashlib
import secrets

import gmpy2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from coopetition.engine.errors import ConfigError
from coopetition.protocols.paillier.dkg import shamir
from coopetition.protocols.paillier.dkg.checks import boneh_franklin as _boneh_franklin
from coopetition.protocols.paillier.dkg.params import DkgParams, coprime_to, trial_division_product
from coopetition.protocols.paillier.dkg.replay import generation_stages, replay

PRIME = int(gmpy2.next_prime(2**127))


@given(
    secret=st.integers(0, PRIME - 1),
    coefficients=st.lists(st.integers(0, PRIME - 1), min_size=1, max_size=3),
    extra=st.integers(0, 3),
)
@settings(max_examples=60, deadline=None)
def test_shamir_opens_and_detects_a_wrong_point(secret, coefficients, extra):
    degree = len(coefficients)
    parties = degree + 1 + extra
    points = shamir.deal(secret, coefficients, parties, PRIME)
    # reference: direct polynomial evaluation
    for x, value in enumerate(points, start=1):
        assert value == (secret + sum(c * x ** (i + 1) for i, c in enumerate(coefficients))) % PRIME
    assert shamir.open_value(points, degree, PRIME) == secret
    if extra:
        bad = list(points)
        bad[-1] = (bad[-1] + 1) % PRIME
        with pytest.raises(shamir.InconsistentOpening):
            shamir.open_value(bad, degree, PRIME)


def _prime_3_mod_4(bits: int) -> int:
    while True:
        p = int(gmpy2.next_prime(secrets.randbits(bits) | (1 << (bits - 1))))
        if p % 4 == 3:
            return p


def _shares(value: int, parties: int) -> list[int]:
    """Additive shares in the DKG's convention: party 0's = 3 mod 4, the others' = 0 mod 4."""
    others = [4 * secrets.randbelow(1 << 60) for _ in range(parties - 1)]
    return [value - sum(others), *others]


def _bf_row(n: int, ps: list[int], qs: list[int], bases: list[int]) -> list[list[int]]:
    exps = [(n + 1 - ps[0] - qs[0]) // 4] + [
        (p + q) // 4 for p, q in zip(ps[1:], qs[1:], strict=True)
    ]
    return [[pow(g, e, n) for g in bases] for e in exps]


def _bases(n: int, count: int) -> list[int]:
    out = []
    while len(out) < count:
        g = secrets.randbelow(n)
        if gmpy2.jacobi(g, n) == 1:
            out.append(g)
    return out


def test_boneh_franklin_accepts_biprimes_and_rejects_three_primes():
    m = 3
    for _ in range(3):
        p, q = _prime_3_mod_4(256), _prime_3_mod_4(256)
        n = p * q
        assert _boneh_franklin(n, _bf_row(n, _shares(p, m), _shares(q, m), _bases(n, 64)))
    # p = r * s with r = 3, s = 1 mod 4 is = 3 mod 4 but not prime: N has three prime factors
    rejected = 0
    for _ in range(5):
        r = _prime_3_mod_4(128)
        while True:
            s = int(gmpy2.next_prime(secrets.randbits(128)))
            if s % 4 == 1:
                break
        p, q = r * s, _prime_3_mod_4(256)
        assert not gmpy2.is_prime(p)
        n = p * q
        rejected += not _boneh_franklin(n, _bf_row(n, _shares(p, m), _shares(q, m), _bases(n, 64)))
    assert rejected == 5


def test_remainder_tree_trial_division_matches_gcd():
    product = trial_division_product(7, 1 << 12)
    moduli = [secrets.randbits(256) | 1 for _ in range(50)] + [3 * 4099 * 4111, 13 * 17, 5 * 7]
    assert coprime_to(moduli, product) == [gmpy2.gcd(n, product) == 1 for n in moduli]


def test_params_refuse_bad_sizes_with_config_errors():
    with pytest.raises(ConfigError):
        DkgParams(1024, 3)  # insecure without the flag
    with pytest.raises(ConfigError):
        DkgParams(2048, 2)  # honest majority needs m >= 3
    with pytest.raises(ConfigError):
        DkgParams(256, 3, insecure_allow_small=True)  # proofs need >= 512 bits


def test_sieved_candidates_and_the_top_bits_of_n_follow_the_model():
    """Candidates from the real per-party code (replayed, no network): p and q are units modulo
    M and 3 mod 4, N = pq has exactly ``bits`` bits, and N / 2^bits is distributed like the
    product of two independent (3/4 + (sum of m uniforms) / 4m) (numpy model, KS test).

    The seeds are fixed (hashes of the run index), so the KS statistic is the same on every
    run: with fresh seeds a bar of p > 1e-3 fails one run in a thousand by design."""
    bits, m, count = 512, 3, 400
    params = DkgParams(bits, m, insecure_allow_small=True)
    fractions = []
    for k in range(count):
        seeds = [hashlib.sha256(f"ks {k} {j}".encode()).digest() for j in range(m)]
        out = replay(params, seeds, generation_stages(m), lambda s, n: [])
        p = sum(c.prime_share["p"] for c in out.parties)
        q = sum(c.prime_share["q"] for c in out.parties)
        assert out.modulus == p * q
        assert p % 4 == 3 and q % 4 == 3
        assert gmpy2.gcd(p, params.sieve_modulus) == 1 and gmpy2.gcd(q, params.sieve_modulus) == 1
        assert out.modulus.bit_length() == bits
        fractions.append(out.modulus / 2**bits)
    rng = np.random.default_rng(7)
    model_p = 0.75 + rng.random((20000, m)).sum(axis=1) / (4 * m)
    model_q = 0.75 + rng.random((20000, m)).sum(axis=1) / (4 * m)
    result = stats.ks_2samp(fractions, model_p * model_q)
    assert result.pvalue > 1e-3, result
