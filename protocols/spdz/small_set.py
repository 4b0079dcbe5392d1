"""Shares of a polynomial that vanishes exactly on {0, ..., V - 1}, in few multiplications.

Helen's bound check (``helen.coordinate_phase.check_bound``) must learn only whether every
entry of a shared vector is one of V small integers. A zero test of prod_{v < V} (x - v)
answers that: the field has no zero divisors, so the product is 0 iff some factor is, i.e.
iff x = v mod P for some v < V. Computed factor by factor that takes V - 1 multiplications.
Pairing the factors symmetrically about the centre of the set halves it: with u = 2x - (V - 1)
the factors come in pairs (u - c)(u + c) = u^2 - c^2, so one squaring q = u^2 turns each pair
into the local q - c^2, and only floor(V / 2) + (V mod 2) multiplications remain (7 for V =
13), in 1 + ceil(log2(V // 2 + V % 2)) rounds. The polynomial computed is
2^V prod_{v < V} (x - v) (u = 2(x - centre)), a nonzero multiple, which has the same zeros.
"""

from __future__ import annotations

from coopetition.engine.program import Program

from . import field as F
from .online import Needs, SpdzParty
from .shares import Share


def _positive_offsets(count: int) -> list[int]:
    """The positive values of u = 2v - (count - 1) over v < count: count - 1, count - 3, ..."""
    return list(range(count - 1, 0, -2))


def multiplications(count: int) -> int:
    """Multiplications per entry of :func:`vanishing_product` for a set of ``count`` values."""
    if count < 2:
        raise ValueError("a set of at least two values")
    return len(_positive_offsets(count)) + count % 2  # the square, then the tree


def needs_vanishing_product(n: int, count: int) -> Needs:
    return Needs(triples=n * multiplications(count))


def vanishing_product(spdz: SpdzParty, x: Share, count: int) -> Program[Share]:
    """Shares of 2^count prod_{v < count} (x_t - v) for every entry x_t (0 iff x_t is in
    {0, ..., count - 1} mod P); ``multiplications(count)`` triples per entry."""
    n = len(x)
    u = x.scale(2).add_public((1 - count) % F.P, spdz.party, spdz.alpha_share)
    q = yield from spdz.mul(u, u)
    factors = [
        q.add_public((-c * c) % F.P, spdz.party, spdz.alpha_share) for c in _positive_offsets(count)
    ]
    if count % 2:
        factors.append(u)
    # A balanced tree: every level multiplies disjoint pairs in one round.
    while len(factors) > 1:
        half = len(factors) // 2
        prod = yield from spdz.mul(
            Share.concat(factors[:half]), Share.concat(factors[half : 2 * half])
        )
        paired = [prod[i * n : (i + 1) * n] for i in range(half)]
        factors = paired + factors[2 * half :]
    return factors[0]
