"""Dishonest-majority arithmetic for the DKG: additive m-of-m shares, pairwise Paillier OLE.

The honest-majority DKG (``candidate.CandidateParty``) multiplies Shamir sharings (BGW), so
t + 1 = floor((m-1)/2) + 1 colluders reconstruct p and q. Here every secret is an ADDITIVE
m-of-m sharing over the integers (p = sum_j x_j) and every product of two sharings is built from
pairwise oblivious linear evaluations (OLE) under the *receiver-of-the-result's own* Paillier key
(Boneh-Franklin 2001, section 4.2 / the two-party products of Gilboa 1999, done with an additively
homomorphic scheme as in Hazay-Mikkelsen-Rabin-Toft 2012). So a coalition of m-1 parties misses
one party's share of everything, and that share is either its own uniform draw or is masked
statistically (2^-kappa) by a value only it knows.

One OLE between i (holds u, owns Paillier key K_i) and k (holds a):
    i -> k : C = Enc_i(u)                (per candidate: DJN randomness h_i^alpha, cheap)
    k -> i : R = C^a * Enc_i(s)          (s uniform, kappa bits wider than u*a; full r^N)
    i      : w = Dec_i(R) = u*a + s;  k keeps -s.      w + (-s) = u*a over the integers.
i learns u*a + s (hides a statistically); k sees only a ciphertext under K_i (DCR).

Steps of one candidate (the same for p and q, sigma in "pq"):

1. Sieve (Boneh-Franklin distributed sieving, with multiplicative-to-additive conversion by
   OLE instead of BGW): each party draws a unit a_j mod M. For k = 1 .. m-1, every holder
   i < k of an additive share u_i of prod_{j<k} a_j runs one OLE with party k; shares are
   reduced mod M after each step (only the residue mod M matters). At the end sum_j u_j is
   prod_j a_j mod M, a unit; ``lift_prime_share`` turns u_j into the prime share x_j.
2. Modulus: party i broadcasts Enc_i(x_i), Enc_i(y_i); for every pair i < j, j answers
   Enc_i(x_i)^{y_j} Enc_i(y_i)^{x_j} Enc_i(s_ij); each party broadcasts its additive share of
   N = sum_i x_i y_i + sum_{i<j} (x_i y_j + x_j y_i); N is their sum.
3. Boneh-Franklin: unchanged (``CandidateParty.biprimality_values`` works on additive shares).
4. Key: the same OLE pattern on (phi_i, beta_i) under a second, larger key of each party opens
   phi * beta + N * T; ``CandidateParty.set_key_open`` derives the decryption exponent shares.

Every value a party sends is a deterministic function of its committed seed and what it
received (randomness of the encryptions included), so a rejected candidate can be replayed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import gmpy2

from coopetition.protocols.paillier import opcount
from coopetition.protocols.paillier.encryptor import Encryptor, FixedBaseTable, short_exponent_bits
from coopetition.protocols.paillier.keys import PrivateKey, PublicKey
from coopetition.protocols.paillier.primes import random_prime

from .candidate import SIGMAS, CandidateParty, draw, lift_prime_share
from .params import DkgParams

#: Extra bits on each OLE key beyond the largest signed plaintext it must carry.
OLE_KEY_MARGIN_BITS = 8


def _even(bits: int) -> int:
    return bits + bits % 2


def ole_key_bits(params: DkgParams) -> tuple[int, int]:
    """(product key, key-stage key) lengths: |plaintext| < N_i / 2 for every OLE output.

    Sieve: u * a + s < M^2 * 2^(kappa+1).  Modulus: x_i y_j + x_j y_i + s < 2^(bits+kappa+2).
    Key: |phi_i beta_j + phi_j beta_i| + s < 2^(2 bits + 2 kappa + 2) (beta < N * 2^kappa).
    """
    k = params.kappa
    sieve = 2 * params.sieve_modulus.bit_length() + k + 2
    modulus = params.bits + k + 3
    product = max(sieve, modulus) + 1 + OLE_KEY_MARGIN_BITS
    key = 2 * params.bits + 2 * k + 3 + 1 + OLE_KEY_MARGIN_BITS
    return _even(product), _even(key)


def _private_key(bits: int) -> PrivateKey:
    """A Paillier key of exactly ``bits`` bits (plain primes: only its owner relies on it)."""
    while True:
        p, q = random_prime(bits // 2), random_prime(bits // 2)
        if p != q:
            return PrivateKey(PublicKey(p * q), p, q)


@dataclass(frozen=True)
class OleKeys:
    """One party's own Paillier keys for the OLEs whose results it receives."""

    product: PrivateKey
    key: PrivateKey

    @classmethod
    def generate(cls, params: DkgParams) -> OleKeys:
        product_bits, key_bits = ole_key_bits(params)
        return cls(_private_key(product_bits), _private_key(key_bits))

    @property
    def public(self) -> tuple[PublicKey, PublicKey]:
        return self.product.public, self.key.public


def encryption_randomness(public: PublicKey, seed: bytes, label: str) -> int:
    """The r of Enc(value; r) for the encryption labelled ``label`` (a witness for proofs)."""
    return int(draw(seed, label, public.n - 2) + 2)


