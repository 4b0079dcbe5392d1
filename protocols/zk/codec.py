"""Proofs to and from plain nested lists of ints, for the wire (CBOR) and for storage.

A proof travels as a list of its fields in declaration order; tuples become lists; nested
proofs nest. Decoding is strict and structural only (types, nesting, lengths of fixed-size
records): anything else is a ``ProofRejected`` naming the prover and where in the proof the bad
value sits. Ranges and group membership are checked by ``verify``, which every decoded proof
must still pass.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

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


def encode(proof: object) -> list[Any]:
    """A proof as nested lists of ints (CBOR-ready)."""
    cls = type(proof)
    if cls not in SCHEMAS:
        raise TypeError(f"cannot encode a {cls.__name__}")
    return [_encode_value(getattr(proof, f.name)) for f in fields(cls)]  # type: ignore[arg-type]


def _encode_value(value: object) -> Any:
    if type(value) in SCHEMAS:
        return encode(value)
    if isinstance(value, (tuple, list)):
        return [_encode_value(v) for v in value]
    return int(value)  # type: ignore[call-overload]


def decode(cls: type, obj: object, prover: int) -> Any:
    """Rebuild a proof of class ``cls`` from ``obj``, blaming ``prover`` for malformed input."""
    if cls not in SCHEMAS:
        raise TypeError(f"cannot decode a {cls.__name__}")
    return _decode(cls, obj, KINDS[cls], prover, "proof", 0)


def _decode(spec: Any, obj: object, kind: str, prover: int, where: str, depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise ProofRejected(kind, prover, f"{where} is nested too deeply")
    if spec == INT:
        if isinstance(obj, bool) or not isinstance(obj, int):
            raise ProofRejected(kind, prover, f"{where} is a {type(obj).__name__}, not an integer")
        return obj
    if not isinstance(obj, (list, tuple)):
        raise ProofRejected(kind, prover, f"{where} is a {type(obj).__name__}, not a list")
    if isinstance(spec, tuple):  # ("seq", inner)
        inner = spec[1]
        return tuple(
            _decode(inner, v, kind, prover, f"{where}[{i}]", depth + 1) for i, v in enumerate(obj)
        )
    schema = SCHEMAS[spec]
    if len(obj) != len(schema):
        raise ProofRejected(
            kind, prover, f"{where} has {len(obj)} fields, a {spec.__name__} has {len(schema)}"
        )
    names = [f.name for f in fields(spec)]
    values = [
        _decode(s, v, kind, prover, f"{where}.{name}", depth + 1)
        for s, v, name in zip(schema, obj, names, strict=True)
    ]
    return spec(*values)
