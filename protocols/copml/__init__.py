"""COPML (So, Guler and Avestimehr, NeurIPS 2020): logistic regression on Lagrange-coded,
Shamir-shared data for many parties; semi-honest, private against T colluding parties."""

from .params import PRESETS, CopmlParams, FieldPlan, recovery_threshold
from .session import CopmlResult, CopmlRun, CopmlSetup, check_inputs

__all__ = [
    "PRESETS",
    "CopmlParams",
    "CopmlResult",
    "CopmlRun",
    "CopmlSetup",
    "FieldPlan",
    "check_inputs",
    "recovery_threshold",
]
