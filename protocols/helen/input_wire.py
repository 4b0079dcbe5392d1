"""The size of Helen's input-preparation broadcast, from public values only.

One party's broadcast is ``{"com": InputCommitments, "proof": InputProof}`` encoded by
``zk.codec`` (integer sequences packed, see docs/wire-format.md). Its shape is fixed by public
values: d (``scales.features``), m, |N| and every verifier's |N~|. ``payload_bound`` turns them
into a byte bound that every honest broadcast meets and that every party computes alike, so it
can bound what a hostile party may make the others receive (``engine.chunked``) and fix how
many chunks the exchange needs. The counts below are exact (checked against honest proofs by
``tests/test_helen_input_chunked.py``); the widths are the honest maxima plus margins:

* commitments, products, Gadget 1 and multiplication proofs: 5 d^2 + 47 d + 8 integers, each
  below N^2 (2 |N| bits);
* one tight range proof per verifier over n = 4 d^2 + 6 d statements: 20 n + 7 integers. Of
  each statement's 20: 10 ring-Pedersen commitments below N~; 5 responses u below
  2^(value_bits + 128 + 80 + 1) (value_bits: the longest interval bound, public from
  ``scales``); 5 responses v below 2^(|N~| + 80 + 128 + 80 + 1); 7 scalars per proof at most
  ``zk.codec.max_bits_for`` bits (``zk.wire_bounds``).
"""

from __future__ import annotations

from collections.abc import Iterable

from coopetition.protocols.fixedpoint import HelenScales
from coopetition.protocols.helen.input_statements import intervals
from coopetition.protocols.zk.wire_bounds import HEAD_BYTES, ciphertexts_bound, range_proof_bound

__all__ = [
    "int_counts",
    "packed_value_bound",
    "payload_bound",
    "range_statement_count",
    "sender_bounds",
    "value_bits",
]

#: the payload's own map, keys and list heads
_PAYLOAD_HEADS = 4096


def range_statement_count(d: int) -> int:
    """n: entries of V, A, V^T V - I, the rounding residue of A (d^2 each) and 6 d vectors."""
    return 4 * d * d + 6 * d


def int_counts(d: int, parties: int) -> dict[str, int]:
    """How many integers one party's input broadcast holds, by kind."""
    n = range_statement_count(d)
    verifiers = parties - 1
    return {
        "ciphertexts": 5 * d * d + 47 * d + 8,
        "range_commitments": verifiers * 10 * n,
        "range_u": verifiers * 5 * n,
        "range_v": verifiers * 5 * n,
        "range_scalars": verifiers * 7,
        "verifier_ids": verifiers,
    }


def packed_value_bound(d: int, parties: int) -> int:
    """Most integers the broadcast's packed vectors hold: all its integers, plus the row
    lengths of its 5 d x d matrices and of each range proof's 4 row-wise fields (4 n)."""
    rows = 5 * d + (parties - 1) * 4 * range_statement_count(d)
    return sum(int_counts(d, parties).values()) + rows


def value_bits(scales: HelenScales) -> int:
    """Bits of the largest |bound| of any input range statement, plus one (``_sizes``)."""
    return max(max(abs(lo), abs(hi)).bit_length() for lo, hi in intervals(scales).values()) + 1


def payload_bound(
    scales: HelenScales, parties: int, key_bits: int, ring_bits: Iterable[int]
) -> int:
    """Most bytes an honest party's encoded input broadcast can take under these public values.

    ``key_bits`` is |N| of the joint Paillier key, ``ring_bits`` the |N~| of every verifier's
    ring-Pedersen parameters (the largest counts: each range proof uses one verifier's).
    """
    d = scales.features
    counts = int_counts(d, parties)
    proof = range_proof_bound(
        range_statement_count(d), value_bits(scales), key_bits, max(ring_bits)
    )
    return (
        ciphertexts_bound(counts["ciphertexts"], key_bits)
        + (parties - 1) * (proof + HEAD_BYTES)
        + _PAYLOAD_HEADS
    )


def sender_bounds(
    scales: HelenScales, parties: int, key_bits: int, ring_bits: dict[int, int]
) -> dict[int, int]:
    """``payload_bound`` per sender, over its verifiers' |N~| only: a party's own N~ (which
    it chose; setup admits up to ``range_params.MAX_BITS``) must not widen its own bound."""
    return {
        j: payload_bound(scales, parties, key_bits, [b for k, b in ring_bits.items() if k != j])
        for j in ring_bits
    }
