"""The size of Helen's input-preparation messages, from public values only.

One party sends ``{"com": InputCommitments, "proof": InputProof}`` by consistent broadcast, its
range-proof fields empty, and to each verifier j, point-to-point, the one range proof made under
j's ring-Pedersen parameters (``zk.codec``, integer sequences packed; see docs/wire-format.md).
Their shapes are fixed by public values: d (``scales.features``), m, |N| and the recipient's
|N~|. The bounds below turn them into byte and packed-integer bounds that every honest message
meets and every party computes alike, so they bound what a hostile party may make the others
receive (``engine.chunked``) and fix how many chunks the exchanges need. The counts are exact
(checked against honest proofs by ``tests/test_helen_input_chunked.py``); the widths are the
honest maxima plus margins:

* commitments, products, Gadget 1 and multiplication proofs (the broadcast): 5 d^2 + 47 d + 8
  integers, each below N^2 (2 |N| bits);
* one tight range proof per verifier over n = 4 d^2 + 6 d statements: 20 n + 7 integers. Of
  each statement's 20: 10 ring-Pedersen commitments below N~; 5 responses u below
  2^(value_bits + 128 + 80 + 1) (value_bits: the longest interval bound, public from
  ``scales``); 5 responses v below 2^(|N~| + 80 + 128 + 80 + 1); 7 scalars per proof at most
  ``zk.codec.max_bits_for`` bits (``zk.wire_bounds``).

A recipient's bound uses its own |N~| only (it chose its modulus; setup admits up to
``range_params.MAX_BITS``), so no party can widen what the others must accept from a third.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from coopetition.protocols.fixedpoint import HelenScales
from coopetition.protocols.helen.input_statements import intervals
from coopetition.protocols.zk.wire_bounds import HEAD_BYTES, ciphertexts_bound, range_proof_bound

__all__ = [
    "broadcast_bound",
    "broadcast_value_bound",
    "int_counts",
    "payload_bound",
    "range_bound",
    "range_bounds",
    "range_statement_count",
    "range_value_bound",
    "value_bits",
]

#: the payload's own map, keys and list heads
_PAYLOAD_HEADS = 4096


def range_statement_count(d: int) -> int:
    """n: entries of V, A, V^T V - I, the rounding residue of A (d^2 each) and 6 d vectors."""
    return 4 * d * d + 6 * d


def int_counts(d: int, parties: int) -> dict[str, int]:
    """How many integers one party sends in its input messages, by kind: ``ciphertexts`` in its
    broadcast, the ``range_*`` kinds over its m - 1 range proofs together."""
    n = range_statement_count(d)
    verifiers = parties - 1
    return {
        "ciphertexts": 5 * d * d + 47 * d + 8,
        "range_commitments": verifiers * 10 * n,
        "range_u": verifiers * 5 * n,
        "range_v": verifiers * 5 * n,
        "range_scalars": verifiers * 7,
    }


def broadcast_value_bound(d: int) -> int:
    """Most integers the broadcast's packed vectors hold: its integers, plus the row lengths of
    its 5 d x d matrices."""
    return int_counts(d, 2)["ciphertexts"] + 5 * d


def range_value_bound(d: int) -> int:
    """Most integers one range proof's packed vectors hold: 20 n + 7, plus the row lengths of
    its 4 row-wise fields (4 n)."""
    n = range_statement_count(d)
    return 20 * n + 7 + 4 * n


def value_bits(scales: HelenScales) -> int:
    """Bits of the largest |bound| of any input range statement, plus one (``_sizes``)."""
    return max(max(abs(lo), abs(hi)).bit_length() for lo, hi in intervals(scales).values()) + 1


def broadcast_bound(scales: HelenScales, parties: int, key_bits: int) -> int:
    """Most bytes an honest party's encoded input broadcast (no range proofs) can take;
    ``key_bits`` is |N| of the joint Paillier key."""
    counts = int_counts(scales.features, parties)
    return ciphertexts_bound(counts["ciphertexts"], key_bits) + _PAYLOAD_HEADS


def range_bound(scales: HelenScales, key_bits: int, ring_bits: int) -> int:
    """Most bytes an honest encoded range proof for a verifier whose |N~| is ``ring_bits`` can
    take (what that verifier accepts from each prover)."""
    d = scales.features
    proof = range_proof_bound(range_statement_count(d), value_bits(scales), key_bits, ring_bits)
    return proof + HEAD_BYTES


def range_bounds(
    scales: HelenScales, key_bits: int, ring_bits: Mapping[int, int]
) -> dict[int, int]:
    """``range_bound`` of every recipient, each over its own |N~| (``ring_bits`` by party)."""
    return {j: range_bound(scales, key_bits, bits) for j, bits in ring_bits.items()}


def payload_bound(
    scales: HelenScales, parties: int, key_bits: int, ring_bits: Iterable[int]
) -> int:
    """Most bytes one honest party sends in all (its broadcast once, and one range proof to each
    of its verifiers, whose |N~| are ``ring_bits``): for size estimates, not a wire check."""
    return broadcast_bound(scales, parties, key_bits) + sum(
        range_bound(scales, key_bits, b) for b in ring_bits
    )
