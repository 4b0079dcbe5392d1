"""The Helen protocol object a ``Party`` runs: its phases in order, and the state between them.

    setup (parameters by signed digest, ring-Pedersen parameters)
    -> input preparation (section V: commitments, statements 1-4)
    -> per iteration: local (Gadget 1) -> coordinate (Gadget 3, SPDZ, Gadget 3 back)
    -> verify (Gadget 4 over the run-level ledger) -> release (joint decryption of z)

Each phase is a straight-line program run by the engine's ``ProgramMachine`` (tags derived from
program position, or the SPDZ/Paillier parties' own tags), so every message is a consistent
broadcast. The threshold Paillier key share, the SPDZ MAC key share and the preprocessing store
come in from outside (``local_run`` makes them in-process; the run record says how).
"""

from __future__ import annotations

import time
from collections.abc import Generator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from coopetition.engine.errors import ConfigError, PartyId, ProtocolAborted
from coopetition.engine.machine import PhaseMachine
from coopetition.engine.program import Program, ProgramMachine, program_machine
from coopetition.protocols.admm.local import check_data
from coopetition.protocols.helen import coordinate_phase as coord
from coopetition.protocols.helen import (
    input_phase,
    input_proof,
    local_phase,
    release_phase,
    setup_phase,
)
from coopetition.protocols.helen.config import HelenConfig
from coopetition.protocols.helen.model import HelenModel, model_of
from coopetition.protocols.paillier import ops
from coopetition.protocols.spdz.conversion import PaillierParty
from coopetition.protocols.spdz.online import SpdzParty
from coopetition.protocols.spdz.preprocessing import PreprocessingStore

#: every phase proves or converts under Paillier, so its steps run off the event loop
SetupMachine = program_machine(setup_phase.PHASE, offload=True)
InputMachine = program_machine(input_phase.PHASE, offload=True)
LocalMachine = program_machine(local_phase.PHASE, offload=True)
CoordinateMachine = program_machine(coord.PHASE, offload=True)
VerifyMachine = program_machine(release_phase.VERIFY_PHASE, offload=True)
ReleaseMachine = program_machine(release_phase.RELEASE_PHASE, offload=True)


def _in_phase(program: Program[Any], phase: str, rnd: int) -> Program[Any]:
    """Run ``program``; an abort raised without a phase (deep in a gadget) gets this one."""
    try:
        return (yield from program)
    except ProtocolAborted as exc:
        if exc.phase is None:
            exc.phase, exc.round = phase, rnd
            exc.args = (exc._describe(),)
        raise


@dataclass(frozen=True)
class HelenResult:
    """``model`` is the released z (in the space of the data the parties trained on)."""

    model: np.ndarray
    iterations: int
    local_rows: int
    record: dict[str, Any] = field(default_factory=dict)

    def estimator(self, feature_names: Sequence[str] = ()) -> HelenModel:
        """The model with ``coef_``, ``predict`` and ``score`` (scikit-learn's conventions)."""
        return model_of(self.model, feature_names)


class HelenRun:
    """Helen over the bus for one party; ``phases()`` is the whole protocol."""

    name = "helen"
    #: the proving steps, as seams: tests replace them in a subclass to play a cheating party
    prove_input = staticmethod(input_proof.prove)
    local_product = staticmethod(local_phase.local_product)

    def __init__(
        self,
        config: HelenConfig,
        X: np.ndarray,
        y: np.ndarray,
        *,
        party: PartyId,
        parties: tuple[PartyId, ...],
        paillier: PaillierParty,
        store: PreprocessingStore,
        rows: int,
        provenance: dict[str, str] | None = None,
    ) -> None:
        self.config = config
        self.X, self.y = check_data(X, y)
        self.party = party
        self.parties = tuple(sorted(parties))
        if self.parties != tuple(range(len(self.parties))):
            raise ConfigError("Helen numbers its parties 0..m-1 (threshold key shares)")
        if paillier.party != party:
            raise ConfigError(f"party {party} was given the key share of party {paillier.party}")
        self.paillier = paillier
        self.store = store
        self.rows = rows
        self.provenance = dict(provenance or {})

    def _machine(self, cls: type[ProgramMachine], program: Any, rnd: int = 0) -> ProgramMachine:
        return cls(self.party, self.parties, round=rnd, program=_in_phase(program, cls.phase, rnd))

    def phases(self) -> Generator[PhaseMachine, Any, HelenResult]:
        cfg, me, everyone = self.config, self.party, self.parties
        p = self.paillier
        pk, session = p.pk, p.session
        n, d = self.X.shape
        m = len(everyone)
        scales = cfg.scales(d, self.rows, m)
        parameters = cfg.public_parameters(d, self.rows, m)
        times: dict[str, float] = {}

        def timed(name: str, start: float) -> None:
            times[name] = times.get(name, 0.0) + time.perf_counter() - start

        t0 = time.perf_counter()
        setup = yield self._machine(
            SetupMachine,
            setup_phase.setup_program(
                me, everyone, parameters, n, session, cfg.ring_bits, cfg.insecure
            ),
        )
        timed("setup", t0)
        t0 = time.perf_counter()
        prepared = yield self._machine(
            InputMachine,
            input_phase.input_program(
                me,
                everyone,
                pk,
                self.X,
                self.y,
                scales,
                setup.ring,
                session,
                p.encryptor,
                self.prove_input,
            ),
        )
        timed("input", t0)
        spdz = SpdzParty(self.store, session=session)
        zero = ops.add_plain(pk, 1, 0)  # Enc(0; 1): the public starting point
        enc_z = [zero] * d
        enc_u = {j: [zero] * d for j in everyone}
        u = {j: coord.zero_shares(spdz, d) for j in everyone}
        ledger = release_phase.Ledger()
        forward_size, back_size = coord.expected_sizes(scales)
        for k in range(cfg.iterations):
            t0 = time.perf_counter()
            w_full = yield self._machine(
                LocalMachine,
                local_phase.local_program(
                    me,
                    everyone,
                    k,
                    pk,
                    prepared.commitments,
                    prepared.witness,
                    enc_z,
                    enc_u,
                    scales.rho_int,
                    session,
                    p.encryptor,
                    self.local_product,
                ),
                k,
            )
            timed("local", t0)
            t0 = time.perf_counter()
            step: coord.Coordinated = yield self._machine(
                CoordinateMachine,
                coord.coordinate_program(p, spdz, everyone, w_full, u, scales, cfg.objective),
                k,
            )
            timed("coordinate", t0)
            ledger.add(step.forward, forward_size)
            ledger.add(step.back, back_size)
            enc_z, enc_u, u = step.enc_z, step.enc_u, step.u
        t0 = time.perf_counter()
        verified = yield self._machine(
            VerifyMachine, release_phase.verify_program(p, spdz, ledger, cfg.iterations)
        )
        timed("verify", t0)
        t0 = time.perf_counter()
        model = yield self._machine(
            ReleaseMachine, release_phase.release_program(p, enc_z, scales.z_bits)
        )
        timed("release", t0)
        record = {
            "protocol": "helen",
            "parameters": parameters,
            "parameters_digest": setup.digest.hex(),
            "rows": dict(setup.rows),
            "conversions_verified": verified,
            "phase_seconds": times,
            **self.provenance,
        }
        return HelenResult(model=model, iterations=cfg.iterations, local_rows=n, record=record)
