"""Prime-field arithmetic on numpy int64 arrays, exact, for primes below 2**61.

Shamir sharing and Lagrange coding multiply field elements by field elements, whose products
(up to 116 bits) overflow every numpy integer type. Products are therefore formed from limbs:
both operands are split into ``h``-bit pieces, the pieces are multiplied as float64 through BLAS
(each partial dot product stays below 2**52, so it is exact), reduced modulo ``p`` as int64 and
recombined by Horner's rule with small shifts. That keeps the heavy steps (Lagrange encoding of
the data, the coded gradient) in BLAS while every result is exact modulo ``p``.

The prime is checked (``gmpy2.is_prime`` with 50 Miller-Rabin rounds; below 2**64 gmpy2's test is
also backed by a strong base-2 test, and no composite below 2**64 passes both). The COPML
reference code wrote ``2^26 - 5`` for its prime, which Python reads as XOR (= 23, a prime, but
far too small): COPML here derives the field size from the data's bit budget
(``protocols.copml.params``) and refuses a field the data does not fit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import gmpy2
import numpy as np

from coopetition.engine.errors import ConfigError

#: Largest supported prime size: int64 storage with room for a sum of two elements and for the
#: shift steps of the recombination (one bit at 61 bits, or the pseudo-Mersenne fold). At 61 bits
#: the field is the Mersenne prime 2^61 - 1.
MAX_FIELD_BITS = 61
_FLOAT_EXACT_BITS = 52
#: Columns (or rows) of a plain operand multiplied at a time: bounds the float64 limb products,
#: which are several times the operand's own size, whatever the operand's size.
MATMUL_CHUNK = 1 << 16


def largest_prime_below(bound: int) -> int:
    """The largest prime strictly below ``bound`` (bound > 3)."""
    candidate = bound - 1 if bound % 2 == 0 else bound - 2
    while not gmpy2.is_prime(candidate, 50):
        candidate -= 2
    return candidate


@dataclass(frozen=True)
class PrimeField:
    """GF(p) for a checked prime ``p`` of at most ``MAX_FIELD_BITS`` bits."""

    p: int
    bits: int = field(init=False)

    def __post_init__(self) -> None:
        p = self.p
        if not isinstance(p, int) or isinstance(p, bool) or p < 3:
            raise ConfigError(f"field modulus must be an integer >= 3, got {p!r}")
        if p.bit_length() > MAX_FIELD_BITS:
            raise ConfigError(f"field modulus {p} has more than {MAX_FIELD_BITS} bits")
        if not gmpy2.is_prime(p, 50):
            raise ConfigError(f"field modulus {p} is not prime")
        object.__setattr__(self, "bits", p.bit_length())

    @classmethod
    def with_bits(cls, bits: int) -> PrimeField:
        """The largest prime below ``2**bits``."""
        if not 3 <= bits <= MAX_FIELD_BITS:
            raise ConfigError(f"field size must be 3..{MAX_FIELD_BITS} bits, got {bits}")
        return cls(largest_prime_below(1 << bits))

    # -- element conversion ------------------------------------------------------------------

    def encode_signed(self, values: np.ndarray) -> np.ndarray:
        """Integers in (-p/2, p/2) to field elements (negative x becomes p + x)."""
        v = np.asarray(values, dtype=np.int64)
        if v.size and int(np.max(np.abs(v))) >= self.p // 2:
            raise ConfigError("a value does not fit the field (|x| >= p/2)")
        return np.where(v < 0, v + self.p, v).astype(np.int64)

    def decode_signed(self, elements: np.ndarray) -> np.ndarray:
        """Field elements to integers in (-p/2, p/2]."""
        e = np.asarray(elements, dtype=np.int64)
        return np.where(e > self.p // 2, e - self.p, e)

    def random(self, rng: np.random.Generator, shape: tuple[int, ...] | int) -> np.ndarray:
        return rng.integers(0, self.p, size=shape, dtype=np.int64)

    # -- arithmetic --------------------------------------------------------------------------

    def add(self, a: np.ndarray, b: np.ndarray | int) -> np.ndarray:
        return np.mod(np.asarray(a, dtype=np.int64) + b, self.p)

    def sub(self, a: np.ndarray | int, b: np.ndarray | int) -> np.ndarray:
        return np.mod(np.asarray(a, dtype=np.int64) - b, self.p)

    def inverse(self, a: int) -> int:
        a %= self.p
        if a == 0:
            raise ZeroDivisionError("0 has no inverse")
        return pow(a, -1, self.p)

    def shift(self, x: np.ndarray, bits: int) -> np.ndarray:
        """``x * 2**bits mod p`` for reduced int64 ``x``, in steps that cannot overflow.

        For ``p = 2**b - c`` (what :meth:`with_bits` picks: ``c`` is small) a step of ``s`` bits
        folds the bits pushed past ``2**b`` back in with ``2**b = c (mod p)``:
        ``x 2^s = x_hi c + x_lo 2^s`` with ``x_hi < 2^s``, so one step covers up to
        ``62 - log2(c)`` bits. Other primes step by ``62 - b`` bits at a time.
        """
        out = np.asarray(x, dtype=np.int64)
        b, c = self.bits, (1 << self.bits) - self.p
        fold = min(b, 62 - c.bit_length())
        while bits > 0:
            if fold > 62 - b:
                s = min(fold, bits)
                high = np.right_shift(out, b - s)
                low = np.bitwise_and(out, (1 << (b - s)) - 1)
                out = np.mod(high * c + np.left_shift(low, s), self.p)
            else:
                s = min(62 - b, bits)
                out = np.mod(np.left_shift(out, s), self.p)
            bits -= s
        return out

    def _limb_bits(self, inner: int) -> int:
        return max(1, (_FLOAT_EXACT_BITS - max(1, math.ceil(math.log2(max(inner, 2))))) // 2)

    def _split(self, x: np.ndarray, h: int) -> list[np.ndarray]:
        mask = (1 << h) - 1
        count = -(-self.bits // h)
        return [((x >> (h * i)) & mask).astype(np.float64) for i in range(count)]

    def _combine(self, partial: dict[int, np.ndarray], h: int) -> np.ndarray:
        """Horner over limb positions: sum of partial[t] * 2**(h*t) mod p."""
        top = max(partial)
        acc = np.mod(partial[top], self.p)
        for t in range(top - 1, -1, -1):
            acc = np.mod(self.shift(acc, h) + np.mod(partial[t], self.p), self.p)
        return acc

    @property
    def wide_limb_bits(self) -> int:
        """Limb size of the large operand of a product: two limbs per element."""
        return -(-self.bits // 2)

    def split(self, x: np.ndarray) -> SplitMatrix:
        """``x`` cut once into two float64 limbs, for repeated products with small operands
        (COPML's coded data enter every iteration's gradient)."""
        x = np.asarray(x, dtype=np.int64)
        if x.ndim != 2:
            raise ValueError("only matrices are split ahead")
        h = self.wide_limb_bits
        return SplitMatrix(x.shape, h, tuple(self._split(x, h)))

    def matmul(self, a: np.ndarray | SplitMatrix, b: np.ndarray | SplitMatrix) -> np.ndarray:
        """``a @ b mod p`` for reduced int64 matrices (or vectors), exact.

        The larger operand is cut into two limbs of ``ceil(bits/2)`` bits and the smaller one
        into as many narrower limbs as the float64 budget needs (``ha + hb + log2(inner) <= 52``
        keeps every partial dot product exact); the small operand's limbs are stacked into one
        matrix, so BLAS passes over the large operand only twice. Either side may be a
        :class:`SplitMatrix` (cut ahead of time).
        """
        a_shape = a.shape if isinstance(a, SplitMatrix) else np.shape(a)
        b_shape = b.shape if isinstance(b, SplitMatrix) else np.shape(b)
        if len(a_shape) > 2 or len(b_shape) > 2 or not a_shape or not b_shape:
            raise ValueError("matmul takes vectors or matrices")
        inner = a_shape[-1]
        if b_shape[0] != inner:
            raise ValueError(f"shapes {a_shape} and {b_shape} do not multiply")
        out_shape = (*a_shape[:-1], *b_shape[1:])
        plain = not isinstance(a, SplitMatrix) and not isinstance(b, SplitMatrix)
        if plain and len(b_shape) == 2 and b_shape[1] > MATMUL_CHUNK:
            # wide operand in column slices: the float64 limb products of one slice at a time
            # (sharing a (7, 902, 3073) mask at once made 11 GB of them)
            wide_out = np.empty((*a_shape[:-1], b_shape[1]), dtype=np.int64)
            for start in range(0, b_shape[1], MATMUL_CHUNK):
                stop = min(start + MATMUL_CHUNK, b_shape[1])
                wide_out[..., start:stop] = self.matmul(a, np.asarray(b)[:, start:stop])
            return wide_out
        if plain and len(a_shape) == 2 and a_shape[0] > MATMUL_CHUNK:
            tall_out = np.empty((a_shape[0], *b_shape[1:]), dtype=np.int64)
            for start in range(0, a_shape[0], MATMUL_CHUNK):
                stop = min(start + MATMUL_CHUNK, a_shape[0])
                tall_out[start:stop] = self.matmul(np.asarray(a)[start:stop], b)
            return tall_out
        budget = _FLOAT_EXACT_BITS - max(1, math.ceil(math.log2(max(inner, 2))))
        wide = self.wide_limb_bits
        narrow = budget - wide
        a_big = isinstance(a, SplitMatrix) or (
            not isinstance(b, SplitMatrix) and math.prod(a_shape) >= math.prod(b_shape)
        )
        if narrow < 1:  # inner dimension too long for the asymmetric cut
            if isinstance(a, SplitMatrix) or isinstance(b, SplitMatrix):
                raise ValueError("inner dimension too long for a split operand")
            return self._matmul_square(np.asarray(a), np.asarray(b))
        if a_big:
            la = list(a.limbs) if isinstance(a, SplitMatrix) else self._split(_as2d(a, 0), wide)
            lb = self._split(_as2d(np.asarray(b), 1), narrow)
            ha, hb = wide, narrow
            cols = lb[0].shape[1]
            stacked = np.concatenate(lb, axis=1)
            products = [ai @ stacked for ai in la]
            parts = [[pr[:, j * cols : (j + 1) * cols] for j in range(len(lb))] for pr in products]
        else:
            lb = list(b.limbs) if isinstance(b, SplitMatrix) else self._split(_as2d(b, 1), wide)
            la = self._split(_as2d(np.asarray(a), 0), narrow)
            ha, hb = narrow, wide
            rows = la[0].shape[0]
            stacked = np.concatenate(la, axis=0)
            products = [stacked @ bj for bj in lb]
            parts = [[pr[i * rows : (i + 1) * rows] for pr in products] for i in range(len(la))]
        # sum_i 2^(ha i) sum_j 2^(hb j) parts[i][j], Horner twice
        acc: np.ndarray | None = None
        for i in range(len(parts) - 1, -1, -1):
            row = parts[i]
            inner_acc = np.mod(row[-1].astype(np.int64), self.p)
            for j in range(len(row) - 2, -1, -1):
                inner_acc = np.mod(
                    self.shift(inner_acc, hb) + np.mod(row[j].astype(np.int64), self.p), self.p
                )
            acc = inner_acc if acc is None else np.mod(self.shift(acc, ha) + inner_acc, self.p)
        assert acc is not None
        return acc.reshape(out_shape)

    def _matmul_square(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Equal limbs on both sides (very long inner dimensions)."""
        a = np.asarray(a, dtype=np.int64)
        b = np.asarray(b, dtype=np.int64)
        inner = a.shape[-1]
        h = self._limb_bits(inner)
        la, lb = self._split(a, h), self._split(b, h)
        partial: dict[int, np.ndarray] = {}
        for i, ai in enumerate(la):
            for j, bj in enumerate(lb):
                prod = np.mod((ai @ bj).astype(np.int64), self.p)
                partial[i + j] = prod if i + j not in partial else partial[i + j] + prod
        return self._combine(partial, h)

    def mul(self, a: np.ndarray, b: np.ndarray | int) -> np.ndarray:
        """Element-wise ``a * b mod p`` (broadcasting), exact."""
        a = np.asarray(a, dtype=np.int64)
        b = np.asarray(b, dtype=np.int64)
        h = self._limb_bits(1)
        la, lb = self._split(a, h), self._split(b, h)
        partial: dict[int, np.ndarray] = {}
        for i, ai in enumerate(la):
            for j, bj in enumerate(lb):
                prod = np.mod((ai * bj).astype(np.int64), self.p)
                partial[i + j] = prod if i + j not in partial else partial[i + j] + prod
        return self._combine(partial, h)

    def scale(self, a: np.ndarray, c: int) -> np.ndarray:
        """``c * a mod p`` for a public constant ``c``."""
        return self.mul(a, np.array(c % self.p, dtype=np.int64))


@dataclass(frozen=True)
class SplitMatrix:
    """A field matrix already cut into float64 limbs of ``h`` bits (low limb first)."""

    shape: tuple[int, ...]
    h: int
    limbs: tuple[np.ndarray, ...]


def _as2d(x: np.ndarray, axis: int) -> np.ndarray:
    """Vectors as one-row (``axis`` 0) or one-column (``axis`` 1) int64 matrices."""
    x = np.asarray(x, dtype=np.int64)
    if x.ndim == 2:
        return x
    return x.reshape(1, -1) if axis == 0 else x.reshape(-1, 1)
