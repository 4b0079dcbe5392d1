"""Randomness tracking through homomorphic operations, checked against an independent
recomputation: Enc(m mod N; r) by the textbook formula (1 + mN) r^N mod N^2, and the private
key's decryption, for every output; matrix products against numpy integer products."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coopetition.protocols.paillier import tracked as T
from coopetition.protocols.paillier.encryptor import Encryptor
from coopetition.protocols.paillier.keys import insecure_test_keypair

PK, SK = insecure_test_keypair(512)
SIGNED = st.integers(min_value=-(1 << 80), max_value=1 << 80)


def _textbook(m: int, r: int) -> int:
    n, n2 = PK.n, PK.n * PK.n
    return (1 + (m % n) * n) * pow(r, n, n2) % n2


def assert_tracked(t: T.Tracked, expected: int) -> None:
    assert t.plaintext == expected
    assert _textbook(t.plaintext, t.randomness) == t.ciphertext
    assert SK.decrypt(t.ciphertext) == expected


@given(SIGNED, SIGNED, st.integers(min_value=-(1 << 64), max_value=1 << 64))
@settings(max_examples=40, deadline=None)
def test_scalar_operations(a, b, k):
    ta, tb = T.encrypt(PK, a), T.encrypt(PK, b)
    assert_tracked(ta, a)
    assert_tracked(T.add(PK, ta, tb), a + b)
    assert_tracked(T.sub(PK, ta, tb), a - b)
    assert_tracked(T.neg(PK, ta), -a)
    assert_tracked(T.add_plain(PK, ta, k), a + k)
    assert_tracked(T.mul_plain(PK, ta, k), k * a)
    assert_tracked(T.rerandomize(PK, ta, 12345), a)


def test_djn_encryption_is_tracked():
    enc = Encryptor(PK)
    assert_tracked(T.encrypt(PK, -77, encryptor=enc), -77)


def test_matvec_and_matmul_against_numpy():
    rng = np.random.default_rng(1)
    A = rng.integers(-(1 << 30), 1 << 30, size=(4, 5)).astype(object)
    x = rng.integers(-(1 << 30), 1 << 30, size=5).astype(object)
    X = rng.integers(-(1 << 20), 1 << 20, size=(5, 3)).astype(object)
    tx = T.encrypt_vector(PK, x.tolist())
    for t, e in zip(T.matvec(PK, A.tolist(), tx), A.dot(x), strict=True):
        assert_tracked(t, int(e))
    tX = [T.encrypt_vector(PK, row) for row in X.tolist()]
    out = T.matmul(PK, A.tolist(), tX)
    expected = A.dot(X)
    for i in range(4):
        for j in range(3):
            assert_tracked(out[i][j], int(expected[i, j]))


def test_a_chain_like_helen_local_product():
    """w = A (b + rho (z - u)) from tracked b, z, u: the witness follows the whole chain."""
    A = [[3, -2], [-7, 5]]
    b, z, u = (
        T.encrypt_vector(PK, [100, -200]),
        T.encrypt_vector(PK, [5, 6]),
        T.encrypt_vector(PK, [-1, 2]),
    )
    v = [
        T.add(PK, bi, T.mul_plain(PK, T.sub(PK, zi, ui), 9))
        for bi, zi, ui in zip(b, z, u, strict=True)
    ]
    w = T.matvec(PK, A, v)
    vv = [100 + 9 * 6, -200 + 9 * 4]
    assert_tracked(w[0], 3 * vv[0] - 2 * vv[1])
    assert_tracked(w[1], -7 * vv[0] + 5 * vv[1])


def test_wrapping_is_refused_and_repr_hides_the_witness():
    big = T.encrypt(PK, PK.n // 2 - 1)
    with pytest.raises(ValueError, match="wrap"):
        T.add(PK, big, big)
    assert str(big.plaintext) not in repr(big)
