"""Helen's coordination (section VI-C/D) as one program: Gadget 3 in, SPDZ, Gadget 3 back.

1. Gadget 3 converts every party's public Enc(w_full_j) (|w_full| < 2^(k_w - 1) for any
   party, ``HelenScales.k_w``) into authenticated SPDZ shares, masks range-proved exactly.
2. In SPDZ, with the integers of ``numerics.coordinate``: w_j = TruncPr(w_full_j, k_w,
   w_shift) with a summed low mask (``spdz.trunc_summed``: no shared bits, carry within
   ``parties`` units; docs/crypto.md, "Truncation with a summed low mask");
   s = sum_j (w_j + u_j); for LASSO and elastic net s = S_kappa(s) with kappa =
   ``threshold_int(lam1)``; z = TruncPr(s * c, k_consensus, coef_bits) with c =
   ``consensus_int(lam2)`` (mean and ridge shrinkage in one product; least squares has
   lam1 = lam2 = 0); u_j += w_j - z. The u_j stay shared between iterations.
3. **Bound check**: no entry x of z or of any new u_j may leave [-W_e, W_e - 1], and every
   x in [-W, W - 1] passes (W = ``HelenScales.w_window`` = 2^(b-1) >= w_int + 1, W_e =
   ``w_enforced``, 2.25 W at 4 parties; every width downstream, ``k_w``, ``k_sum``,
   ``k_consensus``, ``check_bits``, ``back_bits`` and Gadget 1's budget, is sized for |x| <=
   W_e). Per entry, t = TruncPr(x + W) by s = b - 3 bits with a summed low mask (a quotient
   below 8 plus a carry in ``carry_range``), then a product that vanishes exactly when t is
   one of V = ``window_values`` small integers (``spdz.small_set``); a zero test opens one
   MAC-checked field element that is 0 iff every product is 0 (up to 2/P), and a nonzero one
   aborts with ``WeightBoundViolated``. The abort names nobody: the values are computed
   jointly, so, as for a MAC failure, the test shows that the bound broke, not who pushed it.
   The opened element is 0 in every honest run and a uniformly random nonzero element under
   attack, so it reveals only the verdict.
4. Gadget 3 back turns z and every u_j into public ciphertexts, exactly (not merely mod P),
   after a MAC check of everything opened so far.

Both conversions go into the run-level ledger that the verify phase closes at the end (what is
left of Gadget 4: docs/crypto.md, "Gadget 3 without published shares"). Every message
of the gadgets and of SPDZ travels by the engine's consistent broadcast (``ProgramMachine``).
"""

from __future__ import annotations

from dataclasses import dataclass

from coopetition.engine.errors import CheatingDetected
from coopetition.engine.program import Program
from coopetition.protocols.admm.objective import Objective
from coopetition.protocols.fixedpoint import HelenScales
from coopetition.protocols.spdz import field as F
from coopetition.protocols.spdz.conversion import Conversion, PaillierParty
from coopetition.protocols.spdz.gadgets import ciphertext_to_shares, shares_to_ciphertext
from coopetition.protocols.spdz.online import (
    DEFAULT_KAPPA,
    Needs,
    SpdzParty,
    needs_soft_threshold,
    needs_trunc,
    needs_zero_test,
)
from coopetition.protocols.spdz.shares import Share
from coopetition.protocols.spdz.small_set import needs_vanishing_product, vanishing_product
from coopetition.protocols.spdz.trunc_summed import (
    carry_range,
    needs_trunc_summed,
    trunc_pr_summed,
)

PHASE = "helen-coordinate"


class WeightBoundViolated(CheatingDetected):
    """Some entry of z or u_j left the window inside SPDZ (anonymous, like a MAC failure)."""

    code = "helen_weight_bound_violated"


def window_bits(scales: HelenScales) -> int:
    """b with 2^(b-1) = W = ``w_window``: the entries of [-W, W) give x + W in [0, 2^b)."""
    return scales.w_window.bit_length()


def check_bits(scales: HelenScales) -> int:
    """Width k of the bound check's truncation: its argument x + W satisfies |x + W| < 2^(k-1).

    x is z or a new u_j = u_j + w_j - z with |u_j| <= W_e (checked the iteration before; 0 at
    the start), |w_j| <= ``w_trunc_bound`` (any party's, after ``trunc_pr_summed``) and |z| <=
    ``z_trunc_bound`` (k_sum and k_consensus are sized for any party's w_j and |u_j| <= W_e,
    so the soft threshold and the truncation stay exact), hence |x + W| <= W + W_e + w_max +
    z_max.
    """
    step = scales.w_trunc_bound + scales.z_trunc_bound
    return (scales.w_window + scales.w_enforced + step).bit_length() + 1


def needs_bound_check(scales: HelenScales) -> Needs:
    """What ``check_bound`` draws: per entry of z and the u_j one truncation with a summed low
    mask (two bounded masks) and the small-set product, then one zero test."""
    n = (scales.parties + 1) * scales.features
    return (
        needs_trunc_summed(n, check_bits(scales), scales.window_shift)
        + needs_vanishing_product(n, scales.window_values)
        + needs_zero_test()
    )


