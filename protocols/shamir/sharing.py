"""Shamir T-of-N sharing over a ``PrimeField``, vectorised over whole arrays.

A secret array ``s`` is hidden in the constant term of a random degree-``T`` polynomial per
entry; party ``i`` (evaluation point ``points[i]``) holds its value there. Any ``T`` shares are
uniform and independent of ``s``; any ``T + 1`` determine it. With more than ``T + 1`` shares the
extra ones are a Reed-Solomon redundancy: :func:`check_consistent` detects shares that do not lie
on one degree-``T`` polynomial and, when the redundancy allows, names the one party whose share
is off (Shamir 1979; McEliece and Sarwate 1981 for the Reed-Solomon view).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np

from coopetition.engine.errors import CheatingDetected, PartyId

from .field import PrimeField


class InconsistentShares(CheatingDetected):
    """Shares that should lie on one low-degree polynomial do not (Reed-Solomon check failed)."""

    code = "inconsistent_shares"


def lagrange_matrix(field: PrimeField, xs: Sequence[int], targets: Sequence[int]) -> np.ndarray:
    """``L[t, j]``: the weight of the value at ``xs[j]`` in the interpolant's value at ``targets[t]``.

    Public small matrices, computed with Python integers (exact) and returned as int64, read-only.
    They are cached: a run asks for the same few (point set, targets) pairs every iteration, and
    with 50 parties each costs tens of thousands of Python multiplications.
    """
    return _lagrange_cached(field.p, tuple(int(x) for x in xs), tuple(int(t) for t in targets))


@functools.lru_cache(maxsize=4096)
def _lagrange_cached(p: int, xs_in: tuple[int, ...], targets: tuple[int, ...]) -> np.ndarray:
    xs = [x % p for x in xs_in]
    if len(set(xs)) != len(xs):
        raise ValueError("interpolation points must be distinct")
    out = np.empty((len(targets), len(xs)), dtype=np.int64)
    for t, z in enumerate(targets):
        for j, xj in enumerate(xs):
            num, den = 1, 1
            for m, xm in enumerate(xs):
                if m != j:
                    num = num * (z - xm) % p
                    den = den * (xj - xm) % p
            out[t, j] = num * pow(den, -1, p) % p
    out.flags.writeable = False
    return out


def share(
    field: PrimeField,
    secret: np.ndarray,
    points: Sequence[int],
    degree: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Shares of ``secret`` (reduced field elements), stacked: ``out[i]`` is for ``points[i]``."""
    secret = np.asarray(secret, dtype=np.int64)
    flat = secret.reshape(1, -1)
    coeffs = np.concatenate([flat, field.random(rng, (degree, flat.shape[1]))], axis=0)
    vandermonde = np.array(
        [[pow(x, e, field.p) for e in range(degree + 1)] for x in points], dtype=np.int64
    )
    return field.matmul(vandermonde, coeffs).reshape((len(points), *secret.shape))


def reconstruct(field: PrimeField, shares: np.ndarray, points: Sequence[int]) -> np.ndarray:
    """The secret from shares ``shares[i]`` at ``points[i]`` (exactly as many as used)."""
    shares = np.asarray(shares, dtype=np.int64)
    weights = lagrange_matrix(field, points, [0])
    flat = shares.reshape(len(points), -1)
    return field.matmul(weights, flat).reshape(shares.shape[1:])


def check_consistent(
    field: PrimeField,
    shares: np.ndarray,
    points: Sequence[int],
    parties: Sequence[PartyId],
    degree: int,
    rng: np.random.Generator,
    *,
    what: str,
) -> None:
    """Raise ``InconsistentShares`` unless all shares lie on one polynomial of degree ``degree``.

    The array shares are first folded into one field element per party by a random linear
    combination (a nonzero error survives with probability at least ``1 - 1/p``), then the
    scalar codeword is checked. With ``n`` shares the code has ``n - degree - 1`` redundant
    symbols: one is enough to detect an inconsistency; with at least two, a single wrong share
    is located by finding the one party whose removal leaves a consistent codeword, and is named.
    """
    n = len(points)
    if n <= degree + 1:
        return  # no redundancy: nothing to check against
    flat = np.asarray(shares, dtype=np.int64).reshape(n, -1)
    rho = field.random(rng, flat.shape[1])
    folded = np.array([int(v) for v in field.matmul(flat, rho)], dtype=object)

    def consistent(idx: list[int]) -> bool:
        base = idx[: degree + 1]
        rest = idx[degree + 1 :]
        if not rest:
            return True
        lag = lagrange_matrix(field, [points[i] for i in base], [points[i] for i in rest])
        for row, r in zip(lag, rest, strict=True):
            predicted = sum(int(w) * int(folded[b]) for w, b in zip(row, base, strict=True))
            if predicted % field.p != int(folded[r]):
                return False
        return True

    everyone = list(range(n))
    if consistent(everyone):
        return
    culprit = None
    if n - degree - 1 >= 2:
        suspects = [j for j in everyone if consistent([i for i in everyone if i != j])]
        if len(suspects) == 1:
            culprit = parties[suspects[0]]
    where = f"; party {culprit} sent the share that does not fit" if culprit is not None else ""
    raise InconsistentShares(
        f"shares of {what} from parties {list(parties)} are not on one degree-{degree} "
        f"polynomial{where}",
        culprit=culprit,
    )
