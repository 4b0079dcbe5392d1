"""Proof that a threshold-Paillier decryption share was computed with the party's key share.

Statement (public): the key (N), the verification base v (a square modulo N**2), the party's
verification key v_i = v**d_i, ciphertexts c_1..c_n and claimed shares s_1..s_n.
Claim: s_j**2 = c_j**(4*d_i) for every j, with the same d_i as in v_i (mod the group order).

This is Shoup's equality-of-discrete-logs proof (Shoup 2000, section 2.3; used for Paillier by
Damgård–Jurik 2001), in the group of squares modulo N**2, where the order N*p'*q' is unknown to
the prover and, with safe primes, has no small factors. Shares are compared *squared* (and
combined squared, see ``threshold``) so a factor of order 2 cannot slip through.

A vector of shares is proved at once with a random linear combination (small-exponent batch
verification, Bellare–Garay–Rabin 1998): coefficients rho_j of ``BATCH_BITS`` bits are drawn
from the transcript *after* the shares are absorbed, and the proof is about
C = prod c_j**rho_j and S = prod s_j**rho_j. A wrong share survives only if the error terms
cancel, which in a group without small-order elements happens with probability 2**-BATCH_BITS.

Non-interactive by Fiat–Shamir over the ``Transcript``, bound to the ``ProofContext``
(session, phase, round, prover), the key and every public value. The proof is (e, z) with
z = r + e*d_i computed over the integers; r has ``STATISTICAL_BITS`` more bits than e*d_i, so z
hides d_i statistically.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass

import gmpy2

from coopetition.protocols.paillier import opcount, parallel
from coopetition.protocols.paillier.keys import PublicKey
from coopetition.protocols.zk import group
from coopetition.protocols.zk.transcript import ProofContext, Transcript

DOMAIN = "coopetition/paillier/decryption-share/v1"
CHALLENGE_BITS = 128
BATCH_BITS = 128
STATISTICAL_BITS = 128


@dataclass(frozen=True, slots=True)
class DecryptionProof:
    """The Fiat–Shamir challenge ``e`` and the integer response ``z``."""

    challenge: int
    response: int


_MPZ = type(gmpy2.mpz(0))


def _is_unit(public: PublicKey, value: object) -> bool:
    return (
        isinstance(value, (int, _MPZ))
        and not isinstance(value, bool)
        and 0 < value < public.n_square
        and gmpy2.gcd(value, public.n) == 1
    )


def nonce_bits(share_bits: int) -> int:
    """Length of the prover's nonce r: enough to hide e*d_i for |d_i| < 2**share_bits."""
    return share_bits + CHALLENGE_BITS + STATISTICAL_BITS


def _transcript(
    public: PublicKey,
    verification_base: int,
    verification_key: int,
    ciphertexts: Sequence[int],
    shares: Sequence[int],
    context: ProofContext,
) -> Transcript:
    t = Transcript(DOMAIN)
    context.absorb_into(t)
    t.absorb(public.fingerprint, public.n, verification_base, verification_key)
    t.absorb(list(ciphertexts), list(shares))
    return t


def _batch_coefficients(transcript: Transcript, count: int) -> list[int]:
    """The rho_j of the small-exponent batch, drawn after every ciphertext and share is absorbed."""
    return transcript.challenge_ints(count, BATCH_BITS, "batch")


def _combined_ciphertext(
    public: PublicKey, rho: Sequence[int], ciphertexts: Sequence[int]
) -> gmpy2.mpz:
    """C**4 with C = prod c_j**rho_j, by one multi-exponentiation (Pippenger)."""
    n2 = public.n2_mpz
    c_acc = group.multi_pow([(gmpy2.mpz(c), r) for c, r in zip(ciphertexts, rho, strict=True)], n2)
    return gmpy2.powmod(c_acc, 4, n2)


