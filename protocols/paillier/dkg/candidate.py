"""One party's part in one candidate modulus: every step a pure function of its seed and inputs.

All randomness a party uses for candidate k comes from one 32-byte seed (SHAKE-256 in counter
style, ``draw``), whose hash the party broadcasts before anything else. That is what makes the
protocol auditable: a candidate that is rejected is worthless, so its seeds are revealed and
every party replays every other party with this same class and compares with what was actually
sent (``audit``). The live run and the replay share this code, so they cannot drift apart.

The steps, for both prime candidates p and q (sigma in "pq"):

1. ``sieve_deal``: draw a_j, a unit modulo M, and a mask s_j; Shamir-share both (degree t).
2. ``reshare`` (tree levels): multiply pairs of factor shares (degree 2t) and re-share the
   products at degree t (Gennaro-Rabin-Rabin degree reduction), until two factors are left.
3. ``sieve_open``: f_0 * f_1 + S (degree 2t), opened to z = prod_j a_j + sum_j s_j (an integer,
   the field is large enough), which hides prod a_j statistically (2^-kappa).
4. ``set_sieve(z)``: additive integer shares b_j of prod a_j (b_0 = z - s_0, b_j = -s_j), reduced
   modulo M and lifted by CRT to c_j = b_j mod M, = 3 (party 0) or 0 mod 4; the prime share is
   x_j = c_j + 4M r_j (+ offset for party 0). So p = sum x_j is = prod a_j (a unit) mod M, = 3
   mod 4, and has its two top bits set.
5. ``modulus_deal`` / ``modulus_share``: Shamir-share x_j over the modulus field; each party
   broadcasts [p][q] at its point; N is interpolated (degree 2t).
6. ``biprimality_values``: g^(e_j) mod N with e_0 = (N + 1 - p_0 - q_0)/4, e_j = (p_j + q_j)/4.
7. ``key_deal`` / ``key_share`` / ``set_key_open``: phi_j (phi_0 = N + 1 - p_0 - q_0,
   phi_j = -(p_j + q_j)), beta_j and T_j are Shamir-shared; phi * beta + N * T is opened;
   theta = that mod N; d_j = d'_j * theta^-1 mod-free, with d'_0 = z' - N T_0, d'_j = -N T_j.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import gmpy2

from . import shamir
from .params import DkgParams

SIGMAS = ("p", "q")
_DRBG_DOMAIN = b"coopetition/dkg/drbg/v2"


def draw(seed: bytes, label: str, bound: int) -> int:
    """A value in [0, bound) from the seed, 128 bits of slack against modulo bias.

    The output length is hashed in: SHAKE's shorter outputs are prefixes of its longer ones, so
    without it two draws under one label with different bounds would be correlated (review of
    the additive DKG: a reply's randomness drawn under its mask's label gave the mask away).
    """
    size = (bound.bit_length() + 128 + 7) // 8
    digest = hashlib.shake_256(
        _DRBG_DOMAIN + size.to_bytes(4, "big") + seed + label.encode()
    ).digest(size)
    return gmpy2.mpz(int.from_bytes(digest, "big")) % bound


def tree_shape(parties: int) -> list[int]:
    """Number of factors at the start of each re-sharing level (empty when m <= 2)."""
    levels, n = [], parties
    while n > 2:
        levels.append(n)
        n = n // 2 + n % 2
    return levels


class CandidateParty:
    """Party ``party``'s state for one candidate, driven step by step (live or in an audit)."""

    def __init__(self, params: DkgParams, party: int, seed: bytes) -> None:
        self.params = params
        self.party = party
        self.seed = seed
        self._masks: dict[str, int] = {}
        self._factors: dict[str, list[int]] = {}
        self._mask_share: dict[str, int] = {}
        self.prime_share: dict[str, int] = {}
        self._modulus_shares: dict[str, int] = {}
        self._key_values: dict[str, int] = {}
        self._key_shares: list[int] = []
        self.decryption_exponent: int | None = None

    def _draw(self, label: str, bound: int) -> int:
        return draw(self.seed, label, bound)

    def _deal(self, secret: int, label: str, prime: int) -> list[int]:
        p = self.params
        return shamir.deal_random(secret, label, p.t, p.parties, prime, self._draw)

    def _unit(self, label: str) -> int:
        modulus = self.params.sieve_modulus
        i = 0
        while True:
            a = self._draw(f"{label}/{i}", modulus)
            if gmpy2.gcd(a, modulus) == 1:
                return a
            i += 1

    # -- 1-3: distributed sieving -----------------------------------------------------------

    def sieve_deal(self) -> list[list[int]]:
        """Points for each receiver: [a_p, s_p, a_q, s_q] at that receiver's x."""
        prime = self.params.field_sieve
        columns = []
        for sigma in SIGMAS:
            a = self._unit(f"sieve/{sigma}/a")
            s = self._draw(f"sieve/{sigma}/s", self.params.sieve_mask_bound)
            self._masks[sigma] = s
            columns.append(self._deal(a, f"sieve/{sigma}/deal-a", prime))
            columns.append(self._deal(s, f"sieve/{sigma}/deal-s", prime))
        return [[col[k] for col in columns] for k in range(self.params.parties)]

    def absorb_sieve_deal(self, received: Sequence[Sequence[int]]) -> None:
        prime = self.params.field_sieve
        for i, sigma in enumerate(SIGMAS):
            self._factors[sigma] = [gmpy2.mpz(row[2 * i]) % prime for row in received]
            self._mask_share[sigma] = _sum_mod([row[2 * i + 1] for row in received], prime)

    def reshare(self, level: int) -> list[list[int]]:
        """Degree-t re-sharings of this party's products of factor pairs."""
        prime = self.params.field_sieve
        columns = []
        for sigma in SIGMAS:
            f = self._factors[sigma]
            for i in range(len(f) // 2):
                product = f[2 * i] * f[2 * i + 1] % prime
                columns.append(self._deal(product, f"reshare/{level}/{sigma}/{i}", prime))
        return [[col[k] for col in columns] for k in range(self.params.parties)]

    def absorb_reshare(self, received: Sequence[Sequence[int]]) -> None:
        """New factor shares from the first 2t + 1 parties' re-sharings."""
        p = self.params
        prime = p.field_sieve
        count = 2 * p.t + 1
        weights = shamir.zero_weights(count, prime)
        column = 0
        for sigma in SIGMAS:
            f = self._factors[sigma]
            new = []
            for _ in range(len(f) // 2):
                values = [received[i][column] for i in range(count)]
                new.append(shamir.combine(values, weights, prime))
                column += 1
            if len(f) % 2:
                new.append(f[-1])
            self._factors[sigma] = new

    def sieve_open(self) -> list[int]:
        prime = self.params.field_sieve
        out = []
        for sigma in SIGMAS:
            f0, f1 = self._factors[sigma]
            out.append((f0 * f1 + self._mask_share[sigma]) % prime)
        return out

    def set_sieve(self, opened: Sequence[int]) -> None:
        for sigma, z in zip(SIGMAS, opened, strict=True):
            b = z - self._masks[sigma] if self.party == 0 else -self._masks[sigma]
            high = self._draw(f"high/{sigma}", self.params.high_range)
            self.prime_share[sigma] = lift_prime_share(self.params, self.party, b, high)

    # -- 5: the modulus ---------------------------------------------------------------------

    def modulus_deal(self) -> list[list[int]]:
        prime = self.params.field_modulus
        columns = [
            self._deal(self.prime_share[sigma], f"modulus/{sigma}", prime) for sigma in SIGMAS
        ]
        return [[col[k] for col in columns] for k in range(self.params.parties)]

    def absorb_modulus_deal(self, received: Sequence[Sequence[int]]) -> None:
        prime = self.params.field_modulus
        for i, sigma in enumerate(SIGMAS):
            self._modulus_shares[sigma] = _sum_mod([row[i] for row in received], prime)

    def modulus_share(self) -> list[int]:
        prime = self.params.field_modulus
        return [self._modulus_shares["p"] * self._modulus_shares["q"] % prime]

    # -- 6: Boneh-Franklin ------------------------------------------------------------------

    def biprimality_exponent(self, n: int) -> int:
        total = self.prime_share["p"] + self.prime_share["q"]
        value = n + 1 - total if self.party == 0 else total
        if value % 4 or value < 0:
            raise ValueError("exponent is not a non-negative multiple of 4")
        return value // 4

    def biprimality_values(self, n: int, bases: Sequence[int]) -> list[int]:
        e = self.biprimality_exponent(n)
        return [int(v) for v in gmpy2.powmod_base_list(list(bases), e, n)]

    # -- 7: the decryption key --------------------------------------------------------------

    def key_deal(self, n: int) -> list[list[int]]:
        p = self.params
        prime = p.field_key
        total = self.prime_share["p"] + self.prime_share["q"]
        phi = n + 1 - total if self.party == 0 else -total
        beta = self._draw("key/beta", p.beta_bound)
        mask = self._draw("key/mask", p.key_mask_bound)
        self._key_values = {"mask": mask}
        columns = [
            self._deal(phi % prime, "key/deal-phi", prime),
            self._deal(beta, "key/deal-beta", prime),
            self._deal(mask, "key/deal-mask", prime),
        ]
        return [[col[k] for col in columns] for k in range(p.parties)]

    def absorb_key_deal(self, received: Sequence[Sequence[int]]) -> None:
        prime = self.params.field_key
        self._key_shares = [_sum_mod([row[i] for row in received], prime) for i in range(3)]

    def key_share(self, n: int) -> list[int]:
        prime = self.params.field_key
        phi, beta, mask = self._key_shares
        return [(phi * beta + n * mask) % prime]

    def set_key_open(self, n: int, opened: int) -> bool:
        """This party's decryption exponent share; False if theta = opened mod N is no unit."""
        theta = opened % n
        if gmpy2.gcd(theta, n) != 1:
            return False
        theta_inv = int(gmpy2.invert(theta, n))
        mask = self._key_values["mask"]
        d_prime = opened - n * mask if self.party == 0 else -n * mask
        self.decryption_exponent = int(d_prime * theta_inv)
        return True


def lift_prime_share(params: DkgParams, party: int, sieve_share: int, high: int) -> int:
    """x_j from an additive share b_j of the sieve unit: c_j = b_j mod M lifted by CRT to 3
    (party 0) or 0 (others) mod 4, plus 4M * high (and the offset for party 0). So
    p = sum x_j is the unit mod M, 3 mod 4, and has its top two bits set."""
    modulus = params.sieve_modulus
    residue = sieve_share % modulus
    target = 3 if party == 0 else 0
    c = residue + modulus * ((target - residue) * pow(modulus, -1, 4) % 4)
    return int(c + 4 * modulus * high + (params.offset if party == 0 else 0))


def _sum_mod(values: Sequence[int], prime: int) -> int:
    acc = gmpy2.mpz(0)
    for v in values:
        acc += v
    return acc % prime


def seed_commitment(session: bytes, batch: int, party: int, index: int, seed: bytes) -> bytes:
    """Hash commitment to a candidate seed (hiding: the seed is 256 random bits)."""
    h = hashlib.sha3_256(b"coopetition/dkg/seed-commit/v1")
    for item in (session, batch.to_bytes(8, "big"), party.to_bytes(4, "big")):
        h.update(len(item).to_bytes(4, "big") + item)
    h.update(index.to_bytes(8, "big") + seed)
    return h.digest()


def payload_digest(*items: object) -> bytes:
    """Digest of nested lists of ints / bytes / str (commitments to revealed values)."""
    chunks: list[bytes] = []
    _encode(items, chunks)
    return hashlib.sha3_256(b"coopetition/dkg/digest/v1" + b"".join(chunks)).digest()


_MPZ = type(gmpy2.mpz(0))


def _encode(item: object, out: list[bytes]) -> None:
    """Injective, type-tagged, length-prefixed encoding."""
    if isinstance(item, (list, tuple)):
        out.append(b"L" + len(item).to_bytes(8, "big"))
        for x in item:
            _encode(x, out)
    elif isinstance(item, bool):
        raise TypeError("bool in digest")
    elif isinstance(item, (int, _MPZ)):
        x = int(item)
        b = x.to_bytes((x.bit_length() + 8) // 8 + 1, "big", signed=True)
        out.append(b"I" + len(b).to_bytes(8, "big") + b)
    elif isinstance(item, bytes):
        out.append(b"B" + len(item).to_bytes(8, "big") + item)
    elif isinstance(item, str):
        _encode(item.encode(), out)
    else:
        raise TypeError(f"cannot digest a {type(item).__name__}")
