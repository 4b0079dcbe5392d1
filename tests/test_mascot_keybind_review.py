"""Review findings on the MASCOT MAC key binding (``mascot_keybind``), kept apart from
``test_mascot_keybind.py`` so that the two merge without conflicts.

INSECURE parameters for speed, as there: 1280-bit threshold Paillier test keys with 16
interval-proof repetitions (``spdz.testing``), 512-bit ring-Pedersen moduli where needed.
"""

from __future__ import annotations

import pytest

from coopetition.protocols.spdz import field as F
from coopetition.protocols.spdz.conversion import PaillierParty
from coopetition.protocols.spdz.errors import MacCheckFailed
from coopetition.protocols.spdz.harness import run_local
from coopetition.protocols.spdz.mascot import MascotParty
from coopetition.protocols.spdz.mascot_local import LocalMascot
from coopetition.protocols.spdz.testing import paillier_parties


def _paillier(m: int, session: bytes) -> list[PaillierParty]:
    ps = paillier_parties(m, session)
    run_local([p.setup() for p in ps])
    return ps


class _Reached(Exception):
    """Raised where the run would go on to make MASCOT triples (the test stops there)."""


def test_helen_mascot_preprocessing_binds_the_key_shares(monkeypatch):
    """Review finding: Helen's default preprocessing (MASCOT) made its generator with the
    Paillier alpha_i as plain numbers and never ran the binding, so a party feeding COPE
    alpha_1 + 1 went unnoticed there. Now ``prepare_parties`` hands MASCOT the Paillier
    parties and the binding aborts before any triple is made."""
    from coopetition.protocols.admm.objective import Objective
    from coopetition.protocols.helen import local_prep
    from coopetition.protocols.helen.config import HelenConfig
    from coopetition.protocols.helen.local_run import prepare_parties

    class CheatingCope(MascotParty):
        """Party 1 sets MASCOT up (COPE, its store) with alpha_1 + 1, then claims alpha_1."""

        def setup(self):  # type: ignore[no-untyped-def]
            if self.party != 1:
                return (yield from super().setup())
            claimed = self.alpha_share
            self.alpha_share = (claimed + 1) % F.P
            store = yield from super().setup()
            self.alpha_share = claimed  # passes the local guard of the binding
            return store

    def stop(*args):  # type: ignore[no-untyped-def]
        raise _Reached

    # in-process preparation (workers=1): the patches below do not reach spawned workers;
    # tests/test_prep_workers.py plays the same cheater inside a worker
    monkeypatch.setattr(local_prep, "MascotParty", CheatingCope)
    monkeypatch.setattr(local_prep, "mascot_batch", stop)
    config = HelenConfig(
        objective=Objective("least_squares"),
        iterations=1,
        key_bits=1280,
        insecure=True,
        interval_repetitions=16,
        preprocessing="mascot",
    )
    with pytest.raises(MacCheckFailed):
        prepare_parties(config, 2, 2, 8, b"keybind-helen", workers=1)


def test_binding_runs_on_the_authenticate_modes_the_range_proof_branch_keeps(monkeypatch):
    """Review finding (merge): the tight-range-proof branch drops ``authenticate``'s
    ``mode="interval"`` (only ``"knowledge"`` and ``"bounded"`` remain); the binding asked for
    it, so the merged tree raised ValueError on every Helen run with MASCOT. The binding's
    soundness rests on the MAC check, not on the masks' range, so it uses the knowledge-proved
    masks that both branches keep."""
    original = PaillierParty.authenticate

    def merged_api(self, cts, value_bits, *, mode="knowledge", phase="auth"):  # type: ignore[no-untyped-def]
        if mode not in ("knowledge", "bounded"):
            raise ValueError("authenticate mode is 'knowledge' (packed) or 'bounded' (Gadget 3)")
        return original(self, cts, value_bits, mode=mode, phase=phase)

    monkeypatch.setattr(PaillierParty, "authenticate", merged_api)
    ps = _paillier(2, b"keybind-merged-api")
    gen = LocalMascot(2, paillier=ps, session=b"keybind-merged-api", batch=4).randoms(2)
    alpha = sum(p.alpha_share for p in ps) % F.P
    drawn = [st.take("random", 2) for st in gen.stores]
    for t in range(2):
        value = sum(int(d.parts[0].value[t]) for d in drawn) % F.P
        assert sum(int(d.parts[0].mac[t]) for d in drawn) % F.P == alpha * value % F.P
