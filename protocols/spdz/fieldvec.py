"""Bulk arithmetic modulo the SPDZ prime on numpy buffers, for MASCOT's OT messages.

MASCOT moves k = 256 field elements per authenticated value and per OT batch row, far too many
for Python ints (about 0.2 us per operation). Here field elements live as 32-byte
little-endian rows of a ``uint8`` buffer (exactly what the OT hash outputs and the wire carry)
and two kernels do all the bulk work:

* :func:`sub_add` computes (a - b + c) mod P row by row on eight 32-bit limbs held in
  ``int64`` (limb-major, so every step is one contiguous numpy pass). P = 2^256 - 189, so a
  carry out of the top limb is folded back as 189 into the bottom one (2^256 = 189 mod P).
* :func:`gadget_sum` computes sum_h 2^h X_h over the k rows X_h of each element (the "gadget"
  product <g, x> of MASCOT), exactly, as integers, before one reduction modulo P per element:
  with h = 8a + b, the inner sums over b and the byte positions are small integers (below
  2^22 per part, held in int32), added along anti-diagonals, and only the final 3 byte-lanes per element are turned
  into Python ints. Several buffers can be summed inside one call (the receiver's
  t_(alpha_h) + alpha_h u_h), since the sum is linear.

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
    """(a - b + c) mod P for (n, 32) uint8 buffers (a, b any 256-bit values, c canonical)."""
    return _normalise(_limbs(a) - _limbs(b) + _limbs(c))


def gadget_sum(*parts: np.ndarray) -> list[int]:
    """For (n, k, 32) uint8 buffers X: [sum over parts and h of 2^h X[i, h] mod P for i < n]."""
    n, k, width = parts[0].shape
    if k % 8 or width != ELEM:
        raise ValueError("gadget_sum needs (n, k, 32) buffers with k a multiple of 8")
    groups = k // 8
    if len(parts) * 255 * 255 * groups >= 1 << 24:
        # Every sum z below must fit the three byte-lanes read back (24 bits): at k = 256
        # that allows at most 8 parts (8 * 255 * 255 * 32 < 2^24).
        raise ValueError("too many parts for gadget_sum's 24-bit sums")
    total = parts[0]
    if len(parts) > 1:
        total = parts[0].astype(np.uint16)
        for x in parts[1:]:
            total += x
    y = np.zeros((n, groups, ELEM), dtype=np.int32)
    xs = total.reshape(n, groups, 8, ELEM)
    for b in range(8):
        y += xs[:, :, b, :].astype(np.int32) << b
    # z[i, pos] = sum_a y[i, a, pos - a]: weight 2^(8 * pos).
    z = np.zeros((n, groups + ELEM + 1), dtype=np.int32)
    for a in range(groups):
        z[:, a : a + ELEM] += y[:, a, :]
    lanes = [(z >> (8 * s)) & 0xFF for s in range(3)]
    raws = [np.ascontiguousarray(lane.astype(np.uint8)).tobytes() for lane in lanes]
    width_z = z.shape[1]
    out = []
    for i in range(n):
        lo, hi = i * width_z, (i + 1) * width_z
        v = (
            int.from_bytes(raws[0][lo:hi], "little")
            + (int.from_bytes(raws[1][lo:hi], "little") << 8)
            + (int.from_bytes(raws[2][lo:hi], "little") << 16)
        )
        out.append(v % F.P)
    return out
