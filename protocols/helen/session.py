"""The Helen protocol object a ``Party`` runs: its phases in order, and the state between them.

    setup (parameters by signed digest, ring-Pedersen parameters)
    -> input preparation (section V: commitments, statements 1-4)
    -> per iteration: local (Gadget 1) -> coordinate (Gadget 3, SPDZ, Gadget 3 back)
    -> verify (the run-level ledger; final MAC check, retirement) -> release (joint decryption of z)

Each phase is a straight-line program run by the engine's ``ProgramMachine`` (tags derived from
program position, or the SPDZ/Paillier parties' own tags), so every message is a consistent
broadcast. The threshold Paillier key share, the SPDZ MAC key share and the preprocessing store
either come in from outside (``local_run``'s in-process shortcut; the run record says how) or,
given a ``KeySetup`` instead, are made by this party inside the session, right after setup:

    setup -> key (held share, or the in-session DKG) -> helen-offline (Paillier: MAC key,
    dual masks, statistical masks) -> helen-mascot (MASCOT set-up, its key bound to
    Enc(alpha_i), then triples and bits) -> input -> ...

which is what one OS process per party (``coopetition party``) runs.
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
from coopetition.protocols.helen import (
    budget,
    input_phase,
    input_proof,
    local_phase,
    release_phase,
    setup_phase,
)
from coopetition.protocols.helen import coordinate_phase as coord
from coopetition.protocols.helen import preprocess_phase as pre
from coopetition.protocols.helen.config import HelenConfig
from coopetition.protocols.helen.key_phase import KeySetup, key_phases
from coopetition.protocols.helen.model import HelenModel, model_of
from coopetition.protocols.helen.run_record import PhaseMeter, short_name
from coopetition.protocols.paillier import ops
from coopetition.protocols.spdz import mascot_keybind
from coopetition.protocols.spdz.conversion import PaillierParty
from coopetition.protocols.spdz.online import SpdzParty
from coopetition.protocols.spdz.preprocessing import PreprocessingStore
from coopetition.protocols.spdz.shares import Share
from coopetition.protocols.zk import range_params as rpm

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
    #: the per-party path's MAC-key binding (a cheater's subclass skips the local guard)
    bind_mac_key = staticmethod(mascot_keybind.bind_mac_key)

    def mascot_key_share(self, paillier: PaillierParty) -> int:
        """The key share this party feeds MASCOT's COPE: the alpha_i inside its Enc(alpha_i).

        A seam: tests override it to play a party whose MASCOT key differs from it, which the
        binding in ``helen-mascot`` must catch.
        """
        return paillier.alpha_share

    def carry(
        self, step: coord.Coordinated
    ) -> tuple[list[int], dict[int, list[int]], dict[int, Share]]:
        """What one iteration hands the next: Enc(z), every Enc(u_j), the shares of every u_j.

        A seam like the two above: tests override it to play a party that alters z or u_i
        between the conversion back and the next iteration (or the release).
        """
        return step.enc_z, step.enc_u, step.u

    def __init__(
        self,
        config: HelenConfig,
        X: np.ndarray,
        y: np.ndarray,
        *,
        party: PartyId,
        parties: tuple[PartyId, ...],
        paillier: PaillierParty | None = None,
        store: PreprocessingStore | None = None,
        rows: int,
        provenance: dict[str, str] | None = None,
        key: KeySetup | None = None,
        session: bytes | None = None,
    ) -> None:
        self.config = config
        self.X, self.y = check_data(X, y)
        self.party = party
        self.parties = tuple(sorted(parties))
        if self.parties != tuple(range(len(self.parties))):
            raise ConfigError("Helen numbers its parties 0..m-1 (threshold key shares)")
        if (paillier is None) != (store is None) or (paillier is None) == (key is None):
            raise ConfigError("give HelenRun either paillier and store, or a KeySetup")
        if paillier is not None and paillier.party != party:
            raise ConfigError(f"party {party} was given the key share of party {paillier.party}")
        if key is not None:
            if session is None:
                raise ConfigError("a HelenRun with a KeySetup needs the session id")
            if config.preprocessing != "mascot":
                raise ConfigError(
                    "a party making its own preprocessing uses MASCOT: set preprocessing = "
                    f"'mascot' (got {config.preprocessing!r})"
                )
            key.check(config, party, len(self.parties))
        self.paillier = paillier
        self.store = store
        self.key = key
        self.session = paillier.session if paillier is not None else session
        self.rows = rows
        self.provenance = dict(provenance or {})
        #: this party's exponentiations and CPU seconds per phase (the run record)
        self.meter = PhaseMeter()
        #: seconds each phase machine declares (``budget``; set from the shape in ``phases``)
        self.budgets: dict[str, float] = {}

    def _key_announcement(self) -> dict[str, Any]:
        if self.key is not None:
            return self.key.announce()
        assert self.paillier is not None
        return {"source": "given", "fingerprint": self.paillier.pk.fingerprint.hex()}

    def _per_party_setup(
        self, scales: Any, timed: Any, setup: setup_phase.SetupResult
    ) -> Generator[PhaseMachine, Any, tuple[PaillierParty, PreprocessingStore]]:
        """Key share, MAC key and every preprocessing item, made by this party over the bus.

        The Paillier side reuses this party's ring-Pedersen parameters from the setup phase
        (checked there by every peer, and admitted there across processes when the agreed
        digest says ``insecure``): a second modulus made in ``helen-offline`` would be refused
        by peers in other processes as "not made through the insecure test option".
        """
        cfg, me, everyone = self.config, self.party, self.parties
        assert self.key is not None and self.session is not None
        t0 = time.perf_counter()
        share = yield from key_phases(self.key, cfg, me, everyone, self.session)
        timed("keygen", t0)
        reps: dict[str, Any] = (
            {}
            if cfg.interval_repetitions is None
            else {"interval_repetitions": cfg.interval_repetitions}
        )
        paillier = PaillierParty(share, self.session, **reps)
        if setup.ring[me].bits >= paillier.ring_bits:  # else helen-offline makes a larger one
            paillier.ring, paillier.ring_secret = setup.ring[me], setup.own_ring_secret
        work = pre.plan(cfg, scales)
        t0 = time.perf_counter()
        store = yield self._machine(
            pre.OfflineMachine, pre.paillier_offline_program(paillier, work)
        )
        timed("offline", t0)
        t0 = time.perf_counter()
        mascot = pre.mascot_party(me, len(everyone), self.session, self.mascot_key_share(paillier))
        made = yield self._machine(
            pre.HelenMascotMachine, pre.mascot_program(mascot, paillier, work, self.bind_mac_key)
        )
        timed("mascot", t0)
        pre.merge(store, made)
        self.provenance.update(self.key.record(share, cfg))
        self.provenance["preprocessing"] = pre.provenance(work)
        return paillier, store

    def _machine(self, cls: type[ProgramMachine], program: Any, rnd: int = 0) -> ProgramMachine:
        metered = self.meter.metered(program, cls.phase)
        return cls(
            self.party,
            self.parties,
            round=rnd,
            program=_in_phase(metered, cls.phase, rnd),
            budget=self.budgets.get(cls.phase),
        )

    def phases(self) -> Generator[PhaseMachine, Any, HelenResult]:
        cfg, me, everyone = self.config, self.party, self.parties
        session = self.session
        assert session is not None
        n, d = self.X.shape
        m = len(everyone)
        scales = cfg.scales(d, self.rows, m)
        parameters = cfg.public_parameters(d, self.rows, m)
        # every input of the budgets is in the parameters the setup phase agrees on
        self.budgets = budget.phase_budgets(budget.HelenShape.of(cfg, scales))
        # also agreed: the insecure flag (it admits small ring-Pedersen moduli) and the key
        parameters["insecure"] = bool(cfg.insecure)
        parameters["key"] = self._key_announcement()
        # the trusted dealer's common ring-Pedersen modulus, when it made one (prepared parties)
        common = self.paillier.common_ring if self.paillier is not None else None
        if common is not None:
            rpm.check_common(common, cfg.ring_bits)
        parameters["ring"] = "per-verifier" if common is None else rpm.fingerprint(common)
        times: dict[str, float] = {}

        def timed(name: str, start: float) -> None:
            times[name] = times.get(name, 0.0) + time.perf_counter() - start

        t0 = time.perf_counter()
        setup = yield self._machine(
            SetupMachine,
            setup_phase.setup_program(
                me, everyone, parameters, n, session, cfg.ring_bits, cfg.insecure, common
            ),
        )
        timed("setup", t0)
        if self.paillier is None:
            self.paillier, self.store = yield from self._per_party_setup(scales, timed, setup)
        p = self.paillier
        assert self.store is not None
        pk = p.pk
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
                common=setup.common is not None,
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
            enc_z, enc_u, u = self.carry(step)
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
            # what each phase declared (the engine's limit: Party.stats deadline_seconds)
            "phase_budgets": {
                short_name(p): round(seconds, 1) for p, seconds in self.budgets.items()
            },
            **self.meter.record(),
            **self.provenance,
        }
        return HelenResult(model=model, iterations=cfg.iterations, local_rows=n, record=record)
