"""Paillier public keys (g = N + 1) and the checks every received ciphertext must pass.

Kept dependency-free of the rest of the library so that proofs, SPDZ and the wire format can
all name the same key type.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import gmpy2

#: Modulus sizes accepted without the explicit insecure option.
SECURE_MODULUS_BITS = (2048, 3072, 4096)
DEFAULT_MODULUS_BITS = 2048


class InvalidCiphertext(ValueError):
    """A ciphertext is not a unit modulo N**2, is out of range, or belongs to another key."""


@dataclass(frozen=True, slots=True)
class PublicKey:
    """A Paillier public key with generator g = N + 1.

    Encryption of m with randomness r is ``(1 + m*N) * r**N mod N**2``, since
    ``(1 + N)**m = 1 + m*N (mod N**2)``.
    """

    n: int
    n_square: int = field(init=False)
    fingerprint: bytes = field(init=False)

    def __post_init__(self) -> None:
        if self.n < 3 or self.n % 2 == 0:
            raise ValueError("a Paillier modulus is an odd composite greater than 2")
        object.__setattr__(self, "n_square", self.n * self.n)
        digest = hashlib.sha256(b"coopetition/paillier/pk/v1" + self.n.to_bytes(self.byte_length, "big"))
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

    def raw_encrypt(self, m: int, r: int) -> int:
        """Enc(m; r) with the full randomness r in Z_N^* (the textbook form, used by proofs)."""
        n, n2 = self.n, self.n_square
        g_m = (1 + (m % n) * n) % n2
        return int(g_m * gmpy2.powmod(r, n, n2) % n2)

    def check_ciphertext(self, c: int, *, what: str = "ciphertext") -> int:
        """Return ``c`` if it is a unit modulo N**2, else raise ``InvalidCiphertext``."""
        if not isinstance(c, int) or isinstance(c, bool):
            raise InvalidCiphertext(f"{what} is a {type(c).__name__}, not an int")
        if not 0 < c < self.n_square:
            raise InvalidCiphertext(f"{what} is outside [1, N^2) for key {self.fingerprint.hex()}")
        if gmpy2.gcd(c, self.n) != 1:
            raise InvalidCiphertext(f"{what} is not a unit modulo N^2 for key {self.fingerprint.hex()}")
        return c
