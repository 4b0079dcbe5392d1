"""Plaintext distributed ADMM for linear models: the yardstick for the secure protocols.

``objective`` holds the objectives and their consensus (z) updates, ``local`` the per-party
closed-form step (eq. 4 of the Helen paper), ``machines`` the phase machines, ``session`` the
protocol object a ``Party`` runs, ``reference`` the scikit-learn fit of the same objective on the
pooled data, and ``local_run`` a helper that runs all parties in one process.
"""

from coopetition.protocols.admm.objective import Objective
from coopetition.protocols.admm.session import AdmmConfig, AdmmResult, AdmmRun

__all__ = ["AdmmConfig", "AdmmResult", "AdmmRun", "Objective"]
