"""Parameters of the distributed key generation, all derived from (bits, parties).

Why these numbers (docs/crypto.md, "Distributed key generation"):

* ``t = (m - 1) // 2``: Shamir degree. Products of two degree-t sharings have degree 2t and are
  opened from 2t + 1 points, so m >= 2t + 1; the points beyond 2t + 1 are redundancy that
  every party checks (m = 4, t = 1: one spare point).
* ``sieve_modulus`` M: the product of the odd primes 3, 5, 7, ... as long as it stays
  ``SIEVE_SLACK_BITS`` below the prime size. Candidate primes are drawn as units modulo M
  (Boneh-Franklin / Malkin-Wu-Boneh distributed sieving), which multiplies the chance that
  a candidate is prime by about e^gamma * ln(B) / 2 (B the largest sieve prime).
* ``offset`` and ``high_range``: p = offset + sum_j c_j + 4M * sum_j r_j with the top two bits
  of p set (as ``primes._random_odd`` does), so N always has exactly ``bits`` bits.
* Three Shamir fields, nothing-up-my-sleeve primes (the next prime above a power of two):
  ``field_sieve`` holds the product of m sieve values plus its statistical mask,
  ``field_modulus`` holds N, ``field_key`` holds phi * beta + N * T.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import gmpy2
import numpy as np

from coopetition.engine.errors import ConfigError

#: Bits of statistical hiding for every mask (opened sums, additive conversions).
STATISTICAL_BITS = 80
#: The sieve modulus stays this many bits below the prime size (room for the random high part).
SIEVE_SLACK_BITS = 34
#: Odd primes up to this bound divide N only if they divide p or q: N is trial-divided publicly.
TRIAL_DIVISION_BOUND = 1 << 20
#: How products of shared values are computed (see ``DkgParams.multiplier``).
MULTIPLIERS = ("additive", "shamir")
#: Boneh-Franklin bases for the accepted candidate: a non-biprime passes each with prob <= 1/2.
BIPRIMALITY_ROUNDS = 64


@lru_cache(maxsize=8)
def odd_primes_below(bound: int) -> tuple[int, ...]:
    """Odd primes below ``bound`` (Eratosthenes with numpy)."""
    flags = np.ones(max(bound, 3), dtype=bool)
    flags[:2] = False
    flags[4::2] = False
    for p in range(3, int(bound**0.5) + 1, 2):
        if flags[p]:
            flags[p * p :: 2 * p] = False
    return tuple(int(p) for p in np.nonzero(flags)[0] if p > 2)


@lru_cache(maxsize=8)
def _sieve_modulus(max_bits: int) -> tuple[int, int]:
    """(M, largest prime in M): the product of consecutive odd primes below 2**max_bits."""
    m, largest = 1, 2
    p = gmpy2.mpz(3)
    while (m * p).bit_length() <= max_bits:
        m *= int(p)
        largest = int(p)
        p = gmpy2.next_prime(p)
    return m, largest


@lru_cache(maxsize=8)
def trial_division_product(low: int, high: int) -> int:
    """Product of the odd primes in (low, high): one gcd with N trial-divides by all of them."""
    values = [gmpy2.mpz(p) for p in odd_primes_below(high) if p > low]
    while len(values) > 1:  # product tree: balanced multiplications are far faster
        values = [
            values[i] * values[i + 1] if i + 1 < len(values) else values[i]
            for i in range(0, len(values), 2)
        ]
    return int(values[0]) if values else 1


@lru_cache(maxsize=16)
def _prime_above(bits: int) -> int:
    return int(gmpy2.next_prime(gmpy2.mpz(1) << bits))


@dataclass(frozen=True)
class DkgParams:
    """What every party must agree on; everything else is derived."""

    bits: int
    parties: int
    batch: int = 256
    kappa: int = STATISTICAL_BITS
    biprimality_rounds: int = BIPRIMALITY_ROUNDS
    trial_bound: int = TRIAL_DIVISION_BOUND
    test_ciphertexts: int = 2
    insecure_allow_small: bool = False
    #: "additive": m-of-m shares, pairwise Paillier OLE, p and q secret against m-1 colluders;
    #: "shamir": BGW over Shamir shares, secret against floor((m-1)/2) only (docs/crypto.md)
    multiplier: str = "additive"

    t: int = field(init=False)
    half: int = field(init=False)
    sieve_modulus: int = field(init=False)
    sieve_bound: int = field(init=False)
    offset: int = field(init=False)
    high_range: int = field(init=False)
    field_sieve: int = field(init=False)
    field_modulus: int = field(init=False)
    field_key: int = field(init=False)

    def __post_init__(self) -> None:
        from coopetition.protocols.paillier.keys import check_modulus_bits

        try:
            check_modulus_bits(self.bits, insecure_allow_small=self.insecure_allow_small)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        if self.bits % 2 or self.bits < 512:
            raise ConfigError(
                "the modulus length must be even and at least 512 bits (the decryption proofs "
                "of the final key check refuse smaller keys)"
            )
        if self.parties < 3:
            raise ConfigError(
                "the distributed key generation needs at least 3 parties (honest-majority "
                "Shamir sharing, t = (m-1)//2 >= 1)"
            )
        if self.multiplier not in MULTIPLIERS:
            raise ConfigError(f"multiplier must be one of {', '.join(MULTIPLIERS)}")
        if self.batch < 1 or self.biprimality_rounds < 1 or self.test_ciphertexts < 1:
            raise ConfigError("batch, biprimality_rounds and test_ciphertexts must be positive")
        if self.kappa < 40:
            raise ConfigError("statistical parameter below 40 bits")
        m = self.parties
        half = self.bits // 2
        modulus, largest = _sieve_modulus(half - SIEVE_SLACK_BITS)
        step = 4 * modulus
        offset = step * -(-(3 << (half - 2)) // step)
        high_range = ((1 << half) - offset) // (step * m)
        if high_range < 2:
            raise ConfigError("modulus too small for the sieve")
        set_ = object.__setattr__
        set_(self, "t", (m - 1) // 2)
        set_(self, "half", half)
        set_(self, "sieve_modulus", modulus)
        set_(self, "sieve_bound", largest)
        set_(self, "offset", offset)
        set_(self, "high_range", high_range)
        sieve_bits = m * modulus.bit_length() + self.kappa + m.bit_length() + 2
        set_(self, "field_sieve", _prime_above(sieve_bits))
        set_(self, "field_modulus", _prime_above(self.bits + 2))
        key_bits = 2 * self.bits + 2 * self.kappa + 2 * m.bit_length() + 4
        set_(self, "field_key", _prime_above(key_bits))

    @property
    def sieve_mask_bound(self) -> int:
        """Each party's mask on the product of the sieve values: 2**kappa times that product."""
        return self.sieve_modulus**self.parties << self.kappa

    @property
    def beta_bound(self) -> int:
        return self.bound_n << self.kappa

    @property
    def bound_n(self) -> int:
        return 1 << self.bits

    @property
    def key_mask_bound(self) -> int:
        """T_j: N * T statistically hides the quotient of phi * beta by N."""
        return (self.parties * self.beta_bound) << self.kappa

    @property
    def share_bits(self) -> int:
        """Bound on |d_j| = |d'_j| * theta^-1 (d'_j < P_key, theta^-1 < N)."""
        return self.field_key.bit_length() + self.bits + 1

    def describe(self) -> dict[str, int | str]:
        return {
            "bits": self.bits,
            "parties": self.parties,
            "threshold_t": self.t,
            "sieve_bound": self.sieve_bound,
            "sieve_modulus_bits": self.sieve_modulus.bit_length(),
            "trial_bound": self.trial_bound,
            "batch": self.batch,
            "biprimality_rounds": self.biprimality_rounds,
            "multiplier": self.multiplier,
        }


