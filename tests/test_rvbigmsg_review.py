"""Adversarial review of bigmsg (packed proofs, chunked exchange): findings as failing tests.

Each test states a claim of the branch and checks it; the ones that fail today are marked
``xfail(strict=True)`` with the fix they need (see notes/rvbigmsg-report.md in the session).
"""

from __future__ import annotations

import inspect

import pytest

from coopetition.engine.chunked import exchange_large
from coopetition.engine.codec import SignedIntVector
from coopetition.engine.errors import LocalFailure
from coopetition.engine.program import Exchange
from coopetition.protocols.fixedpoint import HelenScales
from coopetition.protocols.helen import input_wire
from coopetition.protocols.zk import range_params


def _scales(d: int, parties: int) -> HelenScales:
    return HelenScales(
        features=d, rows=max(40, 2 * d), parties=parties, rho=4.0, x_bound=5.0, y_bound=20.0
    )


def test_hostile_ring_size_does_not_inflate_what_others_must_accept():
    """docs/threat-model.md: what one sender can make a receiver hold is 1.02-1.05 x an
    honest payload. Party 3 is hostile: setup refuses only N~ BELOW the agreed ring_bits
    (setup_phase: ``theirs.bits < ring_bits``) and ``RingPedersen.check`` admits up to
    MAX_BITS, so party 3 announces a MAX_BITS N~. Its own proofs go to verifiers 0-2, whose
    N~ are the agreed 2048 bits; before the fix every party let it send the bound computed
    with its own 4096-bit ring (1.86 x). Now the broadcast's bound does not depend on any N~
    and each range proof's bound is its recipient's own: party 3's ring widens only what
    party 3 itself accepts."""
    agreed, key_bits, d, m = 2048, 2048, 90, 4
    assert 2 * agreed <= range_params.MAX_BITS  # the oversize ring passes RingPedersen.check
    scales = _scales(d, m)
    fair = input_wire.range_bounds(scales, key_bits, dict.fromkeys(range(m), agreed))
    hostile = input_wire.range_bounds(
        scales, key_bits, dict.fromkeys(range(m - 1), agreed) | {m - 1: range_params.MAX_BITS}
    )
    assert all(hostile[j] == fair[j] for j in range(m - 1))  # what parties 0-2 accept
    assert hostile[m - 1] > 1.5 * fair[m - 1]  # only what party 3 itself accepts grows
    # and the broadcast's bound takes no N~ at all
    assert "ring" not in " ".join(inspect.signature(input_wire.broadcast_bound).parameters)


def test_own_payload_over_the_value_bound_is_a_local_failure():
    """Like its byte bound, a party checks its own payload against the agreed packed-integer
    bound: over it, the receivers would refuse the payload and name this (honest, but
    misconfigured) party; it must stop with ``LocalFailure`` naming nobody instead."""
    payload = {"v": SignedIntVector.of(range(10))}
    program = exchange_large(payload, max_bytes=10_000, chunk_bytes=1000, me=0, max_values=5)
    with pytest.raises(LocalFailure):
        step = program.send(None)
        while True:
            assert isinstance(step, Exchange)
            # party 1 is honest: a one-byte payload (CBOR 0) in one chunk
            reply = 1 if isinstance(step.payload, int) else b"\x00"
            try:
                step = program.send({0: step.payload, 1: reply})
            except StopIteration:
                pytest.fail("own payload over max_values accepted locally; party 1 names party 0")


def _row_fields(value: object, path: tuple = ()):
    """Paths of every packed ``[row lengths, values]`` pair in a decoded payload."""
    if isinstance(value, list):
        if (
            len(value) == 2
            and all(isinstance(v, SignedIntVector) for v in value)
            and len(value[0]) >= 2
            and sum(value[0].values) == len(value[1])
            and value[0].values[0] >= 1
        ):
            yield path
        for i, v in enumerate(value):
            yield from _row_fields(v, (*path, i))
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _row_fields(v, (*path, k))


def _shift_one_value(payload: object, path: tuple) -> object:
    """A deep copy of ``payload`` whose rows at ``path`` move one value from row 0 to row 1
    (row lengths still add up: only the verifier's shape checks can catch it)."""
    import copy

    out = copy.deepcopy(payload)
    node = out
    for key in path:
        node = node[key]
    lengths = list(node[0].values)
    lengths[0] -= 1
    lengths[1] += 1
    node[0] = SignedIntVector.of(lengths)
    return out


def test_reshaped_rows_are_rejected_naming_the_prover():
    """The packed rows carry their own lengths: a prover can reshape any row-wise field while
    the lengths still add up (the codec accepts it). Every such reshaping of an honest input
    broadcast must end in ``ProofRejected`` naming the prover at some verifier (the range
    proofs are checked by their own verifier only), never an untyped error."""
    import numpy as np

    from coopetition.engine.codec import decode_payload, encode_payload
    from coopetition.protocols.helen import input_phase, input_proof, numerics
    from coopetition.protocols.helen.input_statements import InputCommitments, InputProof
    from coopetition.protocols.paillier.keys import insecure_test_keypair
    from coopetition.protocols.zk import codec
    from coopetition.protocols.zk.errors import ProofRejected

    pk, _ = insecure_test_keypair(512)
    rings = {j: range_params.generate(512, insecure_allow_small=True)[0] for j in range(3)}
    d, session = 2, b"rvbigmsg"
    scales = _scales(d, 3)
    rng = np.random.default_rng(7)
    X = rng.uniform(-2, 2, size=(40, d))
    y = X @ np.linspace(1.0, -1.0, d) + 0.1 * rng.normal(size=40)
    prep = numerics.prepare_input(X, y, scales)
    ctx = input_phase.context(session, 0)
    com, proof, _ = input_proof.prove(pk, prep, scales, ctx, {1: rings[1], 2: rings[2]})
    wire = decode_payload(encode_payload({"com": codec.encode(com), "proof": codec.encode(proof)}))
    paths = list(_row_fields(wire))
    assert len(paths) >= 4, paths  # range proofs' row-wise fields and the Gadget 1 products
    for path in paths:
        bad = _shift_one_value(wire, path)
        rejected = []
        for verifier in (1, 2):
            try:
                theirs = codec.decode(InputCommitments, bad["com"], prover=0)
                their_proof = codec.decode(InputProof, bad["proof"], prover=0)
                input_proof.verify(pk, theirs, their_proof, scales, ctx, verifier, rings[verifier])
            except ProofRejected as exc:
                assert exc.prover == 0, (path, exc)
                rejected.append(verifier)
        assert rejected, f"reshaped rows at {path} accepted by every verifier"
