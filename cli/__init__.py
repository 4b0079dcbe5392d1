"""coopetition: a peer-to-peer protocol engine for coopetitive learning of linear models.

The import root holds the command-line front end and the user-facing API (loaded on first use,
so ``coopetition --help`` stays fast): ``train`` / ``train_in_asyncio`` for one party of a real
session, ``simulate`` for all parties in one process, and scikit-learn-style estimators
(``AdmmLasso``, ``AdmmRidge``, ``AdmmElasticNet``, ``AdmmLinearRegression``). The layers live in
``coopetition.engine`` (party runtime, bus, wire format, state machines),
``coopetition.transports``, ``coopetition.protocols`` and ``coopetition.sims``.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "train": "coopetition.api",
    "train_in_asyncio": "coopetition.api",
    "simulate": "coopetition.api",
    "Fit": "coopetition.api",
    "AdmmLasso": "coopetition.estimators",
    "AdmmRidge": "coopetition.estimators",
    "AdmmElasticNet": "coopetition.estimators",
    "AdmmLinearRegression": "coopetition.estimators",
    "AdmmConfig": "coopetition.protocols.admm",
    "Objective": "coopetition.protocols.admm",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'coopetition' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
