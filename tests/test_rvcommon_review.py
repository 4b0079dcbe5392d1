"""Adversarial review of commit 48991e5: the trusted dealer's common ring-Pedersen modulus.

Every test passes while the code holds. Tests named ``test_FINDING_*`` pin a weakness the
review found (they pass because they demonstrate the current behaviour; the fix is in the
review report). INSECURE sizes for speed: 512-bit N~, the 1280-bit test key of
``spdz.testing`` for the SPDZ layer, a 512-bit test key at d = 2 for Helen's input proofs.
"""

from __future__ import annotations

import dataclasses
import pickle

import numpy as np
import pytest

from coopetition.engine.errors import (
    CheatingDetected,
    ConfigError,
    ConfigMismatch,
    ProtocolViolation,
)
from coopetition.engine.local import local_configs, run_parties
from coopetition.engine.program import Exchange, ProgramRun, program_machine
from coopetition.protocols.fixedpoint import HelenScales
from coopetition.protocols.helen import input_phase, input_proof, local_prep, numerics, setup_phase
from coopetition.protocols.helen.config import HelenConfig
from coopetition.protocols.helen.input_statements import common_range_context, range_context
from coopetition.protocols.paillier.keys import insecure_test_keypair
from coopetition.protocols.paillier.primes import random_safe_prime
from coopetition.protocols.spdz.harness import run_local
from coopetition.protocols.spdz.ranges import RANGE_PROOF
from coopetition.protocols.spdz.testing import paillier_parties
from coopetition.protocols.zk import codec
from coopetition.protocols.zk import range_params as rpm
from coopetition.protocols.zk.errors import ProofRejected
from coopetition.protocols.zk.range_proof import RangeProof
from coopetition.transports.memory import MemoryNetwork

HIGH = (1 << 63) - 1
SPECS = [("r", 3, HIGH)]


@pytest.fixture(scope="module")
def common() -> rpm.RingPedersen:
    return local_prep.dealer_ring(rpm.MIN_TEST_BITS, insecure=True)


@pytest.fixture(scope="module")
def other_common() -> rpm.RingPedersen:
    return local_prep.dealer_ring(rpm.MIN_TEST_BITS, insecure=True)


# -- the fingerprint ---------------------------------------------------------------------------


def test_fingerprint_is_length_prefixed_and_type_blind():
    """Moving bytes between N~, s and t changes the digest (each value length-prefixed), an mpz
    and an int of one value agree, and a zero value still counts as a field."""
    import gmpy2

    a = rpm.RingPedersen(0x0102, 0x03, 0x05)
    b = rpm.RingPedersen(0x01, 0x0203, 0x05)
    c = rpm.RingPedersen(0x0102, 0x0305, 0)
    assert len({rpm.fingerprint(x) for x in (a, b, c)}) == 3
    assert rpm.fingerprint(a) == rpm.fingerprint(
        rpm.RingPedersen(*(gmpy2.mpz(v) for v in (a.n, a.s, a.t)))
    )
    assert rpm.fingerprint(rpm.RingPedersen(1, 0, 2)) != rpm.fingerprint(rpm.RingPedersen(1, 2, 0))


def test_fixed_a_malformed_common_ring_is_a_config_error_before_its_fingerprint():
    """Finding 3 (fixed): ``fingerprint`` alone crashes on a negative value, so
    ``HelenRun.phases`` and ``setup_program`` run ``check_common`` first: a typed ConfigError."""
    bad = rpm.RingPedersen(35, -4, 9)
    with pytest.raises(OverflowError):
        rpm.fingerprint(bad)
    with pytest.raises(ConfigError):
        rpm.check_common(bad, 512)
    with pytest.raises(ConfigError):
        setup_phase.setup_program(0, (0, 1), {"rows": 10}, 5, b"s", 512, True, bad).send(None)


# -- spdz.ranges: the one-entry wire form ------------------------------------------------------