def _enc(public: PublicKey, value: int, seed: bytes, label: str) -> int:
    return public.raw_encrypt(int(value), encryption_randomness(public, seed, label))


def short_exponent(public: PublicKey, seed: bytes, label: str) -> int:
    """alpha of a request's DJN randomness h**alpha (``ceil(|N_i|/2)`` bits, from the seed)."""
    return int(draw(seed, f"{label}/djn", 1 << short_exponent_bits(public)))


def _enc_short(
    public: PublicKey, value: int, seed: bytes, label: str, table: FixedBaseTable | None = None
) -> int:
    """Enc_i(value) with Damgard-Jurik-Nielsen randomness r = h_i**alpha mod N_i, computed as
    h_s**alpha from the fixed-base table of N_i (``encryptor.Encryptor``): about a tenth of a
    full r**N. Used for the per-candidate OLE *requests* only, whose secrecy protects their
    sender (docs/crypto.md, "Speed"); replies keep full-length randomness. ``table``: N_i's
    table when the caller holds it (the audit, which walks every party's)."""
    opcount.tally("fixed_base")
    walk = table if table is not None else Encryptor(public).table
    rn = walk.pow(short_exponent(public, seed, label))
    return public.encrypt_with_rn(int(value), rn)


def key_input_ranges(params: DkgParams, party: int, n: int) -> list[tuple[int, int]]:
    """Public intervals of (phi_j, beta_j): what the key-stage range proofs show. Prime shares
    lie in [0, 2^(|N|/2)), so phi_0 = N + 1 - x_0 - y_0 and phi_j = -(x_j + y_j) are bounded."""
    span = 1 << (params.half + 1)
    phi = (n + 1 - span, n + 1) if party == 0 else (-span, 0)
    return [phi, (0, params.beta_bound - 1)]


def _answer(
    public: PublicKey, pairs: Sequence[tuple[int, int]], mask: int, seed: bytes, label: str
) -> int:
    """prod_c c^e * Enc(mask): the OLE reply (exponents may be negative; c are units). The
    randomness has its own label: drawn under the mask's label, the mask's SHAKE bytes were a
    prefix of it, and a holder that extracts it (with its key) read the responder's input
    (review, ``tests/test_dkg_ole_mask_review.py``)."""
    n2 = public.n2_mpz
    acc = gmpy2.mpz(_enc(public, mask, seed, f"{label}/reply-randomness"))
    for c, e in pairs:
        acc = acc * gmpy2.powmod(gmpy2.mpz(c), int(e), n2) % n2
    return int(acc)


