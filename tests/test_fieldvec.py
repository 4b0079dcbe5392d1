"""Bulk arithmetic mod P on byte buffers, against Python's big integers."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coopetition.protocols.ot.errors import MalformedOtMessage
from coopetition.protocols.spdz import field as F
from coopetition.protocols.spdz import fieldvec as V
from coopetition.protocols.spdz.mascot_links import _rows

raw256 = st.one_of(st.integers(0, 2**256 - 1), st.sampled_from([0, 1, F.P - 1, F.P, 2**256 - 1]))
canonical = st.one_of(st.integers(0, F.P - 1), st.sampled_from([0, 1, F.P - 1]))


def _buf(values: list[int]) -> np.ndarray:
    data = b"".join(v.to_bytes(32, "little") for v in values)
    return np.frombuffer(data, dtype=np.uint8).reshape(-1, 32)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(raw256, raw256, canonical), min_size=1, max_size=12))
def test_sub_add_matches_big_integers(triples):
    a, b, c = (list(t) for t in zip(*triples, strict=True))
    got = V.rows_to_ints(V.sub_add(_buf(a), _buf(b), _buf(c)))
    assert got == [(x - y + z) % F.P for x, y, z in zip(a, b, c, strict=True)]
    assert all(0 <= v < F.P for v in got)


@settings(max_examples=30, deadline=None)
@given(
    st.lists(st.tuples(raw256, raw256), min_size=1, max_size=4),
    st.integers(1, 3),
    st.lists(canonical, min_size=1, max_size=4),
)
def test_sub_add_adds_a_short_c_to_every_block(pairs, blocks, cs):
    """c with r rows is added to each block of r rows of a - b (np.tile semantics)."""
    r = len(cs)
    a = [pairs[i % len(pairs)][0] for i in range(blocks * r)]
    b = [pairs[i % len(pairs)][1] for i in range(blocks * r)]
    got = V.rows_to_ints(V.sub_add(_buf(a), _buf(b), _buf(cs)))
    assert got == [(x - y + cs[i % r]) % F.P for i, (x, y) in enumerate(zip(a, b, strict=True))]


@settings(max_examples=15, deadline=None)
@given(st.integers(1, 3), st.integers(1, 4), st.integers(0, 2**32))
def test_gadget_sum_matches_the_definition(parts, n, seed):
    rng = np.random.default_rng(seed)
    bufs = [rng.integers(0, 256, (n, 256, 32), dtype=np.uint8) for _ in range(parts)]
    bufs[0][0, :, :] = 255  # the largest possible rows
    ref = [
        sum(sum(int.from_bytes(b[i, h].tobytes(), "little") for b in bufs) << h for h in range(256))
        % F.P
        for i in range(n)
    ]
    assert V.gadget_sum(*(b.transpose(1, 0, 2) for b in bufs)) == ref


@given(st.lists(canonical, max_size=8))
def test_rows_round_trip(values):
    assert V.rows_to_ints(V.ints_to_rows(values)) == values


def test_received_elements_must_be_canonical():
    ok = _buf([F.P - 1, 0])
    assert _rows(ok.tobytes(), (2, 32), 3).shape == (2, 32)
    with pytest.raises(MalformedOtMessage) as exc:
        _rows(_buf([5, F.P]).tobytes(), (2, 32), 3)
    assert exc.value.culprit == 3
