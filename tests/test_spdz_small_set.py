"""The product vanishing on {0, ..., V - 1} (spdz.small_set), against Python integers.

SPDZ's result must equal 2^V prod_{v < V} (x - v) mod P for every x, signed or large, and
draw exactly ``multiplications(V)`` triples per entry (V // 2 + V % 2). Triples come from the
INSECURE dealer (tests only).
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coopetition.protocols.spdz import field as F
from coopetition.protocols.spdz.harness import run_local
from coopetition.protocols.spdz.online import SpdzParty
from coopetition.protocols.spdz.preprocessing import InsecureDealerPreprocessing
from coopetition.protocols.spdz.small_set import (
    multiplications,
    needs_vanishing_product,
    vanishing_product,
)


def expected(x: int, count: int) -> int:
    return (2**count * math.prod(x - v for v in range(count))) % F.P


def run_product(values: list[int], count: int, parties: int = 3) -> list[int]:
    need = needs_vanishing_product(len(values), count)
    dealer = InsecureDealerPreprocessing(parties).triples(need.triples)

    def prog(store):  # type: ignore[no-untyped-def]
        spdz = SpdzParty(store, session=b"small-set")
        x = spdz.public(F.vec([v % F.P for v in values]))
        out = yield from spdz.output((yield from vanishing_product(spdz, x, count)))
        yield from spdz.mac_check()
        return [int(v) for v in out]

    results = run_local([prog(s) for s in dealer.stores])
    assert all(s.available("triple") == 0 for s in dealer.stores)  # exactly the plan
    assert all(r == results[0] for r in results)
    return results[0]


@pytest.mark.parametrize("count", [2, 3, 4, 5, 11, 13, 14])
def test_the_product_vanishes_exactly_on_the_set(count):
    values = list(range(-3, count + 3))
    got = run_product(values, count)
    assert got == [expected(x, count) for x in values]
    assert [x for x, g in zip(values, got, strict=True) if g == 0] == list(range(count))


def test_the_multiplication_count_is_half_the_set():
    assert [multiplications(v) for v in (2, 3, 4, 5, 11, 12, 13)] == [1, 2, 2, 3, 6, 6, 7]
    with pytest.raises(ValueError):
        multiplications(1)


@settings(max_examples=10, deadline=None)
@given(
    st.lists(st.integers(-(2**80), 2**80), min_size=1, max_size=5),
    st.integers(2, 16),
)
def test_large_and_negative_entries_match_the_integer_product(values, count):
    assert run_product(values, count, parties=2) == [expected(x, count) for x in values]
