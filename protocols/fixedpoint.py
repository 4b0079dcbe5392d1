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
