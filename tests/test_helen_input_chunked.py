"""Helen's input messages over several frames, and the public bounds that limit them.

The broadcast (commitments and the proofs every party checks) and the range proofs (one per
verifier, point-to-point) each travel in chunks under their own public bound.

INSECURE 512-bit Paillier and ring-Pedersen moduli, d = 2 or 3: the sizes scale with d^2 and
the key length (docs/wire-format.md, "Large payloads", has the d = 90 figures).
"""

from __future__ import annotations

import dataclasses
from dataclasses import fields

import numpy as np
import pytest

from coopetition.engine.chunked import chunk_count
from coopetition.engine.codec import WireError, count_items, decode_payload, encode_payload
from coopetition.engine.errors import CheatingDetected, LocalFailure, ProtocolViolation
from coopetition.engine.local import local_configs, run_parties
from coopetition.engine.program import Exchange, Pairwise, ProgramRun, program_machine
from coopetition.protocols.fixedpoint import HelenScales
from coopetition.protocols.helen import input_phase, input_proof, input_wire, numerics
from coopetition.protocols.helen.input_statements import InputCommitments, InputProof
from coopetition.protocols.paillier.keys import insecure_test_keypair
from coopetition.protocols.zk import codec
from coopetition.protocols.zk import range_params as rpm
from coopetition.protocols.zk.equality import EqualityProof
from coopetition.protocols.zk.errors import ProofRejected
from coopetition.protocols.zk.multiplication import MultiplicationProof
from coopetition.protocols.zk.range_proof import RangeProof
from coopetition.protocols.zk.twosided import TwoSidedProof
from coopetition.transports.memory import MemoryNetwork

PK, SK = insecure_test_keypair(512)
SESSION = b"helen-input-chunked"
Machine = program_machine(input_phase.PHASE)


@pytest.fixture(scope="module")
def rings() -> dict[int, rpm.RingPedersen]:
    return {j: rpm.generate(512, insecure_allow_small=True)[0] for j in range(4)}


def _scales(d: int, parties: int) -> HelenScales:
    return HelenScales(features=d, rows=40, parties=parties, rho=4.0, x_bound=5.0, y_bound=20.0)


