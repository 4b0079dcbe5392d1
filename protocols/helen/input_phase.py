"""Helen's input preparation (section V) as one program: commit, prove statements 1-4, verify.

Each party runs ``numerics.prepare_input`` on its data (SVD in float64, then the integers of
V, Sigma, Theta, y*, A, b) and ``check_prepared`` (a party whose own values break the agreed
bounds stops with ``BoundExceeded`` before any cryptography), then ``input_proof.prove`` with
one range proof per verifier under that verifier's ring-Pedersen parameters. The commitments
and the rest of the proof travel by consistent broadcast (``zk.codec``, integer sequences
packed); each range proof goes point-to-point to its one verifier, the only party that can
check it (docs/crypto.md, "Range proofs go to their verifier"). Every party checks every other
party's proof, and a rejected or malformed one is ``CheatingDetected`` naming the prover.

The range proofs are the bulk: ~20 (4 d^2) integers each, about 140 MB per proof at d = 90
and 2048-bit keys. Broadcast, every party received all (m - 1)^2 of the others' proofs (about
1.3 GB at m = 4) and the bus kept them until the phase ended, which is what ran the song
workload out of memory; point-to-point, a party receives m - 1 and lets each go once consumed
(``Bus.spend``). They go in m - 1 rounds: in round g each party makes the proof for the party g
places after it (``input_proof.prove(lazy=True)``), sends it, receives the one from the party g
places before it and checks that prover before the next round, so a party holds one proof of
its own and one received at a time, not m - 1 of each. Both exchanges go in chunks of
``chunk_bytes`` (public, the same at every
party; ``engine.chunked``), under the bounds ``input_wire`` computes from d, m, |N| and the
recipient's |N~|: a party declaring or sending more is named before its bytes are held.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from coopetition.engine.chunked import DEFAULT_CHUNK_BYTES, exchange_large, exchange_large_pairwise
from coopetition.engine.codec import encode_payload
from coopetition.engine.errors import CheatingDetected, ProtocolViolation
from coopetition.engine.program import Finding, Program
from coopetition.protocols.fixedpoint import HelenScales
from coopetition.protocols.helen import input_proof, input_wire, numerics
from coopetition.protocols.helen.input_statements import KIND, InputCommitments, InputWitness
from coopetition.protocols.paillier.encryptor import Encryptor
from coopetition.protocols.paillier.keys import PublicKey
from coopetition.protocols.zk import codec
from coopetition.protocols.zk import range_params as rpm
from coopetition.protocols.zk.errors import ProofRejected
from coopetition.protocols.zk.range_proof import RangeProof
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
    *,
    common: bool = False,
) -> Program[InputResult]:
    """Every party's checked commitments, and this party's witnesses.

    ``common``: ``ring`` maps every party to the trusted dealer's one modulus (``setup_phase``);
    the range proof is then made once and the same proof goes to every verifier.

    ``prove`` is ``input_proof.prove`` (a seam for tests that play a cheating prover);
    ``chunk_bytes`` must be the same at every party and leave room for an envelope in a frame.
    """
    prep = numerics.prepare_input(X, y, scales)
    numerics.check_prepared(prep, scales)
    verifiers = {j: ring[j] for j in parties if j != me}
    # each range proof goes to its one verifier, in wire form as soon as it is made (at d = 90
    # a party's three are ~700 MB as objects); every other part is broadcast
    to_verifier: dict[int, Any] = {}
    com, proof, witness = prove(
        pk,
        prep,
        scales,
        context(session, me),
        verifiers,
        encryptor=encryptor,
        range_out=to_verifier,
        lazy=True,
        common=common,
    )
    ring_bits = {j: ring[j].n.bit_length() for j in parties}
    # a prover seam that ignores ``range_out`` (a test's cheater) returns them in the proof
    made = dict(zip(proof.range_verifiers, proof.range_proofs, strict=True))
    public = dataclasses.replace(proof, range_verifiers=(), range_proofs=())
    del proof
    to_verifier.update({j: codec.encode(made.pop(j)) for j in sorted(made)})
    for j in verifiers:
        to_verifier.setdefault(j, None)  # a cheater's missing proof: its verifier names it
    outgoing = {"com": codec.encode(com), "proof": codec.encode(public)}
    del public, made
    key_bits = pk.n.bit_length()
    replies = yield from exchange_large(
        outgoing,
        max_bytes=input_wire.broadcast_bound(scales, len(parties), key_bits),
        chunk_bytes=chunk_bytes,
        label="input",
        phase=PHASE,
        me=me,
        max_values=input_wire.broadcast_value_bound(scales.features),
    )
    del outgoing
    replies.pop(me, None)  # this party's own payload, decoded back: not needed
    max_bits = codec.max_bits_for(key_bits, max(ring_bits.values()))
    # statements 1-4 of every prover first, in the same order at every party: a cheater caught
    # on its broadcast is rejected by every honest party at the same step
    checked: dict[int, tuple[InputCommitments, input_proof.InputProof]] = {}
    for j in sorted(verifiers):
        checked[j] = _checked_public(pk, j, replies.pop(j, None), scales, session, max_bits)
    del replies
    commitments = {me: com}
    # Range proofs in m - 1 rounds: in round g this party makes and sends the proof for the
    # party g places after it, receives the one from the party g places before it and checks
    # it, so it holds one proof of its own and one received at a time. A proof that decodes
    # but fails is stated only once every round is done: every verifier of a prover checks it
    # in a different round, so naming the cheater at once would reach the others before their
    # own proof from it had been checked (they could then only record an accusation). Until
    # then the engine holds it as this party's ``Finding``, so an earlier abort by anyone ends
    # this party on its own evidence, not on the report. A size declaration that breaks the
    # round's pattern is named by every party at once (the declarations are broadcast); bytes
    # that do not decode as a range proof are named by their receiver at once.
    rejected: dict[int, CheatingDetected] = {}
    order = sorted(parties)
    at = order.index(me)
    for g in range(1, len(order)):
        recipient, prover = order[(at + g) % len(order)], order[(at - g) % len(order)]
        made = to_verifier.pop(recipient, None)
        # the payloads' only reference to the proof: the exchange lets it go once encoded
        received = yield from exchange_large_pairwise(
            {
                j: (made() if callable(made) else made) if j == recipient else None
                for j in verifiers
            },
            me=me,
            tag=f"input-range/{g}",
            max_bytes=input_wire.range_bounds(scales, key_bits, ring_bits),
            max_values=dict.fromkeys(parties, input_wire.range_value_bound(scales.features)),
            chunk_bytes=chunk_bytes,
            label="input range proof",
            phase=PHASE,
            check_sizes=functools.partial(_round_pattern, order, g),
        )
        del made
        for j in sorted(received):
            if j != prover and received[j] is not None:
                raise ProtocolViolation(
                    f"party {j} sent an input range proof out of turn (round {g} is party "
                    f"{prover}'s)",
                    culprit=j,
                    phase=PHASE,
                )
        theirs, their_public = checked.pop(prover)
        mine = _decoded_range(prover, received.pop(prover, None), max_bits)
        del received
        their_proof = dataclasses.replace(their_public, range_verifiers=(me,), range_proofs=(mine,))
        del their_public, mine
        try:
            input_proof.verify_range(
                pk,
                theirs,
                their_proof,
                scales,
                context(session, prover),
                me,
                ring[me],
                common=common,
            )
            commitments[prover] = theirs
        except ProofRejected as exc:
            rejected.setdefault(prover, _cheating(prover, exc))
            yield Finding(rejected[prover])
        del their_proof
    if rejected:
        raise rejected[min(rejected)]
    return InputResult(commitments=dict(sorted(commitments.items())), witness=witness)


def _checked_public(
    pk: PublicKey, j: int, reply: Any, scales: HelenScales, session: bytes, max_bits: int
) -> tuple[InputCommitments, input_proof.InputProof]:
    """Prover j's broadcast part decoded, with statements 1-4 checked (``verify_public``);
    otherwise ``CheatingDetected`` naming j."""
    try:
        got = reply if isinstance(reply, dict) else {}
        theirs = codec.decode(InputCommitments, got.get("com"), prover=j, max_bits=max_bits)
        their_public = codec.decode(
            input_proof.InputProof, got.get("proof"), prover=j, max_bits=max_bits
        )
        if their_public.range_verifiers != () or their_public.range_proofs != ():
            raise ProofRejected(KIND, j, "range proofs travel point-to-point, not broadcast")
        input_proof.verify_public(pk, theirs, their_public, scales, context(session, j))
    except ProofRejected as exc:
        raise _cheating(j, exc) from exc
    return theirs, their_public


def _round_pattern(order: list[int], g: int, sizes: dict[int, dict[int, int]]) -> None:
    """Round g's declared sizes: each sender s declares a proof (more than an empty payload)
    to the party g places after it and an empty payload to everyone else; the declarations
    are a consistent broadcast, so every party names a sender that breaks this alike."""
    empty = len(encode_payload(None))
    for s in sorted(sizes):
        due = order[(order.index(s) + g) % len(order)]
        for j, size in sorted(sizes[s].items()):
            if (size > empty) != (j == due):
                raise ProtocolViolation(
                    f"party {s} declared a {size}-byte input range proof for party {j} in "
                    f"round {g}, which is party {due}'s",
                    culprit=s,
                    phase=PHASE,
                )


def _cheating(j: int, exc: ProofRejected) -> CheatingDetected:
    return CheatingDetected(
        f"input preparation of party {j} rejected: {exc}", culprit=j, phase=PHASE
    )


def _decoded_range(j: int, wire: Any, max_bits: int) -> RangeProof:
    """The range proof prover j sent this party, decoded; one that does not decode (or none) is
    ``CheatingDetected`` naming j at once."""
    try:
        proof: RangeProof = codec.decode(RangeProof, wire, prover=j, max_bits=max_bits)
    except ProofRejected as exc:
        raise _cheating(j, exc) from exc
    return proof
