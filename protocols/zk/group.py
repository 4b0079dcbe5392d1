"""Arithmetic shared by the proofs: counted exponentiation, validation, verification equations.

Every proof here reduces to equations in Z*_{N^2} of one shape,

    (1+N)^g * root^N * prod(left_i ^ x_i)  ==  prod(right_j ^ y_j)   (mod N^2),

so one checker serves all of them, and one batch checker can multiply many such equations
together after raising each to a random 128-bit exponent. (1+N)^g costs nothing (it is
1 + gN) and the N-th power of ``root`` depends only on ``root mod N``, which is why every
"root" response lives in Z*_N.

Squares, not values. Both checkers compare lhs^2 with rhs^2, i.e. accept an equation up to a
factor of order 2. Without that, a "sign-flipped" response (w -> N - w multiplies an equation
by (-1)^N = -1) would pass a batch exactly when its secret random exponent is even, so honest
verifiers of the same bytes would disagree (a split view). Tolerating order-2 factors loses
nothing: in Z*_{N^2} = <1+N> x {N-th powers} (first factor of order N, odd), every element of
order 2 is an N-th power, so squaring never hides a plaintext error ((1+N)^{2d} = 1 forces
d = 0 mod N); it only changes which N-th root the extractor obtains, and every statement here
is about plaintexts. With safe primes p = 2p'+1, q = 2q'+1 the order-2 elements (+-1 and two
more that would factor N) are the only elements of small order: squares have orders dividing
N p' q', all of whose prime factors exceed 2^127.

Why batching is sound here. Write the ratio of the two sides of equation i as
(1+N)^{d_i} * u_i^N. The batch accepts only if sum(2 beta_i d_i) = 0 (mod N). If some d_i != 0
then, for any fixed other coefficients, this pins beta_i to one residue modulo p or q (both
> 2^128 for every modulus we accept), so the batch fails except with probability
2^-exponent_bits. Likewise, with safe primes, a batch in which some u_i^2 != 1 fails except
with probability about 2^-exponent_bits; when the batch fails, ``require`` checks each equation
exactly, so every verifier reaches the same verdict on the same bytes except with that
probability. All bases and roots must be units, which `element` and `root` enforce before
anything is multiplied.
"""

from __future__ import annotations

import hashlib
import secrets
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import gmpy2
from gmpy2 import mpz

from coopetition.protocols.paillier import opcount
from coopetition.protocols.paillier.keys import (
    DEFAULT_MODULUS_BITS,
    PublicKey,
    is_insecure_test_key,
)
from coopetition.protocols.zk.errors import ProofRejected
from coopetition.protocols.zk.transcript import ProofContext, Transcript

if TYPE_CHECKING:
    from coopetition.protocols.paillier.encryptor import Encryptor

#: Bits of a Σ-protocol challenge: soundness error 2^-128 per proof, and below the smallest
#: prime factor of N for every modulus we accept, so differences of challenges are invertible.
CHALLENGE_BITS = 128
#: Bits of the random exponents of a batch verification (soundness error 2^-128 per batch, the
#: level of the challenges; it was 64 bits, which capped every batched proof at 2^-64).
BATCH_EXPONENT_BITS = 128
#: Batch exponent bits for interval proofs, whose soundness 2^-k (k = 128 repetitions) must not
#: be capped by the batch.
WIDE_BATCH_EXPONENT_BITS = 128
#: Smallest modulus the proofs accept at all (insecure test keys included): balanced primes
#: of 256 bits exceed 2^CHALLENGE_BITS.
MIN_MODULUS_BITS = 512
#: Smallest modulus accepted without the insecure test option.
SECURE_MODULUS_BITS = DEFAULT_MODULUS_BITS
#: Exponents longer than this count as "full" exponentiations in the cost tally.
SHORT_EXPONENT_BITS = 256

