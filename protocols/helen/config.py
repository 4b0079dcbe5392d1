"""Helen's public parameters: what every party must hold alike, and the scales derived from them.

``HelenConfig`` is the part a user chooses (objective, rho, iterations, value bounds,
precision, key size, preprocessing); ``public_parameters`` is its float-free description plus
the run's shape (d, the largest n_i, m), which the setup phase agrees on by a signed digest
(``setup_phase``). ``scales`` builds the one ``HelenScales`` every phase uses.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from typing import Any

import cbor2

from coopetition.engine.errors import ConfigError
from coopetition.protocols.admm.objective import Objective
from coopetition.protocols.fixedpoint import HelenScales, gadget4_key_bits

#: Production Paillier modulus; anything smaller needs ``insecure=True``.
SECURE_KEY_BITS = 2048
#: Smallest Paillier modulus Gadget 4 fits in with tight range proofs, at the fewest parties
#: (m = 2): 256 + 2 * 2 + 40 + 502 = 802 bits, where the range proof of its masks binds
#: (docs/crypto.md, "Gadget 4 on one random combination"). ``HelenScales.check`` repeats the test for the run's own m and values.
MIN_KEY_BITS = gadget4_key_bits(2)
#: Ring-Pedersen modulus of the tight range proofs: production and insecure test sizes.
SECURE_RING_BITS = 2048
INSECURE_RING_BITS = 512
PREPROCESSING = ("insecure-dealer", "mascot")


@dataclass(frozen=True)
class HelenConfig:
    """Public training parameters of a Helen run (agreed in setup, see ``public_parameters``).

    ``x_bound``/``y_bound`` bound every party's (standardised) data entries, ``w_bound`` every
    |w|, |u|, |z|; ``precision`` is the fixed-point fraction F. ``key_bits`` below 2048,
    ``insecure_repetitions`` (interval-proof repetitions below 128-bit soundness) and the
    ``insecure-dealer`` preprocessing are for tests and demos only and need ``insecure=True``.
    """

    objective: Objective = field(default_factory=lambda: Objective("lasso", lam=1.0))
    rho: float = 1.0
    iterations: int = 10
    x_bound: float = 8.0
    y_bound: float = 8.0
    w_bound: float = 2.0**16
    precision: int = 24
    key_bits: int = SECURE_KEY_BITS
    insecure: bool = False
    interval_repetitions: int | None = None
    preprocessing: str = "mascot"
    #: where this process's trusted dealer makes the key (``local_run.prepare_parties``), it
    #: also makes one ring-Pedersen modulus for every verifier's range proofs (1/(m-1) of the
    #: proving; docs/crypto.md). False: each verifier its own, as with a key file or the DKG.
    dealer_ring: bool = True

    def __post_init__(self) -> None:
        if not (isinstance(self.iterations, int) and 1 <= self.iterations <= 10_000):
            raise ConfigError(f"iterations must be an integer in [1, 10000], got {self.iterations}")
        if self.key_bits < MIN_KEY_BITS:
            raise ConfigError(
                f"key_bits must be at least {MIN_KEY_BITS} (budget paillier.gadget4: Gadget 4's "
                "MAC test must not wrap modulo N)"
            )
        if self.key_bits < SECURE_KEY_BITS and not self.insecure:
            raise ConfigError(f"key_bits below {SECURE_KEY_BITS} needs insecure=True")
        if self.interval_repetitions is not None and not self.insecure:
            raise ConfigError("fewer interval-proof repetitions need insecure=True")
        if self.preprocessing not in PREPROCESSING:
            raise ConfigError(f"preprocessing must be one of {', '.join(PREPROCESSING)}")
        if self.preprocessing == "insecure-dealer" and not self.insecure:
            raise ConfigError("the insecure-dealer preprocessing needs insecure=True")

    @property
    def ring_bits(self) -> int:
        return INSECURE_RING_BITS if self.insecure else SECURE_RING_BITS

    def scales(self, features: int, rows: int, parties: int) -> HelenScales:
        s = HelenScales(
            features=features,
            rows=rows,
            parties=parties,
            rho=self.rho,
            x_bound=self.x_bound,
            y_bound=self.y_bound,
            w_bound=self.w_bound,
            precision=self.precision,
        )
        try:
            s.check(self.key_bits)
        except ValueError as exc:
            raise ConfigError(str(exc)) from exc
        lam1 = self.objective.lam1
        if lam1 > 0 and s.threshold_int(lam1) >= 1 << (s.k_sum - 1):
            # SPDZ's soft threshold needs kappa < 2^(k_sum - 1); refuse now, not after the
            # whole input phase at the first coordination.
            raise ConfigError(
                f"the lasso threshold lam1 / rho = {lam1 / self.rho:g} is too wide for the "
                f"soft threshold's {s.k_sum}-bit range: lower lam or raise rho or w_bound"
            )
        return s

    def public_parameters(self, features: int, rows: int, parties: int) -> dict[str, Any]:
        """Everything that must be equal everywhere, floats as their exact hex form."""
        s = self.scales(features, rows, parties)
        objective = {
            k: (float(v).hex() if isinstance(v, float) else v)
            for k, v in asdict(self.objective).items()
        }
        return {
            "protocol": "helen",
            "objective": objective,
            "rho": float(self.rho).hex(),
            "rho_int": s.rho_int,
            "rho_bits": s.rho_bits,
            "iterations": self.iterations,
            "features": features,
            "rows": rows,
            "parties": parties,
            "x_bound": float(self.x_bound).hex(),
            "y_bound": float(self.y_bound).hex(),
            "w_bound": float(self.w_bound).hex(),
            "precision": self.precision,
            "key_bits": self.key_bits,
            "interval_repetitions": self.interval_repetitions or 0,
            "preprocessing": self.preprocessing,
        }


def digest(parameters: dict[str, Any]) -> bytes:
    """SHA-256 of the canonical CBOR encoding (what the parties sign and compare)."""
    return hashlib.sha256(cbor2.dumps(parameters, canonical=True)).digest()
