"""m-out-of-m threshold Paillier: key shares, proved decryption shares and their combination.

Key (Damgård–Jurik 2001 / Shoup 2000 with all parties needed, so additive instead of Shamir
shares and no Lagrange factor Delta): with safe primes p = 2p'+1, q = 2q'+1 and
lambda = lcm(p-1, q-1), the decryption exponent d satisfies d = 0 mod lambda and d = 1 mod N,
so c**d = 1 + m*N mod N**2 for every ciphertext c of m. Party i holds d_i with
sum(d_i) = d over the integers: d_0..d_{m-2} uniform in [0, 2**128 * N**2) and
d_{m-1} = d - sum(others). Any m-1 shares are within statistical distance 2**-128 of
independent uniform values, whatever d is (the range is 2**128 times larger than d < N**2).

Decryption share: s_{i,j} = c_j**(2*d_i) mod N**2, with a proof (``coopetition.protocols.zk.
decryption``) against the public verification key v_i = v**d_i. Combination:
(prod_i s_{i,j})**2 = c_j**(4d) = 1 + 4*m_j*N, so m_j = L(.) * 4**-1 mod N. Squaring the product
removes any factor of order 2 a cheater could add without failing the proof.

Key generation sits behind ``ThresholdKeyGeneration``: ``TrustedDealerKeyGeneration`` is for
tests and simulations only — the dealer knows the factorisation and the whole secret key. A
distributed key generation will implement the same interface.
"""

from __future__ import annotations

import secrets
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import gmpy2
import numpy as np

from coopetition.engine.errors import CheatingDetected
from coopetition.protocols.zk.decryption import (
    DecryptionProof,
    prove_decryption_shares,
    verify_decryption_shares,
)
from coopetition.protocols.zk.transcript import ProofContext

from . import opcount, parallel
from .keys import (
    InvalidCiphertext,
    PrivateKey,
    PublicKey,
    generate_keypair,
    register_insecure_test_key,
)

_MPZ = type(gmpy2.mpz(0))

#: Statistical hiding of the additive key shares (bits).
SHARE_STATISTICAL_BITS = 128


class UnknownParty(ValueError):
    """A decryption share claims to come from a party that holds no key share."""

    def __init__(self, party: object, parties: int) -> None:
        super().__init__(
            f"decryption share from unknown party {party!r} (parties are 0..{parties - 1})"
        )
        self.party = party


class MissingShares(ValueError):
    """Not every party's decryption share is there (all m are needed)."""

    def __init__(self, missing: Sequence[int]) -> None:
        super().__init__(f"missing decryption shares from parties {sorted(missing)}")
        self.missing = tuple(sorted(missing))


@dataclass(frozen=True, slots=True)
class ThresholdPublicKey:
    """The Paillier key plus what anyone needs to check decryption shares."""

    public: PublicKey
    verification_base: int
    verification_keys: tuple[int, ...]
    share_bits: int

    @property
    def parties(self) -> int:
        return len(self.verification_keys)

    def __post_init__(self) -> None:
        if len(self.verification_keys) < 1:
            raise ValueError("a threshold key needs at least one party")
        _check_verification_value(self.public, self.verification_base, "verification base")
        several = len(self.verification_keys) > 1
        for i, v in enumerate(self.verification_keys):
            _check_verification_value(
                self.public, v, f"verification key of party {i}", modulo_n=several
            )
        product = 1
        for v in self.verification_keys:
            product = product * v % self.public.n
        if product != 1:
            # prod v_i = v^d and d = 0 mod lambda(N), so the product is 1 modulo N
            raise ValueError("verification keys do not multiply to v^d (not 1 modulo N)")


def _check_verification_value(
    public: PublicKey, value: int, what: str, *, modulo_n: bool = True
) -> None:
    """Refuse the degenerate verification values a bad key file or a cheating dealer could use.

    The decryption proof binds a share to the exponent d_i only modulo the order of v, so v
    must not have small order, and its part modulo N (the order-lambda part) must not vanish:
    with v = 1 mod N the proof would bind d_i only modulo N. What is publicly checkable: a unit
    modulo N**2 whose square is not 1 modulo N (rules out +-1 and the roots of unity that would
    factor N, modulo N and modulo N**2), with Jacobi symbol +1 modulo N (every square has it).
    A lone party's v_1 = v^d is 1 modulo N by construction, hence ``modulo_n=False`` for it.
    Whether v really is a square of large order cannot be checked without the factorisation;
    a distributed key generation must prove it (docs/crypto.md).
    """
    public.check_ciphertext(value, what=what)
    n = public.n
    if modulo_n and value * value % n == 1:
        raise ValueError(f"{what} has order at most 2 modulo N")
    if value * value % public.n_square == 1:
        raise ValueError(f"{what} has order at most 2")
    if gmpy2.jacobi(value % n, n) != 1:
        raise ValueError(f"{what} is not a square (Jacobi symbol -1 modulo N)")


