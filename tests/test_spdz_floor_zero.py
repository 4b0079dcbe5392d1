"""SPDZ's exact floor by a power of two and its zero test (``online.floor_pow2``,
``online.zero_test``), against plaintext references. Items come from the INSECURE dealer (it
knows the MAC key; tests only); each test stocks exactly what the ``needs_*`` plan says and
checks that nothing is left over, so the plan and the draws cannot drift apart."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coopetition.protocols.spdz import field as F
from coopetition.protocols.spdz.errors import MacCheckFailed
from coopetition.protocols.spdz.harness import run_local
from coopetition.protocols.spdz.online import (
    Needs,
    SpdzParty,
    needs_floor_pow2,
    needs_ltz,
    needs_zero_test,
)
from coopetition.protocols.spdz.preprocessing import InsecureDealerPreprocessing


def stocked(m: int, need: Needs, inputs: int) -> list[SpdzParty]:
    d = InsecureDealerPreprocessing(m)
    d.triples(need.triples).bits(need.bits).input_masks(0, inputs)
    for bits, count in need.bounded:
        d.bounded(count, bits)
    return [SpdzParty(s, session=b"floor-zero") for s in d.stores]


def assert_all_drawn(ps: list[SpdzParty], need: Needs) -> None:
    for p in ps:
        assert p.store.available("triple") == 0 and p.store.available("bit") == 0
        for bits, _ in need.bounded:
            assert p.store.available("bounded", bits=bits) == 0


def run_floor(values: list[int], k: int, m: int, parties: int = 2) -> list[int]:
    need = needs_floor_pow2(len(values), k, m)
    ps = stocked(parties, need, len(values))

    def prog(p: SpdzParty):  # type: ignore[no-untyped-def]
        x = yield from p.input(0, len(values), F.vec(values) if p.party == 0 else None)
        q = yield from p.floor_pow2(x, k, m)
        return (yield from p.output(q))

    out = run_local([prog(p) for p in ps])
    assert_all_drawn(ps, need)
    assert all(list(r) == list(out[0]) for r in out)
    return [int(v) for v in F.signed(out[0])]


@settings(max_examples=20, deadline=None)
@given(
    st.integers(2, 70).flatmap(
        lambda k: st.tuples(
            st.just(k),
            st.integers(1, k - 1),
            st.lists(st.integers(-(2 ** (k - 1)), 2 ** (k - 1) - 1), min_size=1, max_size=4),
        )
    )
)
def test_floor_pow2_is_exact_floor_division(case):
    """floor(x / 2^m) for every x in the range, against Python's floor division."""
    k, m, values = case
    edges = [-(2 ** (k - 1)), 2 ** (k - 1) - 1, 0, -1]
    values = [*values, *edges]
    assert run_floor(values, k, m) == [v // (1 << m) for v in values]


def test_floor_pow2_with_three_parties_and_the_widest_shift():
    k = 20
    values = [-(2**19), -(2**18) - 1, -1, 0, 1, 2**18, 2**19 - 1]
    assert run_floor(values, k, k - 1, parties=3) == [v // 2**19 for v in values]


def test_floor_pow2_at_m_equal_k_minus_1_costs_what_ltz_costs():
    """ltz is now -floor(x / 2^(k-1)) through the same code: same items."""
    assert needs_floor_pow2(5, 30, 29) == needs_ltz(5, 30)


def test_floor_pow2_refuses_shifts_outside_the_width():
    p = SpdzParty(InsecureDealerPreprocessing(2).stores[0])
    x = p.public(F.vec([1]))
    for m in (0, 5, 6):
        with pytest.raises(ValueError):
            next(p.floor_pow2(x, 5, m))
        with pytest.raises(ValueError):
            needs_floor_pow2(1, 5, m)


def run_zero_test(values: list[int], tamper=None) -> list[int]:  # type: ignore[no-untyped-def]
    need = needs_zero_test()
    ps = stocked(3, need, len(values))

    def prog(p: SpdzParty):  # type: ignore[no-untyped-def]
        x = yield from p.input(0, len(values), F.vec(values) if p.party == 0 else None)
        return (yield from p.zero_test(x))

    out = run_local([prog(p) for p in ps], tamper=tamper)
    assert_all_drawn(ps, need)
    assert len(set(out)) == 1
    return out


def test_zero_test_opens_zero_for_all_zero_and_nonzero_otherwise():
    assert run_zero_test([0, 0, 0, 0]) == [0, 0, 0]
    # one nonzero entry, entries that cancel in a plain sum, a value near P
    for values in ([0, 0, 1, 0], [1, -1, 0, 0], [5, 5, -5, -5], [0, 0, 0, -(2**200)]):
        (v, *_) = run_zero_test(values)
        assert v != 0 and 0 < v < F.P


def test_zero_test_opening_is_random_under_attack():
    """The opened t b is a fresh random nonzero element, not the entries or their count."""
    seen = {run_zero_test([3, 0, 0])[0] for _ in range(3)}
    assert len(seen) == 3 and 3 not in seen


def _last_opening(tag: str, payload: dict) -> bool:  # type: ignore[type-arg]
    return tag.startswith("open") and len(payload.get("v", b"")) == 32 and not payload["ids"]


@pytest.mark.parametrize("values", [[0, 0], [7, 0]])
def test_a_forged_zero_test_opening_is_caught_by_the_mac_check(values):
    """A party that shifts its share of the final opening (to fake 0, or anything) is
    caught before the value is believed: MacCheckFailed, not a pass and not a verdict."""

    def tamper(sender, receiver, tag, payload):  # type: ignore[no-untyped-def]
        if sender == 1 and _last_opening(tag, payload):
            v = F.from_bytes(payload["v"])
            v[0] = (v[0] + 12345) % F.P
            payload["v"] = F.to_bytes(v)
        return payload

    with pytest.raises(MacCheckFailed):
        run_zero_test(values, tamper=tamper)
