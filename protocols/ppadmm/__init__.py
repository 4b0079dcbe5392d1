"""PPADMM: ADMM-LASSO with a secure sum through two non-colluding servers (S1, S2).

``masking`` holds the secure-sum primitives (X25519 key agreement, SHA-256 masks, the 2**128
fixed-point ring), ``machines`` the phase machines, ``session`` the protocol object and the
fixed-point plaintext reference, ``local_run`` an in-process runner. See docs/protocols.md.
"""

from coopetition.protocols.ppadmm.masking import KeyMismatch
from coopetition.protocols.ppadmm.session import PpadmmConfig, PpadmmResult, PpadmmRun

__all__ = ["KeyMismatch", "PpadmmConfig", "PpadmmResult", "PpadmmRun"]
