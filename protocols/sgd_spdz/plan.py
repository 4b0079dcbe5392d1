"""Secure SGD's public plan: fixed-point parameters, batches, and the preprocessing it consumes.

Rows are numbered party by party (party 0's rows first) and cut into consecutive mini-batches
of ``batch_size`` rows (Helen's baseline: batch size = d, one pass, N / batch iterations; a last
partial batch is used with its own size). Everything here is public: row counts per party,
d, the step size and the fixed-point format.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from coopetition.engine.errors import ConfigError
from coopetition.protocols.spdz import field as F
from coopetition.protocols.spdz.online import DEFAULT_KAPPA, MASK_HEADROOM_BITS, Needs


@dataclass(frozen=True)
class SgdConfig:
    """Public parameters of secure mini-batch SGD for least squares (no intercept)."""

    learning_rate: float = 0.01
    #: rows per mini-batch; None means d (the Helen paper's choice)
    batch_size: int | None = None
    frac_bits: int = 16
    #: bit budget of a truncated value (|x| < 2**(k-1) at its scale)
    k: int = 100
    #: public bound on |x| and |y| of every row (checked by each owner before input)
    data_bound: float = 64.0
    #: assumed bound on |w| during training, used to size k (not checked at run time)
    model_bound: float = 256.0

    def __post_init__(self) -> None:
        if not (np.isfinite(self.learning_rate) and self.learning_rate > 0):
            raise ConfigError(f"learning_rate must be positive, got {self.learning_rate}")
        if self.batch_size is not None and self.batch_size < 1:
            raise ConfigError("batch_size must be at least 1")
        for name in ("data_bound", "model_bound"):
            value = getattr(self, name)
            if not (np.isfinite(value) and value > 0):  # NaN would pass every range check
                raise ConfigError(f"{name} must be a positive number, got {value}")
        if not 2 <= self.frac_bits <= 30:
            raise ConfigError("frac_bits must lie in [2, 30]")
        if self.k + DEFAULT_KAPPA + MASK_HEADROOM_BITS >= F.P_BITS:
            raise ConfigError(f"k = {self.k} leaves no room for the truncation masks below P")

    def public_parameters(self, rows: tuple[int, ...], features: int) -> dict[str, object]:
        return {
            "learning_rate": float(self.learning_rate).hex(),
            "batch_size": self.batch(features),
            "frac_bits": self.frac_bits,
            "k": self.k,
            "data_bound": float(self.data_bound).hex(),
            "model_bound": float(self.model_bound).hex(),
            "rows": list(rows),
            "features": features,
        }

    def batch(self, features: int) -> int:
        return self.batch_size if self.batch_size is not None else features

    def step_constant(self, rows_in_batch: int) -> int:
        """round(eta / b * 2**f): the public fixed-point factor of one update."""
        c = round(self.learning_rate / rows_in_batch * 2**self.frac_bits)
        if c == 0:
            raise ConfigError("learning_rate / batch_size is below the fixed-point resolution")
        return c

    def check_range(self, features: int) -> None:
        """ConfigError unless the worst case of every truncated value fits 2**(k-1).

        Residual r = x.w - y at scale 2f: |r| <= d X W + Y. Update term (eta/b) sum x r at scale
        3f: |.| <= eta X (d X W + Y) (about, c rounds eta/b). Both must stay below 2**(k-1).
        """
        f, X, W = self.frac_bits, self.data_bound, self.model_bound
        residual = features * X * W + X
        step = self.learning_rate * X * residual * 2  # 2: slack for the rounding of c
        if residual * 2.0 ** (2 * f) >= 2.0 ** (self.k - 1) or step * 2.0 ** (3 * f) >= 2.0 ** (
            self.k - 1
        ):
            raise ConfigError(
                f"data bound {X:g} and model bound {W:g} do not fit k = {self.k} bits at "
                f"2^-{f} (lower the bounds or frac_bits, or raise k)"
            )


def check_rows(X: np.ndarray, y: np.ndarray, config: SgdConfig) -> None:
    """A party's own check before it inputs anything: its data must fit the agreed range."""
    biggest = max(float(np.abs(X).max(initial=0.0)), float(np.abs(y).max(initial=0.0)))
    if not np.isfinite(biggest) or biggest > config.data_bound:
        raise ConfigError(
            f"this party's data reaches {biggest:.3g}, outside the fixed-point range agreed "
            f"for secure SGD (data_bound {config.data_bound:g}); rescale or normalise it"
        )


@dataclass(frozen=True)
class SgdPlan:
    rows: tuple[int, ...]
    features: int
    config: SgdConfig

    @property
    def total_rows(self) -> int:
        return sum(self.rows)

    def batches(self) -> list[tuple[int, int]]:
        """(first row, row count) of each mini-batch, in order."""
        b = self.config.batch(self.features)
        return [(s, min(b, self.total_rows - s)) for s in range(0, self.total_rows, b)]

    def needs(self) -> tuple[Needs, dict[int, int]]:
        """Triples, bits and bounded masks of the whole run, and input masks per owner.

        Per batch of b rows: 2 b d triples (x.w and x r), b truncations by f (residuals) and d
        by 2f (the update); see SpdzParty.trunc_pr for what one truncation consumes.
        """
        cfg, d = self.config, self.features
        f, k, kappa = cfg.frac_bits, cfg.k, DEFAULT_KAPPA
        triples = bits = 0
        bounded: dict[int, int] = {}
        for _, b in self.batches():
            triples += 2 * b * d
            bits += b * f + d * 2 * f
            bounded[k + kappa - f] = bounded.get(k + kappa - f, 0) + b
            bounded[k + kappa - 2 * f] = bounded.get(k + kappa - 2 * f, 0) + d
        masks = {owner: n * (d + 1) for owner, n in enumerate(self.rows)}
        return Needs(triples, bits, tuple(sorted(bounded.items()))), masks
