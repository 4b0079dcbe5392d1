"""Core Paillier: key generation guards, encryption round trips, homomorphic identities."""

import gmpy2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coopetition.protocols.paillier import ops
from coopetition.protocols.paillier.keys import (
    InvalidCiphertext,
    PublicKey,
    generate_keypair,
    insecure_test_keypair,
)

PK, SK = insecure_test_keypair(512)
HALF = PK.n // 2
plaintexts = st.one_of(
    st.integers(min_value=-HALF, max_value=HALF),
    st.sampled_from([0, 1, -1, HALF, -HALF, HALF - 1, -HALF + 1, 2**63, -(2**63)]),
)
small = st.integers(min_value=-(2**64), max_value=2**64)


def textbook_decrypt(c: int) -> int:
    """Independent reference: m = L(c**lambda mod N**2) * mu mod N, with mu = L(g**lambda)**-1."""
    n, n2 = PK.n, PK.n_square
    lam = (SK.p - 1) * (SK.q - 1) // int(gmpy2.gcd(SK.p - 1, SK.q - 1))
    mu = pow((pow(n + 1, lam, n2) - 1) // n, -1, n)
    m = (pow(c, lam, n2) - 1) // n * mu % n
    return m - n if m > n // 2 else m


def test_small_keys_need_the_insecure_flag():
    with pytest.raises(ValueError, match="insecure"):
        generate_keypair(1024)
    pk, _ = generate_keypair(256, insecure_allow_small=True)
    assert pk.bits == 256


def test_keys_use_safe_primes():
    for prime in (SK.p, SK.q):
        assert gmpy2.is_prime(prime) and gmpy2.is_prime((prime - 1) // 2)
    assert SK.p * SK.q == PK.n and PK.bits == 512


@settings(max_examples=40, deadline=None)
@given(plaintexts)
def test_decrypt_inverts_encrypt(m):
    c = PK.encrypt(m)
    assert SK.decrypt(c) == m
    assert textbook_decrypt(c) == m


@settings(max_examples=30, deadline=None)
@given(plaintexts, plaintexts)
def test_addition(a, b):
    c = ops.add(PK, PK.encrypt(a), PK.encrypt(b))
    assert textbook_decrypt(c) == PK.decode(a + b)
    assert textbook_decrypt(ops.sub(PK, PK.encrypt(a), PK.encrypt(b))) == PK.decode(a - b)
    assert textbook_decrypt(ops.add_plain(PK, PK.encrypt(a), b)) == PK.decode(a + b)
    assert textbook_decrypt(ops.neg(PK, PK.encrypt(a))) == PK.decode(-a)


@settings(max_examples=30, deadline=None)
@given(plaintexts, st.one_of(small, plaintexts))
def test_scalar_multiplication(a, k):
    assert textbook_decrypt(ops.mul_plain(PK, PK.encrypt(a), k)) == PK.decode(a * k)


def test_raw_encrypt_matches_textbook_formula():
    r = PK.random_unit()
    m = 123456789
    expected = pow(PK.n + 1, m, PK.n_square) * pow(r, PK.n, PK.n_square) % PK.n_square
    assert PK.raw_encrypt(m, r) == expected
    assert (
        PK.raw_encrypt(-m, r)
        == pow(PK.n + 1, -m % PK.n, PK.n_square) * pow(r, PK.n, PK.n_square) % PK.n_square
    )


def test_bad_ciphertexts_are_rejected_with_their_name():
    with pytest.raises(InvalidCiphertext, match=r"ciphertext\[2\]"):
        PK.check_ciphertexts([PK.encrypt(1), PK.encrypt(2), SK.p * 5])
    with pytest.raises(InvalidCiphertext, match="outside"):
        SK.decrypt(PK.n_square + 1)
    with pytest.raises(InvalidCiphertext, match="outside"):
        SK.decrypt(0)
    with pytest.raises(InvalidCiphertext, match="unit"):
        SK.decrypt(SK.q)
    other = PublicKey(PK.n + 2 if (PK.n + 2) % 2 else PK.n + 4)
    assert other.fingerprint != PK.fingerprint


def test_encode_range():
    with pytest.raises(ValueError):
        PK.encode(HALF + 1)
    assert PK.decode(PK.encode(-HALF)) == -HALF
    assert PK.decode(PK.encode(HALF)) == HALF


@pytest.mark.parametrize("bits", [64, 129, 256])
def test_prime_generators(bits):
    from coopetition.protocols.paillier.primes import random_prime, random_safe_prime

    p = random_prime(bits)
    assert p.bit_length() == bits and gmpy2.is_prime(p)
    s = random_safe_prime(bits)
    assert s.bit_length() == bits and gmpy2.is_prime(s) and gmpy2.is_prime((s - 1) // 2)
