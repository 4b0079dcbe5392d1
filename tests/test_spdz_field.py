"""Field arithmetic, share algebra and slot packing against textbook definitions (hypothesis)."""

from __future__ import annotations

import itertools

import gmpy2
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from coopetition.protocols.spdz import field as F
from coopetition.protocols.spdz.conversion import pack_slots
from coopetition.protocols.spdz.preprocessing import InsecureDealerPreprocessing, additive_split
from coopetition.protocols.spdz.shares import Share

elements = st.integers(0, F.P - 1)


def test_prime_is_prime_and_three_mod_four():
    assert gmpy2.is_prime(F.P, 64) and F.P % 4 == 3 and F.P.bit_length() == 256


@settings(max_examples=100, deadline=None)
@given(st.lists(elements, min_size=1, max_size=8), st.lists(elements, min_size=1, max_size=8))
def test_vector_ops_match_python_ints(xs, ys):
    n = min(len(xs), len(ys))
    a, b = F.vec(xs[:n]), F.vec(ys[:n])
    assert list(F.add(a, b)) == [(x + y) % F.P for x, y in zip(xs[:n], ys[:n], strict=True)]
    assert list(F.mul(a, b)) == [(x * y) % F.P for x, y in zip(xs[:n], ys[:n], strict=True)]
    assert list(F.sub(a, b)) == [(x - y) % F.P for x, y in zip(xs[:n], ys[:n], strict=True)]
    assert list(F.from_bytes(F.to_bytes(a))) == list(a)
    for x in xs:
        if x:
            assert x * F.inv(x) % F.P == 1
        sq = x * x % F.P
        root = int(F.sqrt_vec(F.vec([sq]))[0])
        assert root * root % F.P == sq


@settings(max_examples=50, deadline=None)
@given(st.lists(elements, min_size=1, max_size=5), st.integers(2, 5), elements, elements)
def test_local_share_operations_keep_the_mac_relation(xs, m, c, k):
    d = InsecureDealerPreprocessing(m)
    x = F.vec(xs)
    vals = additive_split(x, m)
    macs = additive_split(F.mul(x, d.alpha), m)
    shares = [Share(v, g) for v, g in zip(vals, macs, strict=True)]
    out = [
        (s.scale(k).add_public(c, i, int(d.alpha_shares[i][0])) - s) for i, s in enumerate(shares)
    ]
    value = sum(o.value for o in out) % F.P
    mac = sum(o.mac for o in out) % F.P
    expected = [(xi * k + c - xi) % F.P for xi in xs]
    assert list(value) == expected
    assert all((d.alpha * v - g) % F.P == 0 for v, g in zip(value, mac, strict=True))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(1, 700), min_size=1, max_size=20), st.integers(700, 2100))
def test_pack_slots_covers_every_slot_without_overlap(widths, capacity):
    groups = pack_slots(widths, capacity)
    seen = sorted(i for g in groups for i, _ in g)
    assert seen == list(range(len(widths)))
    for g in groups:
        end = 0
        for i, off in g:
            assert off == end  # contiguous, no overlap
            end = off + widths[i]
        assert end <= capacity
    # Greedy first fit in order: no group could have taken the next group's first slot.
    for g, nxt in itertools.pairwise(groups):
        i, off = g[-1]
        assert off + widths[i] + widths[nxt[0][0]] > capacity


def test_signed_decoding_of_opened_values():
    v = F.vec([-1, 5, -(2**200)])
    assert list(F.signed(v)) == [-1, 5, -(2**200)]
    assert np.all(F.vec(F.signed(v)) == v)
