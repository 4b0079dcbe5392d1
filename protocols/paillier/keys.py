"""Paillier keys (g = N + 1), signed plaintext encoding and the checks every received ciphertext
must pass.

Kept dependency-free of the rest of the library so that proofs, SPDZ and the wire format can
all name the same key type. Plaintexts are signed integers in (-N/2, N/2): ``encode`` maps them
to Z_N and ``decode`` maps back, so negative fixed-point values survive homomorphic sums.

Moduli below 2048 bits are refused unless the caller passes ``insecure_allow_small=True``;
that option exists for tests and for nothing else. A small modulus made or decoded that way is
remembered (for this process only) so that proof verifiers, which must refuse small keys, can
tell a test key from a key some peer handed over: see ``is_insecure_test_key``.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from functools import lru_cache

import gmpy2
import numpy as np

from . import opcount
from .primes import random_safe_prime

#: Modulus sizes accepted without the explicit insecure option.
SECURE_MODULUS_BITS = (2048, 3072, 4096)
DEFAULT_MODULUS_BITS = 2048


#: Moduli below 2048 bits that this process created or decoded with ``insecure_allow_small``.
_INSECURE_TEST_MODULI: set[int] = set()


def register_insecure_test_key(public: PublicKey) -> None:
    """Mark a small key as an explicitly requested test key (``insecure_allow_small=True``).

    Only the code paths that already took the insecure option call this; nothing that arrives
    from a peer is ever registered unless the local caller asked for the insecure option.
    """
    if public.bits < DEFAULT_MODULUS_BITS:
        _INSECURE_TEST_MODULI.add(public.n)


def is_insecure_test_key(public: PublicKey) -> bool:
    """True iff ``public`` is below 2048 bits and was made through the insecure test option."""
    return public.n in _INSECURE_TEST_MODULI


class InvalidCiphertext(ValueError):
    """A ciphertext is not a unit modulo N**2, is out of range, or belongs to another key."""


_MPZ = type(gmpy2.mpz(0))


def as_int(value: object, *, what: str = "plaintext") -> int:
    """``value`` as a Python int if it is an integer (int, gmpy2.mpz, numpy integer), else raise.

    bool, float, str, mpfr and the like raise ``TypeError``: a silent ``int(2.9) == 2`` or
    ``int('5')`` would encrypt something other than what the caller holds.
    """
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{what} is a bool, not an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, (_MPZ, np.integer)):
        return int(value)
    raise TypeError(f"{what} is a {type(value).__name__}, not an integer")


@dataclass(frozen=True, slots=True)
class PublicKey:
    """A Paillier public key with generator g = N + 1.

    Encryption of m with randomness r is ``(1 + m*N) * r**N mod N**2``, since
    ``(1 + N)**m = 1 + m*N (mod N**2)``.
    """

    n: int
    n_square: int = field(init=False)
    fingerprint: bytes = field(init=False)
    # gmpy2 copies of n and n**2: arithmetic on Python ints of this size is ~8x slower.
    n_mpz: gmpy2.mpz = field(init=False, repr=False, compare=False)
    n2_mpz: gmpy2.mpz = field(init=False, repr=False, compare=False)
    half_n: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if isinstance(self.n, bool) or not isinstance(self.n, int):
            object.__setattr__(self, "n", int(self.n))
        if self.n < 3 or self.n % 2 == 0:
            raise ValueError("a Paillier modulus is an odd composite greater than 2")
        object.__setattr__(self, "n_square", self.n * self.n)
        object.__setattr__(self, "n_mpz", gmpy2.mpz(self.n))
        object.__setattr__(self, "n2_mpz", gmpy2.mpz(self.n_square))
        object.__setattr__(self, "half_n", self.n // 2)
        digest = hashlib.sha256(
            b"coopetition/paillier/pk/v1" + self.n.to_bytes(self.byte_length, "big")
        )
        object.__setattr__(self, "fingerprint", digest.digest()[:16])

    @property
    def bits(self) -> int:
        return self.n.bit_length()

    @property
    def byte_length(self) -> int:
        return (self.n.bit_length() + 7) // 8

    @property
    def ciphertext_byte_length(self) -> int:
        return (self.n_square.bit_length() + 7) // 8

    def residue(self, m: object) -> int:
        """A plaintext for the raw layer as an element of Z_N.

        The raw layer (``raw_encrypt``, ``encrypt_with_rn``) serves proofs, which work with
        residues in [0, N), and signed callers, which pass values in (-N/2, N/2); so it takes
        any integer in (-N/2, N) -- both readings denote the same element of Z_N -- and refuses
        everything else instead of silently reducing it modulo N.
        """
        m = as_int(m)
        if not -self.half_n <= m < self.n:
            raise ValueError(f"plaintext out of range (-N/2, N) for key {self.fingerprint.hex()}")
        return m % self.n

    def raw_encrypt(self, m: int, r: int) -> int:
        """Enc(m; r) with the full randomness r in Z_N^* (the textbook form, used by proofs).

        ``m`` is a residue in [0, N) or a signed plaintext in (-N/2, N/2) (see ``residue``).
        """
        m = self.residue(m)
        opcount.tally("powmod")
        return self.encrypt_with_rn(
            m, gmpy2.powmod(as_int(r, what="randomness"), self.n_mpz, self.n2_mpz)
        )

    def encrypt_with_rn(self, m: int, rn: int) -> int:
        """Enc(m) given the randomness already raised to the N-th power (``rn = r**N mod N**2``).

        ``m`` as in ``raw_encrypt``. ``(1 + m*N) * rn = rn + N * (m * rn mod N)  (mod N**2)``:
        one product modulo N instead of a product modulo N**2.
        """
        n = self.n_mpz
        return int((rn + n * (gmpy2.mpz(self.residue(m)) * rn % n)) % self.n2_mpz)

    def encrypt(self, m: int) -> int:
        """Enc(m) for a signed plaintext in (-N/2, N/2), with fresh full-length randomness.

        One |N|-bit exponentiation. The fast path is ``Encryptor`` (short-exponent randomness
        with a fixed-base table); this one needs no precomputation and no assumption beyond DCR.
        """
        return self.raw_encrypt(self.encode(m), self.random_unit())

    def random_unit(self) -> int:
        """A uniformly random element of Z_N^*."""
        while True:
            r = secrets.randbelow(self.n)
            if r > 1 and gmpy2.gcd(r, self.n) == 1:
                return r

    def encode(self, m: int) -> int:
        """A signed plaintext in (-N/2, N/2) as an element of Z_N.

        The one entry point of the signed API: integers only (int, gmpy2.mpz, numpy integer;
        ``TypeError`` otherwise) and ``ValueError`` outside the range, never a silent wrap.
        N is odd, so the range is exactly [-(N-1)/2, (N-1)/2].
        """
        m = as_int(m)
        if not -self.half_n <= m <= self.half_n:
            raise ValueError(f"plaintext out of range (-N/2, N/2) for key {self.fingerprint.hex()}")
        return m % self.n

    def decode(self, x: int) -> int:
        """The signed representative in (-N/2, N/2) of an integer taken modulo N."""
        x = as_int(x, what="encoded plaintext") % self.n
        return x - self.n if x > self.half_n else x

    def check_ciphertext(self, c: int, *, what: str = "ciphertext") -> int:
        """Return ``c`` (as an int) if it is a unit modulo N**2, else raise ``InvalidCiphertext``.

        int, gmpy2.mpz and numpy integers are accepted alike (as ``check_ciphertexts`` does).
        """
        try:
            c = as_int(c, what=what)
        except TypeError as exc:
            raise InvalidCiphertext(str(exc)) from None
        if not 0 < c < self.n_square:
            raise InvalidCiphertext(f"{what} is outside [1, N^2) for key {self.fingerprint.hex()}")
        if gmpy2.gcd(c, self.n) != 1:
            raise InvalidCiphertext(
                f"{what} is not a unit modulo N^2 for key {self.fingerprint.hex()}"
            )
        return c

    def check_ciphertexts(self, cs: object, *, what: str = "ciphertext") -> list[int]:
        """Check every entry of a sequence; the error names the first bad index."""
        if isinstance(cs, (str, bytes)) or not hasattr(cs, "__iter__"):
            raise InvalidCiphertext(f"{what} vector is a {type(cs).__name__}, not a sequence")
        values = _flatten_ints(cs)
        return [self.check_ciphertext(c, what=f"{what}[{index}]") for index, c in enumerate(values)]


def _flatten_ints(cs: object) -> list[int]:
    tolist = getattr(cs, "tolist", None)
    values = tolist() if callable(tolist) else list(cs)  # type: ignore[call-overload]
    out: list[int] = []
    for v in values:
        if isinstance(v, list):
            out.extend(_flatten_ints(v))
        elif isinstance(v, gmpy2.mpz):
            out.append(int(v))
        else:
            out.append(v)
    return out


@dataclass(frozen=True, slots=True)
class PrivateKey:
    """The factorisation of N, with the constants of CRT decryption precomputed.

    Decryption modulo p**2 and q**2 separately and recombination (as in python-paillier since
    1.3) costs two exponentiations with |N|/2-bit exponents and moduli instead of one with
    |N|-bit exponent and 2|N|-bit modulus: about 4x faster.
    """

    public: PublicKey
    p: int
    q: int
    _p2: gmpy2.mpz = field(init=False, repr=False)
    _q2: gmpy2.mpz = field(init=False, repr=False)
    _hp: gmpy2.mpz = field(init=False, repr=False)
    _hq: gmpy2.mpz = field(init=False, repr=False)
    _q_inv_p: gmpy2.mpz = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.p * self.q != self.public.n or self.p == self.q:
            raise ValueError("p*q does not match the public modulus")
        p, q = gmpy2.mpz(self.p), gmpy2.mpz(self.q)
        object.__setattr__(self, "_p2", p * p)
        object.__setattr__(self, "_q2", q * q)
        object.__setattr__(self, "_hp", self._h(p))
        object.__setattr__(self, "_hq", self._h(q))
        object.__setattr__(self, "_q_inv_p", gmpy2.invert(q, p))

    def __repr__(self) -> str:  # never print the factors
        return f"PrivateKey(public={self.public.fingerprint.hex()})"

    def _h(self, prime: gmpy2.mpz) -> gmpy2.mpz:
        g = gmpy2.mpz(self.public.n + 1)
        square = prime * prime
        return gmpy2.invert((gmpy2.powmod(g, prime - 1, square) - 1) // prime, prime)

    @property
    def lam(self) -> int:
        """Carmichael's lambda(N) = lcm(p-1, q-1)."""
        return int(gmpy2.lcm(self.p - 1, self.q - 1))

    def raw_decrypt(self, c: int) -> int:
        """The plaintext of ``c`` as an element of Z_N (``c`` is checked first)."""
        self.public.check_ciphertext(c)
        opcount.tally("powmod_crt", 2)
        p, q = gmpy2.mpz(self.p), gmpy2.mpz(self.q)
        mp = (gmpy2.powmod(c, p - 1, self._p2) - 1) // p * self._hp % p
        mq = (gmpy2.powmod(c, q - 1, self._q2) - 1) // q * self._hq % q
        return int(mq + q * ((mp - mq) * self._q_inv_p % p))

    def decrypt(self, c: int) -> int:
        """The signed plaintext of ``c``."""
        return self.public.decode(self.raw_decrypt(c))


