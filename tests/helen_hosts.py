"""Helpers for Helen with one OS process per party on 127.0.0.1 (``coopetition party``).

The folders and processes are ``sims.helen_processes``' (the same code ``bench helen
--processes`` runs); this module keeps the tests' shorter names.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from coopetition.sims.benchkit import free_ports
from coopetition.sims.helen_processes import CLI, make_hosts, write_secret
from coopetition.sims.helen_processes import run_parties as _run_parties

__all__ = ["CLI", "free_ports", "make_hosts", "models_agree", "run_parties", "write_secret"]


def run_parties(hosts: list[Path], *, timeout: float = 3000.0) -> list[dict]:
    """Start ``coopetition party`` in every folder (one process each); their JSON outcomes."""
    return [p.outcome for p in _run_parties(hosts, timeout=timeout)]


def models_agree(outcomes: list[dict]) -> np.ndarray:
    models = [np.array(o["model"]) for o in outcomes]
    assert all(np.array_equal(models[0], m) for m in models[1:])
    return models[0]
