"""Helen's input range proofs in m - 1 rounds (docs/crypto.md, "Range proofs go to their
verifier", last bullet): each party makes one proof per round, lazily, sends it to the party g
places after it and checks the one from the party g places before it.

INSECURE small keys (512-bit Paillier and N~) so that the proofs are quick.
"""

from __future__ import annotations

import dataclasses

import pytest
from test_helen_input_chunked import PK, SESSION, _data, _honest, _input_run, _scales

from coopetition.engine.errors import CheatingDetected, ProtocolViolation
from coopetition.engine.program import Exchange, Pairwise
from coopetition.protocols.helen import input_phase, input_proof, numerics
from coopetition.protocols.zk import codec
from coopetition.protocols.zk import range_params as rpm
from coopetition.protocols.zk import range_proof as rproof

CHUNK = 16 * 1024


@pytest.fixture(scope="module")
def rings() -> dict[int, rpm.RingPedersen]:
    return {j: rpm.generate(512, insecure_allow_small=True)[0] for j in range(4)}


def _program(rings, me: int, prove=input_proof.prove, parties: int = 3):
    return _honest(rings, me, CHUNK, parties, prove)


def test_lazy_prove_makes_each_range_proof_only_when_asked(rings, monkeypatch):
    """With ``lazy``, ``prove`` returns one maker per verifier and makes no range proof; each
    maker, called, gives that verifier's proof in wire form, which that verifier accepts."""
    made = []
    real = rproof.prove
    monkeypatch.setattr(rproof, "prove", lambda *a, **k: made.append(a[4]) or real(*a, **k))
    scales = _scales(3, 3)
    prep = numerics.prepare_input(*_data(0, 3), scales)
    ctx = input_phase.context(SESSION, 0)
    out: dict = {}
    com, proof, _ = input_proof.prove(
        PK, prep, scales, ctx, {1: rings[1], 2: rings[2]}, range_out=out, lazy=True
    )
    assert made == [] and sorted(out) == [1, 2] and all(callable(f) for f in out.values())
    assert proof.range_proofs == () and proof.range_verifiers == ()
    input_proof.verify_public(PK, com, proof, scales, ctx)
    for verifier in (2, 1):
        mine = codec.decode(rproof.RangeProof, out.pop(verifier)(), prover=0)
        full = dataclasses.replace(proof, range_verifiers=(verifier,), range_proofs=(mine,))
        input_proof.verify_range(PK, com, full, scales, ctx, verifier, rings[verifier])
    assert len(made) == 2  # one proof per verifier, each made when its maker was called


async def test_honest_rounds_agree_and_every_prover_is_checked(autojump_clock, rings):
    """Four parties: three rounds; every party ends with every party's commitments, alike."""
    run = await _input_run(
        rings, {p: _program(rings, p, parties=4) for p in range(4)}, max_frame=1 << 20
    )
    assert run.completed, run.errors
    views = [run.results[p].commitments for p in range(4)]
    assert all(sorted(v) == [0, 1, 2, 3] for v in views)
    assert views[0] == views[1] == views[2] == views[3]


def _out_of_turn(rings):
    """Party 2 (round 1: its proof is for party 0) also sends that proof to party 1."""

    def program():
        honest = _program(rings, 2)()
        request = honest.send(None)
        while True:
            if isinstance(request, Exchange) and request.tag == "input-range/1/size":
                sizes = dict(request.payload)
                request = Exchange(request.tag, [[0, sizes[0]], [1, sizes[0]]], request.label)
            elif isinstance(request, Pairwise) and request.tag.startswith("input-range/1/"):
                request = Pairwise(request.tag, {0: request.payloads[0], 1: request.payloads[0]})
            try:
                request = honest.send((yield request))
            except StopIteration as stop:
                return stop.value

    return program


async def test_a_range_proof_out_of_turn_is_named(autojump_clock, rings):
    programs = {p: _program(rings, p) for p in (0, 1)}
    programs[2] = _out_of_turn(rings)
    run = await _input_run(rings, programs, max_frame=1 << 20)
    # the declared sizes already show it (a consistent broadcast): both honest parties name 2
    for honest in (0, 1):
        error = run.errors.get(honest)
        assert isinstance(error, ProtocolViolation) and error.culprit == 2, run.errors
        assert "which is party 0's" in str(error)
    assert not run.completed


def _one_bad(*args, range_out=None, **kwargs):
    """An honest prover, except that verifier 0 gets the proof made for verifier 1."""
    result = input_proof.prove(*args, range_out=range_out, **kwargs)
    range_out[0] = range_out[1]
    return result


async def test_a_range_proof_failing_for_one_verifier_is_named_by_it(autojump_clock, rings):
    """Party 2's proof to party 0 (round 1) fails; party 0 names it once its rounds are done,
    as a CheatingDetected (not a deadline); party 1's own proof from 2 was fine."""
    programs = {p: _program(rings, p) for p in (0, 1)}
    programs[2] = _program(rings, 2, prove=_one_bad)
    run = await _input_run(rings, programs, max_frame=1 << 20)
    error = run.errors.get(0)
    assert isinstance(error, CheatingDetected) and error.culprit == 2, run.errors
    assert error.phase == input_phase.PHASE and "range" in str(error)
    assert not run.completed