def _spdz(session: bytes, ring: rpm.RingPedersen | None, m: int = 3):
    ps = paillier_parties(m, session)
    for p in ps:
        p.common_ring = ring
    run_local([p.setup_rings() for p in ps])
    return ps


def _payloads(ps, phase="rv", rnd=7, values=(1, 2, 3)):
    return {p.party: p.prove_groups([("r", list(values), HIGH)], phase, rnd)[0] for p in ps}


def _at1(pays, payload):
    return {**pays, 1: payload}


@pytest.fixture(scope="module")
def spdz_common(common):
    ps = _spdz(b"rv-common-spdz", common)
    return ps, _payloads(ps)


def test_the_common_form_is_one_entry_checked_by_every_verifier(spdz_common, common):
    ps, pays = spdz_common
    assert all(len(pays[j][RANGE_PROOF]) == 1 for j in pays)
    assert all(p.ring is common and p.ring_secret is None for p in ps)
    for v in ps:
        out = v.verify_groups(pays, SPECS, "rv", 7)
        assert sorted(out["r"]) == [0, 1, 2]


@pytest.mark.parametrize(
    "wire",
    [None, "x", {}, 7, [], ["x", "y"], [[]], [None], [{"u": 1}], [b"\x00"]],
    ids=repr,
)
def test_a_malformed_one_entry_list_names_its_sender(spdz_common, wire):
    ps, pays = spdz_common
    bad = _at1(pays, dict(pays[1], **{RANGE_PROOF: wire}))
    with pytest.raises(CheatingDetected) as err:
        ps[0].verify_groups(bad, SPECS, "rv", 7)
    assert err.value.culprit == 1


def test_another_provers_proof_is_refused_with_or_without_its_ciphertexts(spdz_common):
    ps, pays = spdz_common
    whole = _at1(pays, pays[2])  # prover 2's ciphertexts and proof, as prover 1's
    proof_only = _at1(pays, dict(pays[1], **{RANGE_PROOF: pays[2][RANGE_PROOF]}))
    for replies in (whole, proof_only):
        with pytest.raises(CheatingDetected) as err:
            ps[0].verify_groups(replies, SPECS, "rv", 7)
        assert err.value.culprit == 1


@pytest.mark.parametrize(("phase", "rnd"), [("rv", 8), ("other", 7)])
def test_a_proof_replayed_into_another_round_or_phase_is_refused(spdz_common, phase, rnd):
    ps, pays = spdz_common
    with pytest.raises(CheatingDetected) as err:
        ps[0].verify_groups(pays, SPECS, phase, rnd)
    assert err.value.culprit in (1, 2)


def test_per_verifier_and_common_proofs_do_not_cross(common):
    """A proof made under a verifier's own N~ is refused under the common one (in a one-entry
    list), and a common proof placed at the verifier's entry of an m-entry list is refused by a
    per-verifier verifier."""
    per = _spdz(b"rv-cross", None)
    com = _spdz(b"rv-cross", common)
    per_pays, com_pays = _payloads(per), _payloads(com)
    forged = _at1(com_pays, dict(per_pays[1], **{RANGE_PROOF: [per_pays[1][RANGE_PROOF][0]]}))
    with pytest.raises(CheatingDetected) as err:
        com[0].verify_groups(forged, SPECS, "rv", 7)
    assert err.value.culprit == 1
    entries = [[], com_pays[1][RANGE_PROOF][0], com_pays[1][RANGE_PROOF][0]]
    forged = _at1(per_pays, dict(com_pays[1], **{RANGE_PROOF: entries}))
    with pytest.raises(CheatingDetected) as err:
        per[0].verify_groups(forged, SPECS, "rv", 7)
    assert err.value.culprit == 1
    # and the per-verifier form still wants m entries: a one-entry list names its sender
    one = _at1(per_pays, dict(per_pays[1], **{RANGE_PROOF: [per_pays[1][RANGE_PROOF][0]]}))
    with pytest.raises(ProtocolViolation) as err:
        per[0].verify_groups(one, SPECS, "rv", 7)
    assert err.value.culprit == 1
    assert [len(per_pays[j][RANGE_PROOF]) for j in range(3)] == [3, 3, 3]
    assert [per_pays[j][RANGE_PROOF][j] for j in range(3)] == [[], [], []]


