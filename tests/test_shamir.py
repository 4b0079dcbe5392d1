"""Prime field, Shamir sharing and the Reed-Solomon check, against Python integers."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coopetition.engine.errors import ConfigError
from coopetition.protocols.shamir import (
    InconsistentShares,
    PrimeField,
    check_consistent,
    reconstruct,
    share,
)

FIELD = PrimeField.with_bits(58)


def test_prime_is_checked_and_the_xor_bug_is_not_a_field_choice():
    assert FIELD.p == 2**58 - 27  # the largest prime below 2^58 (a known table value)
    with pytest.raises(ConfigError, match="not prime"):
        PrimeField(2**26 - 4)
    assert (
        2 ^ (26 - 5) == 23
    )  # what `2^26 - 5` means in Python: the COPML code's "prime": refused by the data-fit rule instead
    assert PrimeField.with_bits(61).p == 2**61 - 1  # the Mersenne prime: the widest field
    with pytest.raises(ConfigError, match="more than 61 bits"):
        PrimeField(2**62 - 57)  # prime, but beyond the int64 limb arithmetic


#: fields of every kind the arithmetic distinguishes: small, the old 58-bit limit, the Mersenne
#: prime 2^61 - 1, and two primes far from a power of two (the generic shift path)
WIDE_FIELDS = [
    PrimeField.with_bits(20),
    FIELD,
    PrimeField.with_bits(60),
    PrimeField.with_bits(61),
    PrimeField(3 * 2**58 + 49),  # 60 bits, 2^60 - p is large
    PrimeField(2**60 + 33),  # 61 bits, just above a power of two
]


@pytest.mark.parametrize("field", WIDE_FIELDS, ids=lambda f: f"p{f.bits}-{f.p % 1000}")
@settings(max_examples=20, deadline=None)
@given(
    rows=st.integers(1, 5),
    inner=st.sampled_from([1, 2, 17, 300, 3073]),
    cols=st.integers(1, 4),
    seed=st.integers(0, 2**32),
    shift=st.integers(0, 130),
)
def test_wide_field_arithmetic_is_exact(field, rows, inner, cols, seed, shift):
    """matmul (either operand large or pre-split), mul and shift against Python integers, up to
    61 bits, including the extreme element p - 1 everywhere."""
    rng = np.random.default_rng(seed)
    p = field.p
    a = field.random(rng, (rows, inner))
    b = field.random(rng, (inner, cols))
    a[0, :] = p - 1
    b[:, 0] = p - 1
    want = [[sum(int(x) * int(y) for x, y in zip(r, c, strict=True)) % p for c in b.T] for r in a]
    assert field.matmul(a, b).tolist() == want
    assert field.matmul(a[0], b).tolist() == want[0]
    assert field.matmul(a, b[:, 0]).tolist() == [row[0] for row in want]
    if inner > 1:
        assert field.matmul(field.split(a), b).tolist() == want
        assert field.matmul(a, field.split(b)).tolist() == want
    flat = a.reshape(-1)
    other = field.random(rng, flat.size)
    assert field.mul(flat, other).tolist() == [
        int(x) * int(y) % p for x, y in zip(flat, other, strict=True)
    ]
    assert field.shift(flat, shift).tolist() == [int(x) * pow(2, shift, p) % p for x in flat]


@settings(max_examples=30, deadline=None)
@given(
    st.integers(1, 6),
    st.integers(1, 40),
    st.integers(0, 2**32),
)
def test_matmul_and_mul_are_exact(rows, inner, seed):
    rng = np.random.default_rng(seed)
    a = FIELD.random(rng, (rows, inner))
    b = FIELD.random(rng, inner)
    got = FIELD.matmul(a, b)
    want = [
        sum(int(x) * int(y) for x, y in zip(a[i], b, strict=True)) % FIELD.p for i in range(rows)
    ]
    assert got.tolist() == want
    c = FIELD.random(rng, inner)
    assert FIELD.mul(b, c).tolist() == [
        int(x) * int(y) % FIELD.p for x, y in zip(b, c, strict=True)
    ]
    assert FIELD.shift(b, 37).tolist() == [int(x) * 2**37 % FIELD.p for x in b]


def test_matmul_exact_at_cifar_width():
    rng = np.random.default_rng(3)
    a = FIELD.random(rng, (2, 3073))
    b = FIELD.random(rng, 3073)
    want = [sum(int(x) * int(y) for x, y in zip(row, b, strict=True)) % FIELD.p for row in a]
    assert FIELD.matmul(a, b).tolist() == want


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 4), st.integers(0, 2**32))
def test_any_t_plus_one_shares_reconstruct(T, seed):
    rng = np.random.default_rng(seed)
    n = 2 * T + 2
    secret = FIELD.random(rng, (3, 2))
    points = list(range(1, n + 1))
    shares = share(FIELD, secret, points, T, rng)
    pick = sorted(rng.choice(n, T + 1, replace=False).tolist())
    assert (reconstruct(FIELD, shares[pick], [points[i] for i in pick]) == secret).all()
    check_consistent(FIELD, shares, points, list(range(n)), T, rng, what="x")


def test_t_shares_are_uniform_independent_of_the_secret():
    """Two different secrets give the same distribution of any T shares (chi-square on a tiny
    field, where it can be counted)."""
    small = PrimeField(13)
    rng = np.random.default_rng(0)
    counts = {}
    for secret in (0, 7):
        shares = share(small, np.full(20000, secret), [1, 2, 3], 1, rng)
        counts[secret] = np.bincount(shares[1], minlength=13)
    expected = 20000 / 13
    for c in counts.values():
        assert ((c - expected) ** 2 / expected).sum() < 40  # 12 dof: p < 1e-4 to exceed


def test_a_wrong_share_is_detected_and_located():
    rng = np.random.default_rng(5)
    points = [1, 2, 3, 4, 5, 6]
    shares = share(FIELD, FIELD.random(rng, 8), points, 2, rng)
    shares[3, 5] = (shares[3, 5] + 1) % FIELD.p
    with pytest.raises(InconsistentShares) as info:
        check_consistent(FIELD, shares, points, [10, 11, 12, 13, 14, 15], 2, rng, what="x")
    assert info.value.culprit == 13


def test_one_spare_share_detects_without_naming():
    rng = np.random.default_rng(6)
    points = [1, 2, 3, 4]
    shares = share(FIELD, FIELD.random(rng, 8), points, 2, rng)
    shares[0, 0] = (shares[0, 0] + 5) % FIELD.p
    with pytest.raises(InconsistentShares) as info:
        check_consistent(FIELD, shares, points, [0, 1, 2, 3], 2, rng, what="x")
    assert info.value.culprit is None
