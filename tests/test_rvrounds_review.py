"""Review of Helen's input range proofs in m - 1 rounds (f21722d, 9c63cf4; tests/docs of 5d0c526).

Each test plays a malicious party against the round structure and states what an honest party
should end with. INSECURE 512-bit Paillier and N~ (tests/test_helen_input_chunked.py's helpers).
The three findings below were fixed in e3abed4 (the engine's ``Finding``; the round's size
pattern checked by every party; the own proof held once); the tests now guard the fixes.

1. A verifier that found a well-formed failing proof holds that finding in a local variable
   until the last round; any abort that reaches it before (the cheater's own, naming an honest
   party or nobody; or an honest party's, for a malformed proof in a later round) ends it on
   hearsay: the cheater escapes being named by the one party that checked its proof. Before
   the rounds (c370876) the proofs were checked after the single exchange, in one step, and
   ``Party._fail`` let that step's finding replace a peer's hearsay.
2. A size declaration that already proves a deviation (a non-empty payload to a party whose
   round it is not, an empty one to the round's recipient) goes through the consistent
   broadcast, but only the one receiver of the bytes names the sender; the others, holding the
   signed declaration, end on its hearsay.
3. The memory claim (one own proof and one received at a time): ``input_program`` keeps its own
   proof's wire form in ``outgoing_range`` through the whole exchange, after
   ``exchange_large_pairwise`` has encoded (and dropped) the payload it was given.
"""

from __future__ import annotations

from typing import Any

import pytest
from test_helen_input_chunked import _honest, _input_run

from coopetition.engine.codec import encode_payload
from coopetition.engine.errors import (
    CheatingDetected,
    DeadlineExceeded,
    ProtocolAborted,
    ProtocolViolation,
)
from coopetition.engine.program import Exchange, Pairwise
from coopetition.protocols.helen import input_phase, input_proof
from coopetition.protocols.zk import range_params as rpm

CHUNK = 16 * 1024
NULL = encode_payload(None)  # what an honest party sends to the peers whose round it is not


@pytest.fixture(scope="module")
def rings() -> dict[int, rpm.RingPedersen]:
    return {j: rpm.generate(512, insecure_allow_small=True)[0] for j in range(4)}


def _program(rings, me: int, parties: int, prove=input_proof.prove):
    return _honest(rings, me, CHUNK, parties, prove)


def _bad_for_0(*args, range_out=None, **kwargs):
    """An honest prover, except that verifier 0 gets the proof made for verifier 1 (well-formed,
    fails 0's check: the context names the verifier)."""
    result = input_proof.prove(*args, range_out=range_out, **kwargs)
    range_out[0] = range_out[1]
    return result


def _wrapped(inner_factory, rewrite):
    """A program that runs ``inner_factory()`` but passes each request through ``rewrite``
    (which may replace it, or raise to stop the party there)."""

    def program():
        inner = inner_factory()
        request = inner.send(None)
        while True:
            request = rewrite(request)
            try:
                request = inner.send((yield request))
            except StopIteration as stop:
                return stop.value

    return program


def _named_by_itself(error: ProtocolAborted | None, culprit: int) -> bool:
    return (
        isinstance(error, CheatingDetected)
        and error.culprit == culprit
        and error.reported_by is None
        and error.phase == input_phase.PHASE
    )


# -- 1. the deferred verdict is lost to any earlier abort -----------------------------------


ABORTS = {
    # the cheater's own abort, accusing honest party 1 (0 ends with claimed_culprit=1)
    "cheater accuses party 1": lambda: CheatingDetected(
        "party 1's range proof failed", culprit=1, phase=input_phase.PHASE
    ),
    # ... or naming nobody (0 ends with an Unavailable, no culprit, no claim)
    "cheater claims a deadline": lambda: DeadlineExceeded(
        "phase helen-input did not finish", phase=input_phase.PHASE
    ),
}


@pytest.mark.parametrize("case", sorted(ABORTS))
async def test_a_failing_proof_then_an_abort_is_still_named_by_its_verifier(
    autojump_clock, rings, case
):
    """m = 3, party 2 cheats: in round 1 it sends party 0 a well-formed proof that fails 0's
    check (held in ``rejected`` until the last round), then, instead of round 2, aborts with a
    report of its choosing. Party 0 checked the failing proof itself and should name 2; it ends
    on 2's hearsay instead (claimed_culprit 1, or no culprit at all)."""

    def rewrite(request):
        if isinstance(request, Exchange) and request.tag == "input-range/2/size":
            raise ABORTS[case]()
        return request

    programs: dict[int, Any] = {p: _program(rings, p, 3) for p in (0, 1)}
    programs[2] = _wrapped(_program(rings, 2, 3, prove=_bad_for_0), rewrite)
    run = await _input_run(rings, programs, max_frame=1 << 20)
    assert not run.completed
    error = run.errors.get(0)
    assert _named_by_itself(error, 2), (
        f"party 0 rejected party 2's range proof in round 1 but ended with {error!r} "
        f"(culprit={getattr(error, 'culprit', None)}, "
        f"claimed_culprit={getattr(error, 'claimed_culprit', None)})"
    )


