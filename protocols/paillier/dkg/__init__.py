"""Distributed generation of threshold Paillier keys: N = pq with p, q known to nobody.

Boneh-Franklin with distributed sieving over additive shares multiplied by pairwise Paillier
OLEs (default, ``multiplier = "additive"``: secret against m - 1 passive colluders) or over
honest-majority Shamir sharing (``"shamir"``), a Boneh-Franklin biprimality test with committed
values, an audit of every rejected candidate and a final proved joint decryption. See docs/crypto.md ("Distributed key generation") for the exact
guarantees.
"""

from .params import DkgParams
from .run import DistributedKeyGeneration, DkgGaveUp, DkgProgress, DkgResult, DkgRun

__all__ = [
    "DistributedKeyGeneration",
    "DkgGaveUp",
    "DkgParams",
    "DkgProgress",
    "DkgResult",
    "DkgRun",
]
