"""The shared arithmetic: multi-exponentiation and batch verification, against plain pow()."""

from __future__ import annotations

import secrets
from functools import reduce

from gmpy2 import mpz
from hypothesis import given, settings
from hypothesis import strategies as st

from coopetition.protocols.paillier.keys import insecure_test_keypair
from coopetition.protocols.zk import group
from coopetition.protocols.zk.group import Equation

PK, _ = insecure_test_keypair(512)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(1, 2**1024), st.integers(0, 2**300)),
        min_size=0,
        max_size=70,
    )
)
def test_multi_pow_matches_pow(pairs):
    modulus = PK.n_square
    expected = reduce(lambda acc, be: acc * pow(be[0], be[1], modulus) % modulus, pairs, 1)
    got = group.multi_pow([(mpz(b), mpz(e)) for b, e in pairs], modulus)
    assert got == expected


def true_equations(count: int) -> list[Equation]:
    """Encryptions Enc(m; r) = (1+N)^m r^N rewritten as verification equations."""
    eqs = []
    for i in range(count):
        m, r = secrets.randbelow(PK.n), group.random_unit(PK)
        c = mpz(PK.raw_encrypt(m, r))
        eqs.append(Equation(f"eq {i}", g=mpz(m), root=mpz(r), right=[(c, 1)]))
    return eqs


@settings(max_examples=10, deadline=None)
@given(st.integers(2, 40), st.data())
def test_batch_accepts_true_and_rejects_one_wrong_plaintext(count, data):
    eqs = true_equations(count)
    assert group.batch_holds(PK, eqs)
    i = data.draw(st.integers(0, count - 1))
    shift = data.draw(st.integers(1, PK.n - 1))
    eqs[i].g = (eqs[i].g + shift) % PK.n
    assert not eqs[i].holds(PK)
    assert not group.batch_holds(PK, eqs)


def test_individual_and_batched_checks_agree_on_an_order_two_factor():
    """Regression (review of issue 5, defect 2): an equation off by the factor -1 used to fail
    ``holds`` but pass ``batch_holds`` exactly when its random exponent was even. Both compare
    squares now, so both accept it, on every run; a factor of large order fails both."""
    n2 = PK.n_square
    for _ in range(32):
        eqs = true_equations(3)
        eqs[1].right.append((mpz(n2 - 1), 1))  # times -1 = (-1)^N: an N-th power of order 2
        assert eqs[1].holds(PK)
        assert group.batch_holds(PK, eqs)
        group.require(PK, eqs)
        big = true_equations(3)
        big[2].right.append((mpz(4), 1))  # 4 = 2^2: a square of large order, not a sign
        assert not big[2].holds(PK)
        assert not group.batch_holds(PK, big)


def test_batch_exponent_width_is_respected(monkeypatch):
    """Exponents are drawn from [1, 2^bits): 128 by default (error 2^-128), narrower when asked."""
    bounds: list[int] = []
    real = secrets.randbelow

    def spy(bound: int) -> int:
        bounds.append(bound)
        return real(bound)

    eqs = true_equations(2)
    monkeypatch.setattr(group.secrets, "randbelow", spy)
    assert group.batch_holds(PK, eqs)
    assert bounds == [(1 << 128) - 1] * 2
    bounds.clear()
    assert group.batch_holds(PK, eqs, 64)
    assert bounds == [(1 << 64) - 1] * 2
