"""Helen end to end with one cheating party: the rest of issue 10's item-6 strategies.

Same INSECURE parameters and tiny shape as ``test_helen_malicious`` (1280-bit trusted-dealer
test key, the dealer's common 512-bit ring-Pedersen modulus, 16 interval-proof repetitions, dealer triples and bits,
3 parties, d = 2, 1 iteration unless a strategy needs a second). Party 1 cheats through a seam
(``HelenRun.prove_input`` / ``local_product`` / ``carry``, a ``PaillierParty`` subclass, a
transport that withholds one message); each test ends either in ``CheatingDetected`` naming
party 1 at both honest parties, or, where the protocol cannot tell who cheated (SPDZ's MAC
check of the way back and of every opening), in the documented typed anonymous abort with no honest party named.
``docs/threat-model.md`` tabulates the strategies and what catches each.

The strategies that stop in the input phase are cheap (no conversion runs); the ones that need
a whole run are marked ``long``.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import numpy as np
import pytest
from test_helen_input_proof import _recompute
from test_helen_malicious import (
    CHEATER,
    FEATURES,
    HONEST,
    SLOW_MACHINE,
    _config,
    _run,
    assert_culprit_named,
)
from test_helen_run import PARTIES, ROWS, wine_parts

from coopetition.engine.errors import (
    BroadcastInconsistent,
    CheatingDetected,
    DeadlineExceeded,
    ProtocolAborted,
)
from coopetition.engine.tags import ECHO_SUFFIX, is_internal
from coopetition.engine.wire import peek_header
from coopetition.protocols.helen import coordinate_phase as coord
from coopetition.protocols.helen import input_phase, input_proof, release_phase
from coopetition.protocols.helen import local_phase as lp
from coopetition.protocols.helen import numerics as H
from coopetition.protocols.helen.local_run import train_locally
from coopetition.protocols.helen.session import HelenRun
from coopetition.protocols.paillier import ops
from coopetition.protocols.spdz import field as F
from coopetition.protocols.spdz.conversion import PaillierParty
from coopetition.protocols.spdz.errors import MacCheckFailed
from coopetition.protocols.spdz.shares import Share
from coopetition.transports.memory import MemoryNetwork, MemoryTransport

ACCUSED = 0


def assert_anonymous_abort(run, kind: type[ProtocolAborted]) -> None:
    """Every honest party stops with ``kind``, and no honest party is named or accused."""
    for honest in HONEST:
        error = run.errors.get(honest)
        assert isinstance(error, kind), run.errors
        assert error.culprit not in HONEST, error
        assert error.claimed_culprit not in HONEST, error
    assert not run.results


# -- section V: the cheater proves altered (self-consistent) input pieces -----------------------


def _scales():
    return _config().scales(len(FEATURES), ROWS, PARTIES)


def _v_not_orthogonal(prep: H.PreparedInput) -> H.PreparedInput:
    V = prep.V.copy()
    V[0, 1] += 1 << (_scales().v_bits - 6)  # V^T V is no longer close to I
    return _recompute(prep, _scales(), V=V)


def _theta_off_sigma(prep: H.PreparedInput) -> H.PreparedInput:
    theta = prep.theta.copy()
    theta[1] = theta[1] * 101 // 100  # 1 % off (Sigma^2 + rho)^-1
    return _recompute(prep, _scales(), theta=theta)


def _a_out_of_range(prep: H.PreparedInput) -> H.PreparedInput:
    A = prep.A.copy()
    A[1, 0] = _scales().a_bound + 1  # beyond the range the Gadget 4 budget relies on
    return dataclasses.replace(prep, A=A)


def _b_out_of_range(prep: H.PreparedInput) -> H.PreparedInput:
    ystar = prep.ystar.copy()
    ystar[0] = 4 * _scales().ystar_int_bound  # y* and b = V Sigma y* leave their ranges
    return _recompute(prep, _scales(), ystar=ystar)


def _altered_input(alter) -> type[HelenRun]:
    class AlteredInput(HelenRun):
        @staticmethod
        def prove_input(pk, prep, scales, ctx, verifiers, **kwargs):
            return input_proof.prove(
                pk, alter(prep), scales, ctx, verifiers, _unchecked=True, **kwargs
            )

    return AlteredInput


@pytest.mark.parametrize(
    "alter",
    [
        _v_not_orthogonal,
        pytest.param(_theta_off_sigma, marks=pytest.mark.long),
        pytest.param(_a_out_of_range, marks=pytest.mark.long),
        pytest.param(_b_out_of_range, marks=pytest.mark.long),
    ],
    ids=["v-not-orthogonal", "theta-off-sigma", "a-out-of-range", "b-out-of-range"],
)
async def test_altered_input_pieces_are_named(alter):
    """Statements 1-4 are checked by every verifier: the range proof of the residue fails."""
    run = await _run(
        b"helen-input-" + alter.__name__.encode(), run_class={CHEATER: _altered_input(alter)}
    )
    assert_culprit_named(run, phase=input_phase.PHASE)


@pytest.mark.long
@pytest.mark.parametrize(
    "elsewhere",
    [{"session": b"an earlier session"}, {"prover": 0}],
    ids=["another-session", "another-prover"],
)
async def test_input_proof_replayed_from_elsewhere_is_named(elsewhere):
    """Commitments and proofs as made in an earlier session, or as party 0 made them (copied):
    the statement is the same, only the proof context differs."""

    class Replayed(HelenRun):
        @staticmethod
        def prove_input(pk, prep, scales, ctx, verifiers, **kwargs):
            other = dataclasses.replace(ctx, **elsewhere)
            return input_proof.prove(pk, prep, scales, other, verifiers, **kwargs)

    run = await _run(b"helen-replay-" + "-".join(elsewhere).encode(), run_class={CHEATER: Replayed})
    assert_culprit_named(run, phase=input_phase.PHASE)


# -- section VI-B: the local product ----------------------------------------------------------


def _other_data_prepared() -> H.PreparedInput:
    """Section V integers of another data set of the same shape (the cheater's rows, shifted)."""
    X, y = wine_parts(FEATURES)[CHEATER]
    return H.prepare_input(np.roll(X, 3, axis=0) * 0.9, np.roll(y, 5), _scales())


async def test_local_product_on_other_data_than_committed_is_named():
    """Party 1 multiplies by the A of another data set (with its committed randomness)."""
    other = _other_data_prepared()

    class OtherData(HelenRun):
        @staticmethod
        def local_product(pk, witness, com, v, ctx, encryptor=None):
            A = [
                [dataclasses.replace(t, plaintext=int(other.A[i][j])) for j, t in enumerate(row)]
                for i, row in enumerate(witness.A)
            ]
            mine = [[t.plaintext for t in row] for row in witness.A]
            assert mine != [[t.plaintext for t in row] for row in A]
            return lp.local_product(pk, dataclasses.replace(witness, A=A), com, v, ctx, encryptor)

    run = await _run(b"helen-other-data", run_class={CHEATER: OtherData})
    assert_culprit_named(run, phase=lp.PHASE)


@pytest.mark.long
async def test_local_proof_replayed_from_another_round_is_named():
    """A Gadget 1 proof bound to another iteration's round does not verify in this one."""

    class Replayed(HelenRun):
        @staticmethod
        def local_product(pk, witness, com, v, ctx, encryptor=None):
            other_round = dataclasses.replace(ctx, round=ctx.round + 1)
            return lp.local_product(pk, witness, com, v, other_round, encryptor)

    run = await _run(b"helen-replay-round", run_class={CHEATER: Replayed})
    assert_culprit_named(run, phase=lp.PHASE)


# -- Gadget 3: masks the cheater publishes ---------------------------------------------------


class Tampering(PaillierParty):
    """Changes the group ``key`` of the values it range-proves in ``phase``.

    Keys as in the payloads: Gadget 3's masks "r" (values) and "s" (MACs) (the published
    shares "b", "c" and Gadget 4's masks "r0", "r1" are gone). ``tamper`` gets the values
    and their inclusive upper bound and returns what to encrypt and the bound to prove it for.
    Works with either prover API: ``prove_values`` (one call per group, in payload order; the
    interval proof) and ``prove_bounded`` (all groups at once; the tight range proof).
    """

    phase: ClassVar[str] = ""
    key: ClassVar[str] = ""
    ORDER: ClassVar[dict[str, int]] = {"r": 0, "s": 1, "b": 0, "c": 1, "r0": 0, "r1": 1}
    #: how many times the cheater tampered (a test asserts it did: phase and key names matter)
    hits: ClassVar[int] = 0

    def tamper(self, values: list[int], high: int) -> tuple[list[int], int]:
        raise NotImplementedError

    def _tampered(self, values, high):
        type(self).hits += 1
        return self.tamper([int(v) for v in values], high)

    def prove_values(self, values, mode, bits, phase, rnd):
        seen: dict[Any, int] = self.__dict__.setdefault("_seen", {})
        index = seen[(phase, rnd)] = seen.get((phase, rnd), -1) + 1
        direct = not self.__dict__.get("_in_bounded", False)
        if direct and phase == self.phase and index == self.ORDER[self.key]:
            values, high = self._tampered(values, (1 << bits) - 1)
            bits = high.bit_length()
        return super().prove_values(values, mode, bits, phase, rnd)

    def prove_bounded(self, groups, phase, rnd):
        if phase == self.phase:
            groups = [
                (k, *self._tampered(v, high)) if k == self.key else (k, v, high)
                for k, v, high in groups
            ]
        self.__dict__["_in_bounded"] = True
        try:
            return super().prove_bounded(groups, phase, rnd)  # type: ignore[misc]
        finally:
            self.__dict__["_in_bounded"] = False


def _tampering(cls: type[Tampering], phase: str, key: str) -> type[Tampering]:
    return type(cls.__name__, (cls,), {"phase": phase, "key": key})


class OutOfRange(Tampering):
    """One value far above its bound, proved as well as the prover can: for a wider range."""

    def tamper(self, values, high):
        bits = high.bit_length()
        values[0] += 1 << (bits + 120)  # beyond any slack a range proof allows
        return values, (1 << (bits + 121)) - 1


@pytest.mark.parametrize(
    ("phase", "key", "caught_in"),
    [
        ("gadget3", "s", coord.PHASE),
        pytest.param("gadget3", "r", coord.PHASE, marks=pytest.mark.long),
    ],
    ids=["mac-mask", "mask"],
)
async def test_out_of_range_conversion_value_is_named(phase, key, caught_in):
    """A Gadget 3 value or MAC mask outside its range: the range proof fails at every verifier
    (whichever range proof it is). (The published shares and Gadget 4's masks, whose range
    proofs this test also covered, are gone: docs/crypto.md, "Gadget 3 without published
    shares".)"""
    cls = _tampering(OutOfRange, phase, key)
    run = await _run(b"helen-range-" + f"{phase}-{key}".encode(), paillier_class={CHEATER: cls})
    assert cls.hits == 1
    assert_culprit_named(run, phase=caught_in)


class InRange(Tampering):
    """Publishes another in-range value than the one it keeps (its range proof is honest)."""

    def tamper(self, values, high):
        values[0] ^= 1
        return values, high


@pytest.mark.long
@pytest.mark.parametrize(
    ("phase", "key", "kind", "caught_in"),
    [
        ("gadget3", "r", MacCheckFailed, coord.PHASE),
        ("gadget3", "s", MacCheckFailed, coord.PHASE),
    ],
    ids=["conversion-mask", "conversion-mac-mask"],
)
async def test_wrong_value_in_range_aborts_anonymously(phase, key, kind, caught_in):
    """A wrong conversion mask: Enc(r') published, the share -r kept, so the shares add up to
    w ± 1 under a MAC of w and the MAC check before the way back fails. A wrong MAC mask:
    Enc(s') published, the MAC share -s kept, so the MAC shares add up to alpha w ± 1 and the
    same MAC check fails. (It replaces the wrong published MAC share, which Gadget 4's MAC
    test caught at the end: that message is gone, and a MAC share a cheater uses in SPDZ is
    what matters.)"""
    cls = _tampering(InRange, phase, key)
    run = await _run(b"helen-in-range-" + key.encode(), paillier_class={CHEATER: cls})
    assert cls.hits == 1
    assert_anonymous_abort(run, kind)
    for honest in HONEST:
        assert run.errors[honest].phase == caught_in, run.errors[honest]


# -- between conversions: z and u_i -----------------------------------------------------------


@pytest.mark.long
async def test_z_altered_after_the_way_back_is_named():
    """Party 1 carries Enc(z + 1) into the release: its decryption share proves the wrong thing."""

    class AlteredZ(HelenRun):
        def carry(self, step):
            enc_z, enc_u, u = super().carry(step)
            pk = self.paillier.pk
            return [ops.add_plain(pk, enc_z[0], 1), *enc_z[1:]], enc_u, u

    run = await _run(b"helen-z", run_class={CHEATER: AlteredZ})
    assert_culprit_named(run, phase=release_phase.RELEASE_PHASE)


@pytest.mark.long
async def test_u_share_altered_between_iterations_aborts_anonymously():
    """Party 1 adds one to its SPDZ share of u_1 before iteration 2: the MAC check fails."""

    class AlteredU(HelenRun):
        def carry(self, step):
            enc_z, enc_u, u = super().carry(step)
            mine = u[CHEATER]
            value = mine.value.copy()
            value[0] = (int(value[0]) + 1) % F.P
            return enc_z, enc_u, {**u, CHEATER: Share(value, mine.mac)}

    two = dataclasses.replace(_config(), iterations=2)
    run = await train_locally(
        wine_parts(FEATURES),
        two,
        session=b"helen-u",
        deadlines=SLOW_MACHINE,
        run_class={CHEATER: AlteredU},
    )
    assert_anonymous_abort(run, MacCheckFailed)


# -- silence and false accusation --------------------------------------------------------------


class Withholding(MemoryTransport):
    """Party 1's transport: everything goes out except its Gadget 3 mask contribution."""

    def __init__(self, network: MemoryNetwork, local_id: int) -> None:
        super().__init__(network, local_id)
        self.withheld = 0

    async def send(self, peer, data):
        tag = peek_header(data).tag
        if "spdz-gadget3/" in tag and not is_internal(tag):
            self.withheld += 1
            return
        await super().send(peer, data)


@pytest.mark.long
async def test_withheld_gadget3_contribution_is_named_by_the_deadline(autojump_clock):
    """Virtual time: party 1 stays alive (heartbeats) but never sends its Gadget 3 masks. (It
    withheld its Gadget 4 masks before, which no longer exist. Like that version on main, the
    test is racy: party 1's own deadline report can reach an honest party before that party's
    deadline names party 1; left as found.)"""
    network = MemoryNetwork(list(range(PARTIES)))
    transports = [
        Withholding(network, p) if p == CHEATER else network.transport(p) for p in range(PARTIES)
    ]
    run = await train_locally(
        wine_parts(FEATURES),
        _config(),
        session=b"helen-silent",
        deadlines=SLOW_MACHINE,
        transports=transports,
    )
    assert transports[CHEATER].withheld > 0
    for honest in HONEST:
        error = run.errors.get(honest)
        assert isinstance(error, DeadlineExceeded), run.errors
        assert error.culprit == CHEATER, error
        assert error.phase == coord.PHASE, error
    assert not run.results


class Overhearing(MemoryTransport):
    """Party 1's transport: keeps every frame party 0 sent it (genuine, signed by party 0)."""

    def __init__(self, network: MemoryNetwork, local_id: int) -> None:
        super().__init__(network, local_id)
        self.heard: list[bytes] = []

    async def receive(self):
        frame = await super().receive()
        if frame.peer == ACCUSED:
            self.heard.append(frame.data)
        return frame


@pytest.mark.parametrize("backed", [False, True], ids=["no-evidence", "genuine-frames"])
async def test_false_accusation_does_not_blame_the_accused(backed):
    """Party 1 aborts after the input phase claiming party 0's proof failed, with no evidence
    or with every frame party 0 really sent it (signed, of this run, proving nothing)."""
    network = MemoryNetwork(list(range(PARTIES)))
    ear = Overhearing(network, CHEATER)
    transports = [ear if p == CHEATER else network.transport(p) for p in range(PARTIES)]

    class FalseAccuser(HelenRun):
        def phases(self):
            inner = super().phases()
            machine = next(inner)
            while True:
                result = yield machine
                if machine.phase == input_phase.PHASE:
                    assert ear.heard
                    raise CheatingDetected(
                        f"input preparation of party {ACCUSED} rejected",
                        culprit=ACCUSED,
                        evidence=list(ear.heard) if backed else [],
                        phase=input_phase.PHASE,
                    )
                machine = inner.send(result)

    run = await _run(
        b"helen-accuse-" + str(backed).encode(),
        run_class={CHEATER: FalseAccuser},
        transports=transports,
    )
    assert isinstance(run.errors.get(CHEATER), CheatingDetected)
    assert not run.results
    for honest in HONEST:
        error = run.errors.get(honest)
        assert isinstance(error, ProtocolAborted), run.errors
        assert error.culprit in (None, CHEATER), error  # never the accused, never the other
        if isinstance(error, CheatingDetected) and error.reported_by == CHEATER:
            # the accusation is kept as what it is: an unproven claim of party 1
            assert error.hearsay and error.claimed_culprit == ACCUSED, error


@pytest.mark.long
async def test_false_echo_names_the_accuser_not_the_accused():
    """Party 1's digest echo claims party 0 sent another input broadcast than it did."""

    def lie(header, payload, destination):
        if header.phase == input_phase.PHASE and header.tag.endswith(ECHO_SUFFIX):
            return [[s, bytes(b ^ 1 for b in d) if s == ACCUSED else d] for s, d in payload]
        return payload

    run = await _run(
        b"helen-false-echo", party_options=lambda p: {"payload_hook": lie} if p == CHEATER else {}
    )
    assert not run.results
    # The first honest party whose wait for the accuser's evidence ends names it; the other may
    # hear that abort before its own wait ends and then holds the name as a claim (a silence
    # cannot be proven to it). Either way the accused is never named.
    for honest in HONEST:
        error = run.errors.get(honest)
        assert isinstance(error, BroadcastInconsistent), run.errors
        assert error.phase == input_phase.PHASE, error
        assert CHEATER in (error.culprit, error.claimed_culprit), error
        assert ACCUSED not in (error.culprit, error.claimed_culprit), error
    assert any(run.errors[h].culprit == CHEATER for h in HONEST), run.errors
