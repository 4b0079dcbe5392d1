"""Checks of what peers send in a DKG batch: shapes, ranges, the Boneh-Franklin equation.

Everything received is checked here before use; a malformed message is the sender's fault
(``ProtocolViolation`` naming it), never a crash of the receiver.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gmpy2

from coopetition.engine.errors import ProtocolViolation
from coopetition.engine.wire import BigIntVector
from coopetition.protocols.paillier.threshold import DecryptionShare
from coopetition.protocols.zk.decryption import DecryptionProof


def boneh_franklin(n: int, row: list[list[int]]) -> bool:
    """v_0 * prod_{j>0} v_j^-1 = +-1 mod N for every base (Boneh-Franklin 2001, section 3)."""
    for column in range(len(row[0])):
        others = 1
        for values in row[1:]:
            others = others * values[column] % n
        if gmpy2.gcd(others, n) != 1:
            return False
        first = row[0][column] % n
        if first != others and first != (-others) % n:
            return False
    return True


def _is_int(x: object) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def pack(rows: Sequence[Sequence[int]], bound: int) -> BigIntVector:
    """Rows of values below ``bound`` as one fixed-width vector (one CBOR item, sizes leak nothing)."""
    width = (bound.bit_length() + 7) // 8
    flat = []
    for row in rows:
        for v in row:
            v = int(v)
            if not 0 <= v < bound:  # only a tampering test hook produces these
                v %= bound
            flat.append(v)
    return BigIntVector(tuple(flat), width)


def unpack(
    value: object, rows: int, width: int, bound: int, sender: int, stage: str
) -> list[list[int]]:
    """The rows a peer sent, or ``ProtocolViolation`` naming it if shape or range is wrong."""
    if not isinstance(value, BigIntVector) or len(value.values) != rows * width:
        raise ProtocolViolation(f"malformed {stage} message", culprit=sender)
    flat = value.values
    if any(not 0 <= x < bound for x in flat):
        raise ProtocolViolation(f"{stage} value out of range", culprit=sender)
    return [list(flat[i * width : (i + 1) * width]) for i in range(rows)]


def decryption_share(value: object, sender: int) -> DecryptionShare:
    if (
        not isinstance(value, dict)
        or not isinstance(value.get("values"), list)
        or not all(_is_int(x) for x in value["values"])
        or not _is_int(value.get("e"))
        or not _is_int(value.get("z"))
    ):
        raise ProtocolViolation("malformed decryption share", culprit=sender)
    return DecryptionShare(sender, tuple(value["values"]), DecryptionProof(value["e"], value["z"]))


def audit_reveal_shape(value: object, count: int) -> bool:
    """An audit reveal's common part (both multipliers): ``count`` 32-byte seeds and ``count``
    lists of claims (each multiplier checks what its claims hold)."""
    return (
        isinstance(value, dict)
        and isinstance(value.get("seeds"), list)
        and isinstance(value.get("claims"), list)
        and len(value["seeds"]) == count
        and len(value["claims"]) == count
        and all(isinstance(s, bytes) and len(s) == 32 for s in value["seeds"])
        and all(isinstance(c, list) for c in value["claims"])
    )


def check_audit(value: object, stages: list[int], parties: int, sender: int) -> dict[str, Any]:
    """Shape of an audit reveal: a seed and, per private stage, one digest per sender."""
    if (
        not audit_reveal_shape(value, len(stages))
        or not isinstance(value, dict)
        or not all(
            len(c) == n
            and all(
                isinstance(row, list)
                and len(row) == parties
                and all(isinstance(x, bytes) for x in row)
                for row in c
            )
            for c, n in zip(value["claims"], stages, strict=True)
        )
    ):
        raise ProtocolViolation("malformed audit reveal", culprit=sender)
    return value
