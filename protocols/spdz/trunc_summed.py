"""Probabilistic truncation whose low mask is a sum of contributions, not a sum of shared bits.

Catrina-Saxena TruncPr (``SpdzParty.trunc_pr``) masks x + 2^(k-1) with r = 2^m r'' + r' and
makes r' from m shared random bits, so that r' < 2^m exactly and the result is floor(x / 2^m)
plus a carry in {0, 1}. Shared bits are the dearest item MASCOT makes (a random square each).
Here r' is one bounded mask of m bits instead: R' = sum_i r'_i, every party's r'_i range-proved
in [0, 2^m) by the offline phase (or < 2^m by construction elsewhere), so R' < parties * 2^m.
The same algebra then gives floor((x + R') / 2^m); a public C = ``centre(parties, m)`` is
subtracted from x first, so that the result is floor(x / 2^m) plus a carry in
``carry_range`` (for m >= 3 bits: [-1, 2] at 2 and 3 parties, [-2, 3] at 4 and 5), with
TruncPr's mean when the contributions are honest and R' is a sum of one draw per party (the
offline phase's masks; a single-draw mask of m bits keeps the range but biases the mean).
What that changes, exactly, is in docs/crypto.md, "Truncation with a summed low mask": hiding
is unchanged (one honest contribution makes R' mod 2^m uniform, r'' hides the high part with
kappa bits as before); correctness loosens from a carry in {0, 1} to ``carry_range``, and a
cheater choosing its r'_i in its range can move the carry's distribution within that bound,
never outside it.

Helen uses it for the truncation of every w_j (m d values of 60-80 bits per iteration):
``needs_trunc_summed`` draws two bounded masks per value and no bits.
"""

from __future__ import annotations

from coopetition.engine.program import Program
from coopetition.protocols.fixedpoint import carry_range, centre

from . import field as F
from .online import DEFAULT_KAPPA, MASK_HEADROOM_BITS, Needs, SpdzParty
from .shares import Share

__all__ = ["carry_range", "centre", "needs_trunc_summed", "trunc_pr_summed"]


def needs_trunc_summed(n: int, k: int, m: int, kappa: int = DEFAULT_KAPPA) -> Needs:
    """Two bounded masks per value: r'' of k + 1 + kappa - m bits and r' of m bits."""
    return Needs(bounded=((k + 1 + kappa - m, n),)) + Needs(bounded=((m, n),))


def trunc_pr_summed(spdz: SpdzParty, x: Share, k: int, m: int) -> Program[Share]:
    """floor((x - C + R') / 2^m) = floor(x / 2^m) + e, e in ``carry_range(parties, m)``, for
    |x| < 2^(k - 1) and C = ``centre(parties, m)`` < 2^(k - 1).

    x - C + 2^k lies in [0, 2^(k+1)); c = x - C + 2^k + 2^m r'' + r' is opened (MAC-checked
    later, with every opening). With y = x - C + 2^k = 2^m y_h + y_l, c mod 2^m =
    (y_l + R') mod 2^m, so (x - C + R' - (c mod 2^m)) / 2^m = y_h - 2^(k-m) +
    floor((y_l + R') / 2^m) = floor((x - C + R') / 2^m), an exact division in the field.
    """
    if not 0 < m < k:
        raise ValueError("need 0 < m < k")
    if k + 1 + spdz.kappa + MASK_HEADROOM_BITS >= F.P_BITS:  # the room trunc_pr keeps
        raise ValueError(f"k={k} leaves no room for {spdz.kappa}-bit masks below the prime")
    c_pub = centre(spdz.parties, m)
    if c_pub >= 1 << (k - 1):
        raise ValueError(f"the centre 2^{c_pub.bit_length()} does not fit k={k}")
    n = len(x)
    high = spdz.store.take("bounded", n, bits=k + 1 + spdz.kappa - m)
    low = spdz.store.take("bounded", n, bits=m)
    r_low = low.parts[0]
    r = high.parts[0].scale(1 << m) + r_low
    centred = x.add_public((-c_pub) % F.P, spdz.party, spdz.alpha_share)
    shifted = centred.add_public(1 << k, spdz.party, spdz.alpha_share)
    c = yield from spdz.open(shifted + r, high.ids + low.ids)
    return spdz.divide_opened(centred, r_low, c, m)
