"""Helen's input preparation (section V) as one program: commit, prove statements 1-4, verify.

Each party runs ``numerics.prepare_input`` on its data (SVD in float64, then the integers of
V, Sigma, Theta, y*, A, b) and ``check_prepared`` (a party whose own values break the agreed
bounds stops with ``BoundExceeded`` before any cryptography), then ``input_proof.prove`` with
one range proof per verifier under that verifier's ring-Pedersen parameters. The commitments
and the proof travel by consistent broadcast (``zk.codec``); every party checks every other
party's proof, and a rejected or malformed one is ``CheatingDetected`` naming the prover.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from coopetition.engine.errors import CheatingDetected
from coopetition.engine.program import Exchange, Program
from coopetition.protocols.fixedpoint import HelenScales
from coopetition.protocols.helen import input_proof, numerics
from coopetition.protocols.helen.input_statements import InputCommitments, InputWitness
from coopetition.protocols.paillier.encryptor import Encryptor
from coopetition.protocols.paillier.keys import PublicKey
from coopetition.protocols.zk import codec
from coopetition.protocols.zk import range_params as rpm
from coopetition.protocols.zk.errors import ProofRejected
from coopetition.protocols.zk.transcript import ProofContext

PHASE = "helen-input"

ProveInput = Callable[..., tuple[InputCommitments, input_proof.InputProof, InputWitness]]


@dataclass(frozen=True)
class InputResult:
    commitments: dict[int, InputCommitments]  # every party's checked Enc(V, Sigma, ..., A, b)
    witness: InputWitness  # this party's witnesses of Enc(A_i), Enc(b_i)


def context(session: bytes, prover: int) -> ProofContext:
    return ProofContext(session, "input-prep", 0, prover)


def input_program(
    me: int,
    parties: tuple[int, ...],
    pk: PublicKey,
    X: np.ndarray,
    y: np.ndarray,
    scales: HelenScales,
    ring: dict[int, rpm.RingPedersen],
    session: bytes,
    encryptor: Encryptor | None = None,
    prove: ProveInput = input_proof.prove,
) -> Program[InputResult]:
    """Every party's checked commitments, and this party's witnesses.

    ``prove`` is ``input_proof.prove`` (a seam for tests that play a cheating prover).
    """
    prep = numerics.prepare_input(X, y, scales)
    numerics.check_prepared(prep, scales)
    verifiers = {j: ring[j] for j in parties if j != me}
    com, proof, witness = prove(
        pk, prep, scales, context(session, me), verifiers, encryptor=encryptor
    )
    replies = yield Exchange(payload={"com": codec.encode(com), "proof": codec.encode(proof)})
    commitments = {me: com}
    for j in parties:
        if j == me:
            continue
        try:
            got = replies[j] if isinstance(replies[j], dict) else {}
            theirs = codec.decode(InputCommitments, got.get("com"), prover=j)
            their_proof = codec.decode(input_proof.InputProof, got.get("proof"), prover=j)
            input_proof.verify(pk, theirs, their_proof, scales, context(session, j), me, ring[me])
        except ProofRejected as exc:
            raise CheatingDetected(
                f"input preparation of party {j} rejected: {exc}", culprit=j, phase=PHASE
            ) from exc
        commitments[j] = theirs
    return InputResult(commitments=commitments, witness=witness)