#: Let Pippenger's window grow with the batch (True); False keeps the old cap c = 6, only for
#: the input profile's before-figure (``sims.input_profile --compare``).
WIDE_WINDOWS = True

_TALLY = opcount.Tally("zk")
COUNTS: Counter[str] = _TALLY.counts


def counting() -> Any:
    """Tally exponentiations in the block: keys ``full`` and ``short`` (<= 256-bit exponent)."""
    return _TALLY.counting()


def powmod(base: mpz | int, exponent: mpz | int, modulus: mpz | int) -> mpz:
    """gmpy2.powmod that records whether the exponent was full-length or short."""
    bits = exponent.bit_length()
    if bits > 1:
        _TALLY.add("full" if bits > SHORT_EXPONENT_BITS else "short")
    return gmpy2.powmod(base, exponent, modulus)


def multi_pow(pairs: Sequence[tuple[mpz, mpz | int]], modulus: mpz | int) -> mpz:
    """prod(base^exp) mod ``modulus`` for short exponents, by Pippenger's bucket method.

    Per window of c bits: one multiplication per base into the bucket of its digit, then
    2*(2^c - 1) to sum the buckets with their weights, and c squarings of the accumulator:
    about (n + 2^(c+1)) * L/c multiplications for n bases of L bits, against ~1.5 n L for
    separate square-and-multiply. Measured 3-6x faster for 32-512 bases of 64 bits at 2048 bits.
    """
    # a negative exponent inverts its base (as powmod does); the digit extraction below needs
    # e >= 0, since Python's >> and & see a negative e as infinitely many leading ones
    pairs = [(gmpy2.invert(b, modulus), -e) if e < 0 else (b, e) for b, e in pairs if e]
    if len(pairs) < 4:
        out = mpz(1)
        for base, exp in pairs:
            out = out * _power(base, exp, modulus) % modulus
        return out
    n = len(pairs)
    _TALLY.add("multi")
    _TALLY.add("multi_bases", n)
    bits = max(int(e).bit_length() for _, e in pairs)
    c = window_bits(n, bits)
    _TALLY.add("multi_base_steps", n * -(-bits // c))  # one visit per base per window
    mask = (1 << c) - 1
    acc = mpz(1)
    for window in range((bits + c - 1) // c - 1, -1, -1):
        for _ in range(c):
            acc = acc * acc % modulus
        buckets: list[mpz | None] = [None] * (mask + 1)
        shift = window * c
        for base, exp in pairs:
            digit = (exp >> shift) & mask
            if digit:
                held = buckets[digit]
                buckets[digit] = base if held is None else held * base % modulus
        running: mpz | None = None
        total: mpz | None = None
        for digit in range(mask, 0, -1):
            held = buckets[digit]
            if held is not None:
                running = held if running is None else running * held % modulus
            if running is not None:
                total = running if total is None else total * running % modulus
        if total is not None:
            acc = acc * total % modulus
    return acc


def window_bits(n: int, bits: int) -> int:
    """Pippenger's window for n bases of ``bits``-bit exponents.

    Small batches keep the fixed choices; from 256 bases on, the c in 6..16 that minimises
    ceil(bits / c) * (n + 4 * 2^c) (a pass over the bases per window, against the bucket
    sums' two multiplications and loop step per digit value). A fixed c = 6 made every base
    cost bits/6 multiplications however large the batch; the range proofs' verification
    batches ~10 bases per value (150 000 at d = 60), where c = 10-11 needs ~1.6x fewer.
    """
    if n < 256:
        return 3 if n < 16 else 4 if n < 64 else 5
    if not WIDE_WINDOWS:
        return 6
    return min(range(6, 17), key=lambda c: (-(-bits // c) * (n + 4 * (1 << c)), c))


def check_key(pk: PublicKey) -> None:
    """Refuse a modulus too small for the proofs; every prover and every verifier calls this.

    A key below ``SECURE_MODULUS_BITS`` (2048) is accepted only if this process made or decoded
    it through the explicit insecure test option (``is_insecure_test_key``), and never below
    ``MIN_MODULUS_BITS``. What this checks is the size of N, nothing more: the sizes of p and q
    (special soundness needs both above 2^CHALLENGE_BITS) cannot be checked without factoring
    N; they are the key generator's promise (balanced safe primes, see docs/crypto.md).
    """
    if not isinstance(pk, PublicKey):
        raise TypeError("proofs need a Paillier PublicKey")
    if pk.bits < MIN_MODULUS_BITS:
        raise ValueError(f"proofs need a modulus of at least {MIN_MODULUS_BITS} bits")
    if pk.bits < SECURE_MODULUS_BITS and not is_insecure_test_key(pk):
        raise ValueError(
            f"a {pk.bits}-bit modulus is below {SECURE_MODULUS_BITS} bits and was not created "
            "through the insecure test option"
        )


def g_power(pk: PublicKey, exponent: int) -> mpz:
    """(1+N)^x mod N^2 = 1 + xN: free, since 1+N has order N."""
    return (1 + mpz(exponent % pk.n) * pk.n) % pk.n_square


def random_residue(pk: PublicKey) -> int:
    return secrets.randbelow(pk.n)


def random_unit(pk: PublicKey) -> int:
    """Uniform in Z*_N (a non-unit would factor N; the loop practically never repeats)."""
    while True:
        r = secrets.randbelow(pk.n)
        if r > 0 and gmpy2.gcd(r, pk.n) == 1:
            return r


def encrypt(pk: PublicKey, m: int, r: int) -> mpz:
    """Enc(m; r) with a counted N-th power, for provers' first messages."""
    return g_power(pk, m) * powmod(r, pk.n, pk.n_square) % pk.n_square


def encrypt_fresh(pk: PublicKey, m: int, encryptor: Encryptor | None = None) -> tuple[int, int]:
    """(Enc(m; r), r) for fresh randomness r: the cost of every first message.

    Without ``encryptor``, r is uniform in Z*_N and costs a full N-th power: proofs are then
    perfectly (or statistically) zero knowledge. With a DJN ``Encryptor`` for the same key,
    r = h^beta * t^b mod N with a short beta from its fixed-base tables, a random bit b and a
    fixed t of Jacobi symbol -1 (so r can take either Jacobi symbol, like a uniform unit): two
    table walks instead of an |N|-bit exponentiation. Zero knowledge then rests on the DJN
    assumption the encryption itself relies on (docs/crypto.md). Verification is unchanged.
    """
    if encryptor is None:
        r = random_unit(pk)
        return int(encrypt(pk, m, r)), r
    if encryptor.pk != pk:
        raise ValueError("the encryptor is for another key")
    _TALLY.add("fixed_base", 2)
    c, r = encryptor.encrypt_with_randomness(m)
    if secrets.randbits(1):
        t, t_n = _jacobi_minus_one(pk.n)
        c, r = c * t_n % pk.n_square, r * t % pk.n
    return int(c), int(r)


@lru_cache(maxsize=8)
def _jacobi_minus_one(n: int) -> tuple[int, int]:
    """A unit t of Jacobi symbol -1 derived from N by hashing, and t^N mod N^2 (once per key)."""
    counter = 0
    while True:
        seed = (
            b"coopetition/zk/jacobi-minus-one/v1"
            + counter.to_bytes(4, "big")
            + n.to_bytes((n.bit_length() + 7) // 8, "big")
        )
        t = int.from_bytes(hashlib.shake_256(seed).digest((n.bit_length() + 7) // 8 + 16), "big")
        t %= n
        if t > 1 and gmpy2.jacobi(t, n) == -1:
            return t, int(gmpy2.powmod(t, n, n * n))
        counter += 1


def multiply(pk: PublicKey, eb: int, a: int, gamma: int = 1) -> int:
    """Eb^a * gamma^N mod N^2, the (re-randomised) product the multiplication proof speaks of.

    ``a`` is taken modulo N, the convention every prover here relies on.
    """
    n2 = pk.n_square
    out = powmod(eb, a % pk.n, n2)
    if gamma != 1:
        out = out * powmod(gamma, pk.n, n2) % n2
    return int(out)


# -- validation of received values -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Blame:
    """Who to blame for a malformed value: the proof kind and the prover."""

    kind: str
    prover: int

    def reject(self, check: str, index: object = None) -> ProofRejected:
        return ProofRejected(self.kind, self.prover, check, index=index)


_MPZ = type(mpz(0))


def _as_int(value: object, what: str, blame: Blame) -> int:
    if isinstance(value, _MPZ):
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise blame.reject(f"{what} is a {type(value).__name__}, not an integer")
    return value


def element(pk: PublicKey, value: object, what: str, blame: Blame) -> mpz:
    """A unit of Z_{N^2} (ciphertexts and first messages), or a rejection naming ``what``."""
    v = _as_int(value, what, blame)
    if not 0 < v < pk.n_square:
        raise blame.reject(f"{what} is outside [1, N^2)")
    if gmpy2.gcd(v, pk.n) != 1:
        raise blame.reject(f"{what} is not a unit modulo N^2")
    return mpz(v)


def root(pk: PublicKey, value: object, what: str, blame: Blame) -> mpz:
    """A unit of Z_N (responses whose N-th power is taken)."""
    v = _as_int(value, what, blame)
    if not 0 < v < pk.n or gmpy2.gcd(v, pk.n) != 1:
        raise blame.reject(f"{what} is not a unit of Z_N")
    return mpz(v)


def canonical_root(pk: PublicKey, value: object, what: str, blame: Blame) -> mpz:
    """A unit of Z_N in canonical form, at most N/2 (see ``canonical``)."""
    v = root(pk, value, what, blame)
    if v > pk.n // 2:
        raise blame.reject(f"{what} is not in canonical form (above N/2)")
    return v


def canonical(pk: PublicKey, w: mpz | int) -> int:
    """min(w, N - w): the provers' form of an N-th-root response.

    Verifiers compare squares, so w and N - w (whose N-th powers differ by the factor -1) both
    satisfy the equations; fixing the smaller one makes every proof's bytes unique in that
    respect, and a "sign-flipped" response is then rejected by every verifier at parsing.
    """
    w = int(w) % pk.n
    return min(w, pk.n - w)


def residue(value: object, bound: int, what: str, blame: Blame) -> mpz:
    """An integer in [0, bound) (responses that are exponents)."""
    v = _as_int(value, what, blame)
    if not 0 <= v < bound:
        raise blame.reject(f"{what} is outside its range")
    return mpz(v)


def sequence(value: object, length: int, what: str, blame: Blame) -> Sequence[object]:
    if not isinstance(value, (tuple, list)) or len(value) != length:
        raise blame.reject(f"{what} must be a sequence of {length} values")
    return value


# -- verification equations --------------------------------------------------------------------


@dataclass(slots=True)
class Equation:
    """(1+N)^g * root^N * prod(left) == prod(right) mod N^2, with a label naming the check."""

    label: str
    g: mpz | int = 0
    root: mpz | int = 1
    left: list[tuple[mpz, mpz | int]] = field(default_factory=list)
    right: list[tuple[mpz, mpz | int]] = field(default_factory=list)
    blame: Blame | None = None
    index: object = None

    def holds(self, pk: PublicKey) -> bool:
        n2 = pk.n_square
        lhs = g_power(pk, int(self.g))
        if self.root != 1:
            lhs = lhs * powmod(self.root, pk.n, n2) % n2
        for base, exp in self.left:
            lhs = lhs * _power(base, exp, n2) % n2
        rhs = mpz(1)
        for base, exp in self.right:
            rhs = rhs * _power(base, exp, n2) % n2
        # squares: an error of order 2 (like -1 = (-1)^N from a response w -> N - w) is
        # tolerated here exactly as in ``batch_holds``, so every verifier decides alike
        return lhs * lhs % n2 == rhs * rhs % n2


def _power(base: mpz, exp: mpz | int, modulus: mpz | int) -> mpz:
    if exp == 1:
        return base
    if exp == 0:
        return mpz(1)
    return powmod(base, exp, modulus)


def batch_holds(
    pk: PublicKey, equations: Sequence[Equation], exponent_bits: int = BATCH_EXPONENT_BITS
) -> bool:
    """All equations at once, each raised to a fresh random exponent (see module doc).

    Squares of both sides are compared, as in ``Equation.holds``: raised to a random exponent,
    an order-2 error would survive or not depending on that exponent's parity, and honest
    verifiers of the same bytes would disagree.
    """
    if not equations:
        return True
    if not 1 <= exponent_bits <= CHALLENGE_BITS:
        raise ValueError(f"batch exponents must have 1..{CHALLENGE_BITS} bits")
    n, n2 = pk.n, pk.n_square
    g_total = mpz(0)
    roots = mpz(1)
    left: dict[mpz, mpz] = {}
    right: dict[mpz, mpz] = {}
    root_terms: list[tuple[mpz, mpz]] = []
    for eq in equations:
        beta = mpz(secrets.randbelow((1 << exponent_bits) - 1) + 1)
        g_total += beta * eq.g
        if eq.root != 1:
            root_terms.append((mpz(eq.root), beta))
        for base, exp in eq.left:
            left[base] = left.get(base, mpz(0)) + beta * exp
        for base, exp in eq.right:
            right[base] = right.get(base, mpz(0)) + beta * exp
    roots = multi_pow(root_terms, n)
    lhs = g_power(pk, int(g_total)) * powmod(roots, n, n2) % n2 * _product(left, n2) % n2
    rhs = _product(right, n2)
    return lhs * lhs % n2 == rhs * rhs % n2


def _product(terms: dict[mpz, mpz], modulus: mpz | int) -> mpz:
    """prod(base^exp): long exponents one by one, short ones in one multi-exponentiation."""
    out = mpz(1)
    short: list[tuple[mpz, mpz]] = []
    for base, exp in terms.items():
        if exp.bit_length() > SHORT_EXPONENT_BITS:
            out = out * powmod(base, exp, modulus) % modulus
        else:
            short.append((base, exp))
    return out * multi_pow(short, modulus) % modulus


def require(
    pk: PublicKey,
    equations: Sequence[Equation],
    *,
    batch: bool = True,
    exponent_bits: int = BATCH_EXPONENT_BITS,
) -> None:
    """Raise ProofRejected for the first failing equation; try the whole batch first.

    Only when the batch fails are the equations checked one by one, to name the culprit.
    ``exponent_bits`` sets the batch's soundness error 2^-exponent_bits.
    """
    check_key(pk)
    if batch and len(equations) > 1 and batch_holds(pk, equations, exponent_bits):
        return
    for eq in equations:
        if not eq.holds(pk):
            assert eq.blame is not None
            raise eq.blame.reject(eq.label, eq.index)
    if batch and len(equations) > 1:
        # Every equation holds but the batch did not: impossible for units; treat as a bug.
        raise RuntimeError("batch verification failed although every equation holds")


def start_transcript(kind: str, pk: PublicKey, ctx: ProofContext) -> Transcript:
    """A transcript bound to the proof kind, the context (session, phase, round, prover), the key."""
    check_key(pk)
    transcript = Transcript(f"coopetition/zk/{kind}/v1")
    ctx.absorb_into(transcript)
    return transcript.absorb(pk.n)


def blame_for(kind: str, ctx: object) -> Blame:
    if not isinstance(ctx, ProofContext):
        raise TypeError("a proof context must be a ProofContext")
    return Blame(kind, ctx.prover)
