"""The one error a verifier raises: which proof, whose, and which check failed.

A rejection is evidence that a party cheated (or sent garbage), so the message names the
proof kind, the prover id and the failed check or malformed value. It never carries a secret:
verifiers hold none, and provers raise plain ``ValueError`` for bad witnesses instead.
"""

from __future__ import annotations


class ProofRejected(ValueError):
    """A zero-knowledge proof failed verification or was malformed.

    ``kind`` names the proof (``"plaintext"``, ``"multiplication"``, ``"interval"``,
    ``"equality"``, ``"gadget1"``, ``"gadget2"``), ``prover`` the party that produced it and
    ``check`` the failed equation or the malformed value; ``index`` locates the failing proof
    within a batch or a gadget when there is one.
    """

    def __init__(self, kind: str, prover: int, check: str, *, index: object = None) -> None:
        self.kind = kind
        self.prover = prover
        self.check = check
        self.index = index
        where = "" if index is None else f" at {index}"
        super().__init__(f"{kind} proof from party {prover} rejected{where}: {check}")
