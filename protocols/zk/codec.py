"""Proofs to and from CBOR-ready values, for the wire and for storage.

A proof travels as a list of its fields in declaration order; nested proofs nest. Integer
sequences are packed: a field of type ``("seq", INT)`` is one ``SignedIntVector`` (tag
1668247401, fixed-width zigzag codes, minimal width), a field ``("seq", ("seq", INT))`` is
``[SignedIntVector(row lengths), SignedIntVector(all values, row after row)]``. So a proof over
n values is a handful of CBOR items, not ~20 n (Helen's input proof at d = 90 was millions,
above the engine's ``MAX_ITEMS``); a lone ``INT`` field stays a CBOR integer. Each sequence has
exactly one encoding (the engine refuses non-minimal widths), so signatures and digests over
proofs stay canonical.

Decoding is strict and structural (types, nesting, lengths of fixed-size records, row lengths
that add up, no integer longer than ``max_bits``, which callers derive from the agreed key
sizes with ``max_bits_for``): anything else is a ``ProofRejected`` naming the prover and where
in the proof the bad value sits. ``encode`` returns ``cbor2.CBORTag`` objects for the packed
vectors, so plain ``cbor2.dumps`` works too; ``decode`` accepts them raw (``cbor2.loads``) or as
the engine's ``SignedIntVector`` (``decode_payload``). Ranges and group membership are checked
by ``verify``, which every decoded proof must still pass.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import cbor2

from coopetition.engine.codec import TAG_SIGNED_INT_VECTOR, SignedIntVector, WireError
from coopetition.engine.codec import decode_signed_vector as _decode_packed
from coopetition.protocols.zk.equality import EqualityProof
from coopetition.protocols.zk.errors import ProofRejected
from coopetition.protocols.zk.gadgets import Gadget2Proof, MatMulProof
from coopetition.protocols.zk.interval import IntervalProof
from coopetition.protocols.zk.multiplication import MultiplicationProof
from coopetition.protocols.zk.plaintext import PlaintextProof
from coopetition.protocols.zk.range_params import ParamProof
from coopetition.protocols.zk.range_proof import RangeProof

INT = "int"

#: Field types of each proof: INT, a proof class, or ("seq", inner) for a variable-length list.
SCHEMAS: dict[type, tuple[Any, ...]] = {
    PlaintextProof: (INT, INT, INT),
    MultiplicationProof: (INT, INT, INT, INT, INT),
    EqualityProof: (INT, INT),
    IntervalProof: (("seq", INT), ("seq", INT), ("seq", INT)),
    MatMulProof: (
        ("seq", ("seq", INT)),
        ("seq", ("seq", MultiplicationProof)),
        ("seq", EqualityProof),
    ),
    Gadget2Proof: (MatMulProof, ("seq", ("seq", PlaintextProof))),
    RangeProof: (
        ("seq", INT),
        ("seq", ("seq", INT)),
        INT,
        INT,
        ("seq", ("seq", INT)),
        INT,
        INT,
        INT,
        INT,
        ("seq", ("seq", INT)),
        ("seq", ("seq", INT)),
        INT,
    ),
    ParamProof: (("seq", INT), ("seq", INT)),
}

KINDS = {
    PlaintextProof: "plaintext",
    MultiplicationProof: "multiplication",
    EqualityProof: "equality",
    IntervalProof: "interval",
    MatMulProof: "gadget1",
    Gadget2Proof: "gadget2",
    RangeProof: "range",
    ParamProof: "ring-pedersen-params",
}

#: Deepest nesting any proof has; a guard against hostile depth.
MAX_DEPTH = 8
#: Longest integer ``decode`` accepts when the caller names no key sizes: enough for N^2 and
#: the range proofs' longest responses (|N~| + |N| + 2048 + log n bits) at 4096-bit keys.
DEFAULT_MAX_BITS = 12288
_SEQ_INT = ("seq", INT)
_SEQ_SEQ_INT = ("seq", ("seq", INT))


def max_bits_for(key_bits: int, ring_bits: int = 0) -> int:
    """The longest integer an honest proof under these key sizes holds, with room to spare.

    Ciphertexts are below N^2 (2 |N| bits); the range proofs' responses are refused by their
    verifier above |N~| + (bits of the largest bound < |N|) + log2(n) + 2048 bits
    (``range_proof._RESPONSE_EXTRA_BITS``); 64 bits cover log2(n) and the sign.
    """
    return max(2 * key_bits, ring_bits + key_bits + 2048 + 64) + 8


def encode(proof: object) -> list[Any]:
    """A proof as CBOR-ready nested lists, packed integer sequences and integers."""
    cls = type(proof)
    if cls not in SCHEMAS:
        raise TypeError(f"cannot encode a {cls.__name__}")
    return _encode(cls, proof)


def _encode(spec: Any, value: Any) -> Any:
    """``value`` encoded as its schema ``spec`` says (never guessed from the value's contents)."""
    if spec == INT:
        return int(value)
    if spec == _SEQ_INT:
        return SignedIntVector.of(value).to_cbor()
    if spec == _SEQ_SEQ_INT:
        rows = [tuple(row) for row in value]
        flat = (v for row in rows for v in row)
        return [
            SignedIntVector.of(len(r) for r in rows).to_cbor(),
            SignedIntVector.of(flat).to_cbor(),
        ]
    if isinstance(spec, tuple):  # ("seq", inner)
        return [_encode(spec[1], v) for v in value]
    if type(value) is not spec:
        raise TypeError(f"expected a {spec.__name__}, got {type(value).__name__}")
    return [
        _encode(s, getattr(value, f.name)) for s, f in zip(SCHEMAS[spec], fields(spec), strict=True)
    ]


def decode(cls: type, obj: object, prover: int, *, max_bits: int = DEFAULT_MAX_BITS) -> Any:
    """Rebuild a proof of class ``cls`` from ``obj``, blaming ``prover`` for malformed input.

    ``max_bits`` bounds every integer (``max_bits_for`` the agreed key sizes).
    """
    if cls not in SCHEMAS:
        raise TypeError(f"cannot decode a {cls.__name__}")
    return _Decoder(KINDS[cls], prover, max_bits).decode(cls, obj, "proof", 0)


@dataclass(frozen=True)
class _Decoder:
    kind: str
    prover: int
    max_bits: int

    def reject(self, message: str) -> ProofRejected:
        return ProofRejected(self.kind, self.prover, message)

    def decode(self, spec: Any, obj: object, where: str, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise self.reject(f"{where} is nested too deeply")
        if spec == INT:
            if isinstance(obj, bool) or not isinstance(obj, int):
                raise self.reject(f"{where} is a {type(obj).__name__}, not an integer")
            if obj.bit_length() > self.max_bits:
                raise self.reject(f"{where} has more than {self.max_bits} bits")
            return obj
        if spec == _SEQ_INT:
            return self.packed(obj, where)
        if spec == _SEQ_SEQ_INT:
            return self.packed_rows(obj, where)
        return self.structure(spec, obj, where, depth)

    def packed(self, obj: object, where: str) -> tuple[int, ...]:
        """A ``SignedIntVector`` (decoded by the engine, or a raw tag decoded strictly here)."""
        if isinstance(obj, cbor2.CBORTag) and obj.tag == TAG_SIGNED_INT_VECTOR:
            try:
                obj = _decode_packed(obj.value)
            except WireError as exc:
                raise self.reject(f"{where}: {exc}") from None
        if not isinstance(obj, SignedIntVector):
            raise self.reject(f"{where} is a {type(obj).__name__}, not a packed integer vector")
        # a zigzag code is one bit longer than |value|; the width check needs no pass over values
        too_wide = obj.width > (self.max_bits + 8) // 8
        if too_wide or any(v.bit_length() > self.max_bits for v in obj.values):
            raise self.reject(f"{where} holds integers wider than {self.max_bits} bits")
        return obj.values

    def packed_rows(self, obj: object, where: str) -> tuple[tuple[int, ...], ...]:
        if not isinstance(obj, (list, tuple)) or len(obj) != 2:
            raise self.reject(f"{where} is not [row lengths, values]")
        lengths = self.packed(obj[0], f"{where}.lengths")
        values = self.packed(obj[1], f"{where}.values")
        if any(n < 0 for n in lengths) or sum(lengths) != len(values):
            raise self.reject(f"{where}: row lengths do not add up to the {len(values)} values")
        rows, start = [], 0
        for n in lengths:
            rows.append(values[start : start + n])
            start += n
        return tuple(rows)

    def structure(self, spec: Any, obj: object, where: str, depth: int) -> Any:
        if not isinstance(obj, (list, tuple)):
            raise self.reject(f"{where} is a {type(obj).__name__}, not a list")
        if isinstance(spec, tuple):  # ("seq", inner)
            return tuple(
                self.decode(spec[1], v, f"{where}[{i}]", depth + 1) for i, v in enumerate(obj)
            )
        schema = SCHEMAS[spec]
        if len(obj) != len(schema):
            raise self.reject(f"{where} has {len(obj)} fields, a {spec.__name__} has {len(schema)}")
        names = [f.name for f in fields(spec)]
        values = [
            self.decode(s, v, f"{where}.{name}", depth + 1)
            for s, v, name in zip(schema, obj, names, strict=True)
        ]
        return spec(*values)
