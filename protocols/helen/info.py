"""Helen described for simulations and the CLI (see ``engine.metadata``).

Program phases derive their tags from program position (``x/1``, ``x/2``, ...) or, inside the
SPDZ and Paillier parties, name their own (``open/n``, ``spdz-.../n``): the tags listed are the
first ones each phase sends, for fault scenarios that target a phase's opening message.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from coopetition.engine.errors import ConfigError
from coopetition.engine.metadata import PhaseInfo, ProtocolInfo
from coopetition.protocols.admm.objective import Objective
from coopetition.protocols.helen import (
    coordinate_phase,
    input_phase,
    local_phase,
    preprocess_phase,
    release_phase,
    setup_phase,
)
from coopetition.protocols.helen.config import SECURE_KEY_BITS, HelenConfig

__all__ = ["HELEN_INFO", "HELEN_PARAMETERS", "config_of"]

#: scenario parameters (``[protocol]`` of a ``sims`` scenario) and their defaults: the
#: ``HelenConfig`` fields; ``interval_repetitions = 0`` means the production count
HELEN_PARAMETERS: dict[str, Any] = {
    "objective": "lasso",
    "lam": 1.0,
    "rho": 1.0,
    "l1_ratio": 0.5,
    "iterations": 10,
    "x_bound": 8.0,
    "y_bound": 8.0,
    "w_bound": 2.0**16,
    "precision": 24,
    "key_bits": SECURE_KEY_BITS,
    "insecure": False,
    "interval_repetitions": 0,
    "preprocessing": "mascot",
}


def config_of(parameters: Mapping[str, Any]) -> HelenConfig:
    """The ``HelenConfig`` a scenario's parameters describe; a ``ConfigError`` names the key."""
    unknown = sorted(set(parameters) - {"name", *HELEN_PARAMETERS})
    if unknown:
        raise ConfigError(f"[protocol] keys {unknown} do not apply to helen")
    values: dict[str, Any] = {
        **HELEN_PARAMETERS,
        **{k: v for k, v in parameters.items() if k != "name"},
    }
    for key, default in HELEN_PARAMETERS.items():
        value = values[key]
        kinds: tuple[type, ...] = (int, float) if isinstance(default, float) else (type(default),)
        if isinstance(value, bool) != isinstance(default, bool) or not isinstance(value, kinds):
            kind = "a number" if isinstance(default, float) else type(default).__name__
            raise ConfigError(f"[protocol] {key} must be {kind}, got {value!r}")
        if isinstance(default, float):
            try:
                values[key] = float(values[key])
            except OverflowError:
                raise ConfigError(f"[protocol] {key} is too large, got {value!r}") from None
    for key in ("rho", "x_bound", "y_bound", "w_bound"):
        if not math.isfinite(values[key]) or values[key] <= 0:
            raise ConfigError(f"[protocol] {key} must be a finite number > 0, got {values[key]!r}")
    name = values["objective"]
    try:
        objective = Objective(
            name,
            lam=0.0 if name == "least_squares" else float(values["lam"]),
            l1_ratio=float(values["l1_ratio"]),
        )
        return HelenConfig(
            objective=objective,
            rho=float(values["rho"]),
            iterations=values["iterations"],
            x_bound=float(values["x_bound"]),
            y_bound=float(values["y_bound"]),
            w_bound=float(values["w_bound"]),
            precision=values["precision"],
            key_bits=values["key_bits"],
            insecure=values["insecure"],
            interval_repetitions=values["interval_repetitions"] or None,
            preprocessing=values["preprocessing"],
        )
    except ConfigError as exc:
        raise ConfigError(f"[protocol] {exc}") from None


def _check(parameters: Mapping[str, Any]) -> None:
    config_of(parameters)


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
    parameters=HELEN_PARAMETERS,
    check=_check,
)