def generate_keypair(
    bits: int = DEFAULT_MODULUS_BITS, *, insecure_allow_small: bool = False
) -> tuple[PublicKey, PrivateKey]:
    """A fresh key with N = p*q of exactly ``bits`` bits, p and q safe primes.

    Safe primes cost a second or two more at 2048 bits and make every key usable for threshold
    decryption with proofs (see ``threshold``). ``bits`` below 2048 raise ``ValueError`` unless
    ``insecure_allow_small`` is set (tests only: such keys are factorable).
    """
    check_modulus_bits(bits, insecure_allow_small=insecure_allow_small)
    while True:
        p = random_safe_prime(bits // 2)
        q = random_safe_prime(bits - bits // 2)
        if p != q and (p * q).bit_length() == bits:
            public = PublicKey(p * q)
            if insecure_allow_small:
                register_insecure_test_key(public)
            return public, PrivateKey(public, p, q)


def check_modulus_bits(bits: int, *, insecure_allow_small: bool = False) -> None:
    if bits in SECURE_MODULUS_BITS:
        return
    if bits < DEFAULT_MODULUS_BITS:
        if not insecure_allow_small:
            raise ValueError(
                f"a {bits}-bit Paillier modulus is insecure; pass insecure_allow_small=True "
                "only in tests"
            )
        if bits < 128:
            raise ValueError("modulus below 128 bits cannot hold the test plaintexts")
        return
    if not insecure_allow_small:
        raise ValueError(
            f"a {bits}-bit modulus is not one of the supported lengths {SECURE_MODULUS_BITS}"
        )
    if bits % 2:
        raise ValueError("modulus length must be even")


@lru_cache(maxsize=4)
def insecure_test_keypair(bits: int = 512) -> tuple[PublicKey, PrivateKey]:
    """A cached small key for tests, generated once per process. INSECURE: never use it for data."""
    return generate_keypair(bits, insecure_allow_small=True)
