"""Helen's input broadcast over several frames, and the public bound that limits it.

INSECURE 512-bit Paillier and ring-Pedersen moduli, d = 2 or 3: the sizes scale with d^2 and
the key length (docs/wire-format.md, "Large payloads", has the d = 90 figures).
"""

from __future__ import annotations

from dataclasses import fields

import numpy as np
import pytest

from coopetition.engine.codec import count_items, decode_payload, encode_payload
from coopetition.engine.errors import LocalFailure, ProtocolViolation
from coopetition.engine.local import local_configs, run_parties
from coopetition.engine.program import Exchange, ProgramRun, program_machine
from coopetition.protocols.fixedpoint import HelenScales
from coopetition.protocols.helen import input_phase, input_proof, input_wire, numerics
from coopetition.protocols.helen.input_statements import InputCommitments, InputProof
from coopetition.protocols.paillier.keys import insecure_test_keypair
from coopetition.protocols.zk import codec
from coopetition.protocols.zk import range_params as rpm
from coopetition.protocols.zk.equality import EqualityProof
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
def test_the_public_bound_holds_an_honest_broadcast_and_counts_it_exactly(rings, d, parties):
    scales = _scales(d, parties)
    prep = numerics.prepare_input(*_data(0, d), scales)
    verifiers = {j: rings[j] for j in range(1, parties)}
    com, proof, _ = input_proof.prove(PK, prep, scales, input_phase.context(SESSION, 0), verifiers)
    counts = input_wire.int_counts(d, parties)
    range_ints = _ints(proof.range_proofs)
    assert _ints(com) + _ints(proof) - range_ints - len(verifiers) == counts["ciphertexts"]
    assert range_ints == sum(v for k, v in counts.items() if k.startswith("range_"))
    data = encode_payload({"com": codec.encode(com), "proof": codec.encode(proof)})
    bound = input_wire.payload_bound(
        scales, parties, PK.n.bit_length(), [r.n.bit_length() for r in rings.values()]
    )
    assert len(data) <= bound <= 1.6 * len(data), (len(data), bound)
    decode_payload(data, max_values=input_wire.packed_value_bound(d, parties))  # fits
    # packed: ~77 d + O(m) CBOR items (mostly the 7 d + 4 lone-integer Sigma proofs), where
    # one item per integer made ~20 (m - 1) per range statement
    assert count_items(data) < 100 * d + 100 * parties + 200 < _ints(proof)


def _shaped(d: int, parties: int, x: int) -> tuple[InputCommitments, InputProof]:
    """A broadcast of the honest SHAPE at any d, every integer ``x`` (no cryptography)."""
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
        mat, mat, mat, vec, vec, vec, vec, two, two, two, two, mults, mults, mults,
        tuple(range(1, parties)), (rp,) * (parties - 1),
    )  # fmt: skip
    return com, proof


def _encoded(com: InputCommitments, proof: InputProof) -> bytes:
    return encode_payload({"com": codec.encode(com), "proof": codec.encode(proof)})


def test_the_d90_broadcast_fits_the_item_limit_and_its_bounds(rings):
    """MSD's d = 90 broadcast (3.0-4.4 million CBOR items before packing) by its shape: the same
    construction counts an honest d = 3 broadcast's items exactly; at d = 90, m = 4 it is a few
    thousand items and decodes under the public packed-integer and integer-length bounds."""
    scales = _scales(3, 3)
    prep = numerics.prepare_input(*_data(0, 3), scales)
    verifiers = {1: rings[1], 2: rings[2]}
    com, proof, _ = input_proof.prove(PK, prep, scales, input_phase.context(SESSION, 0), verifiers)
    assert count_items(_encoded(com, proof)) == count_items(_encoded(*_shaped(3, 3, 2**100)))

    data = _encoded(*_shaped(90, 4, 2**100))
    assert count_items(data) < 10_000  # MAX_ITEMS is 1 000 000
    back = decode_payload(data, max_values=input_wire.packed_value_bound(90, 4))
    cap = codec.max_bits_for(2048, 2048)
    assert len(codec.decode(InputProof, back["proof"], prover=1, max_bits=cap).range_proofs) == 3


async def _input_run(rings, programs, *, max_frame: int):
    ids = tuple(sorted(programs))
    network = MemoryNetwork(list(ids), max_frame=max_frame)
    runs = [ProgramRun(p, ids, programs[p], machine=Machine) for p in ids]
    return await run_parties(local_configs(list(ids)), network.transports(), runs)


def _honest(rings, me: int, chunk_bytes: int, parties: int = 3):
    ids = tuple(range(parties))
    return lambda: input_phase.input_program(
        me,
        ids,
        PK,
        *_data(me, 3),
        _scales(3, parties),
        {j: rings[j] for j in ids},
        SESSION,
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
    ring_bits = [rings[j].n.bit_length() for j in range(3)]
    bound = input_wire.payload_bound(_scales(3, 3), 3, PK.n.bit_length(), ring_bits)

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
