"""Helen's input preparation (section V) as one program: commit, prove statements 1-4, verify.

Each party runs ``numerics.prepare_input`` on its data (SVD in float64, then the integers of
V, Sigma, Theta, y*, A, b) and ``check_prepared`` (a party whose own values break the agreed
bounds stops with ``BoundExceeded`` before any cryptography), then ``input_proof.prove`` with
one range proof per verifier under that verifier's ring-Pedersen parameters. The commitments
and the proof travel by consistent broadcast (``zk.codec``, integer sequences packed); every
party checks every other party's proof, and a rejected or malformed one is ``CheatingDetected``
naming the prover.

The broadcast grows as ~20 (m - 1) (4 d^2) integers (one range proof per verifier): about
0.5 GB per party at d = 90, m = 4 and 2048-bit keys, several frames' worth. It therefore goes
through ``engine.chunked.exchange_large`` in chunks of ``chunk_bytes`` (public, the same at
every party), under the byte bound ``input_wire.payload_bound`` computes from d, m, |N| and the
verifiers' |N~|: a party declaring or sending more is named before its bytes are held.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from coopetition.engine.chunked import DEFAULT_CHUNK_BYTES, exchange_large
from coopetition.engine.errors import CheatingDetected
from coopetition.engine.program import Program
from coopetition.protocols.fixedpoint import HelenScales
from coopetition.protocols.helen import input_proof, input_wire, numerics
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
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
) -> Program[InputResult]:
    """Every party's checked commitments, and this party's witnesses.

    ``prove`` is ``input_proof.prove`` (a seam for tests that play a cheating prover);
    ``chunk_bytes`` must be the same at every party and leave room for an envelope in a frame.
    """
    prep = numerics.prepare_input(X, y, scales)
    numerics.check_prepared(prep, scales)
    verifiers = {j: ring[j] for j in parties if j != me}
    com, proof, witness = prove(
        pk, prep, scales, context(session, me), verifiers, encryptor=encryptor
    )
    ring_bits = [ring[j].n.bit_length() for j in parties]
    bound = input_wire.sender_bounds(
        scales, len(parties), pk.n.bit_length(), {j: ring[j].n.bit_length() for j in parties}
    )
    outgoing = {"com": codec.encode(com), "proof": codec.encode(proof)}
    # at d = 90 one party's proof (a range proof per verifier) is hundreds of MiB as objects:
    # only its encoded form is needed from here on
    del proof
    replies = yield from exchange_large(
        outgoing,
        max_bytes=bound,
        chunk_bytes=chunk_bytes,
        label="input",
        phase=PHASE,
        me=me,
        max_values=input_wire.packed_value_bound(scales.features, len(parties)),
    )
    del outgoing
    replies.pop(me, None)  # this party's own payload, decoded back: not needed
    max_bits = codec.max_bits_for(pk.n.bit_length(), max(ring_bits))
    commitments = {me: com}
    for j in parties:
        if j == me:
            continue
        try:
            got = replies[j] if isinstance(replies[j], dict) else {}
            theirs = codec.decode(InputCommitments, got.get("com"), prover=j, max_bits=max_bits)
            their_proof = codec.decode(
                input_proof.InputProof, got.get("proof"), prover=j, max_bits=max_bits
            )
            input_proof.verify(pk, theirs, their_proof, scales, context(session, j), me, ring[me])
            # checked: let the proof and its wire form go before decoding the next prover's
            del their_proof, got
            replies[j] = None
        except ProofRejected as exc:
            raise CheatingDetected(
                f"input preparation of party {j} rejected: {exc}", culprit=j, phase=PHASE
            ) from exc
        commitments[j] = theirs
    return InputResult(commitments=commitments, witness=witness)
