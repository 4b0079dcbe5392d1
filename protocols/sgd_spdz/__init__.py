"""Secure SGD for linear regression inside SPDZ: Helen's maliciously secure baseline.

``plan`` holds the public parameters, batches and preprocessing counts, ``program`` the SPDZ
program, ``sources`` the pluggable preprocessing (real threshold-Paillier offline phase, or an
INSECURE dealer for tests), ``session`` the engine run. See docs/protocols.md.
"""

from coopetition.protocols.sgd_spdz.plan import SgdConfig, SgdPlan
from coopetition.protocols.sgd_spdz.session import SgdResult, SgdSpdzRun

__all__ = ["SgdConfig", "SgdPlan", "SgdResult", "SgdSpdzRun"]
