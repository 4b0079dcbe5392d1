"""Fiat–Shamir transcript: deterministic, and sensitive to every item and its framing."""

from hypothesis import given
from hypothesis import strategies as st

from coopetition.protocols.zk.transcript import ProofContext, Transcript

items = st.one_of(
    st.integers(min_value=-(2**4096), max_value=2**4096),
    st.binary(max_size=64),
    st.text(max_size=16),
)


def _challenge(values: list[object], domain: str = "test") -> int:
    return Transcript(domain).absorb(*values).challenge_int(256)


@given(st.lists(items, max_size=6))
def test_same_items_same_challenge(values):
    assert _challenge(values) == _challenge(values)


@given(st.lists(items, min_size=1, max_size=6), st.lists(items, min_size=1, max_size=6))
def test_different_items_different_challenge(a, b):
    if [(type(x), x) for x in a] != [(type(y), y) for y in b]:
        assert _challenge(a) != _challenge(b)


def test_framing_is_unambiguous():
    assert _challenge([1, b""]) != _challenge([b"\x01"])
    assert _challenge(["ab", "c"]) != _challenge(["a", "bc"])
    assert _challenge([[1, 2], 3]) != _challenge([[1], 2, 3])
    assert _challenge([5]) != _challenge([-5])


def test_domain_and_context_are_bound():
    base = ProofContext(session=b"s" * 16, phase="coordinate", round=3, prover=1)
    changed = [
        ProofContext(session=b"t" * 16, phase="coordinate", round=3, prover=1),
        ProofContext(session=b"s" * 16, phase="verify", round=3, prover=1),
        ProofContext(session=b"s" * 16, phase="coordinate", round=4, prover=1),
        ProofContext(session=b"s" * 16, phase="coordinate", round=3, prover=2),
    ]

    def challenge(ctx: ProofContext, domain: str = "pok") -> int:
        t = Transcript(domain)
        ctx.absorb_into(t)
        return t.absorb(12345).challenge_int(128)

    assert challenge(base) != challenge(base, domain="mult")
    for other in changed:
        assert challenge(base) != challenge(other)


def test_challenge_ranges():
    t = Transcript("range").absorb(7)
    assert 0 <= t.challenge_int(13) < 2**13
    values = t.challenge_ints(100, 40)
    assert len(values) == 100 and all(0 <= v < 2**40 for v in values)
    assert len(set(values)) == 100