def needs_per_iteration(scales: HelenScales, objective: Objective) -> Needs:
    """SPDZ preprocessing one coordination consumes (the dual masks of the way back aside)."""
    m, d = scales.parties, scales.features
    need = needs_trunc_summed(m * d, scales.k_w, scales.w_shift)
    if objective.lam1 > 0:
        need = need + needs_soft_threshold(d, scales.k_sum)
    need = need + needs_trunc(d, scales.k_consensus, scales.coef_bits)
    return need + needs_bound_check(scales)


def back_bits(scales: HelenScales, objective: Objective) -> int:
    """Gadget 3 back argument for z and u: |x| < 2^(k - 1), with |x| <= W_e < 2^(k - 1) after
    the bound check (what the check enforces, not w_bound, is what holds for a cheater's values).

    Its masks (k + kappa bits, carrying ciphertexts) get a width no truncation or comparison
    mask of the same iteration has, so the store never hands one kind to the other.
    """
    taken = {bits for bits, _ in needs_per_iteration(scales, objective).bounded}
    k = scales.w_enforced.bit_length() + 1
    while k + DEFAULT_KAPPA in taken:
        k += 1
    return k


def dual_masks_per_iteration(scales: HelenScales, objective: Objective) -> tuple[int, int]:
    """(bits, count) of the ciphertext-carrying masks of the way back, per iteration."""
    return back_bits(scales, objective) + DEFAULT_KAPPA, (scales.parties + 1) * scales.features


@dataclass
class Coordinated:
    enc_z: list[int]
    enc_u: dict[int, list[int]]
    u: dict[int, Share]  # shares of every u_j, kept in SPDZ
    forward: Conversion
    back: Conversion


def zero_shares(spdz: SpdzParty, d: int) -> Share:
    return spdz.public(F.zeros(d))


def coordinate_program(
    paillier: PaillierParty,
    spdz: SpdzParty,
    parties: tuple[int, ...],
    w_full: dict[int, list[int]],
    u: dict[int, Share],
    scales: HelenScales,
    objective: Objective,
) -> Program[Coordinated]:
    d = scales.features
    cts = [c for j in parties for c in w_full[j]]
    forward = yield from ciphertext_to_shares(paillier, cts, scales.k_w)
    w_all = yield from trunc_pr_summed(spdz, forward.share, scales.k_w, scales.w_shift)
    w = {j: w_all[t * d : (t + 1) * d] for t, j in enumerate(parties)}
    total = zero_shares(spdz, d)
    for j in parties:
        total = total + w[j] + u[j]
    if objective.lam1 > 0:
        total = yield from spdz.soft_threshold(
            total, scales.threshold_int(objective.lam1), scales.k_sum
        )
    z = yield from spdz.mul_public_fixed(
        total, scales.consensus_int(objective.lam2), scales.coef_bits, scales.k_consensus
    )
    new_u = {j: u[j] + w[j] - z for j in parties}
    yield from check_bound(spdz, Share.concat([z, *[new_u[j] for j in parties]]), scales)
    back = yield from shares_to_ciphertext(
        paillier,
        spdz,
        Share.concat([z, *[new_u[j] for j in parties]]),
        back_bits(scales, objective),
    )
    enc = back.ciphertexts
    enc_u = {j: enc[(t + 1) * d : (t + 2) * d] for t, j in enumerate(parties)}
    return Coordinated(enc_z=enc[:d], enc_u=enc_u, u=new_u, forward=forward, back=back)


def check_bound(spdz: SpdzParty, x: Share, scales: HelenScales) -> Program[int]:
    """Abort (``WeightBoundViolated``) if some x_t is outside [-W_e, W_e - 1]; every x_t in
    [-W, W - 1] passes. Returns the opened zero-test value (0: it passed). See the module
    docstring and docs/crypto.md, "The window test as a truncation and a short product".

    t = floor((x + W) / 2^s) + e with e in [lo, hi] = ``carry_range`` whatever the parties'
    low masks (each range-proved), so t - lo is in 0 .. V - 1 for every x in [-W, W) and
    outside it for every x outside [-W_e, W_e).
    """
    if spdz.parties != scales.parties:
        raise ValueError(f"scales for {scales.parties} parties, SPDZ has {spdz.parties}")
    shift = scales.window_shift
    lo, _ = carry_range(spdz.parties, shift)
    shifted = x.add_public(scales.w_window, spdz.party, spdz.alpha_share)
    t = yield from trunc_pr_summed(spdz, shifted, check_bits(scales), shift)
    products = yield from vanishing_product(
        spdz, t.add_public((-lo) % F.P, spdz.party, spdz.alpha_share), scales.window_values
    )
    # zero_test MAC-checks every opening (the truncation's, the products' and its own) before
    # returning: a cheater could otherwise open a nonzero combination as 0.
    opened = yield from spdz.zero_test(products)
    if opened != 0:
        raise WeightBoundViolated(
            f"an entry of z or u (of {len(x)}) left the window [-W, W - 1], W = 2^"
            f"{scales.w_window.bit_length() - 1} (w_bound {scales.w_bound:g}; nothing beyond "
            f"{scales.w_enforced / scales.w_window:g} W passes), inside SPDZ",
            phase=PHASE,
        )
    return opened


def expected_sizes(scales: HelenScales) -> tuple[int, int]:
    """Values in one iteration's forward and back conversions (the ledger's count check)."""
    m, d = scales.parties, scales.features
    return m * d, (m + 1) * d
