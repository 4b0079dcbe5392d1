"""Adversarial review of 0770f3d (Helen's range proofs point-to-point): claims checked as tests.

``exchange_large_pairwise`` is driven directly as a generator where the engine adds nothing;
the input program runs over the memory transport with one hostile party (INSECURE 512-bit
keys, d = 3) where the engine's own checks (kinds, deadlines) are part of the claim.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from test_helen_input_chunked import PK, SESSION, _data, _honest, _input_run, _scales

from coopetition.engine.chunked import (
    chunk_count,
    exchange_large,
    exchange_large_pairwise,
)
from coopetition.engine.codec import encode_payload
from coopetition.engine.errors import (
    CheatingDetected,
    DeadlineExceeded,
    LocalFailure,
    ProtocolViolation,
)
from coopetition.engine.local import local_configs, run_parties
from coopetition.engine.program import Exchange, Pairwise, ProgramRun, program_machine
from coopetition.protocols.helen import input_phase, input_proof, input_wire, numerics
from coopetition.protocols.zk import codec
from coopetition.protocols.zk import range_params as rpm
from coopetition.transports.memory import MemoryNetwork

BOUNDS = {0: 100, 1: 100, 2: 100}


def _sizes_step(declared: dict[int, Any]) -> None:
    """Party 0 runs the pairwise exchange and receives ``declared`` as the size broadcast."""
    program = exchange_large_pairwise(
        {1: b"a", 2: b"b"}, me=0, tag="t", max_bytes=BOUNDS, chunk_bytes=10, phase="p"
    )
    request = program.send(None)
    assert isinstance(request, Exchange) and request.tag == "t/size"
    program.send({0: request.payload, **declared})


HONEST_ROW_2 = [[0, 2], [1, 2]]


def test_declared_recipient_ids_are_exact_integers():
    """A declared row names each peer once by its integer id; ``[False, 5]`` is not party 0
    (``False == 0`` in Python, so the list comparison alone accepted it)."""
    with pytest.raises(ProtocolViolation) as caught:
        _sizes_step({1: [[False, 5], [2, 5]], 2: HONEST_ROW_2})
    assert caught.value.culprit == 1


@pytest.mark.parametrize(
    "row",
    [
        pytest.param(5, id="not a list"),
        pytest.param([[0, 5]], id="a peer missing"),
        pytest.param([[0, 5], [2, 5], [1, 5]], id="itself named"),
        pytest.param([[0, 5], [0, 5]], id="a peer twice"),
        pytest.param([[2, 5], [0, 5]], id="out of order"),
        pytest.param([[0, -1], [2, 5]], id="negative"),
        pytest.param([[0, True], [2, 5]], id="bool size"),
        pytest.param([[0, 101], [2, 5]], id="over the recipient's bound"),
        pytest.param([[0, 5, 6], [2, 5]], id="a triple"),
        pytest.param([[0, "5"], [2, 5]], id="text size"),
        pytest.param({"0": 5, "2": 5}, id="a map"),
    ],
)
def test_malformed_size_declarations_name_their_sender(row):
    """Held: every malformed declaration by party 1 names party 1 (not the honest 2)."""
    with pytest.raises(ProtocolViolation) as caught:
        _sizes_step({1: row, 2: HONEST_ROW_2})
    assert caught.value.culprit == 1


def test_a_bloated_size_declaration_costs_no_more_than_its_frame():
    """A size declaration is a few bytes; a hostile one may fill a frame (64 MiB by default).
    Refusing it must not build a message ~4 times the frame's size (``repr`` of bytes) and
    send it on in the signed abort (whose frame it could not fit): the error's text stays
    short, in ``exchange_large`` as in ``exchange_large_pairwise``."""
    bloat = b"\x00" * (1 << 20)
    with pytest.raises(ProtocolViolation) as caught:
        _sizes_step({1: [[0, bloat], [2, 5]], 2: HONEST_ROW_2})
    assert caught.value.culprit == 1 and len(caught.value.reason) < 2000, len(caught.value.reason)

    program = exchange_large(b"x", max_bytes=100, chunk_bytes=10, me=0, phase="p")
    request = program.send(None)
    with pytest.raises(ProtocolViolation) as caught:
        program.send({0: request.payload, 1: bloat})
    assert caught.value.culprit == 1 and len(caught.value.reason) < 2000, len(caught.value.reason)


# -- the input program with one hostile party ----------------------------------------------


def _swapped_prove(*args, range_out=None, **kwargs):
    """Honest proofs, except the range proof made for verifier 1 goes to 0 and vice versa
    (returned in the proof, ignoring ``range_out``: the input phase's path for such seams)."""
    com, proof, witness = input_proof.prove(*args, **kwargs)
    a, b = proof.range_proofs
    return com, dataclasses.replace(proof, range_proofs=(b, a)), witness


def _replaying(rings):
    ids = (0, 1, 2)
    return lambda: input_phase.input_program(
        2,
        ids,
        PK,
        *_data(2, 3),
        _scales(3, 3),
        {j: rings[j] for j in ids},
        SESSION,
        prove=_swapped_prove,
        chunk_bytes=16 * 1024,
    )


def _range_field_in_broadcast(rings):
    """Party 2 puts a (small) range field in its broadcast, then sends its range proofs
    honestly: the program must refuse the broadcast, naming 2."""

    def program():
        scales, ids = _scales(3, 3), (0, 1, 2)
        prep = numerics.prepare_input(*_data(2, 3), scales)
        com, proof, _ = input_proof.prove(
            PK, prep, scales, input_phase.context(SESSION, 2), {0: rings[0], 1: rings[1]}
        )
        ranges = dict(zip(proof.range_verifiers, proof.range_proofs, strict=True))
        public = dataclasses.replace(proof, range_verifiers=(0,), range_proofs=())
        key_bits = PK.n.bit_length()
        yield from exchange_large(
            {"com": codec.encode(com), "proof": codec.encode(public)},
            max_bytes=input_wire.broadcast_bound(scales, 3, key_bits),
            chunk_bytes=16 * 1024,
            label="input",
            phase=input_phase.PHASE,
            me=2,
            max_values=input_wire.broadcast_value_bound(3),
        )
        for g, recipient in ((1, 0), (2, 1)):  # round g: to the party g places after 2
            yield from exchange_large_pairwise(
                {j: codec.encode(ranges[j]) if j == recipient else None for j in (0, 1)},
                me=2,
                tag=f"input-range/{g}",
                max_bytes=input_wire.range_bounds(
                    scales, key_bits, {j: rings[j].n.bit_length() for j in ids}
                ),
                max_values=dict.fromkeys(ids, input_wire.range_value_bound(3)),
                chunk_bytes=16 * 1024,
                label="input range proof",
                phase=input_phase.PHASE,
            )
        return None

    return program


def _after_broadcast(rings, sizes, send):
    """Party 2 runs the honest broadcast, declares ``sizes``, then yields ``send(k)`` in every
    agreed chunk round k (a request, or None to stop sending)."""
    return lambda: _after_broadcast_program(rings, sizes, send)


def _after_broadcast_program(rings, sizes, send):
    honest = _honest(rings, 2, 16 * 1024)()
    request = honest.send(None)
    while not (isinstance(request, Exchange) and request.tag == "input-range/1/size"):
        request = honest.send((yield request))
    declared = yield Exchange(tag="input-range/1/size", payload=sizes, label="input range proof")
    longest = max(size for row in declared.values() for _, size in row)
    for k in range(chunk_count(longest, 16 * 1024)):
        step = send(k)
        if step is None:
            return
        yield step


def _one_round(request):
    """``request`` in round 0, empty chunks after (``None``: nothing at all)."""
    if request is None:
        return lambda k: None
    return lambda k: request if k == 0 else Pairwise(f"input-range/1/chunk{k}", {0: b"", 1: b""})


@pytest.fixture(scope="module")
def rings() -> dict[int, rpm.RingPedersen]:
    return {j: rpm.generate(512, insecure_allow_small=True)[0] for j in range(4)}


CHEATS = {
    # the existing test's three cases, now with the error's type checked: a deadline naming
    # party 2 would have passed it too
    "over the verifier's bound": lambda rings: _after_broadcast(
        rings,
        [[0, input_wire.range_bound(_scales(3, 3), 512, rings[0].n.bit_length()) + 1], [1, 10]],
        _one_round(Pairwise("input-range/1/chunk0", {0: b"x" * 10, 1: b"x" * 10})),
    ),
    "short chunk": lambda rings: _after_broadcast(
        rings,
        [[0, 10], [1, 10]],
        _one_round(Pairwise("input-range/1/chunk0", {0: b"x" * 9, 1: b"x" * 9})),
    ),
    "not a proof": lambda rings: _after_broadcast(
        rings,
        [[0, 13], [1, 13]],
        _one_round(Pairwise("input-range/1/chunk0", dict.fromkeys((0, 1), _junk()))),
    ),
    # a chunk signed as a broadcast (it would be kept as evidence, escaping Bus.spend)
    "chunk signed as a broadcast": lambda rings: _after_broadcast(
        rings,
        [[0, 13], [1, 13]],
        _one_round(Exchange(tag="input-range/1/chunk0", payload=_junk(), label="x")),
    ),
    # a size of more than 4300 decimal digits: repr() of it raised ValueError while the error
    # naming party 2 was being built, so the step ended naming nobody
    "range size of 20000 bits": lambda rings: _after_broadcast(
        rings, [[0, 1 << 20000], [1, 10]], _one_round(None)
    ),
    "broadcast size of 20000 bits": lambda rings: lambda: _huge_broadcast_size(),
    # the proof made for verifier 1 sent to 0 (and 0's to 1): bound to the verifier's id
    "proof for another verifier": _replaying,
    "range field in the broadcast": _range_field_in_broadcast,
}


def _huge_broadcast_size():
    yield Exchange(payload=1 << 20000, label="input-size")


def _junk() -> bytes:
    data = encode_payload({"not": "a proof"})
    assert len(data) == 13
    return data


@pytest.mark.parametrize("case", sorted(CHEATS))
async def test_hostile_range_exchanges_are_named_as_cheating_not_by_deadline(
    autojump_clock, rings, case
):
    """Every honest party ends naming party 2 for what it checked (``CheatingDetected``,
    ``ProtocolViolation`` among them), not by a deadline."""
    programs: dict[int, Any] = {p: _honest(rings, p, 16 * 1024) for p in (0, 1)}
    programs[2] = CHEATS[case](rings)
    run = await _input_run(rings, programs, max_frame=64 * 1024)
    assert not run.results
    for honest in (0, 1):
        error = run.errors.get(honest)
        assert isinstance(error, CheatingDetected), run.errors
        assert not isinstance(error, DeadlineExceeded)
        assert error.culprit == 2 and error.reported_by is None, run.errors
        assert error.phase == input_phase.PHASE


# -- the engine's Pairwise request (MASCOT's path too) -------------------------------------


@pytest.mark.parametrize(
    "payloads",
    [
        pytest.param({1: b"x"}, id="a peer missing"),
        pytest.param({1: b"x", 2: b"x", 3: b"x"}, id="a stranger"),
        pytest.param({0: b"x", 1: b"x", 2: b"x"}, id="itself"),
    ],
)
async def test_a_pairwise_request_to_the_wrong_parties_is_a_local_failure(autojump_clock, payloads):
    """Held: the engine refuses a program's Pairwise request that does not address exactly
    its peers, as this party's own failure (``LocalFailure``, naming nobody), in the first
    request as in a later one (where MascotMachine used to turn a KeyError into a
    ``ProtocolViolation`` naming nobody)."""
    ids = (0, 1, 2)

    def program(me: int, first: bool):
        if not first:
            yield Pairwise("warm-up", {j: b"" for j in ids if j != me})
        yield Pairwise("t", payloads if me == 0 else {j: b"y" for j in ids if j != me})
        return me

    for first in (True, False):
        network = MemoryNetwork(list(ids))
        machine = program_machine("pw")
        runs = [
            ProgramRun(p, ids, lambda p=p, first=first: program(p, first), machine=machine)
            for p in ids
        ]
        run = await run_parties(local_configs(list(ids)), network.transports(), runs)
        error = run.errors.get(0)
        assert isinstance(error, LocalFailure), run.errors
        assert error.culprit is None and "exactly the peers" in str(error)


def test_schema_problems_describe_huge_integers_without_failing():
    """The reviewer's latent finding: ``Int(minimum)`` and ``Record``'s unexpected keys quoted
    a peer's integer in full, which raises for more than 4300 digits (naming nobody)."""
    from coopetition.engine.schema import Int, Record

    huge = -(1 << 20_000)
    assert "20001 bits" in Int(minimum=0).problem(huge)
    problem = Record({"a": Int()}).problem({"a": 1, huge: 2, "zz": 3})
    assert "unexpected" in problem and "20001 bits" in problem and "'zz'" in problem
    assert len(Record({}).problem({str(k): k for k in range(10_000)})) < 400