async def test_a_failing_proof_then_a_malformed_one_is_named_by_its_verifier_itself(
    autojump_clock, rings
):
    """m = 4, party 3 cheats: round 1 a well-formed failing proof to party 0, round 2 bytes that
    are no range proof to party 1. Party 1 names 3 at once; party 0, in round 3, receives
    that abort and ends with ``claimed_culprit=3`` although it rejected 3's proof itself. Its
    proofs failed for both verifiers, yet only one names it (docs/crypto.md says "a prover whose
    proofs fail for every verifier is still named by each of them")."""
    junk = encode_payload({"not": "a proof"})

    def rewrite(request):
        if isinstance(request, Exchange) and request.tag == "input-range/2/size":
            return Exchange(request.tag, [[0, 1], [1, len(junk)], [2, 1]], request.label)
        if isinstance(request, Pairwise) and request.tag.startswith("input-range/2/chunk"):
            first = request.tag.endswith("/chunk0")
            return Pairwise(
                request.tag,
                {0: NULL if first else b"", 1: junk if first else b"", 2: NULL if first else b""},
            )
        return request

    programs: dict[int, Any] = {p: _program(rings, p, 4) for p in (0, 1, 2)}
    programs[3] = _wrapped(_program(rings, 3, 4, prove=_bad_for_0), rewrite)
    run = await _input_run(rings, programs, max_frame=1 << 20)
    assert not run.completed
    assert _named_by_itself(run.errors.get(1), 3), run.errors  # held: 1 names 3 at once
    error = run.errors.get(0)
    assert _named_by_itself(error, 3), (
        f"party 0 rejected party 3's range proof in round 1 but ended with {error!r}"
    )


# -- 2. deviations the signed size broadcast proves are named by one party only -------------


def _round1_sizes(rewrite_sizes, rewrite_chunks):
    def rewrite(request):
        if isinstance(request, Exchange) and request.tag == "input-range/1/size":
            return Exchange(request.tag, rewrite_sizes(dict(request.payload)), request.label)
        if isinstance(request, Pairwise) and request.tag.startswith("input-range/1/chunk"):
            return Pairwise(request.tag, rewrite_chunks(request.tag, dict(request.payloads)))
        return request

    return rewrite


SIZE_CHEATS = {
    # party 2's round-1 recipient is 0; it declares (and sends) its proof to 1 as well
    "a proof out of turn": _round1_sizes(
        lambda s: [[0, s[0]], [1, s[0]]], lambda tag, p: {0: p[0], 1: p[0]}
    ),
    # party 2 declares (and sends) CBOR null to its round-1 recipient 0
    "nothing to the round's recipient": _round1_sizes(
        lambda s: [[0, len(NULL)], [1, len(NULL)]],
        lambda tag, p: dict.fromkeys((0, 1), NULL if tag.endswith("/chunk0") else b""),
    ),
}


@pytest.mark.parametrize("case", sorted(SIZE_CHEATS))
async def test_a_deviation_the_size_broadcast_proves_is_named_by_every_honest_party(
    autojump_clock, rings, case
):
    """Every honest party holds party 2's signed, echo-checked round-1 size declaration, which
    already shows the deviation (an honest party declares exactly len(CBOR null) = 1 byte to
    each peer but its round's recipient, and a range proof, never 1 byte, to that one). Only the
    receiver of the bytes names 2; the other honest party ends on its hearsay."""
    programs: dict[int, Any] = {p: _program(rings, p, 3) for p in (0, 1)}
    programs[2] = _wrapped(_program(rings, 2, 3), SIZE_CHEATS[case])
    run = await _input_run(rings, programs, max_frame=1 << 20)
    assert not run.completed
    for honest in (0, 1):
        error = run.errors.get(honest)
        assert _named_by_itself(error, 2), f"party {honest}: {error!r}"
    assert any(isinstance(e, ProtocolViolation) for e in run.errors.values())


# -- 3. the own proof stays alive through the exchange ---------------------------------------


async def test_the_own_proof_is_not_held_beside_its_bytes_during_the_exchange(
    autojump_clock, rings
):
    """``exchange_large_pairwise`` empties its ``payloads`` as it encodes them so that each
    proof's object form can go once its bytes exist (benchmarks.md, "Memory levers": 73bffff);
    ``input_program`` keeps a second reference (``outgoing_range``) until the exchange returns,
    i.e. while its bytes are sent and the received proof is joined and decoded: its own proof
    twice (~140 MB each at d = 90, 2048 bits) at the round's peak."""
    seen: list[int] = []

    def program():
        inner = _program(rings, 0, 3)()
        request = inner.send(None)
        while True:
            if isinstance(request, Pairwise) and request.tag.endswith("/chunk0"):
                held = inner.gi_frame.f_locals.get("outgoing_range")
                seen.append(0 if held is None else len(encode_payload(held)))
            try:
                request = inner.send((yield request))
            except StopIteration as stop:
                return stop.value

    programs: dict[int, Any] = {0: program}
    programs.update({p: _program(rings, p, 3) for p in (1, 2)})
    run = await _input_run(rings, programs, max_frame=1 << 20)
    assert run.completed, run.errors
    assert len(seen) == 2
    assert seen == [0, 0], f"own proof held as wire objects during each round's chunks: {seen} B"
