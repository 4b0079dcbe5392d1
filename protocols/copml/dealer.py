"""The offline phase: correlated randomness from a trusted crypto-service provider.

COPML needs, besides the parties' own data, uniformly random Shamir-shared values: the T masks of
the data encoding (T matrices of the coded size), T model masks per iteration, and per iteration
the Catrina-Saxena truncation pair ``r' in [0, 2^k1)``, ``r'' in [0, 2^(k+kappa-k1))``. The paper
(footnote 3) lets a crypto-service provider make these offline, and its published code does so
(rank 0); this module is that provider. It is trusted: it learns no data, but a dishonest
provider could break privacy, so it is not a party of the threat model (docs/threat-model.md
says so; dealer-free generation is not implemented).

A :class:`Dealer` is seeded from the operating system's randomness unless a seed is given (tests);
every party receives only its own shares.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from coopetition.protocols.shamir.field import PrimeField
from coopetition.protocols.shamir.sharing import share

from .coding import LagrangeCode


@dataclass(frozen=True)
class IterationRandomness:
    model_masks: np.ndarray  # (T, d): this party's shares of the model masks
    gradient_masks: np.ndarray  # (T, d): rho_t(alpha_j) for T random polynomials of degree R-1
    r_low: np.ndarray  # (d,): share of r' (uniform in [0, 2^k1))
    r_high: np.ndarray  # (d,): share of r'' (uniform in [0, 2^(k+kappa-k1)))


class Dealer:
    def __init__(
        self,
        field: PrimeField,
        code: LagrangeCode,
        *,
        features: int,
        block_rows: int,
        k: int,
        k1: int,
        kappa: int,
        threshold: int,
        seed: int | None = None,
    ) -> None:
        self.threshold = threshold
        self.field, self.code = field, code
        self.features, self.block_rows = features, block_rows
        self.k, self.k1, self.kappa = k, k1, kappa
        self._rng = np.random.default_rng(seed)
        self._iterations: dict[int, list[IterationRandomness]] = {}
        self._fetched: dict[int, int] = {}
        self._data_masks: dict[int, np.ndarray] | None = None
        self._model0: np.ndarray | None = None

    @property
    def encoders(self) -> list[int]:
        return list(range(min(self.code.N, self.code.T + 2)))

    def data_masks(self, position: int) -> np.ndarray:
        """(T, M, d) shares of the data-encoding masks, for an encoder."""
        if self._data_masks is None:
            T, points = self.code.T, [self.code.alphas[e] for e in self.encoders]
            masks = self.field.random(self._rng, (T, self.block_rows, self.features))
            shares = share(self.field, masks, points, T, self._rng)
            self._data_masks = {e: shares[i] for i, e in enumerate(self.encoders)}
        return self._data_masks.pop(position)

    def initial_model(self, position: int) -> np.ndarray:
        """Shares of the initial model (zero)."""
        if self._model0 is None:
            zero = np.zeros(self.features, dtype=np.int64)
            self._model0 = share(self.field, zero, self.code.alphas, self.code.T, self._rng)
        return self._model0[position]

    def iteration(self, position: int, t: int) -> IterationRandomness:
        if t not in self._iterations:
            f, code, d = self.field, self.code, self.features
            masks = f.random(self._rng, (code.T, d))
            low = self._rng.integers(0, 1 << self.k1, size=d, dtype=np.int64)
            high = self._rng.integers(
                0, 1 << (self.k + self.kappa - self.k1), size=d, dtype=np.int64
            )
            # gradient masks: party j shares its coded gradient f_j as f_j + sum_t rho_t(alpha_j)
            # alpha_i^t. With rho_t of degree R-1, every quorum of R results decodes to shares
            # of one degree-T polynomial, whichever R arrived first at each party.
            coeffs = f.random(self._rng, (self.threshold, code.T * d))
            vander = np.array(
                [[pow(a, e, f.p) for e in range(self.threshold)] for a in code.alphas],
                dtype=np.int64,
            )
            rho = f.matmul(vander, coeffs).reshape(code.N, code.T, d)
            sm = share(f, masks, code.alphas, code.T, self._rng)
            sl = share(f, low, code.alphas, code.T, self._rng)
            sh = share(f, high, code.alphas, code.T, self._rng)
            self._iterations[t] = [
                IterationRandomness(sm[i], rho[i], sl[i], sh[i]) for i in range(code.N)
            ]
            self._fetched[t] = 0
        self._fetched[t] += 1
        out = self._iterations[t][position]
        if self._fetched[t] == self.code.N:  # every party has its shares: drop the dealer's copy
            del self._iterations[t]
        return out