def test_a_small_common_modulus_this_process_never_admitted_is_a_config_error():
    """The common path never calls ``admit_insecure_modulus``: a 512-bit N~ that was not made
    here through the insecure option (nor told to a worker/child) is refused, typed."""
    p, q = random_safe_prime(256), random_safe_prime(256)
    n = p * q
    t = pow(7, 2, n)
    stranger = rpm.RingPedersen(n, pow(t, 12345, n), t)
    assert n not in rpm._INSECURE_TEST_MODULI
    with pytest.raises(ConfigError):
        _spdz(b"rv-stranger", stranger, m=2)
    program = setup_phase.setup_program(0, (0, 1), _params(stranger), 5, b"s", 512, True, stranger)
    with pytest.raises(ConfigError):
        _drive_alone(program, 2, _params(stranger))
    assert n not in rpm._INSECURE_TEST_MODULI  # nor admitted on the way


def test_fixed_spdz_layer_parties_with_different_common_moduli_stop_on_ring(common, other_common):
    """Finding 2 (fixed): ``setup_rings`` compares the common modulus's fingerprint in its
    round, so parties handed different moduli (a faulty dealer, a wiring bug) stop with
    ConfigMismatch on ``ring`` before any range proof, blaming nobody."""
    ps = paillier_parties(3, b"rv-split")
    for p, ring in zip(ps, (other_common, common, common), strict=True):
        p.common_ring = ring
    with pytest.raises(ConfigMismatch) as err:
        run_local([p.setup() for p in ps])
    assert err.value.parameter == "ring" and err.value.culprit is None


@pytest.mark.parametrize("odd", [0, 1])
def test_mixed_modes_in_the_spdz_harness_stop_on_ring_blaming_nobody(common, odd):
    """One party common, the others per-verifier (or the reverse): every side sees the other's
    form in the one parameter round and stops with ConfigMismatch on ``ring``."""
    ps = paillier_parties(3, b"rv-mixed")
    for j, p in enumerate(ps):
        p.common_ring = common if (j == odd) == (odd == 0) else None
    with pytest.raises(ConfigMismatch) as err:
        run_local([p.setup() for p in ps])
    assert err.value.parameter == "ring" and err.value.culprit is None


# -- Helen's setup: agreement on the ring ------------------------------------------------------

SetupMachine = program_machine(setup_phase.PHASE)


def _params(ring: rpm.RingPedersen | None) -> dict:
    return {"rows": 10, "ring": "per-verifier" if ring is None else rpm.fingerprint(ring)}


def _drive_alone(program, m: int, params: dict):
    """Step one party's setup program, answering round 1 with copies of its own message."""
    request = program.send(None)
    assert isinstance(request, Exchange)
    try:
        program.send({j: dict(request.payload) for j in range(m)})
    except StopIteration as stop:
        return stop.value
    raise AssertionError("expected the common path to end after round 1")


async def _setup_run(rings: dict[int, rpm.RingPedersen | None], ring_bits: int = 512):
    ids = tuple(sorted(rings))
    network = MemoryNetwork(list(ids))

    def prog(j):
        return lambda: setup_phase.setup_program(
            j, ids, _params(rings[j]), 5, b"rv-setup", ring_bits, True, rings[j]
        )

    runs = [ProgramRun(j, ids, prog(j), machine=SetupMachine) for j in ids]
    return await run_parties(local_configs(list(ids)), network.transports(), runs)


async def test_the_per_verifier_setup_still_exchanges_and_checks_own_rings(autojump_clock):
    run = await _setup_run({0: None, 1: None})
    assert run.completed, run.errors
    a, b = run.results[0], run.results[1]
    assert a.common is None and a.own_ring_secret is not None
    assert a.ring == b.ring and a.ring[0] != a.ring[1]  # each party its own, agreed


