"""DSSGD (Shokri and Shmatikov, CCS 2015) for linear regression: Laplace-noised local models.

``mechanism`` holds the local SGD, clipping and Laplace mechanism (sensitivity stated there),
``machines`` the sharing round, ``session`` the protocol object, ``local_run`` an in-process
runner. It is the differential-privacy baseline of the PPADMM paper's Figs. 3-5.
"""

from coopetition.protocols.dssgd.mechanism import PAPER_EPSILONS, DssgdConfig
from coopetition.protocols.dssgd.session import DssgdResult, DssgdRun

__all__ = ["PAPER_EPSILONS", "DssgdConfig", "DssgdResult", "DssgdRun"]
