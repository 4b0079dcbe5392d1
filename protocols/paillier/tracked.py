"""Ciphertexts whose plaintext and randomness the prover keeps: c = Enc(m mod N; r) = (1+N)^m r^N.

Why: range proofs need the witness (m, r) of the ciphertext they speak of, but many of Helen's
ciphertexts are not fresh encryptions; they come out of homomorphic operations (A = V Theta V^T,
b = V Sigma y*, V^T V, the rounding residues 2^s A - A_full, the local product w_i). Whoever made
every input knows the output's witness, by the same operations on the exponents:

    Enc(m1; r1) Enc(m2; r2) = Enc(m1 + m2; r1 r2)       Enc(m; r)^k = Enc(k m; r^k)
    (1+N)^k Enc(m; r)       = Enc(m + k; r)             Enc(m; r) g^N = Enc(m; r g)

``Tracked`` carries (ciphertext, plaintext, randomness) through exactly these. Ciphertexts are
computed by ``ops`` (the same code the protocol runs, so a prover's ciphertexts equal everyone
else's bit for bit); plaintexts are exact signed integers (never reduced mod N: a value that
would leave (-N/2, N/2) raises instead of wrapping), and randomness lives in Z*_N, where
negative scalars are inverses (as ``ops.mul_plain`` inverts the ciphertext).

This is the prover's private bookkeeping: plaintexts and randomness are secrets and never leave
the party (nor its logs).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass

import gmpy2

from coopetition.protocols.paillier import ops
from coopetition.protocols.paillier.encryptor import Encryptor
from coopetition.protocols.paillier.keys import PublicKey, as_int


@dataclass(frozen=True, slots=True)
class Tracked:
    """A ciphertext with its witness: ciphertext == Enc(plaintext mod N; randomness)."""

    ciphertext: int
    plaintext: int
    randomness: int

    def __repr__(self) -> str:  # never print the witness
        return f"Tracked(ciphertext={self.ciphertext:#x}, ...)"

    def holds(self, pk: PublicKey) -> bool:
        """Recompute Enc(m; r) (one full exponentiation): for tests and debugging."""
        return int(pk.raw_encrypt(self.plaintext % pk.n, self.randomness)) == int(self.ciphertext)


def _fits(pk: PublicKey, m: int) -> int:
    if not -(pk.n // 2) < m < pk.n // 2:
        raise ValueError("tracked plaintext would leave (-N/2, N/2) and wrap modulo N")
    return m


def encrypt(pk: PublicKey, m: int, *, encryptor: Encryptor | None = None) -> Tracked:
    """A fresh encryption of the signed m, with its randomness (DJN if ``encryptor``)."""
    m = _fits(pk, as_int(m))
    if encryptor is not None:
        c, r = encryptor.encrypt_with_randomness(m % pk.n)
        return Tracked(int(c), m, int(r))
    while True:
        r = secrets.randbelow(pk.n)
        if r > 1 and gmpy2.gcd(r, pk.n) == 1:
            break
    return Tracked(int(pk.raw_encrypt(m % pk.n, r)), m, r)


def add(pk: PublicKey, a: Tracked, b: Tracked) -> Tracked:
    return Tracked(
        ops.add(pk, a.ciphertext, b.ciphertext),
        _fits(pk, a.plaintext + b.plaintext),
        int(a.randomness * b.randomness % pk.n),
    )


def neg(pk: PublicKey, a: Tracked) -> Tracked:
    return Tracked(ops.neg(pk, a.ciphertext), -a.plaintext, int(gmpy2.invert(a.randomness, pk.n)))


def sub(pk: PublicKey, a: Tracked, b: Tracked) -> Tracked:
    return add(pk, a, neg(pk, b))


def add_plain(pk: PublicKey, a: Tracked, k: int) -> Tracked:
    k = as_int(k)
    return Tracked(ops.add_plain(pk, a.ciphertext, k), _fits(pk, a.plaintext + k), a.randomness)


def mul_plain(pk: PublicKey, a: Tracked, k: int) -> Tracked:
    """Enc(k m; r^k) for a signed k (a negative k inverts r, as ``ops`` inverts c)."""
    k = as_int(k)
    return Tracked(
        ops.mul_plain(pk, a.ciphertext, k),
        _fits(pk, k * a.plaintext),
        int(gmpy2.powmod(a.randomness, k, pk.n)),
    )


def rerandomize(pk: PublicKey, a: Tracked, gamma: int) -> Tracked:
    """Enc(m; r gamma) = c gamma^N: what a prover publishes to unlink a product."""
    c = int(a.ciphertext * gmpy2.powmod(gamma, pk.n, pk.n_square) % pk.n_square)
    return Tracked(c, a.plaintext, int(a.randomness * gamma % pk.n))


def matvec(pk: PublicKey, matrix: Sequence[Sequence[int]], xs: Sequence[Tracked]) -> list[Tracked]:
    """Enc(A x) for a plaintext (signed) matrix A and tracked x: row i has r = prod r_j^A_ij."""
    rows = [[as_int(k) for k in row] for row in matrix]
    cts = ops.matvec(pk, rows, [x.ciphertext for x in xs])
    out = []
    n = pk.n
    for row, c in zip(rows, cts, strict=True):
        r = gmpy2.mpz(1)
        m = 0
        for k, x in zip(row, xs, strict=True):
            if k:
                r = r * gmpy2.powmod(x.randomness, k, n) % n
                m += k * x.plaintext
        out.append(Tracked(int(c), _fits(pk, m), int(r)))
    return out


def matmul(
    pk: PublicKey, matrix: Sequence[Sequence[int]], columns: Sequence[Sequence[Tracked]]
) -> list[list[Tracked]]:
    """Enc(A X) for a plaintext A and a tracked matrix X given as rows (X[i][j])."""
    width = len(columns[0]) if columns else 0
    cols = [matvec(pk, matrix, [row[j] for row in columns]) for j in range(width)]
    return [[cols[j][i] for j in range(width)] for i in range(len(matrix))]


def encrypt_vector(
    pk: PublicKey, values: Sequence[int], *, encryptor: Encryptor | None = None
) -> list[Tracked]:
    return [encrypt(pk, int(v), encryptor=encryptor) for v in values]