def _combined_bases(
    public: PublicKey, transcript: Transcript, ciphertexts: Sequence[int], shares: Sequence[int]
) -> tuple[gmpy2.mpz, gmpy2.mpz]:
    """(C**4, S**2) for the batching coefficients drawn from the transcript (the verifier's
    side; the prover needs C only and computes nothing else, see ``prove_decryption_shares``)."""
    n2 = public.n2_mpz
    rho = _batch_coefficients(transcript, len(ciphertexts))
    s_acc = group.multi_pow([(gmpy2.mpz(s), r) for s, r in zip(shares, rho, strict=True)], n2)
    return _combined_ciphertext(public, rho, ciphertexts), s_acc * s_acc % n2


def prove_decryption_shares(
    public: PublicKey,
    verification_base: int,
    verification_key: int,
    key_share: int,
    share_bits: int,
    ciphertexts: Sequence[int],
    shares: Sequence[int],
    context: ProofContext,
) -> DecryptionProof:
    """Prove s_j**2 = c_j**(4*key_share) for all j and v_i = v**key_share.

    ``share_bits`` bounds |key_share| (part of the public key, so the verifier can bound z).
    """
    if len(ciphertexts) != len(shares) or not ciphertexts:
        raise ValueError("need the same positive number of ciphertexts and shares")
    n2 = public.n2_mpz
    transcript = _transcript(
        public, verification_base, verification_key, ciphertexts, shares, context
    )
    base = _combined_ciphertext(
        public, _batch_coefficients(transcript, len(ciphertexts)), ciphertexts
    )
    r = gmpy2.mpz(secrets.randbits(nonce_bits(share_bits)))
    opcount.tally("powmod", 2)
    a, b = parallel.powmod_pairs([base, verification_base], [r, r], n2)
    transcript.absorb(a, b)
    e = transcript.challenge_int(CHALLENGE_BITS, "challenge")
    return DecryptionProof(challenge=e, response=int(r + e * key_share))


def verify_decryption_shares(
    public: PublicKey,
    verification_base: int,
    verification_key: int,
    share_bits: int,
    ciphertexts: Sequence[int],
    shares: Sequence[int],
    proof: DecryptionProof,
    context: ProofContext,
) -> bool:
    """True iff the proof is valid; False for any malformed input, never a crash.

    Every value is checked to be an int and a unit modulo N**2 before anything is raised to a
    power: a negative exponent of a non-unit makes GMP abort the whole process. Raises
    ``ValueError`` only for the verifier's own key (too small, see ``group.check_key``).
    """
    group.check_key(public)
    if len(ciphertexts) != len(shares) or not ciphertexts:
        return False
    values = [verification_base, verification_key, *ciphertexts, *shares]
    if not all(_is_unit(public, x) for x in values):
        return False
    if not isinstance(share_bits, int) or not 0 < share_bits <= 4 * public.n_square.bit_length():
        return False
    if not isinstance(proof, DecryptionProof):
        return False
    e, z = proof.challenge, proof.response
    if not all(isinstance(x, (int, _MPZ)) and not isinstance(x, bool) for x in (e, z)):
        return False
    e, z = int(e), int(z)
    if not 0 <= e < (1 << CHALLENGE_BITS) or abs(z) >= (1 << (nonce_bits(share_bits) + 1)):
        return False
    n2 = public.n2_mpz
    transcript = _transcript(
        public, verification_base, verification_key, ciphertexts, shares, context
    )
    base, target = _combined_bases(public, transcript, ciphertexts, shares)
    opcount.tally("powmod", 2)
    opcount.tally("powmod_short", 2)
    # every base is a unit (checked above), so the negative exponents -e are well defined
    bz, te, vz, ke = parallel.powmod_pairs(
        [base, target, verification_base, verification_key], [z, -e, z, -e], n2
    )
    a = bz * te % n2
    b = vz * ke % n2
    transcript.absorb(a, b)
    return transcript.challenge_int(CHALLENGE_BITS, "challenge") == e