def _product_tree(values: list[gmpy2.mpz]) -> list[list[gmpy2.mpz]]:
    levels = [values]
    while len(levels[-1]) > 1:
        last = levels[-1]
        levels.append(
            [
                last[i] * last[i + 1] if i + 1 < len(last) else last[i]
                for i in range(0, len(last), 2)
            ]
        )
    return levels


def coprime_to(moduli: list[int], product: int) -> list[bool]:
    """For each modulus, whether it shares no factor with ``product`` (a remainder tree:
    ``product`` is reduced modulo the product of all moduli once, then down the tree)."""
    if not moduli:
        return []
    levels = _product_tree([gmpy2.mpz(n) for n in moduli])
    remainders = [gmpy2.mpz(product) % levels[-1][0]]
    for level in reversed(levels[:-1]):
        remainders = [remainders[i // 2] % level[i] for i in range(len(level))]
    return [gmpy2.gcd(r, n) == 1 for r, n in zip(remainders, levels[0], strict=True)]


def prime_probability(params: DkgParams) -> float:
    """Chance that one sieved prime candidate (a unit modulo M, odd, in [3/4, 1) * 2^half) is
    prime, by the prime number theorem: a random integer near x is prime with probability
    1/ln(x); knowing it has no prime factor <= B (2 and every prime in M) multiplies that by
    prod_{l <= B} l / (l - 1) (computed exactly here; Mertens: about e^gamma ln B)."""
    boost = 2.0  # the factor 2 / (2 - 1): candidates are odd
    for prime in odd_primes_below(params.sieve_bound + 1):
        boost *= prime / (prime - 1)
    log_x = params.half * np.log(2.0) + np.log(0.875)  # ln of the middle of the range
    return float(boost / log_x)


def expected_candidates(params: DkgParams) -> float:
    """Expected candidates per key: both p and q must be prime (trial division and
    Boneh-Franklin never reject a biprime, and theta is a unit with probability ~1)."""
    return 1.0 / prime_probability(params) ** 2
