"""Wire helpers of the Paillier side of SPDZ: proofs, ciphertexts and decryption shares.

Every value a party receives is checked here before it is used; a malformed one is a
``ProtocolViolation`` naming its sender, a rejected proof a ``CheatingDetected`` naming the
prover. (Moved out of ``conversion`` so that ``ranges`` can use them without a cycle.)
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from coopetition.engine.errors import CheatingDetected, ProtocolViolation
from coopetition.protocols.paillier.keys import InvalidCiphertext, PublicKey
from coopetition.protocols.paillier.threshold import DecryptionShare
from coopetition.protocols.zk.decryption import DecryptionProof
from coopetition.protocols.zk.errors import ProofRejected


def proof_to_wire(proof: object) -> list[Any]:
    """A proof dataclass as a CBOR-encodable list of ints and lists of ints."""
    out: list[Any] = []
    for f in fields(proof):  # type: ignore[arg-type]
        v = getattr(proof, f.name)
        out.append([int(x) for x in v] if isinstance(v, tuple) else int(v))
    return out


def proof_from_wire(cls: type, data: object, sender: int, what: str) -> Any:
    """Rebuild a proof dataclass; malformed input is a protocol violation by ``sender``."""
    names = [f.name for f in fields(cls)]
    if not isinstance(data, list) or len(data) != len(names):
        raise ProtocolViolation(f"malformed {what} proof", culprit=sender)
    values: list[Any] = []
    for v in data:
        if isinstance(v, list):
            if not all(isinstance(x, int) and not isinstance(x, bool) for x in v):
                raise ProtocolViolation(f"malformed {what} proof", culprit=sender)
            values.append(tuple(v))
        elif isinstance(v, int) and not isinstance(v, bool):
            values.append(v)
        else:
            raise ProtocolViolation(f"malformed {what} proof", culprit=sender)
    try:
        return cls(*values)
    except (TypeError, ValueError) as exc:
        raise ProtocolViolation(f"malformed {what} proof", culprit=sender) from exc


def ciphertexts_from_wire(pk: PublicKey, data: object, n: int, sender: int, what: str) -> list[int]:
    if not isinstance(data, list) or len(data) != n:
        raise ProtocolViolation(f"{what}: expected {n} ciphertexts", culprit=sender)
    try:
        return [
            pk.check_ciphertext(c, what=f"{what}[{i}] from party {sender}")
            for i, c in enumerate(data)
        ]
    except InvalidCiphertext as exc:
        raise ProtocolViolation(str(exc), culprit=sender) from exc


def rejected(exc: ProofRejected) -> CheatingDetected:
    """A proof rejection as the abort type of this package, naming the prover."""
    return CheatingDetected(f"{exc.kind} proof rejected: {exc.check}", culprit=exc.prover)


def share_to_wire(share: DecryptionShare) -> dict[str, Any]:
    return {"v": list(share.values), "p": proof_to_wire(share.proof)}


def share_from_wire(pk: PublicKey, data: object, n: int, sender: int) -> DecryptionShare:
    if not isinstance(data, dict):
        raise ProtocolViolation("malformed decryption share", culprit=sender)
    values = ciphertexts_from_wire(pk, data.get("v"), n, sender, "decryption share")
    return DecryptionShare(
        sender, tuple(values), proof_from_wire(DecryptionProof, data.get("p"), sender, "decryption")
    )
