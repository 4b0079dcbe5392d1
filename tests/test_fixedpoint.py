"""The project's fixed-point module against textbook definitions."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coopetition.protocols import fixedpoint as fx

MODULI = [
    2**256 - 189,
    2**61 - 1,
    (2**127 - 1) * (2**89 - 1),
]  # a prime, a Mersenne prime, an RSA-like N

reals = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)


@settings(max_examples=200, deadline=None)
@given(reals, st.integers(0, 30), st.sampled_from(MODULI))
def test_roundtrip_within_half_ulp(x, f, modulus):
    res = fx.encode_mod([x], modulus, f)
    assert 0 <= int(res[0]) < modulus
    back = fx.decode_mod(res, modulus, f)[0]
    assert abs(Fraction(back) - Fraction(x)) <= Fraction(1, 2 ** (f + 1))


@settings(max_examples=200, deadline=None)
@given(st.integers(-(2**200), 2**200), st.sampled_from(MODULI[:1] + MODULI[2:]))
def test_residue_centering_is_inverse(v, modulus):
    assert int(fx.from_residue(fx.to_residue([v], modulus), modulus)[0]) == v


def test_field_edges():
    p = MODULI[0]
    half = p // 2
    assert int(fx.from_residue([half], p)[0]) == half
    assert int(fx.from_residue([half + 1], p)[0]) == half + 1 - p
    assert int(fx.from_residue([p - 1], p)[0]) == -1
    with pytest.raises(ValueError):
        fx.to_residue([half + 1], p)  # would wrap to a negative number
    with pytest.raises(ValueError):
        fx.check_headroom([2**200], p, slack_bits=60)
    fx.check_headroom([2**200], p, slack_bits=50)


def test_scale_bookkeeping():
    a = fx.Scaled.from_real([1.5, -2.25], 8)
    b = fx.Scaled.from_real([2.0, 4.0], 8)
    prod = a * b
    assert prod.frac_bits == 16
    np.testing.assert_array_equal(prod.to_real(), [3.0, -9.0])
    with pytest.raises(ValueError):
        _ = prod + a  # different scales must not be added silently
    assert list((prod.rescale(8) + a).to_real()) == [4.5, -11.25]
    assert list(fx.Scaled.from_real([1.0], 4).rescale(10).ints) == [1024]


def test_rescale_rounds_half_up_and_matmul_adds_scales():
    s = fx.Scaled(np.array([3, -3, 5], dtype=object), 1)  # 1.5, -1.5, 2.5
    assert list(s.rescale(0).ints) == [2, -1, 3]
    m = fx.Scaled.from_real(np.eye(2), 4).matmul(fx.Scaled.from_real(np.array([1.0, -2.0]), 4))
    assert m.frac_bits == 8 and list(m.to_real()) == [1.0, -2.0]


def test_rejects_non_finite():
    with pytest.raises(ValueError):
        fx.encode([float("nan")])
    with pytest.raises(ValueError):
        fx.encode_int(float("inf"))


@pytest.mark.parametrize("value", [1e308, -1e308, 2.0**1020])
def test_values_too_large_for_the_scale_are_value_errors(value):
    with pytest.raises(ValueError):
        fx.encode([value], 16)
    with pytest.raises(ValueError):
        fx.encode_int(value, 16)


def test_integers_too_large_to_decode_are_value_errors():
    with pytest.raises(ValueError):
        fx.decode([1 << 2000], 16)
    assert fx.decode([3 << 16], 16)[0] == 3.0  # control: an ordinary value decodes
