"""COPML's public parameters: (N, K, T, r), the fixed-point scales, and the field they need.

Every rule is checked before a run starts and a violation names the rule (``ConfigError``):

* recovery threshold: ``N >= (2r + 1)(K + T - 1) + 1`` (So, Guler, Avestimehr 2020, Thm. 1);
* ``K >= 1``, ``T >= 1``, ``r`` in {1, 3};
* the data fit the field: the truncated value is bounded by ``2**(k-1)`` with ``k`` derived from
  the data's size and the scales below, and the field must hold ``k + kappa + 1`` bits for the
  Catrina-Saxena mask (``kappa`` is the statistical security parameter actually achieved; it is
  reported, and a field that cannot give ``min_kappa`` is refused).

Fixed point: data ``X_q = round(2**lx X)``, model ``w_q = round(2**lw w)``, polynomial
coefficients ``round(2**lc c_i)``; the learning rate is ``eta = m / 2**eta_exp`` so that the
update's division by ``m / eta`` folds into the truncation by ``k1`` bits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from dataclasses import field as dc_field

from coopetition.engine.errors import ConfigError
from coopetition.protocols.shamir.field import MAX_FIELD_BITS, PrimeField


def recovery_threshold(K: int, T: int, r: int) -> int:
    return (2 * r + 1) * (K + T - 1) + 1


def case1(N: int) -> tuple[int, int]:
    """Case 1 (maximum parallelisation): ``K = floor((N-1)/3)``, ``T = 1``."""
    return max(1, (N - 1) // 3), 1


def case2(N: int) -> tuple[int, int]:
    """Case 2 (parallelisation and privacy split): ``T = floor((N-3)/6)``, ``K = floor((N+2)/3) - T``."""
    T = max(1, (N - 3) // 6)
    return max(1, (N + 2) // 3 - T), T


PRESETS = {"case1": case1, "case2": case2}


@dataclass(frozen=True)
class CopmlParams:
    N: int
    K: int
    T: int
    r: int = 1
    iterations: int = 50
    lx: int = 6
    lw: int = 14
    lc: int = 5
    eta_exp: int = 17
    fit_range: float = 4.5
    x_max: float = 0.5
    kappa: int = 40
    min_kappa: int = 8
    #: parties whose results each step may ignore (stragglers); default N - R, the most the
    #: recovery threshold allows. Fewer stragglers leave more redundant results for the
    #: Reed-Solomon checks (0: wait for everyone, detect up to N - R wrong coded gradients).
    stragglers: int | None = None

    def __post_init__(self) -> None:
        for name in ("N", "K", "T", "r", "iterations", "lx", "lw", "lc", "eta_exp"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(
                    f"COPML parameter {name} must be a positive integer, got {value!r}"
                )
        if self.r not in (1, 3):
            raise ConfigError(f"rule: the sigmoid polynomial degree r is 1 or 3, got {self.r}")
        if not 3 <= self.N <= 100:
            raise ConfigError(f"rule: 3 <= N <= 100 parties, got N = {self.N}")
        need = recovery_threshold(self.K, self.T, self.r)
        if need > self.N:
            raise ConfigError(
                f"rule: N >= (2r+1)(K+T-1)+1 (the recovery threshold); N = {self.N} but "
                f"(2*{self.r}+1)({self.K}+{self.T}-1)+1 = {need}"
            )
        if self.stragglers is not None and not 0 <= self.stragglers <= self.N - need:
            raise ConfigError(
                f"rule: at most N - R = {self.N - need} stragglers can be ignored, "
                f"got {self.stragglers}"
            )
        if not (self.fit_range > 0 and self.x_max > 0):
            raise ConfigError("fit_range and x_max must be positive")

    @classmethod
    def preset(cls, name: str, N: int, **kw: object) -> CopmlParams:
        if name not in PRESETS:
            raise ConfigError(f"unknown COPML preset {name!r} (case1 or case2)")
        K, T = PRESETS[name](N)
        return cls(N=N, K=K, T=T, **kw)  # type: ignore[arg-type]

    @property
    def threshold(self) -> int:
        return recovery_threshold(self.K, self.T, self.r)

    @property
    def quorum(self) -> int:
        """How many parties' messages each step waits for (the fastest ones)."""
        spare = self.N - self.threshold if self.stragglers is None else self.stragglers
        return self.N - spare

    @property
    def encoders(self) -> int:
        """Parties holding shares of the raw data: T+1 suffice; one more gives an RS check."""
        return min(self.N, self.T + 2)


@dataclass(frozen=True)
class FieldPlan:
    """The bit budget of one training run and the field chosen for it."""

    params: CopmlParams
    rows: int
    features: int
    coeff_abs_sum: float
    k: int = dc_field(init=False)
    k1: int = dc_field(init=False)
    field: PrimeField = dc_field(init=False)
    kappa: int = dc_field(init=False)

    def __post_init__(self) -> None:
        p = self.params
        scale_g = p.r * (p.lx + p.lw) + p.lc  # bits of the polynomial's output scale
        # |g(z) - y| <= 1 + sum |c_i| R^i on the fit range (the range of x.w the fit covers)
        g_max = 1.0 + self.coeff_abs_sum
        value_bits = math.log2(max(1.0, self.rows * p.x_max * g_max))
        k = math.ceil(value_bits) + p.lx + scale_g + 1
        k1 = p.lx + scale_g - p.lw + p.eta_exp
        if k1 >= k:
            raise ConfigError(
                f"rule: the truncation must drop fewer bits than the value has (k1 = {k1} >= k = {k})"
            )
        bits = min(MAX_FIELD_BITS, k + p.kappa + 1)
        kappa = bits - k - 1
        if kappa < p.min_kappa:
            raise ConfigError(
                f"rule: the data do not fit the field: values need k = {k} bits and the "
                f"truncation mask {p.min_kappa} more, but the field has at most "
                f"{MAX_FIELD_BITS} bits (lower lx/lw/lc or r)"
            )
        object.__setattr__(self, "k", k)
        object.__setattr__(self, "k1", k1)
        object.__setattr__(self, "field", PrimeField.with_bits(bits))
        object.__setattr__(self, "kappa", kappa)
