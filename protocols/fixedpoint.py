"""The project's single fixed-point convention: reals as signed integers with a scale 2**f.

Every protocol that turns a real number into a plaintext (Paillier's Z_N, SPDZ's Z_p, Shamir's
Z_q) goes through this module, so that all of them agree on three things:

* **Encoding**: a real x becomes the signed integer ``round(x * 2**f)`` (ties to even, as numpy
  rounds), and a signed integer v lives in Z_M as ``v mod M``. Decoding a residue takes the
  centred representative in ``(-M/2, M/2]``, so negative numbers need no separate sign bit.
* **Scale bookkeeping**: a value carries its number of fractional bits. Adding needs equal
  scales; multiplying adds them (2**f1 * 2**f2). Protocols keep scales in the open as
  :class:`Scaled` values, so a forgotten rescaling is an error at the call site instead of a
  silently wrong model.
* **Bit budgets**: a residue is only meaningful while ``|v| < M/2``; :func:`check_headroom`
  turns an overflow that would wrap around the modulus into a ``ValueError`` before it happens.
  (Wrap-around surprises are the most common complaint against other fixed-point MPC tools.)

Nothing here is secret-dependent control flow that matters for security: encoding happens
locally on a party's own data before encryption or sharing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

#: Default number of fractional bits (resolution 2**-16, about 1.5e-5).
DEFAULT_FRAC_BITS = 16

#: Helen's bound check truncates x + W by b - 3 bits: eight quotients for an honest entry.
WINDOW_SPLIT_BITS = 3


def _as_object_array(values: object) -> np.ndarray:
    arr = np.asarray(values, dtype=object)
    return arr


def encode_int(x: float, frac_bits: int = DEFAULT_FRAC_BITS) -> int:
    """The signed integer round(x * 2**frac_bits) of one real."""
    if frac_bits < 0:
        raise ValueError("frac_bits must be non-negative")
    if not np.isfinite(x):
        raise ValueError("cannot encode a non-finite number")
    with np.errstate(over="ignore"):
        scaled = np.rint(np.float64(x) * np.float64(2.0) ** frac_bits)
    if not np.isfinite(scaled):
        raise ValueError(f"value too large for scale 2^{frac_bits} in float64")
    return int(scaled)


def encode(
    values: Iterable[float] | np.ndarray | float, frac_bits: int = DEFAULT_FRAC_BITS
) -> np.ndarray:
    """Reals -> object array of signed Python ints ``round(x * 2**frac_bits)`` (any shape).

    Goes through float64, so an encoding is exact only for ``|x| * 2**f < 2**53``; beyond that
    the float itself is not exact anyway.
    """
    arr = np.asarray(values, dtype=np.float64)
    if not np.all(np.isfinite(arr)):
        raise ValueError("cannot encode a non-finite number")
    if frac_bits < 0:
        raise ValueError("frac_bits must be non-negative")
    with np.errstate(over="ignore"):
        scaled = np.rint(arr * np.float64(2.0) ** frac_bits)
    if not np.all(np.isfinite(scaled)):
        raise ValueError(f"value too large for scale 2^{frac_bits} in float64")
    out = np.empty(arr.shape, dtype=object)
    flat = out.reshape(-1)
    for i, v in enumerate(scaled.reshape(-1)):
        flat[i] = int(v)
    return out


def decode(
    ints: Iterable[int] | np.ndarray | int, frac_bits: int = DEFAULT_FRAC_BITS
) -> np.ndarray:
    """Signed integers at scale 2**frac_bits -> float64 array (exact division, then rounding)."""
    arr = _as_object_array(ints)
    out = np.empty(arr.shape, dtype=np.float64)
    flat = out.reshape(-1)
    denom = 1 << frac_bits
    for i, v in enumerate(arr.reshape(-1)):
        # int / int is correctly rounded in Python even for huge ints.
        try:
            flat[i] = int(v) / denom
        except OverflowError as exc:
            raise ValueError(
                f"fixed-point value too large to decode to float64 at scale 2^{frac_bits}"
            ) from exc
    return out


def to_residue(ints: Iterable[int] | np.ndarray | int, modulus: int) -> np.ndarray:
    """Signed integers -> residues in [0, modulus), after checking they fit the centred range."""
    arr = _as_object_array(ints)
    check_headroom(arr, modulus)
    return np.vectorize(lambda v: int(v) % modulus, otypes=[object])(arr) if arr.size else arr


def from_residue(residues: Iterable[int] | np.ndarray | int, modulus: int) -> np.ndarray:
    """Residues modulo M -> their centred signed representatives in (-M/2, M/2]."""
    arr = _as_object_array(residues)
    half = modulus // 2

    def centre(v: Any) -> int:
        r = int(v) % modulus
        return r - modulus if r > half else r

    return np.vectorize(centre, otypes=[object])(arr) if arr.size else arr


def encode_mod(
    values: Iterable[float] | np.ndarray | float, modulus: int, frac_bits: int = DEFAULT_FRAC_BITS
) -> np.ndarray:
    """Reals -> residues modulo M at scale 2**frac_bits."""
    return to_residue(encode(values, frac_bits), modulus)


def decode_mod(
    residues: Iterable[int] | np.ndarray | int, modulus: int, frac_bits: int = DEFAULT_FRAC_BITS
) -> np.ndarray:
    """Residues modulo M at scale 2**frac_bits -> reals."""
    return decode(from_residue(residues, modulus), frac_bits)


def check_headroom(
    ints: np.ndarray | Iterable[int] | int, modulus: int, *, slack_bits: int = 0
) -> None:
    """Raise ``ValueError`` unless every |v| * 2**slack_bits < modulus / 2.

    ``slack_bits`` reserves room for what comes next (a statistical mask, a sum of m values),
    so a protocol can assert its bit budget up front.
    """
    arr = _as_object_array(ints)
    if arr.size == 0:
        return
    biggest = max(abs(int(v)) for v in arr.reshape(-1))
    if 2 * (biggest << slack_bits) >= modulus:
        raise ValueError(
            f"fixed-point value of {biggest.bit_length()} bits (+{slack_bits} slack bits) "
            f"does not fit a {modulus.bit_length()}-bit modulus"
        )


def truncation_error_bound(frac_bits: int) -> float:
    """Largest error of one probabilistic truncation step, in real units: one ulp, 2**-f."""
    return 2.0**-frac_bits


@dataclass(frozen=True, slots=True)
class Scaled:
    """Signed integers together with their scale: the unit of scale bookkeeping.

    ``ints`` is an object array of Python ints, ``frac_bits`` the number of fractional bits.
    Arithmetic is exact integer arithmetic; only :meth:`rescale` (a division by a power of two)
    loses precision, and it does so visibly.
    """

    ints: np.ndarray
    frac_bits: int

    @classmethod
    def from_real(
        cls, values: Iterable[float] | np.ndarray | float, frac_bits: int = DEFAULT_FRAC_BITS
    ) -> Scaled:
        return cls(encode(values, frac_bits), frac_bits)

    def to_real(self) -> np.ndarray:
        return decode(self.ints, self.frac_bits)

    def __add__(self, other: Scaled) -> Scaled:
        if other.frac_bits != self.frac_bits:
            raise ValueError(
                f"adding scales 2^{self.frac_bits} and 2^{other.frac_bits}: rescale first"
            )
        return Scaled(self.ints + other.ints, self.frac_bits)

    def __sub__(self, other: Scaled) -> Scaled:
        if other.frac_bits != self.frac_bits:
            raise ValueError(
                f"subtracting scales 2^{self.frac_bits} and 2^{other.frac_bits}: rescale first"
            )
        return Scaled(self.ints - other.ints, self.frac_bits)

    def __mul__(self, other: Scaled) -> Scaled:
        return Scaled(self.ints * other.ints, self.frac_bits + other.frac_bits)

    def matmul(self, other: Scaled) -> Scaled:
        """Integer matrix product; the scales add, as for an elementwise product."""
        return Scaled(np.dot(self.ints, other.ints), self.frac_bits + other.frac_bits)

    def rescale(self, frac_bits: int) -> Scaled:
        """Change to ``frac_bits`` fractional bits: exact when growing, round-half-up when shrinking."""
        shift = self.frac_bits - frac_bits
        if shift <= 0:
            return Scaled(self.ints * (1 << -shift), frac_bits)
        half = 1 << (shift - 1)
        out = np.vectorize(lambda v: (int(v) + half) >> shift, otypes=[object])(self.ints)
        return Scaled(out, frac_bits)

    def bits(self) -> int:
        """Bits needed for the largest magnitude (the budget a modulus must exceed, plus sign)."""
        if self.ints.size == 0:
            return 0
        return max(abs(int(v)) for v in self.ints.reshape(-1)).bit_length()

    def to_residue(self, modulus: int) -> np.ndarray:
        return to_residue(self.ints, modulus)

    @classmethod
    def from_residue(
        cls, residues: np.ndarray | Iterable[int], modulus: int, frac_bits: int
    ) -> Scaled:
        return cls(from_residue(residues, modulus), frac_bits)


# -- Helen's scales: every product Helen computes, decided here --------------------------------

# -- the summed-low-mask truncation's carry (``spdz.trunc_summed``), here so widths can use it --


def centre(parties: int, m: int) -> int:
    """C = floor((parties - 1)(2^m - 1) / 2): R' - C has the mean of one uniform draw below
    2^m, so floor((x - C + R') / 2^m) has TruncPr's mean (x / 2^m, within 2^-(m+1))."""
    return (parties - 1) * ((1 << m) - 1) // 2


def carry_range(parties: int, m: int) -> tuple[int, int]:
    """Bounds of e = result - floor(x / 2^m) for every x and every R' in [0, parties (2^m - 1)]:
    e = floor((x mod 2^m - C + R') / 2^m)."""
    c, top = centre(parties, m), parties * ((1 << m) - 1)
    return -((c + (1 << m) - 1) >> m), ((1 << m) - 1 - c + top) >> m


#: SPDZ's field (``spdz.field.P_BITS``), statistical parameter (``online.DEFAULT_KAPPA``) and the
#: headroom its truncation and comparison keep for masks (``online.MASK_HEADROOM_BITS``); passed
#: in rather than imported so this module stays below every protocol (tests pin them equal).
SPDZ_PRIME_BITS = 256
SPDZ_KAPPA = 40
SPDZ_MASK_HEADROOM_BITS = 8
#: Statistical parameter of Gadget 3's and Gadget 4's masks (``PaillierParty.kappa``).
PAILLIER_KAPPA = 40


def gadget3_key_bits(
    value_bits: int, parties: int, kappa: int = PAILLIER_KAPPA, prime_bits: int = SPDZ_PRIME_BITS
) -> int:
    """Smallest Paillier |N| for Gadget 3 forward on |x| < 2^value_bits, tight range proofs.

    Mirrors ``spdz.gadgets.gadget3_key_bits`` with slack 0 (a test pins them equal): alpha <
    m P < 2^(p + lm), the MAC alpha x has value_bits + p + lm bits, its masks kappa more, and
    alpha x + sum_j s_j < 2^(value_bits + p + 2 lm + kappa + 1) <= 2^(|N| - 2) <= N/2.
    """
    lm = parties.bit_length()
    return value_bits + prime_bits + 2 * lm + kappa + 3


def gadget4_key_bits(
    parties: int,
    value_bits: int = 0,
    kappa: int = PAILLIER_KAPPA,
    prime_bits: int = SPDZ_PRIME_BITS,
) -> int:
    """Smallest Paillier |N| for Gadget 4 with tight range proofs (slack 0).

    Mirrors ``spdz.gadgets.gadget4_budget(...).key_bits`` (pinned by a test). For any
    value_bits < p + lm: e = alpha sum b_j - sum c_j has 2 (p + lm) + 1 bits; the test runs on
    sum_t rho_t e_t over fewer than 2^32 values with 128-bit rho_t (160 bits more, e bits);
    its mask hides the quotient by P (rm = e - (p - 1) + kappa bits), and e + P sum r'_j stays
    below 2^(|N| - 2) when |N| >= e + kappa + lm + 4; the masks' range proof encrypts a link
    mask of rm + 339 bits, so |N| >= rm + 340 too, which binds: 2p + 2 lm + 161 - p + 1 +
    kappa + 340 = p + 2 lm + kappa + 502 (802 bits at m = 2, 3).
    """
    lm = parties.bit_length()
    share_bits = prime_bits + lm
    widen = 128 + 32  # gadgets.COMBINER_BITS + gadgets.COUNT_BITS
    d_bits = max(value_bits, share_bits) + 1 + widen
    e_bits = 2 * share_bits + 1 + widen
    mask_bits = max(d_bits, e_bits) - (prime_bits - 1) + kappa
    return max(max(d_bits, e_bits) + kappa + lm + 4, mask_bits + 340)


def _bits_of(x: float) -> int:
    """Smallest b >= 0 with x <= 2^b (x > 0)."""
    return max(0, int(np.ceil(np.log2(x)))) if x > 1 else 0


@dataclass(frozen=True, slots=True)
class HelenScales:
    """The fractional bits of every value Helen encrypts, shares or multiplies (one place).

    All scales follow from the precision ``precision`` (F) and the public bounds agreed in
    setup: ``features`` (d), ``rows`` (largest n_i), ``x_bound`` / ``y_bound`` (largest |entry|
    of a party's standardised X_i, y_i), ``w_bound`` (largest |entry| of w_i, u_i, z, agreed
    like ADMM's contribution bound), ``rho``, ``parties``. Products never wrap: ``check``
    verifies each against SPDZ's field and Paillier's plaintext space; ``headroom`` lists the
    spare bits. See docs/helen-design.md, "Fixed-point scales", for the derivation.

    ======== ====================================== ==========================================
    value    scale (fractional bits)                how it arises
    ======== ====================================== ==========================================
    V        v_bits = F + 4                         round(V 2^v); V^T V ~ 2^(2v) I
    Sigma    sigma_bits = F                         round(sigma 2^s)
    y*       ystar_bits = F                         round((U^T y)[:d] 2^y)
    rho      rho_bits = max(0, F - log2 rho)        rho is quantised to this once, in setup
    Theta    theta_bits = F + log2(s2_bound + rho)  round(2^(2s+theta) / (sigma^2 + rho))
    A        a_bits = theta_bits                    V Theta V^T (2v + theta), rounded by 2v
    b        b_bits = z_bits + rho_bits             V Sigma y* (v + s + y), rounded
    z, u, w  z_bits = F                             SPDZ values; w truncated to it
    w (full) a_bits + b_bits                        A (b + rho (z - u)), before truncation
    c        coef_bits = F                          the consensus constant rho / (rho m + 2 lam2)
    ======== ====================================== ==========================================
    """

    features: int
    rows: int
    parties: int
    rho: float
    x_bound: float
    y_bound: float
    w_bound: float = 2.0**16
    precision: int = 24

    def __post_init__(self) -> None:
        if self.features < 1 or self.rows < self.features or self.parties < 2:
            raise ValueError("need d >= 1 features, n_i >= d rows and at least two parties")
        for name in ("rho", "x_bound", "y_bound", "w_bound"):
            v = getattr(self, name)
            if not (np.isfinite(v) and v > 0):
                raise ValueError(f"{name} must be a positive number, got {v}")
        if not 8 <= self.precision <= 40:
            raise ValueError("precision must be 8..40 fractional bits")

    # -- scales -------------------------------------------------------------------------------
    @property
    def v_bits(self) -> int:
        return self.precision + 4

    @property
    def sigma_bits(self) -> int:
        return self.precision

    @property
    def ystar_bits(self) -> int:
        return self.precision

    @property
    def z_bits(self) -> int:
        return self.precision

    @property
    def coef_bits(self) -> int:
        return self.precision

    @property
    def rho_bits(self) -> int:
        return max(0, self.precision - int(np.floor(self.rho)).bit_length())

    @property
    def rho_int(self) -> int:
        """rho at scale 2^rho_bits: the one quantised rho every party (and the reference) uses."""
        return max(1, encode_int(self.rho, self.rho_bits))

    @property
    def rho_quantised(self) -> float:
        return self.rho_int / 2.0**self.rho_bits

    @property
    def sigma2_bound(self) -> float:
        """sigma_max^2 <= ||X_i||_F^2 <= n_i d x_bound^2."""
        return self.rows * self.features * self.x_bound**2

    @property
    def theta_bits(self) -> int:
        return self.precision + _bits_of(self.sigma2_bound + self.rho_quantised)

    @property
    def a_bits(self) -> int:
        return self.theta_bits

    @property
    def a_shift(self) -> int:
        """V Theta V^T has scale 2 v_bits + theta_bits; A is published at theta_bits."""
        return 2 * self.v_bits

    @property
    def b_bits(self) -> int:
        return self.z_bits + self.rho_bits

    @property
    def b_shift(self) -> int:
        return self.v_bits + self.sigma_bits + self.ystar_bits - self.b_bits

    @property
    def w_full_bits(self) -> int:
        return self.a_bits + self.b_bits

    @property
    def w_shift(self) -> int:
        """Bits SPDZ's probabilistic truncation removes from A (b + rho (z - u))."""
        return self.w_full_bits - self.z_bits

    # -- public integer constants --------------------------------------------------------------
    @property
    def rho_theta_int(self) -> int:
        """rho at scale 2^(2 sigma_bits), for Sigma^2 + rho I (exactly rho_quantised)."""
        return self.rho_int << (2 * self.sigma_bits - self.rho_bits)

    def threshold_int(self, lam1: float) -> int:
        """Soft threshold on the SUM of m contributions, scale z_bits: lam1 / rho."""
        return encode_int(lam1 / self.rho_quantised, self.z_bits)

    def consensus_int(self, lam2: float) -> int:
        """rho / (rho m + 2 lam2) at scale 2^coef_bits (mean and ridge shrinkage in one)."""
        r = self.rho_quantised
        return encode_int(r / (r * self.parties + 2.0 * lam2), self.coef_bits)

    # -- public bounds the proofs use ------------------------------------------------------------
    @property
    def vtv_bound(self) -> int:
        """Largest honest |(V^T V - 2^(2v) I)_ij| for V rounded to v_bits (statement 3).

        V^T V = 2^(2v) I + 2^v (V^T E + E^T V) + E^T E with |E| <= 1/2 entrywise, and
        |V_i^T E_j| <= ||V_i|| ||E_j|| <= sqrt(d)/2: at most 2^v sqrt(d) + d/4, plus float
        SVD's own orthogonality error (below 1e-12 for d <= 1000, times 2^(2v)).
        """
        d, v = self.features, self.v_bits
        return int(np.ceil(2.0**v * np.sqrt(d) + d / 4 + 2.0 ** (2 * v) * 1e-12)) + 1

    @property
    def theta_bound(self) -> int:
        """Largest honest |(sigma^2 + rho) theta - 2^(2s + theta)| (statement 4).

        An honest theta = round(2^(2s+theta) / P) with P = sigma^2 + rho (integers) is off by at
        most 1/2, so the product is off by at most P/2 <= (s2_bound 2^(2s) + rho)/2.
        """
        p_max = self.sigma2_bound * 2.0 ** (2 * self.sigma_bits) * 1.01 + self.rho_theta_int
        return int(np.ceil(p_max / 2)) + 1

    @property
    def a_bound(self) -> int:
        """|A_ij| <= ||A||_2 <= 1/rho, plus V's rounding (relative 4 sqrt(d) 2^-v) and 2 units."""
        rel = 1 + 4 * np.sqrt(self.features) * 2.0**-self.v_bits
        return int(np.ceil(2.0**self.a_bits / self.rho_quantised * rel)) + 2

    @property
    def b_bound(self) -> int:
        """|b_j| = |x_j^T y| <= n_i x_bound y_bound, with 2^-10 relative margin for rounding."""
        return int(np.ceil(2.0**self.b_bits * self.rows * self.x_bound * self.y_bound * 1.001)) + 2

    @property
    def w_int_bound(self) -> int:
        """|w|, |u|, |z| at scale z_bits (SPDZ) — the agreed w_bound."""
        return int(np.ceil(self.w_bound * 2.0**self.z_bits))

    @property
    def w_window(self) -> int:
        """W = 2^(b-1) >= w_int + 1, b = ``w_int_bound.bit_length() + 1``: SPDZ's bound check
        (``coordinate_phase.check_bound``) lets every z, u_j in [-W, W - 1] through, and
        nothing outside [-W_e, W_e - 1] (``w_enforced``)."""
        return 1 << self.w_int_bound.bit_length()

    @property
    def window_shift(self) -> int:
        """s = b - ``WINDOW_SPLIT_BITS`` (at least 1): the bound check truncates x + W by s
        bits, so an entry in [-W, W) has one of 2^(b - s) quotients (8, and 2^s = W / 4, unless
        W is tiny)."""
        return max(1, self.w_window.bit_length() - WINDOW_SPLIT_BITS)

    @property
    def window_values(self) -> int:
        """V: the quotients plus carries the bound check accepts, 0 .. V - 1 after shifting by
        the lowest carry (13 at 4 and 5 parties)."""
        lo, hi = carry_range(self.parties, self.window_shift)
        return (1 << (self.w_window.bit_length() - self.window_shift)) + hi - lo

    @property
    def w_enforced(self) -> int:
        """W_e = W + (hi - lo) 2^s (2.25 W at 4 and 5 parties): what the bound check
        guarantees for ANY party, every z and u_j in [-W_e, W_e - 1]. Honest entries (|x| <=
        w_int < W) always pass; an entry between W and W_e passes or not depending on the
        honest low mask of the truncation, so every width sized for a z or u_j that left SPDZ
        uses W_e (docs/crypto.md, "The window test as a truncation and a short product")."""
        s = self.window_shift
        lo, hi = carry_range(self.parties, s)
        return self.w_window + ((hi - lo) << s)

    @property
    def w_full_int_bound(self) -> int:
        """|A (b + rho (z - u))| at scale w_full_bits that a party proves before conversion."""
        return int(np.ceil(self.w_bound * 2.0**self.w_full_bits))

    @property
    def v_entry_bound(self) -> int:
        """|V_ij| <= 1 for an orthogonal V, so |round(V 2^v)| <= 2^v."""
        return 1 << self.v_bits

    @property
    def sigma_int_bound(self) -> int:
        """0 <= sigma <= sqrt(s2_bound), at sigma_bits."""
        return int(np.ceil(np.sqrt(self.sigma2_bound) * 2.0**self.sigma_bits)) + 1

    @property
    def theta_int_bound(self) -> int:
        """0 < theta <= 2^theta / rho (rounded up, plus one for the rounding)."""
        return int(np.ceil(2.0**self.theta_bits / self.rho_quantised)) + 1

    @property
    def ystar_int_bound(self) -> int:
        """|y*_k| <= ||U^T y|| <= ||y|| <= sqrt(n_i) y_bound, at ystar_bits."""
        return int(np.ceil(np.sqrt(self.rows) * self.y_bound * 2.0**self.ystar_bits)) + 1

    # -- bit budgets ---------------------------------------------------------------------------------
    @property
    def k_w(self) -> int:
        """SPDZ truncation argument size for w_full: |w_full| < 2^(k_w - 1) for ANY party.

        Not the honest size (``w_full_int_bound``): a cheater picks A_i within the proved
        ``a_bound``, and v = b + rho (z - u) is public-homomorphic from the proved b and the
        SPDZ outputs z, u (|z|, |u| <= ``w_enforced`` = W_e, what SPDZ's check enforces), so
        |w_full| <= d a_bound (b_bound + 2 rho W_e) whatever the party does. Truncating with
        this k keeps the mask statistically hiding even for a cheater's w.
        """
        v = self.b_bound + self.rho_int * 2 * self.w_enforced
        return (self.features * self.a_bound * v).bit_length() + 1

    @property
    def w_trunc_bound(self) -> int:
        """Largest |w_j| after SPDZ's truncation for ANY party: the truncation of |w_full| <
        2^(k_w - 1) by w_shift bits with a summed low mask (``spdz.trunc_summed``) is the
        floor of the quotient plus a carry within ``parties`` units either way. Honest w_j stay
        near w_int; a cheater's (A_j, b_j anywhere in their proved ranges) can reach this."""
        return (1 << max(0, self.k_w - 1 - self.w_shift)) + self.parties

    @property
    def k_sum(self) -> int:
        """Soft-threshold argument: |sum_j (w_j + u_j)| < 2^(k_sum - 1) for ANY party's w_j.

        Sized with ``w_trunc_bound`` (not w_bound: a cheater's w_j reaches it) and |u_j| <=
        ``w_enforced`` (enforced by the bound check), so the LTZs stay exact whatever a party
        sends.
        """
        return (self.parties * (self.w_trunc_bound + self.w_enforced) + 2).bit_length() + 2

    @property
    def k_consensus(self) -> int:
        """Truncation of S(sum) * c: |product| < 2^(k_consensus - 1), |S(sum)| <= |sum|."""
        c = max(1, abs(self.consensus_int(0.0)))
        return (self.parties * (self.w_trunc_bound + self.w_enforced) * c).bit_length() + 2

    @property
    def z_trunc_bound(self) -> int:
        """Largest |z| SPDZ can produce for ANY inputs: TruncPr of |S(sum) c| < 2^(k_c - 1)."""
        return (1 << max(0, self.k_consensus - 1 - self.coef_bits)) + 1

    def headroom(
        self,
        paillier_bits: int = 2048,
        *,
        spdz_prime_bits: int = SPDZ_PRIME_BITS,
        kappa: int = SPDZ_KAPPA,
        mask_headroom_bits: int = SPDZ_MASK_HEADROOM_BITS,
    ) -> dict[str, int]:
        """Spare bits of every budget (negative = overflow); ``check`` refuses any below 1."""
        spdz_k = spdz_prime_bits - kappa - mask_headroom_bits - 1
        half_n = paillier_bits - 1
        d_bits = self.features.bit_length()
        # Gadget budgets as "|N| >= key_bits"; spare = |N| - key_bits + 1 (>= 1 iff it fits),
        # the same convention as the half_n - bits entries above.
        g3 = gadget3_key_bits(self.k_w, self.parties, prime_bits=spdz_prime_bits)
        g4 = gadget4_key_bits(self.parties, self.k_w, prime_bits=spdz_prime_bits)
        a_full = self.a_bound.bit_length() + self.a_shift + 1
        v_full = self.b_bound + self.rho_int * 2 * self.w_enforced
        return {
            "spdz.truncate_w": spdz_k - self.k_w,
            "spdz.soft_threshold": spdz_k - self.k_sum,
            "spdz.consensus": spdz_k - self.k_consensus,
            "paillier.vtv": half_n - (2 * self.v_bits + d_bits + 2),
            "paillier.theta": half_n
            - (self.theta_bound.bit_length() + 2 * self.sigma_bits + self.theta_bits + 2),
            "paillier.a_full": half_n - (a_full + d_bits),
            "paillier.b_full": half_n - (self.b_bound.bit_length() + self.b_shift + d_bits + 1),
            "paillier.local_product": half_n - ((self.a_bound * v_full).bit_length() + d_bits),
            "paillier.gadget3": paillier_bits - g3 + 1,
            "paillier.gadget4": paillier_bits - g4 + 1,
        }

    def check(self, paillier_bits: int = 2048, **budget: int) -> None:
        """ValueError naming the first budget a value of these scales would overflow."""
        room = budget.get("mask_headroom_bits", SPDZ_MASK_HEADROOM_BITS)
        if self.parties.bit_length() >= room:
            raise ValueError(
                f"at most {(1 << (room - 1)) - 1} parties: SPDZ's masks are sums of one "
                f"contribution per party and keep {room} bits of headroom below the prime"
            )
        for name, spare in self.headroom(paillier_bits, **budget).items():
            if spare < 1:
                raise ValueError(
                    f"fixed-point budget {name} overflows by {1 - spare} bits "
                    f"(precision {self.precision}, d={self.features}, n_i<={self.rows}, "
                    f"w_bound={self.w_bound:g}); lower the precision or the bounds"
                )
