"""The four-square search with block-read CSPRNG draws and parity-chosen roots (issue 15).

What changed is only how an honest prover finds its decomposition: candidates for the two
roots come from OS-CSPRNG bytes read a block at a time (``range_squares._Draws``) instead of
one ``secrets.randbelow`` (one or more system calls) per root, and a, b get the parities that
make p = n - a^2 - b^2 = 1 mod 4 instead of rejecting 3 in 4 candidates after drawing them.
Checked: the squares sum back (against the definition) with and without the change, at the
widths Gadgets 3 and 4 prove; the draws are in range and uniform (chi-square against the
uniform law); and the property the speed rests on, which fails on the old search: a
decomposition reads the OS randomness a few times, not hundreds.
"""

from __future__ import annotations

import os
import random
import secrets
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coopetition.protocols.zk import range_squares as rs


def _sums_back(n: int) -> bool:
    """Whether ``four_squares(n)`` gives four non-negative ints whose squares sum to n."""
    ys = rs.four_squares(n)
    return (
        len(ys) == 4
        and all(isinstance(y, int) and y >= 0 for y in ys)
        and sum(y * y for y in ys) == n
    )


def _gap(bits: int) -> int:
    """B^2 - x'^2 for a uniform value of the interval [0, 2^bits - 1] (what a prover splits)."""
    high = (1 << bits) - 1
    centred = 2 * secrets.randbelow(high + 1) - high
    return high * high - centred * centred


@given(st.integers(min_value=0, max_value=1 << 1200))
@settings(max_examples=40, deadline=None)
def test_quick_search_sums_back(n: int) -> None:
    assert _sums_back(n)


@pytest.mark.parametrize("quick", [True, False])
@pytest.mark.parametrize("bits", [147, 256, 300, 406, 559])
def test_both_searches_decompose_the_gadgets_widths(
    monkeypatch: pytest.MonkeyPatch, quick: bool, bits: int
) -> None:
    monkeypatch.setattr(rs, "QUICK_CANDIDATES", quick)
    for _ in range(5):
        assert _sums_back(_gap(bits))


@pytest.mark.parametrize("residue", [1, 2, 3])
def test_every_residue_class_finds_a_root_pair(residue: int) -> None:
    """n = 1, 2, 3 mod 4 (0 is divided out): some parity of a always leaves rest = 1, 2 mod 4."""
    for _ in range(20):
        n = (secrets.randbits(600) | (1 << 599)) & ~3 | residue
        assert _sums_back(n)
    for square in (2**40, 3**200):  # rest = 0 at a = sqrt(n) is skipped, not returned
        assert _sums_back(square * square)


def test_draws_stay_below_the_bound_and_are_uniform() -> None:
    draws = rs._Draws()
    assert draws.below(1) == 0
    with pytest.raises(ValueError):
        draws.below(0)
    for bound in (2, 3, 255, 256, 257, (1 << 32) + 1, (1 << 300) - 5):
        assert all(0 <= draws.below(bound) < bound for _ in range(200))
    # chi-square over 12 cells (a bound that is not a power of two exercises the rejection):
    # 12 000 draws, 11 degrees of freedom, 31.3 is the 0.999 quantile
    counts = Counter(draws.below(12) for _ in range(12_000))
    chi2 = sum((counts[c] - 1_000) ** 2 / 1_000 for c in range(12))
    assert chi2 < 31.3


def test_a_decomposition_reads_the_os_a_few_times(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fails on the old search: one os.urandom call per drawn root, hundreds per 800-bit n."""
    calls = 0
    real = os.urandom

    def counting(size: int) -> bytes:
        nonlocal calls
        calls += 1
        return real(size)

    monkeypatch.setattr(os, "urandom", counting)
    monkeypatch.setattr(random, "_urandom", counting)  # what secrets.randbelow reads through
    ns = [_gap(406) for _ in range(10)]  # Gadget 3's MAC masks: ~810-bit n
    calls = 0
    for n in ns:
        assert _sums_back(n)
    # a 1 024-byte block holds ~100 candidate pairs; the prime search needs about
    # ln(2^270) / 2 ~ 90 candidates with p = 1 mod 4, plus the non-residue draws (measured:
    # ~6 reads per decomposition; the old search made ~950)
    assert calls <= 10 * 12
    monkeypatch.setattr(rs, "QUICK_CANDIDATES", False)
    calls = 0
    for n in ns:
        assert _sums_back(n)
    assert calls > 10 * 100  # the before-figure: at least two reads per candidate