def _data(party: int, d: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(100 + party)
    X = rng.uniform(-2, 2, size=(40, d))
    y = X @ np.linspace(1.0, -1.0, d) + 0.1 * rng.normal(size=40)
    return X, y


def _ints(value: object) -> int:
    """Integers in a proof, counted independently of the codec (field by field)."""
    if type(value) in codec.SCHEMAS:
        return sum(_ints(getattr(value, f.name)) for f in fields(value))  # type: ignore[arg-type]
    if isinstance(value, (tuple, list)):
        return sum(_ints(v) for v in value)
    return 1


@pytest.mark.parametrize(("d", "parties"), [(3, 3), (2, 4)])
def test_the_public_bounds_hold_honest_messages_and_count_them_exactly(rings, d, parties):
    scales = _scales(d, parties)
    prep = numerics.prepare_input(*_data(0, d), scales)
    verifiers = {j: rings[j] for j in range(1, parties)}
    com, proof, _ = input_proof.prove(PK, prep, scales, input_phase.context(SESSION, 0), verifiers)
    counts = input_wire.int_counts(d, parties)
    public = dataclasses.replace(proof, range_verifiers=(), range_proofs=())
    assert _ints(com) + _ints(public) == counts["ciphertexts"]
    range_ints = _ints(proof.range_proofs)
    assert range_ints == sum(v for k, v in counts.items() if k.startswith("range_"))
    data = _encoded(com, public)
    bound = input_wire.broadcast_bound(scales, parties, PK.n.bit_length())
    assert len(data) <= bound <= 1.6 * len(data) + 4096, (len(data), bound)  # + fixed heads
    decode_payload(data, max_values=input_wire.broadcast_value_bound(d))  # fits
    for j, rp in zip(proof.range_verifiers, proof.range_proofs, strict=True):
        one = encode_payload(codec.encode(rp))
        r_bound = input_wire.range_bound(scales, PK.n.bit_length(), rings[j].n.bit_length())
        assert len(one) <= r_bound <= 1.6 * len(one), (len(one), r_bound)
        decode_payload(one, max_values=input_wire.range_value_bound(d))
        with pytest.raises(WireError):  # the bound is tight: one packed integer fewer refuses it
            decode_payload(one, max_values=_packed(rp) - 1)
    # packed: ~77 d + O(m) CBOR items (mostly the 7 d + 4 lone-integer Sigma proofs), where
    # one item per integer made ~20 (m - 1) per range statement
    assert count_items(data) < 100 * d + 200 < _ints(proof)


def _packed(rp: RangeProof) -> int:
    """Packed integers of an encoded range proof, as ``decode_payload`` counts them."""
    from coopetition.engine.chunked import packed_values

    return packed_values(codec.encode(rp))


def _shaped(d: int, x: int) -> tuple[InputCommitments, InputProof, RangeProof]:
    """Messages of the honest SHAPE at any d, every integer ``x`` (no cryptography): the
    broadcast (range fields empty) and one range proof."""
    n = input_wire.range_statement_count(d)
    vec, mult = (x,) * d, MultiplicationProof(x, x, x, x, x)
    mat = (vec,) * d
    two = TwoSidedProof(vec, (mult,) * d, EqualityProof(x, x))

    def rows(k: int) -> tuple[tuple[int, ...], ...]:
        return ((x,) * k,) * n

    rp = RangeProof((x,) * n, rows(4), x, x, rows(5), x, x, x, x, rows(5), rows(5), x)
    com = InputCommitments(mat, vec, vec, vec, mat, vec)
    mults = (mult,) * d
    proof = InputProof(
        mat, mat, mat, vec, vec, vec, vec, two, two, two, two, mults, mults, mults, (), (),
    )  # fmt: skip
    return com, proof, rp


def _encoded(com: InputCommitments, proof: InputProof) -> bytes:
    return encode_payload({"com": codec.encode(com), "proof": codec.encode(proof)})


def test_the_d90_messages_fit_the_item_limit_and_their_bounds(rings):
    """MSD's d = 90 input messages (3.0-4.4 million CBOR items before packing) by their shape:
    the same construction counts an honest d = 3 party's items exactly; at d = 90 the
    broadcast and each range proof are a few thousand items and decode under the public
    packed-integer and integer-length bounds."""
    scales = _scales(3, 3)
    prep = numerics.prepare_input(*_data(0, 3), scales)
    verifiers = {1: rings[1], 2: rings[2]}
    com, proof, _ = input_proof.prove(PK, prep, scales, input_phase.context(SESSION, 0), verifiers)
    public = dataclasses.replace(proof, range_verifiers=(), range_proofs=())
    s_com, s_public, s_rp = _shaped(3, 2**100)
    assert count_items(_encoded(com, public)) == count_items(_encoded(s_com, s_public))
    for rp in proof.range_proofs:
        assert count_items(encode_payload(codec.encode(rp))) == count_items(
            encode_payload(codec.encode(s_rp))
        )

    s_com, s_public, s_rp = _shaped(90, 2**100)
    data, one = _encoded(s_com, s_public), encode_payload(codec.encode(s_rp))
    assert count_items(data) < 10_000 and count_items(one) < 1_000  # MAX_ITEMS is 1 000 000
    cap = codec.max_bits_for(2048, 2048)
    back = decode_payload(data, max_values=input_wire.broadcast_value_bound(90))
    assert codec.decode(InputProof, back["proof"], prover=1, max_bits=cap).range_proofs == ()
    back = decode_payload(one, max_values=input_wire.range_value_bound(90))
    assert len(codec.decode(RangeProof, back, prover=1, max_bits=cap).u) == 4 * 90 * 90 + 6 * 90


async def _input_run(rings, programs, *, max_frame: int):
    ids = tuple(sorted(programs))
    network = MemoryNetwork(list(ids), max_frame=max_frame)
    runs = [ProgramRun(p, ids, programs[p], machine=Machine) for p in ids]
    return await run_parties(local_configs(list(ids)), network.transports(), runs)


def _honest(rings, me: int, chunk_bytes: int, parties: int = 3, prove=input_proof.prove):
    """Party ``me``'s input program at d = 3 (``prove``: a cheater's seam, honest by default)."""
    ids = tuple(range(parties))
    return lambda: input_phase.input_program(
        me,
        ids,
        PK,
        *_data(me, 3),
        _scales(3, parties),
        {j: rings[j] for j in ids},
        SESSION,
        prove=prove,
        chunk_bytes=chunk_bytes,
    )


async def test_input_phase_over_small_frames_completes_only_in_chunks(autojump_clock, rings):
    """Frames limited to 64 KiB, broadcasts of ~200 kB: one chunk each fails (as every input
    phase above the frame limit did, e.g. MSD's), 16 KiB chunks complete and agree."""
    limit = 64 * 1024
    one = await _input_run(
        rings, {p: _honest(rings, p, 1 << 30) for p in range(3)}, max_frame=limit
    )
    assert not one.results
    assert any(isinstance(e, LocalFailure) and "limit" in str(e) for e in one.errors.values())

    run = await _input_run(
        rings, {p: _honest(rings, p, 16 * 1024) for p in range(3)}, max_frame=limit
    )
    assert run.completed, run.errors
    views = [run.results[p].commitments for p in range(3)]
    assert views[0] == views[1] == views[2]
    for p in range(3):  # Enc(b_p) decrypts to party p's own prepared b (numerics, not the codec)
        prep = numerics.prepare_input(*_data(p, 3), _scales(3, 3))
        decrypted = [SK.decrypt(c) for c in views[0][p].b]
        assert decrypted == [int(v) for v in prep.b]


async def test_a_party_declaring_more_than_the_input_bound_is_named(autojump_clock, rings):
    bound = input_wire.broadcast_bound(_scales(3, 3), 3, PK.n.bit_length())

    def hostile():
        yield Exchange(payload=bound + 1, label="input-size")

    programs = {p: _honest(rings, p, 16 * 1024) for p in (0, 1)}
    programs[2] = hostile
    run = await _input_run(rings, programs, max_frame=64 * 1024)
    for honest in (0, 1):
        error = run.errors.get(honest)
        assert isinstance(error, ProtocolViolation), run.errors
        assert error.culprit == 2 and error.phase == input_phase.PHASE
    assert not run.results


def _hostile_after_broadcast(rings, me: int, sizes, chunk: bytes):
    """Party ``me`` runs the honest broadcast, then declares ``sizes`` for its range proofs
    and sends ``chunk`` to every peer in the first point-to-point round (nothing after)."""
    honest = _honest(rings, me, 16 * 1024)()
    request = honest.send(None)
    while not (isinstance(request, Exchange) and request.tag == "input-range/1/size"):
        request = honest.send((yield request))
    declared = yield Exchange(tag="input-range/1/size", payload=sizes, label="input range proof")
    longest = max(size for row in declared.values() for _, size in row)
    for k in range(chunk_count(longest, 16 * 1024)):  # the rounds every party agreed on
        yield Pairwise(f"input-range/1/chunk{k}", {j: b"" if k else chunk for j in (0, 1)})


@pytest.mark.parametrize("case", ["over the verifier's bound", "short chunk", "not a proof"])
async def test_a_hostile_range_proof_exchange_is_named(autojump_clock, rings, case):
    """The range proofs' sizes are declared by consistent broadcast, each under its
    recipient's public bound; a size above it, a chunk shorter than declared or a payload that
    is not a range proof ends the phase at every honest party naming the sender."""
    scales, bits = _scales(3, 3), PK.n.bit_length()
    over = input_wire.range_bound(scales, bits, rings[0].n.bit_length()) + 1
    junk = encode_payload({"not": "a range proof"})
    sizes, chunk = {
        "over the verifier's bound": ([[0, over], [1, 10]], b"x" * 10),
        "short chunk": ([[0, 10], [1, 10]], b"x" * 9),
        "not a proof": ([[0, len(junk)], [1, len(junk)]], junk),
    }[case]
    programs = {p: _honest(rings, p, 16 * 1024) for p in (0, 1)}
    programs[2] = lambda: _hostile_after_broadcast(rings, 2, sizes, chunk)
    run = await _input_run(rings, programs, max_frame=64 * 1024)
    assert not run.results
    for honest in (0, 1):
        error = run.errors.get(honest)
        assert isinstance(error, CheatingDetected) and error.culprit == 2, run.errors
        assert error.phase == input_phase.PHASE


async def test_each_party_receives_only_the_range_proofs_made_for_it(autojump_clock, rings):
    """What arrives point-to-point at a party is one range proof per prover, under that
    party's own parameters (about a third of all range proofs at m = 4): the memory lever of
    the song workload, counted here by the engine's per-phase byte counts (the bus's frame sizes)."""
    ids = (0, 1, 2, 3)
    network = MemoryNetwork(list(ids), max_frame=1 << 24)
    runs = [ProgramRun(p, ids, _honest(rings, p, 1 << 20, parties=4), machine=Machine) for p in ids]
    run = await run_parties(local_configs(list(ids)), network.transports(), runs)
    assert run.completed, run.errors
    scales = _scales(3, 4)
    prep = numerics.prepare_input(*_data(0, 3), scales)
    verifiers = {j: rings[j] for j in (1, 2, 3)}
    com, proof, _ = input_proof.prove(PK, prep, scales, input_phase.context(SESSION, 0), verifiers)
    one_range = len(encode_payload(codec.encode(proof.range_proofs[0])))
    broadcast = len(_encoded(com, dataclasses.replace(proof, range_verifiers=(), range_proofs=())))
    received = run.parties[1].stats.total().bytes_received
    # three provers' broadcasts (and their echoes), and three range proofs, not nine
    assert 3 * (broadcast + one_range) <= received < 3 * (broadcast + one_range) * 1.5 + 200_000
    assert received < 3 * (broadcast + 3 * one_range)


def test_prove_can_hand_over_each_range_proof_in_wire_form(rings):
    """With ``range_out`` the prover keeps no range proof as objects: each verifier's arrives in
    ``range_out`` encoded, decodes, and passes that verifier's check of the whole input."""
    scales = _scales(3, 3)
    prep = numerics.prepare_input(*_data(0, 3), scales)
    verifiers = {1: rings[1], 2: rings[2]}
    ctx = input_phase.context(SESSION, 0)
    out: dict = {}
    com, proof, _ = input_proof.prove(PK, prep, scales, ctx, verifiers, range_out=out)
    assert proof.range_verifiers == () and proof.range_proofs == ()
    assert sorted(out) == [1, 2]
    cap = codec.max_bits_for(PK.n.bit_length(), max(r.n.bit_length() for r in rings.values()))
    for j in (1, 2):
        wire = decode_payload(encode_payload(out[j]), max_values=input_wire.range_value_bound(3))
        rp = codec.decode(RangeProof, wire, prover=0, max_bits=cap)
        mine = dataclasses.replace(proof, range_verifiers=(j,), range_proofs=(rp,))
        input_proof.verify(PK, com, mine, scales, ctx, j, rings[j])
    other = dataclasses.replace(proof, range_verifiers=(1,), range_proofs=(rp,))  # 2's, to 1
    with pytest.raises(ProofRejected):
        input_proof.verify(PK, com, other, scales, ctx, 1, rings[1])
