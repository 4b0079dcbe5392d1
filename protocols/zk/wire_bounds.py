"""Byte bounds of encoded proofs from public sizes, for payloads exchanged under a bound.

``engine.chunked.exchange_large`` refuses a payload above a bound every party computes alike;
these functions give that bound for the pieces Helen's large broadcasts are made of, from
public values only (counts, interval bounds, |N|, |N~|). Each is the honest maximum (widths
of ``zk.codec``'s packed vectors: zigzag codes, minimal width, one vector per field) plus a
margin for CBOR heads, so an honest payload always fits and a hostile one cannot be much
larger than an honest one.
"""

from __future__ import annotations

from coopetition.protocols.zk import codec
from coopetition.protocols.zk.range_proof import CHALLENGE_BITS, STAT_BITS

__all__ = ["HEAD_BYTES", "ciphertexts_bound", "packed_bytes", "range_proof_bound"]

#: CBOR structure per lone integer or vector (list heads, bignum tags, vector heads): at most
#: 4 bytes are needed; the rest is margin
HEAD_BYTES = 16
#: the 12 fields of one range proof: heads and tags of its 6 packed vectors and 2 row lists
_RANGE_PROOF_HEADS = 1024
#: bits a value may exceed its analytic maximum by (the zigzag sign bit, rounding)
_MARGIN_BITS = 8


def packed_bytes(bits: int) -> int:
    """Bytes one value of at most ``bits`` bits takes in a packed vector (with the margin)."""
    return (bits + _MARGIN_BITS + 7) // 8


def ciphertexts_bound(count: int, key_bits: int) -> int:
    """``count`` integers below N^2, each a lone CBOR integer or in packed vectors."""
    return count * (packed_bytes(2 * key_bits) + HEAD_BYTES)


def range_proof_bound(statements: int, value_bits: int, key_bits: int, ring_bits: int) -> int:
    """One ``range_proof.RangeProof`` over ``statements`` values whose interval bounds have at
    most ``value_bits`` bits (``range_proof._sizes``), for a verifier with a |N~| of
    ``ring_bits``. Per statement 20 integers: 10 ring-Pedersen values below N~, 5 responses
    u < 2^(value_bits + 128 + 80 + 1), 5 responses v < 2^(|N~| + 80 + 128 + 80 + 1); plus 7
    scalars of at most ``codec.max_bits_for`` bits."""
    u_bits = value_bits + CHALLENGE_BITS + STAT_BITS + 1
    v_bits = ring_bits + 2 * STAT_BITS + CHALLENGE_BITS + 1
    cap = codec.max_bits_for(key_bits, ring_bits)
    return (
        statements
        * (10 * packed_bytes(ring_bits) + 5 * packed_bytes(u_bits) + 5 * packed_bytes(v_bits))
        + 7 * (packed_bytes(cap) + HEAD_BYTES)
        + _RANGE_PROOF_HEADS
    )