@pytest.mark.parametrize("case", ["one per-verifier", "another common ring"])
async def test_mixed_ring_modes_stop_every_party_on_ring_blaming_nobody(
    autojump_clock, common, other_common, case
):
    odd = None if case == "one per-verifier" else other_common
    run = await _setup_run({0: common, 1: common, 2: odd})
    assert not run.results
    for j in range(3):
        error = run.errors[j]
        assert isinstance(error, ConfigMismatch), run.errors
        assert error.parameter == "ring" and error.culprit is None


async def test_the_common_setup_skips_round_two_and_maps_everyone_to_the_ring(
    autojump_clock, common
):
    run = await _setup_run({0: common, 1: common, 2: common})
    assert run.completed, run.errors
    for j in range(3):
        res = run.results[j]
        assert res.common is common and res.own_ring_secret is None
        assert res.ring == dict.fromkeys(range(3), common)


def test_fixed_a_common_ring_below_the_agreed_size_is_a_config_error_before_round_one(common):
    """Finding 3 (fixed): the common ring is checked (form, size) before round 1 is sent, so a
    ring below the agreed size is a local ConfigError, not a ProtocolViolation after round 1."""
    program = setup_phase.setup_program(0, (0, 1), _params(common), 5, b"s", 2048, True, common)
    with pytest.raises(ConfigError):
        program.send(None)


def test_setup_refuses_a_common_ring_without_its_fingerprint(common, other_common):
    for wrong in ({"rows": 10}, _params(None), _params(other_common)):
        with pytest.raises(ValueError):
            setup_phase.setup_program(0, (0, 1), wrong, 5, b"s", 512, True, common).send(None)


def test_fixed_setup_refuses_a_fingerprint_without_the_ring(common):
    """Finding 5 (fixed): the guard is two-sided: a fingerprint in the parameters while
    ``common_ring`` is None is refused before anything is sent."""
    program = setup_phase.setup_program(0, (0, 1), _params(common), 5, b"s", 512, True, None)
    with pytest.raises(ValueError):
        program.send(None)


# -- Helen's input proof under the common modulus ----------------------------------------------

PK, SK = insecure_test_keypair(512)
SESSION = b"rv-common-input"
D = 2


def _scales(parties: int = 3) -> HelenScales:
    return HelenScales(features=D, rows=40, parties=parties, rho=4.0, x_bound=5.0, y_bound=20.0)


