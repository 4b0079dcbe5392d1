"""Helen described for simulations and the CLI (see ``engine.metadata``).

Program phases derive their tags from program position (``x/1``, ``x/2``, ...) or, inside the
SPDZ and Paillier parties, name their own (``open/n``, ``spdz-.../n``): the tags listed are the
first ones each phase sends, for fault scenarios that target a phase's opening message.
"""

from __future__ import annotations

from coopetition.engine.metadata import PhaseInfo, ProtocolInfo
from coopetition.protocols.helen import (
    coordinate_phase,
    input_phase,
    local_phase,
    preprocess_phase,
    release_phase,
    setup_phase,
)

__all__ = ["HELEN_INFO"]

#: Rounds: ``helen-local`` and ``helen-coordinate`` run rounds 0..iterations-1, the others once.
HELEN_INFO = ProtocolInfo(
    name="helen",
    phases=(
        PhaseInfo(setup_phase.PHASE, tags=("x/1", "x/2"), progress="milestone"),
        # per-party setup only (``HelenRun(key=...)``): after the in-session DKG's ``dkg``
        # batches, if any, the party's own preprocessing (``preprocess_phase``)
        PhaseInfo(preprocess_phase.OFFLINE_PHASE, progress="milestone"),
        PhaseInfo(preprocess_phase.MASCOT_PHASE, progress="milestone"),
        PhaseInfo(input_phase.PHASE, tags=("x/1",), progress="milestone"),
        PhaseInfo(local_phase.PHASE, tags=("x/1",), repeat="iterations"),
        PhaseInfo(coordinate_phase.PHASE, repeat="iterations", progress="round"),
        PhaseInfo(release_phase.VERIFY_PHASE, progress="milestone"),
        PhaseInfo(release_phase.RELEASE_PHASE, progress="milestone"),
    ),
    parameters={"objective": "lasso", "lam": 1.0, "rho": 1.0, "l1_ratio": 0.5, "iterations": 10},
)