class AdditiveCandidate(CandidateParty):
    """Party ``party``'s part of one candidate with additive shares (live or replayed).

    ``peers[j]`` are party j's two OLE public keys (``OleKeys.public``), own keys included.
    """

    def __init__(
        self,
        params: DkgParams,
        party: int,
        seed: bytes,
        own: OleKeys | None,
        peers: Sequence[tuple[PublicKey, PublicKey]],
    ) -> None:
        super().__init__(params, party, seed)
        self.own = own  # None in a replay: then nothing can be decrypted
        self.peers = list(peers)
        self.sieve_units = {sigma: self._unit(f"dm/sieve/{sigma}/a") for sigma in SIGMAS}
        self.sieve_shares: dict[str, int] = dict(self.sieve_units) if party == 0 else {}
        self.masks: dict[str, int] = {}
        self.modulus_part: int | None = None
        self.key_inputs: dict[str, int] = {}
        #: decrypted modulus-stage replies by sender (what the audit compares)
        self.reply_plaintexts: dict[int, int] = {}

    def _checked(self, owner: int, which: int, values: object, count: int) -> list[int]:
        cts = self.peers[owner][which].check_ciphertexts(values)
        if len(cts) != count:
            raise ValueError(f"expected {count} ciphertexts from party {owner}")
        return cts

    def _mask(self, label: str, bits: int) -> int:
        value = int(draw(self.seed, label, 1 << bits))
        self.masks[label] = value
        return value

    def _encrypt(self, public: PublicKey, value: int, label: str, *, short: bool = False) -> int:
        if short:
            return _enc_short(public, value, self.seed, label)
        return _enc(public, value, self.seed, label)

    def _reply(
        self, public: PublicKey, pairs: Sequence[tuple[int, int]], mask: int, label: str
    ) -> int:
        return _answer(public, pairs, mask, self.seed, label)

    def _decrypt(self, which: int, reply: int) -> int:
        assert self.own is not None, "a replayed party cannot decrypt"
        key = self.own.product if which == 0 else self.own.key
        return key.decrypt(reply)

    # -- 1: sieve ---------------------------------------------------------------------------

    def sieve_request(self, step: int) -> list[int]:
        """Holder i < step: Enc_i(u_i) for p and q, sent to party ``step``."""
        public = self.peers[self.party][0]
        return [
            self._encrypt(public, self.sieve_shares[s], f"dm/sieve/{step}/{s}/enc", short=True)
            for s in SIGMAS
        ]

    def sieve_reply(self, step: int, holder: int, request: object) -> list[int]:
        """Party ``step`` answers holder i: Enc_i(u_i * a_step + s)."""
        public = self.peers[holder][0]
        cts = self._checked(holder, 0, request, len(SIGMAS))
        bits = 2 * self.params.sieve_modulus.bit_length() + self.params.kappa
        out = []
        for s, c in zip(SIGMAS, cts, strict=True):
            label = f"dm/sieve/{step}/{holder}/{s}"
            mask = self._mask(label, bits)
            out.append(self._reply(public, [(c, self.sieve_units[s])], mask, label))
        return out

    def sieve_close(self, step: int) -> None:
        """Party ``step``'s own share after answering every holder: -sum of its masks mod M."""
        modulus = self.params.sieve_modulus
        for s in SIGMAS:
            total = sum(self.masks[f"dm/sieve/{step}/{i}/{s}"] for i in range(step))
            self.sieve_shares[s] = -total % modulus

    def sieve_absorb(self, reply: object) -> list[int]:
        """Holder: the decrypted reply, reduced mod M, is its new share. Returns the decrypted
        plaintexts: what the audit compares for a reply (``additive_audit``)."""
        modulus = self.params.sieve_modulus
        cts = self._checked(self.party, 0, reply, len(SIGMAS))
        plain = [int(self._decrypt(0, c)) for c in cts]
        for s, w in zip(SIGMAS, plain, strict=True):
            self.sieve_shares[s] = w % modulus
        return plain

    def finish_sieve(self) -> None:
        for s in SIGMAS:
            high = self._draw(f"high/{s}", self.params.high_range)
            self.prime_share[s] = lift_prime_share(
                self.params, self.party, self.sieve_shares[s], high
            )

    # -- 2: modulus -------------------------------------------------------------------------

    def modulus_request(self) -> list[int]:
        public = self.peers[self.party][0]
        return [
            self._encrypt(public, self.prime_share[s], f"dm/modulus/{s}/enc", short=True)
            for s in SIGMAS
        ]

    def modulus_reply(self, holder: int, request: object) -> int:
        """For holder i < me: Enc_i(x_i y_me + y_i x_me + s)."""
        x_c, y_c = self._checked(holder, 0, request, 2)
        label = f"dm/modulus/{holder}"
        mask = self._mask(label, self.params.bits + 1 + self.params.kappa)
        pairs = [(x_c, self.prime_share["q"]), (y_c, self.prime_share["p"])]
        return self._reply(self.peers[holder][0], pairs, mask, label)

    def n_share(self, replies: Mapping[int, object]) -> int:
        """This party's additive share of N (replies from every party j > me)."""
        total = self.prime_share["p"] * self.prime_share["q"]
        total -= sum(self.masks[f"dm/modulus/{i}"] for i in range(self.party))
        for j in range(self.party + 1, self.params.parties):
            (c,) = self._checked(self.party, 0, [replies[j]], 1)
            self.reply_plaintexts[j] = int(self._decrypt(0, c))
            total += self.reply_plaintexts[j]
        self.modulus_part = int(total)
        return self.modulus_part

    # -- 4: key -----------------------------------------------------------------------------

    def key_request(self, n: int) -> list[int]:
        p = self.params
        total = self.prime_share["p"] + self.prime_share["q"]
        phi = n + 1 - total if self.party == 0 else -total
        beta = self._draw("key/beta", p.beta_bound)
        self._key_values = {"mask": self._draw("key/mask", p.key_mask_bound)}
        self.key_inputs = {"phi": int(phi), "beta": int(beta)}
        public = self.peers[self.party][1]
        return [
            self._encrypt(public, v, f"dm/key/{name}/enc") for name, v in self.key_inputs.items()
        ]

    def key_witnesses(self) -> list[tuple[int, int]]:
        """(value, randomness) of this party's two key-stage ciphertexts."""
        public = self.peers[self.party][1]
        return [
            (v, encryption_randomness(public, self.seed, f"dm/key/{name}/enc"))
            for name, v in self.key_inputs.items()
        ]

    def key_reply(self, holder: int, request: object) -> int:
        """For holder i < me: Enc_i(phi_i beta_me + beta_i phi_me + s)."""
        phi_c, beta_c = self._checked(holder, 1, request, 2)
        label = f"dm/key/{holder}"
        mask = self._mask(label, 2 * self.params.bits + 2 * self.params.kappa + 1)
        pairs = [(phi_c, self.key_inputs["beta"]), (beta_c, self.key_inputs["phi"])]
        return self._reply(self.peers[holder][1], pairs, mask, label)

    def key_open_share(self, n: int, replies: Mapping[int, object]) -> int:
        """This party's additive share of phi * beta + N * T."""
        total = self.key_inputs["phi"] * self.key_inputs["beta"] + n * self._key_values["mask"]
        total -= sum(self.masks[f"dm/key/{i}"] for i in range(self.party))
        for j in range(self.party + 1, self.params.parties):
            (c,) = self._checked(self.party, 1, [replies[j]], 1)
            total += self._decrypt(1, c)
        return int(total)
