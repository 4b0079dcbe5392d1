"""The computations of COPML's phases, as plain functions of arrays (what ``Work`` runs).

They see only this party's values: its own data, its shares, its coded data and model. Each is
deterministic given its arguments (the random generator included), so the phases can be replayed.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from coopetition.engine.errors import PartyId
from coopetition.protocols.shamir.field import PrimeField
from coopetition.protocols.shamir.sharing import check_consistent, reconstruct, share

from .coding import LagrangeCode, coded_gradient

__all__ = [
    "checked_reconstruct",
    "coded_gradient",
    "decode_gradient",
    "quantise",
    "share_gradient",
    "share_input",
    "stack_blocks",
    "sum_shares",
    "truncate_update",
    "truncation_mask",
]


def quantise(X: np.ndarray, bits: int) -> np.ndarray:
    """``round(2**bits * X)`` with halves rounded up (Appendix A of the COPML paper)."""
    return np.floor(np.asarray(X, dtype=np.float64) * (1 << bits) + 0.5).astype(np.int64)


def share_input(
    field: PrimeField,
    X: np.ndarray,
    y: np.ndarray,
    lx: int,
    g_scale: int,
    code: LagrangeCode,
    encoders: list[int],
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Shares of this owner's quantised data (for the encoders) and of ``X_j^T y_j`` (for all).

    ``X_j^T y_j`` is computed in the clear by its owner (its own data), at the gradient's scale
    ``2^(lx + g_scale)``, so the parties never multiply shares.
    """
    Xq = quantise(X, lx)
    xty = (Xq.T @ y.astype(np.int64)) << g_scale
    data = share(field, field.encode_signed(Xq), [code.alphas[e] for e in encoders], code.T, rng)
    xty_shares = share(field, field.encode_signed(xty), code.alphas, code.T, rng)
    return data, xty_shares


def sum_shares(field: PrimeField, mine: np.ndarray, got: dict[PartyId, np.ndarray]) -> np.ndarray:
    total = mine.copy()
    for sender in sorted(got):
        total = field.add(total, got[sender])
    return total


def stack_blocks(
    mine: np.ndarray, pos: int, got: dict[int, np.ndarray], K: int, block_rows: int
) -> np.ndarray:
    """Every owner's data shares in roster order, zero-padded to ``K`` equal blocks.

    Zero rows add nothing to ``X^T g(Xw)`` (their x is 0), so padding does not change the model.
    """
    parts = {pos: mine, **got}
    rows = np.concatenate([parts[i] for i in sorted(parts)], axis=0)
    padded = np.zeros((K * block_rows, rows.shape[1]), dtype=np.int64)
    padded[: rows.shape[0]] = rows
    return padded.reshape(K, block_rows, rows.shape[1])


def checked_reconstruct(
    field: PrimeField,
    stacked: np.ndarray,
    points: Sequence[int],
    senders: Sequence[PartyId],
    degree: int,
    rng: np.random.Generator,
    what: str,
) -> np.ndarray:
    """Reed-Solomon check of all shares received, then the secret from the first ``degree + 1``."""
    check_consistent(field, stacked, points, senders, degree, rng, what=what)
    return reconstruct(field, stacked[: degree + 1], list(points[: degree + 1]))


def share_gradient(
    field: PrimeField, grad: np.ndarray, rho: np.ndarray, alphas: Sequence[int]
) -> np.ndarray:
    """Shares ``f_j + sum_t rho_t(alpha_j) alpha_i^t`` of this party's coded gradient, for all i."""
    T = rho.shape[0]
    vander = np.array(
        [[pow(a, t, field.p) for t in range(1, T + 1)] for a in alphas], dtype=np.int64
    )
    return field.add(field.matmul(vander, rho), grad[None, :])


def decode_gradient(
    field: PrimeField,
    code: LagrangeCode,
    stacked: np.ndarray,
    positions: list[int],
    senders: Sequence[PartyId],
    threshold: int,
    xty: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """This party's share of ``X^T (g(Xw) - y)`` from the fastest results (eq. 10, 11).

    What party i holds from party j is a value of one polynomial of degree R-1 at ``alpha_j``;
    results beyond the ``R`` needed are checked against it (Reed-Solomon), so a party whose coded
    gradient or share is wrong is detected, and located when two or more results are spare.
    """
    points = [code.alphas[j] for j in positions]
    check_consistent(field, stacked, points, senders, threshold - 1, rng, what="coded gradients")
    weights = code.decode_sum_weights(positions, threshold - 1)
    total = field.matmul(weights[None, :], stacked[:threshold])[0]
    return field.sub(total, xty)


def truncation_mask(
    field: PrimeField, g: np.ndarray, r_low: np.ndarray, r_high: np.ndarray, k: int, k1: int
) -> np.ndarray:
    """Share of ``c = g + 2^(k-1) + 2^k1 r'' + r'`` (Catrina and Saxena 2010, TruncPr step 2)."""
    masked = field.add(field.add(g, field.scale(r_high, 1 << k1)), r_low)
    return field.add(masked, (1 << (k - 1)) % field.p)


def truncate_update(
    field: PrimeField,
    w: np.ndarray,
    g: np.ndarray,
    r_low: np.ndarray,
    c_shares: np.ndarray,
    points: Sequence[int],
    senders: Sequence[PartyId],
    T: int,
    k1: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Open ``c``, then ``[w] - [(g - (c mod 2^k1 - r')) / 2^k1]``: TruncPr steps 3-5 and eq. (6).

    The quotient is ``floor(g / 2^k1)`` plus a carry that is 1 with probability
    ``(g mod 2^k1) / 2^k1``: stochastic rounding, unbiased.
    """
    c = checked_reconstruct(field, c_shares, points, senders, T, rng, "the masked gradient")
    low = np.bitwise_and(c, (1 << k1) - 1)
    a_low = field.sub(low, r_low)
    step = field.scale(field.sub(g, a_low), field.inverse(1 << k1))
    return field.sub(w, step)
