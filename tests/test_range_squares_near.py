"""The four-square decomposition with both roots drawn near the square root (issue 15 profile).

Checked against the definition (the four squares sum back to n), at the sizes the range proofs
of Gadgets 3 and 4 decompose (B^2 - x'^2 for masks of up to ~560 bits: ~1 120-bit n), on the
edge cases the new early return handles (p = n - a^2 - b^2 in {0, 1, 2}), and on the property
the lever rests on: the prime the method searches for is about a quarter as long as n.
"""

from __future__ import annotations

import secrets

import gmpy2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coopetition.protocols.zk import range_squares as rs
from coopetition.protocols.zk.range_squares import four_squares


def _check(n: int) -> None:
    a = four_squares(n)
    assert len(a) == 4 and all(isinstance(x, int) and x >= 0 for x in a)
    assert sum(x * x for x in a) == n


@given(st.integers(min_value=0, max_value=1 << 1200))
@settings(max_examples=30, deadline=None)
def test_near_decomposition_sums_back(n: int) -> None:
    _check(n)


@pytest.mark.parametrize("n", [0, 1, 2, 3, 5, 6, 7, 4095, 4097, 2**12 + 2, 2**64 - 1])
def test_small_and_boundary_values(n: int) -> None:
    _check(n)


@pytest.mark.parametrize("square", [2**40, 3**200, 2**561 + 1])
def test_perfect_squares_and_their_neighbours(square: int) -> None:
    """n = k^2 + {0, 1, 2}: the second root can land exactly, leaving p in {0, 1, 2}."""
    for extra in (0, 1, 2, 3):
        _check(square * square + extra)


def test_the_searched_prime_is_about_a_quarter_of_n(monkeypatch: pytest.MonkeyPatch) -> None:
    """With both roots near, p has about |n|/4 + 2 x 33 bits, not |n|/2 + 33 (the lever)."""
    seen: list[int] = []
    original = rs._two_squares_of_prime

    def spy(p: int) -> tuple[int, int]:
        seen.append(p)
        return original(p)

    monkeypatch.setattr(rs, "_two_squares_of_prime", spy)
    for _ in range(10):
        _check(secrets.randbits(1120) | (1 << 1119))
    assert len(seen) == 10 and all(gmpy2.is_prime(p) and p % 4 == 1 for p in seen)
    assert max(p.bit_length() for p in seen) <= 1120 // 4 + 2 * 33 + 2
    monkeypatch.setattr(rs, "SECOND_NEAR", False)
    seen.clear()
    for _ in range(5):
        _check(secrets.randbits(1120) | (1 << 1119))
    # the before-figure's uniform second root leaves p about half of n
    assert min(p.bit_length() for p in seen) > 1120 // 4 + 2 * 33 + 2
