"""Lagrange coded computing on Shamir shares: encode data and model, the coded gradient, decode.

Evaluation points are public: party ``j`` (by position in the sorted roster) is ``alpha_j = j+1``
and the Lagrange nodes are ``beta_k = N + 1 + k`` for ``k < K + T``, so the two sets never meet.
The data polynomial ``u`` passes through the K data blocks at ``beta_0..beta_{K-1}`` and through T
random masks at the other T nodes (eq. 3 of So et al. 2020); the model polynomial ``v`` passes
through the model at the first K nodes and fresh masks at the last T (eq. 4). Party ``j`` computes
``f(u(alpha_j), v(alpha_j)) = X~_j^T g(X~_j w~_j)``, a polynomial of degree (2r+1)(K+T-1) in the
evaluation point, so any ``(2r+1)(K+T-1)+1`` results interpolate it and its values at the data
nodes sum to ``X^T g(X w)`` (eqs. 8-11). All of it is linear in the shares except the local
gradient, which every party computes on values it holds in the clear (coded, hence masked).
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dataclass_field

import numpy as np

from coopetition.protocols.shamir.field import PrimeField, SplitMatrix
from coopetition.protocols.shamir.sharing import lagrange_matrix

#: Columns per block when encoding large matrices (bounds the temporaries' memory).
ENCODE_CHUNK = 1 << 16


@dataclass(frozen=True)
class LagrangeCode:
    field: PrimeField
    N: int
    K: int
    T: int
    alphas: tuple[int, ...] = dataclass_field(init=False)
    betas: tuple[int, ...] = dataclass_field(init=False)
    #: U[j, k] = l_k(alpha_j): the weight of node k's value in party j's coded value
    U: np.ndarray = dataclass_field(init=False, repr=False)

    def __post_init__(self) -> None:
        alphas = tuple(range(1, self.N + 1))
        betas = tuple(range(self.N + 1, self.N + 1 + self.K + self.T))
        object.__setattr__(self, "alphas", alphas)
        object.__setattr__(self, "betas", betas)
        object.__setattr__(self, "U", lagrange_matrix(self.field, betas, alphas))

    def encode_blocks(self, blocks: np.ndarray, masks: np.ndarray, rows: list[int]) -> np.ndarray:
        """Coded values for parties ``rows`` from K data blocks and T masks (shares in, shares out).

        ``blocks``: (K, ...) and ``masks``: (T, ...) of the same trailing shape; returns
        (len(rows), ...). Linear, so it applies to Shamir shares unchanged.
        """
        return self.encode_nodes(np.concatenate([blocks, masks], axis=0), rows)

    def encode_nodes(self, nodes: np.ndarray, rows: list[int]) -> np.ndarray:
        """Coded values for parties ``rows`` from the K + T node values stacked on axis 0."""
        if nodes.shape[0] != self.K + self.T:
            raise ValueError(f"expected {self.K + self.T} node values, got {nodes.shape[0]}")
        shape = nodes.shape[1:]
        flat = nodes.reshape(self.K + self.T, -1)
        weights = self.U[rows]
        out = np.empty((len(rows), flat.shape[1]), dtype=np.int64)
        for start in range(0, flat.shape[1], ENCODE_CHUNK):
            stop = min(start + ENCODE_CHUNK, flat.shape[1])
            out[:, start:stop] = self.field.matmul(weights, flat[:, start:stop])
        return out.reshape((len(rows), *shape))

    def encode_model(self, w: np.ndarray, masks: np.ndarray) -> np.ndarray:
        """Coded model for every party: v(alpha_j) with v = w at the K data nodes."""
        blocks = np.broadcast_to(w, (self.K, *w.shape))
        return self.encode_blocks(np.ascontiguousarray(blocks), masks, list(range(self.N)))

    def decode_sum_weights(self, senders: list[int], degree: int) -> np.ndarray:
        """Weights over ``senders``' results (positions) giving sum_k h(beta_k), h of ``degree``."""
        if len(senders) < degree + 1:
            raise ValueError(f"decoding needs {degree + 1} results, got {len(senders)}")
        use = senders[: degree + 1]
        points = [self.alphas[j] for j in use]
        lag = lagrange_matrix(self.field, points, list(self.betas[: self.K]))
        return np.mod(lag.sum(axis=0, dtype=object).astype(object), self.field.p).astype(np.int64)


def coded_gradient(
    field: PrimeField, X: np.ndarray | SplitMatrix, w: np.ndarray, coeffs: list[int], s: int
) -> np.ndarray:
    """``X^T g(X w)`` in the field, g with quantised coefficients ``coeffs`` (lowest first).

    ``g_q(z) = sum_i c_i 2^{(r-i)s} z^i`` keeps every term at the scale ``2^{rs}`` of ``z^r``
    (``s = lx + lw`` is the scale of ``z = X w``). Horner's rule, all exact modulo p.
    """
    p = field.p
    r = len(coeffs) - 1
    z = field.matmul(X, w)
    acc = np.full_like(z, coeffs[r] % p)
    for i in range(r - 1, -1, -1):
        acc = field.add(field.mul(acc, z), coeffs[i] * pow(2, (r - i) * s, p) % p)
    return field.matmul(acc[None, :], X)[0]
