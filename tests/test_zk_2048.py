"""The proofs at the real parameter size (2048-bit N), and with DJN-encrypted ciphertexts.

The modulus comes from gmpy2's next_prime (fast, not safe primes): the proofs only need N.
"""

from __future__ import annotations

import dataclasses
import secrets

import gmpy2
import pytest

from coopetition.protocols.paillier.encryptor import Encryptor
from coopetition.protocols.paillier.keys import PublicKey
from coopetition.protocols.zk import group, interval, multiplication, plaintext
from coopetition.protocols.zk.errors import ProofRejected
from coopetition.protocols.zk.transcript import ProofContext

CTX = ProofContext(b"big", "share-convert", 1, 0)


@pytest.fixture(scope="module")
def key2048() -> tuple[PublicKey, int]:
    while True:
        p = int(gmpy2.next_prime(secrets.randbits(1024) | (3 << 1022)))
        q = int(gmpy2.next_prime(secrets.randbits(1024) | (3 << 1022)))
        if p != q and (p * q).bit_length() == 2048:
            return PublicKey(p * q), p


def test_2048_bit_proofs_with_djn_randomness(key2048):
    pk, p = key2048
    encryptor = Encryptor(pk)
    # Gadget 3's mask: r in [0, 2^296), proved with slack 2^80 -> |r| < 2^376 << N.
    m = secrets.randbits(296)
    c, r = encryptor.encrypt_with_randomness(m)
    assert pk.raw_encrypt(m, r) == c
    params = interval.IntervalParams(bits=296)
    proof = interval.prove(pk, c, m, r, CTX, params)
    interval.verify(pk, c, proof, CTX, params)
    fast = interval.prove(pk, c, m, r, CTX, params, encryptor=encryptor)
    interval.verify(pk, c, fast, CTX, params)
    with pytest.raises(ProofRejected):
        interval.verify(pk, c, proof, dataclasses.replace(CTX, prover=1), params)
    plaintext.verify(pk, c, plaintext.prove(pk, c, m, r, CTX), CTX)

    a, ra = 12345, group.random_unit(pk)
    ea = pk.raw_encrypt(a, ra)
    statement = multiplication.Statement(ea, c, group.multiply(pk, c, a, 1))
    mp = multiplication.prove(pk, statement, a, ra, 1, CTX)
    multiplication.verify(pk, statement, mp, CTX)
    lie = dataclasses.replace(statement, ec=statement.ec * (1 + pk.n) % pk.n_square)
    with pytest.raises(ProofRejected):
        multiplication.verify(pk, lie, multiplication.prove(pk, lie, a, ra, 1, CTX), CTX)
    # Textbook check of the product modulo the factor p: c^(p-1) = 1 + m(p-1)qp (mod p^2).
    q = pk.n // p
    dec_p = (pow(statement.ec, p - 1, p * p) - 1) // p * pow((p - 1) * q, -1, p) % p
    assert dec_p == (a * m) % p