@dataclass(frozen=True, slots=True)
class KeyShare:
    """Party ``party``'s additive share of the decryption exponent. Secret."""

    threshold_public: ThresholdPublicKey
    party: int
    secret: int = field(repr=False)

    def __repr__(self) -> str:  # never print the share
        return f"KeyShare(party={self.party}, key={self.threshold_public.public.fingerprint.hex()})"


@dataclass(frozen=True, slots=True)
class DecryptionShare:
    """Party ``party``'s shares s_j = c_j**(2 d_i) of a vector of ciphertexts, and their proof."""

    party: int
    values: tuple[int, ...]
    proof: DecryptionProof


class ThresholdKeyGeneration(ABC):
    """Produces a threshold key: the public part for everyone, one ``KeyShare`` per party."""

    @property
    @abstractmethod
    def threshold_public(self) -> ThresholdPublicKey: ...

    @abstractmethod
    def key_share(self, party: int) -> KeyShare:
        """This party's share (a distributed generation yields only the local party's)."""


class TrustedDealerKeyGeneration(ThresholdKeyGeneration):
    """A dealer that generates the key and deals the shares. THE DEALER LEARNS THE SECRET KEY.

    For tests and simulations only: whoever runs this object knows the factorisation of N
    (``dealer_private_key``) and can decrypt everything. A deployment uses a distributed key
    generation implementing ``ThresholdKeyGeneration``.
    """

    def __init__(
        self,
        parties: int,
        bits: int = 2048,
        *,
        insecure_allow_small: bool = False,
        keypair: tuple[PublicKey, PrivateKey] | None = None,
    ) -> None:
        if parties < 1:
            raise ValueError("need at least one party")
        public, private = keypair or generate_keypair(
            bits, insecure_allow_small=insecure_allow_small
        )
        if keypair is not None:
            if public.bits < 2048 and not insecure_allow_small:
                raise ValueError("a key below 2048 bits needs insecure_allow_small=True")
            if private.public != public:
                raise ValueError("private key does not belong to the public key")
            if not all(gmpy2.is_prime((f - 1) // 2, 40) for f in (private.p, private.q)):
                # the decryption proofs are sound only when the squares have no small subgroups
                raise ValueError("threshold decryption needs a modulus made of safe primes")
            if insecure_allow_small:
                register_insecure_test_key(public)
        self.dealer_private_key = private
        n, n2 = public.n, public.n_square
        lam = private.lam
        d = lam * int(gmpy2.invert(lam, n))
        bound = n2 << SHARE_STATISTICAL_BITS
        shares = [secrets.randbelow(bound) for _ in range(parties - 1)]
        shares.append(d - sum(shares))
        share_bits = bound.bit_length() + parties.bit_length() + 1
        x = public.random_unit()
        v = int(gmpy2.powmod(x, 2, n2))
        verification_keys = tuple(int(gmpy2.powmod(v, s, n2)) for s in shares)
        self._public = ThresholdPublicKey(public, v, verification_keys, share_bits)
        self._shares = [KeyShare(self._public, i, s) for i, s in enumerate(shares)]

    @property
    def threshold_public(self) -> ThresholdPublicKey:
        return self._public

    def key_share(self, party: int) -> KeyShare:
        if (
            isinstance(party, bool)
            or not isinstance(party, int)
            or not 0 <= party < len(self._shares)
        ):
            raise UnknownParty(party, len(self._shares))
        return self._shares[party]

    def key_shares(self) -> list[KeyShare]:
        return list(self._shares)


def _ciphertext_list(public: PublicKey, ciphertexts: object) -> list[int]:
    """One ciphertext (int, mpz or numpy integer) or a sequence of them, each checked."""
    if isinstance(ciphertexts, (int, _MPZ, np.integer)):
        return [public.check_ciphertext(int(ciphertexts))]
    return public.check_ciphertexts(ciphertexts)


def _context_for(context: ProofContext, party: int) -> ProofContext:
    return context if context.prover == party else replace(context, prover=party)


def partial_decrypt(
    share: KeyShare, ciphertexts: int | Sequence[int], context: ProofContext
) -> DecryptionShare:
    """This party's decryption shares of ``ciphertexts`` with one batched proof.

    ``context.prover`` must be the share's party. Each ciphertext is checked first; a bad one
    raises ``InvalidCiphertext`` naming its index and nothing is computed.
    """
    if context.prover != share.party:
        raise ValueError(
            f"proof context names prover {context.prover}, share is party {share.party}"
        )
    tpk = share.threshold_public
    public = tpk.public
    cts = _ciphertext_list(public, ciphertexts)
    if not cts:
        raise ValueError("nothing to decrypt")
    opcount.tally("powmod", len(cts))
    values = [int(x) for x in parallel.powmod_base_list(cts, 2 * share.secret, public.n2_mpz)]
    proof = prove_decryption_shares(
        public,
        tpk.verification_base,
        tpk.verification_keys[share.party],
        share.secret,
        tpk.share_bits,
        cts,
        values,
        context,
    )
    return DecryptionShare(share.party, tuple(values), proof)


def verify_share(
    tpk: ThresholdPublicKey,
    share: DecryptionShare,
    ciphertexts: Sequence[int],
    context: ProofContext,
) -> None:
    """Raise ``CheatingDetected`` naming the party unless ``share`` is well formed and proved.

    The share arrives from the network, so its shape is checked before anything is used:
    a ``DecryptionShare`` whose ``values`` is a tuple or list of integers (int or mpz) and whose
    ``proof`` is a ``DecryptionProof`` of two integers. Anything else is the sender's fault.
    """
    if not isinstance(share, DecryptionShare):
        raise TypeError(f"expected a DecryptionShare, got a {type(share).__name__}")
    party = share.party
    _check_share_shape(share, party)
    public = tpk.public
    if len(share.values) != len(ciphertexts):
        raise CheatingDetected(
            f"party {party} sent {len(share.values)} decryption shares for {len(ciphertexts)} ciphertexts",
            culprit=party,
        )
    for j, value in enumerate(share.values):
        try:
            public.check_ciphertext(value, what=f"decryption share [{j}] of party {party}")
        except InvalidCiphertext as exc:
            raise CheatingDetected(str(exc), culprit=party) from exc
    ok = verify_decryption_shares(
        public,
        tpk.verification_base,
        tpk.verification_keys[party],
        tpk.share_bits,
        ciphertexts,
        share.values,
        share.proof,
        _context_for(context, party),
    )
    if not ok:
        raise CheatingDetected(
            f"proof of correct decryption from party {party} rejected", culprit=party
        )


def _is_integer(value: object) -> bool:
    return isinstance(value, (int, _MPZ)) and not isinstance(value, bool)


def _check_share_shape(share: object, culprit: int) -> None:
    """``CheatingDetected(culprit)`` unless ``share`` has the types a decryption share has."""
    if not isinstance(share, DecryptionShare):
        raise CheatingDetected(
            f"party {culprit} sent a {type(share).__name__}, not a decryption share",
            culprit=culprit,
        )
    if not isinstance(share.values, (tuple, list)) or not all(_is_integer(v) for v in share.values):
        raise CheatingDetected(
            f"decryption share of party {culprit} is not a sequence of integers", culprit=culprit
        )
    proof = share.proof
    if (
        not isinstance(proof, DecryptionProof)
        or not _is_integer(proof.challenge)
        or not _is_integer(proof.response)
    ):
        raise CheatingDetected(f"decryption proof of party {culprit} is malformed", culprit=culprit)


def combine(
    tpk: ThresholdPublicKey,
    shares_by_party: Mapping[int, DecryptionShare],
    ciphertexts: int | Sequence[int],
    context: ProofContext,
    *,
    signed: bool = True,
    own: int | None = None,
) -> list[int]:
    """The plaintexts of ``ciphertexts`` from all m parties' decryption shares.

    Every share and proof is checked before anything is decrypted: a share from a party
    outside 0..m-1 raises ``UnknownParty``; a missing one ``MissingShares``; a malformed share
    or a rejected proof ``CheatingDetected(culprit=party)``. ``context`` is the proof context
    with any prover: each party's proof is checked under its own id. Plaintexts are signed
    (in (-N/2, N/2)) unless ``signed=False``.

    ``own`` is the calling party's id when ``shares_by_party[own]`` is the share it computed
    itself with ``partial_decrypt`` (it never crossed the network): its shape is still checked,
    its proof is not (a party does not re-verify its own share; the proof is for the others).
    """
    public = tpk.public
    cts = _ciphertext_list(public, ciphertexts)
    for key, share in shares_by_party.items():
        if not isinstance(key, int) or isinstance(key, bool) or not 0 <= key < tpk.parties:
            raise UnknownParty(key, tpk.parties)
        _check_share_shape(share, key)
        if share.party != key:
            raise CheatingDetected(
                f"decryption share filed under party {key} claims party {share.party}", culprit=key
            )
    missing = set(range(tpk.parties)) - set(shares_by_party)
    if missing:
        raise MissingShares(sorted(missing))
    for party in range(tpk.parties):
        if party != own:
            verify_share(tpk, shares_by_party[party], cts, context)
    n, n2 = public.n_mpz, public.n2_mpz
    quarter = gmpy2.invert(4, n)
    out: list[int] = []
    for j in range(len(cts)):
        acc = gmpy2.mpz(1)
        for party in range(tpk.parties):
            acc = acc * shares_by_party[party].values[j] % n2
        acc = acc * acc % n2
        plain = int((acc - 1) // n * quarter % n)
        out.append(public.decode(plain) if signed else plain)
    return out


def threshold_decrypt(
    key_shares: Sequence[KeyShare], ciphertexts: Sequence[int], context: ProofContext
) -> list[int]:
    """All parties' steps in one process (tests, simulations, benchmark)."""
    tpk = key_shares[0].threshold_public
    shares = {
        s.party: partial_decrypt(s, ciphertexts, _context_for(context, s.party)) for s in key_shares
    }
    return combine(tpk, shares, ciphertexts, context)
