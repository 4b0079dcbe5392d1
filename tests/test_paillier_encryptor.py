"""DJN short-exponent encryption, the fixed-base table and the randomness pool."""

import secrets
from concurrent.futures import wait

import gmpy2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coopetition.protocols.paillier import opcount
from coopetition.protocols.paillier.encryptor import (
    Encryptor,
    FixedBaseTable,
    RandomnessPool,
    djn_generator,
    short_exponent_bits,
)
from coopetition.protocols.paillier.keys import insecure_test_keypair

PK, SK = insecure_test_keypair(512)
HALF = PK.n // 2


@settings(max_examples=25, deadline=None)
@given(st.integers(min_value=0, max_value=2**300 - 1), st.sampled_from([1, 4, 8, 11]))
def test_fixed_base_table_matches_powmod(e, w):
    base, modulus = 0xC0FFEE, PK.n_square
    table = FixedBaseTable(base, modulus, 300, w)
    assert table.pow(e) == pow(base, e, modulus)


def test_table_rejects_long_exponents():
    table = FixedBaseTable(3, PK.n_square, 64, 8)
    with pytest.raises(ValueError):
        table.pow(1 << 64)


def test_generator_is_a_square_times_minus_one_with_jacobi_one():
    h = djn_generator(PK)
    assert gmpy2.jacobi(h, SK.p) * gmpy2.jacobi(h, SK.q) == 1
    # h = -x**2: -h is a quadratic residue modulo both primes
    assert gmpy2.legendre(-h % SK.p, SK.p) == 1 and gmpy2.legendre(-h % SK.q, SK.q) == 1
    assert gmpy2.gcd(h, PK.n) == 1
    assert djn_generator(PK) == h  # derived, not random: every party gets the same h


@settings(max_examples=25, deadline=None)
@given(st.one_of(st.integers(-HALF, HALF), st.sampled_from([0, HALF, -HALF])))
def test_encrypt_decrypts(m):
    enc = Encryptor(PK)
    assert SK.decrypt(enc.encrypt(m)) == m
    c, r = enc.encrypt_with_randomness(m)
    assert c == PK.raw_encrypt(m, r)  # an ordinary ciphertext with explicit randomness
    assert SK.decrypt(c) == m


def test_randomness_is_fresh_and_short_exponent():
    enc = Encryptor(PK)
    assert enc.exponent_bits == short_exponent_bits(PK) == 256
    assert len({enc.encrypt(7) for _ in range(20)}) == 20
    # r**N == h_s**alpha: checked against the definition with an independent powmod
    h = djn_generator(PK)
    alpha = secrets.randbits(enc.exponent_bits)
    h_s = pow(h, PK.n, PK.n_square)
    assert enc.table.pow(alpha) == pow(h_s, alpha, PK.n_square)


def test_short_exponent_below_minimum_refused_at_real_sizes():
    from coopetition.protocols.paillier.keys import PublicKey

    big = PublicKey((1 << 2047) + 1)
    with pytest.raises(ValueError):
        Encryptor(big, exponent_bits=128)


def test_pool_in_process_and_counts():
    pool = RandomnessPool(PK)
    pool.fill(5, processes=1)
    assert len(pool) == 5
    enc = Encryptor(PK, pool=pool)
    with opcount.counting() as counts:
        cts = enc.encrypt_vector([1, -2, 3])
    assert counts.get("fixed_base", 0) == 0  # all three came from the pool
    assert len(pool) == 2
    assert [SK.decrypt(c) for c in cts] == [1, -2, 3]
    with opcount.counting() as counts:
        enc.encrypt_vector([4, 5, 6])
    assert counts["fixed_base"] == 1  # two from the pool, then one fresh
    assert pool.take() is None


def test_pool_filled_by_worker_processes():
    with RandomnessPool(PK) as pool:
        pool.fill(40, processes=2)
        assert len(pool) == 40
        futures = pool.fill_in_background(10, processes=2)
        wait(futures)
        assert all(f.exception() is None for f in futures)
        assert len(pool) == 50
        values = [pool.take() for _ in range(50)]
    assert len(set(values)) == 50
    enc = Encryptor(PK)
    for v in values[:5]:
        c = PK.encrypt_with_rn(11, v)
        assert SK.decrypt(c) == 11
        # each value is an N-th residue: it decrypts to 0 on its own
        assert SK.decrypt(int(v)) == 0
    assert enc.encrypt(1) != enc.encrypt(1)