def _data(party: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(300 + party)
    X = rng.uniform(-2, 2, size=(40, D))
    return X, X @ np.linspace(1.0, -1.0, D) + 0.1 * rng.normal(size=40)


@pytest.fixture(scope="module")
def input_common(common):
    prep = numerics.prepare_input(*_data(0), _scales())
    out: dict = {}
    ctx = input_phase.context(SESSION, 0)
    com, public, _ = input_proof.prove(
        PK, prep, _scales(), ctx, {1: common, 2: common}, range_out=out, lazy=True, common=True
    )
    assert out[1] is out[2]  # one function: the proof is made once
    wire = out[1]()
    assert out[2]() is wire  # and the same bytes go to every verifier
    rp = codec.decode(RangeProof, wire, prover=0)
    return com, public, rp, prep


def _with(public, verifier, rp):
    return dataclasses.replace(public, range_verifiers=(verifier,), range_proofs=(rp,))


def test_the_one_input_range_proof_verifies_for_every_verifier_under_common_only(
    input_common, common
):
    com, public, rp, _ = input_common
    ctx = input_phase.context(SESSION, 0)
    for v in (1, 2):
        input_proof.verify_public(PK, com, public, _scales(), ctx)
        input_proof.verify_range(
            PK, com, _with(public, v, rp), _scales(), ctx, v, common, common=True
        )
        with pytest.raises(ProofRejected):  # "range/common" is not "range/<v>"
            input_proof.verify_range(PK, com, _with(public, v, rp), _scales(), ctx, v, common)
    with pytest.raises(ProofRejected):  # prover 0's proof is not prover 1's
        input_proof.verify_range(
            PK,
            com,
            _with(public, 1, rp),
            _scales(),
            input_phase.context(SESSION, 1),
            1,
            common,
            common=True,
        )
    with pytest.raises(ProofRejected):  # nor another session's
        input_proof.verify_range(
            PK,
            com,
            _with(public, 1, rp),
            _scales(),
            input_phase.context(b"other", 0),
            1,
            common,
            common=True,
        )


def test_a_per_verifier_input_proof_under_the_common_parameters_is_refused(input_common, common):
    """Made for verifier 1 ("range/1") under the very same (N~, s, t): refused by the common
    check, as the common proof is refused by the per-verifier one."""
    _, _, _, prep = input_common
    ctx = input_phase.context(SESSION, 0)
    com, proof, _ = input_proof.prove(PK, prep, _scales(), ctx, {1: common, 2: common})
    assert proof.range_verifiers == (1, 2)
    input_proof.verify_range(PK, com, proof, _scales(), ctx, 1, common)  # as made
    with pytest.raises(ProofRejected):
        input_proof.verify_range(PK, com, proof, _scales(), ctx, 1, common, common=True)


def test_common_input_proving_refuses_verifiers_with_different_rings(
    input_common, common, other_common
):
    _, _, _, prep = input_common
    with pytest.raises(ValueError):
        input_proof.prove(
            PK,
            prep,
            _scales(),
            input_phase.context(SESSION, 0),
            {1: common, 2: other_common},
            common=True,
        )


def test_fixed_input_proof_verify_has_a_common_mode(input_common, common):
    """Finding 6 (fixed): ``input_proof.verify`` takes ``common``; an honest common proof passes
    it, and fails it when checked as a per-verifier proof (the contexts differ)."""
    com, public, rp, _ = input_common
    ctx = input_phase.context(SESSION, 0)
    input_proof.verify(PK, com, _with(public, 1, rp), _scales(), ctx, 1, common, common=True)
    with pytest.raises(ProofRejected):
        input_proof.verify(PK, com, _with(public, 1, rp), _scales(), ctx, 1, common)


# -- Helen's input phase over the bus, with a prover that equivocates --------------------------

InputMachine = program_machine(input_phase.PHASE)


def _input_program(me, ring, *, prove=input_proof.prove, common_mode=True):
    ids = (0, 1, 2)
    return lambda: input_phase.input_program(
        me, ids, PK, *_data(me), _scales(), dict.fromkeys(ids, ring), SESSION,
        prove=prove, chunk_bytes=1 << 20, common=common_mode,
    )  # fmt: skip


async def _input_run(programs):
    ids = tuple(sorted(programs))
    network = MemoryNetwork(list(ids), max_frame=1 << 24)
    runs = [ProgramRun(p, ids, programs[p], machine=InputMachine) for p in ids]
    return await run_parties(local_configs(list(ids)), network.transports(), runs)


async def test_the_common_input_phase_proves_once_per_party_and_completes(
    autojump_clock, monkeypatch, common
):
    from coopetition.protocols.zk import range_proof as rproof

    made = []
    real = rproof.prove

    def counting(*args, **kwargs):
        made.append(args[4])  # the context
        return real(*args, **kwargs)

    monkeypatch.setattr(rproof, "prove", counting)
    run = await _input_run({j: _input_program(j, common) for j in range(3)})
    assert run.completed, run.errors
    assert sorted(ctx.prover for ctx in made) == [0, 1, 2]
    assert {ctx.phase for ctx in made} == {"input-prep/range/common"}
    views = [run.results[j].commitments for j in range(3)]
    assert views[0] == views[1] == views[2]


async def test_a_prover_that_sends_different_proofs_to_different_verifiers_is_named(
    autojump_clock, monkeypatch, common
):
    """Prover 0 sends verifier 1 a valid common proof and verifier 2 a proof under context
    "range/2" (same parameters, same statements). Verifier 2 names 0; verifier 1, which
    accepted, is told so; nobody names an honest party."""
    real = range_context

    def split(base, verifier):
        return common_range_context(base) if verifier == 1 else real(base, verifier)

    monkeypatch.setattr(input_proof, "range_context", split)  # only the cheater calls it

    def equivocate(*args, **kwargs):
        kwargs.update(common=False, range_out=None, lazy=False)
        return input_proof.prove(*args, **kwargs)

    programs = {0: _input_program(0, common, prove=equivocate)}
    programs.update({j: _input_program(j, common) for j in (1, 2)})
    run = await _input_run(programs)
    assert not run.results
    error = run.errors[2]
    assert isinstance(error, CheatingDetected) and error.culprit == 0, run.errors
    for j in (1, 2):
        e = run.errors[j]
        assert e.culprit in (0, None) and getattr(e, "claimed_culprit", None) in (0, None), e


async def test_a_party_in_the_common_input_mode_among_per_verifier_ones_is_refused(
    autojump_clock, common
):
    """Without the setup's agreement (driven directly): party 0 proves once under "range/common"
    while 1 and 2 expect "range/<v>". The run stops typed, but party 0 names party 1 (an honest
    per-verifier prover): the setup's agreed ``ring`` parameter is load-bearing, and it is what
    keeps this from happening in a HelenRun (``test_mixed_ring_modes_stop_...``)."""
    programs = {0: _input_program(0, common)}
    programs.update({j: _input_program(j, common, common_mode=False) for j in (1, 2)})
    run = await _input_run(programs)
    assert not run.results
    assert {j: run.errors[j].culprit for j in range(3)} == {0: 1, 1: 0, 2: 0}, run.errors


def test_the_dealer_keeps_no_secret_of_the_common_ring():
    """After ``dealer_ring`` no live object holds an exponent that kills t (the order p~'q~' or
    a multiple of it): the factorisation and lambda went with ``generate``'s tuple."""
    import gc

    kept, secret = rpm.generate(rpm.MIN_TEST_BITS, insecure_allow_small=True)
    ring = local_prep.dealer_ring(rpm.MIN_TEST_BITS, insecure=True)
    gc.collect()
    secrets = [o for o in gc.get_objects() if isinstance(o, rpm.RingPedersenSecret)]
    assert any(pow(kept.t, o.order, kept.n) == 1 for o in secrets)  # the search finds one kept
    assert not any(pow(ring.t, o.order, ring.n) == 1 for o in secrets)
    del secret


# -- insecure admission across processes -------------------------------------------------------


def test_insecure_choice_carries_the_common_ring_and_makes_no_party_rings(common):
    ps = paillier_parties(3, b"rv-insecure-choice")
    for p in ps:
        p.common_ring = common
    init, (pk, rings) = local_prep._insecure_choice(ps)
    assert init is local_prep.admit_insecure and pk == ps[0].pk
    assert all(r is common for r in rings) and rings
    assert all(p.ring is None and p.ring_secret is None for p in ps)


def test_party_files_tell_the_child_the_common_ring_and_nothing_secret(tmp_path, common):
    from coopetition.engine.config import Deadlines
    from coopetition.sims.helen_prepared import write_party_files

    ps = _spdz(b"rv-files", common, m=2)
    parts = [_data(0), _data(1)]
    paths = write_party_files(
        tmp_path, parts, HelenConfig(insecure=True), (ps, [None, None], {}),
        rows=40, session=b"rv-files", deadlines=Deadlines(),
    )  # fmt: skip
    for path in paths:
        payload = pickle.loads(path.read_bytes())
        _, rings = payload["insecure"]
        assert common in rings
        party = payload["paillier"]
        assert party.common_ring == common and party.ring_secret is None
