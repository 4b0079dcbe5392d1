"""Bulk arithmetic modulo the SPDZ prime on numpy buffers, for MASCOT's OT messages.

MASCOT moves k = 256 field elements per authenticated value and per OT batch row, far too many
for Python ints (about 0.2 us per operation). Here field elements live as 32-byte
little-endian rows of a ``uint8`` buffer (exactly what the OT hash outputs and the wire carry)
and two kernels do all the bulk work:

* :func:`sub_add` computes (a - b + c) mod P row by row on eight 32-bit limbs held in
  ``int64`` (limb-major, so every step is one contiguous numpy pass). P = 2^256 - 189, so a
  carry out of the top limb is folded back as 189 into the bottom one (2^256 = 189 mod P).
* :func:`gadget_sum` computes sum_h 2^h X_h over the k rows X_h of each element (the "gadget"
  product <g, x> of MASCOT), exactly, as integers, before one reduction modulo P per element;
  buffers are laid out h-first (k, n, 32), the order in which COPE's PRG streams and the
  Multiply OTs come out, so every pass runs over long contiguous slices. Several buffers can
  be summed inside one call (the receiver's t_(alpha_h) + alpha_h u_h), since the sum is
  linear.

Inputs to :func:`gadget_sum` need not be reduced (raw 256-bit PRG output is fine: everything is
reduced once at the end); outputs of :func:`sub_add`, which go on the wire, are canonical.
"""

from __future__ import annotations

import numpy as np

from . import field as F

_C = 2**256 - F.P
assert 0 < _C < 2**16 and F.P_BITS == 256, "fieldvec assumes P = 2^256 - c with a small c"
LIMBS = 8
ELEM = 32
_MASK = np.int64(0xFFFFFFFF)


def ints_to_rows(values: list[int] | np.ndarray) -> np.ndarray:
    """Field elements (Python ints in [0, P)) as an (n, 32) uint8 buffer."""
    data = b"".join(int(v).to_bytes(ELEM, "little") for v in values)
    return np.frombuffer(data, dtype=np.uint8).reshape(-1, ELEM)


def rows_to_ints(rows: np.ndarray) -> list[int]:
    raw = np.ascontiguousarray(rows, dtype=np.uint8).tobytes()
    return [int.from_bytes(raw[i : i + ELEM], "little") for i in range(0, len(raw), ELEM)]


def _limbs(rows: np.ndarray) -> np.ndarray:
    """(n, 32) uint8 -> (8, n) int64 limbs."""
    limbs = np.ascontiguousarray(rows, dtype=np.uint8).view("<u4").reshape(-1, LIMBS)
    return limbs.T.astype(np.int64, order="C")  # limb-major: each step is one contiguous pass


def _normalise(d: np.ndarray) -> np.ndarray:
    """Limbs with any signed values -> canonical residues mod P, as (n, 32) uint8."""
    while True:
        for limb in range(LIMBS - 1):
            carry = d[limb] >> 32
            d[limb] &= _MASK
            d[limb + 1] += carry
        top = d[LIMBS - 1] >> 32
        d[LIMBS - 1] &= _MASK
        if not top.any():
            break
        d[0] += top * _C
    rows = np.ascontiguousarray(d.T.astype("<u4")).view(np.uint8).reshape(-1, ELEM)
    # Values in [P, 2^256) need one more subtraction; they are rare (189 / 2^256), so the
    # check is vectorised and the fix is done in Python.
    high = (d[1:] == 0xFFFFFFFF).all(axis=0) & (d[0] >= 2**32 - _C)
    if high.any():
        rows = rows.copy()
        for i in np.flatnonzero(high):
            v = int.from_bytes(rows[i].tobytes(), "little") % F.P
            rows[i] = np.frombuffer(v.to_bytes(ELEM, "little"), dtype=np.uint8)
    return rows


def sub_add(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """(a - b + c) mod P for (n, 32) uint8 buffers (a, b any 256-bit values, c canonical).

    ``c`` may also have r rows with r dividing n: it is then added to every block of r
    consecutive rows (``np.tile`` semantics, without building the tiled copy).
    """
    d = _limbs(a) - _limbs(b)
    cl = _limbs(c)
    n, r = d.shape[1], cl.shape[1]
    if r == n:
        d += cl
    elif r and n % r == 0:
        d.reshape(LIMBS, n // r, r)[...] += cl[:, None, :]
    else:
        raise ValueError("c must have as many rows as a and b, or a divisor of that")
    return _normalise(d)


def gadget_sum(*parts: np.ndarray) -> list[int]:
    """For (k, n, 32) uint8 buffers X (bit position h first): [sum over parts and h of
    2^h X[h, i] mod P for i < n].

    Writing h = 8a + b, every byte position p of sum_b 2^b X[8a + b, i] is a sum below
    255 * 255 < 2^16; those sums are built 4 at a time in 16-bit lanes of uint64 words (even
    and odd bytes apart, so lanes never carry into each other), the 8 values of b being 8
    contiguous slices of the h-first layout. The lanes of all parts are added in int32, the
    k/8 groups a are added along anti-diagonals (weight 2^(8 (a + p))), carries are
    propagated byte by byte, and each element is read back as one integer and reduced once.
    """
    k, n, width = parts[0].shape
    if k % 8 or width != ELEM or any(x.shape != (k, n, width) for x in parts):
        raise ValueError("gadget_sum needs equal (k, n, 32) buffers with k a multiple of 8")
    groups = k // 8
    if len(parts) * 255 * 255 * groups >= 1 << 31:
        raise ValueError("too many parts for gadget_sum's 32-bit sums")
    y = _byte_sums(parts[0])
    for x in parts[1:]:
        y += _byte_sums(x)
    span = groups + ELEM + 4  # room for the carries out of the top position
    z = np.zeros((span, n), dtype=np.int64)
    for a in range(groups):
        z[a : a + ELEM] += y[a]
    for pos in range(span - 1):
        z[pos + 1] += z[pos] >> 8
        z[pos] &= 0xFF
    raw = np.ascontiguousarray(z.T).astype(np.uint8).tobytes()
    return [int.from_bytes(raw[i * span : (i + 1) * span], "little") % F.P for i in range(n)]


_EVEN_BYTES = np.uint64(0x00FF00FF00FF00FF)


def _byte_sums(x: np.ndarray) -> np.ndarray:
    """(k, n, 32) uint8 -> (k/8, 32, n) int32: y[a, p, i] = sum_b 2^b x[8a + b, i, p]."""
    k, n, _ = x.shape
    words = np.ascontiguousarray(x, dtype=np.uint8).view("<u8").reshape(k // 8, 8, n, 4)
    even = np.zeros((k // 8, n, 4), dtype=np.uint64)
    odd = np.zeros_like(even)
    tmp = np.empty_like(even)
    for b in range(8):
        shift = np.uint64(b)
        np.bitwise_and(words[:, b], _EVEN_BYTES, out=tmp)
        tmp <<= shift
        even += tmp
        np.right_shift(words[:, b], np.uint64(8), out=tmp)
        tmp &= _EVEN_BYTES
        tmp <<= shift
        odd += tmp
    y = np.empty((k // 8, 16, 2, n), dtype=np.int32)
    # Lane q of word w holds byte 8w + 2q (even) or 8w + 2q + 1 (odd).
    y[:, :, 0, :] = even.view("<u2").reshape(k // 8, n, 16).transpose(0, 2, 1)
    y[:, :, 1, :] = odd.view("<u2").reshape(k // 8, n, 16).transpose(0, 2, 1)
    return y.reshape(k // 8, ELEM, n)
