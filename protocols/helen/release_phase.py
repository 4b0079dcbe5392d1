"""Helen's verification and release (section VI-E): the end of the run's conversions, then Dec(z).

The ledger holds every conversion of the run (each iteration's forward and back conversion,
in order). Before the check runs, its length and every record's size are compared with what the
public parameters imply, so a run in which some conversion was left out (or one was added)
stops with a ``LocalFailure`` instead of verifying less than it should. The paper's Gadget 4
(tests on per-value published shares, then alpha released) is implied by Gadget 3 as built
here (docs/crypto.md, "Gadget 3 without published shares"); what remains is
``verify_conversions``: every way back was MAC-checked before its ciphertext was built, all
pending SPDZ openings are MAC-checked now, and the SPDZ party and the MAC key are retired
(alpha is never released). Only then is Enc(z) jointly decrypted, every party's decryption
share checked with its proof (a wrong share names its sender).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from coopetition.engine.errors import LocalFailure
from coopetition.engine.program import Program
from coopetition.protocols.fixedpoint import decode
from coopetition.protocols.spdz.conversion import Conversion, PaillierParty
from coopetition.protocols.spdz.gadgets import verify_conversions
from coopetition.protocols.spdz.online import SpdzParty

VERIFY_PHASE = "helen-verify"
RELEASE_PHASE = "helen-release"


@dataclass
class Ledger:
    """Every conversion of the run, in order, with the sizes the parameters imply."""

    records: list[Conversion] = field(default_factory=list)
    expected: list[int] = field(default_factory=list)

    def add(self, conversion: Conversion, size: int) -> None:
        self.records.append(conversion)
        self.expected.append(size)

    def check(self, iterations: int) -> None:
        if len(self.records) != 2 * iterations:
            raise LocalFailure(
                f"ledger holds {len(self.records)} conversions, the run made {2 * iterations}",
                phase=VERIFY_PHASE,
            )
        for t, (rec, size) in enumerate(zip(self.records, self.expected, strict=True)):
            if len(rec) != size:
                raise LocalFailure(
                    f"conversion {t} holds {len(rec)} values, expected {size}", phase=VERIFY_PHASE
                )


def verify_program(
    paillier: PaillierParty, spdz: SpdzParty, ledger: Ledger, iterations: int
) -> Program[int]:
    """The end-of-run check over the checked ledger; returns how many values it covers."""
    ledger.check(iterations)
    yield from verify_conversions(paillier, spdz, ledger.records)
    return sum(len(r) for r in ledger.records)


def release_program(
    paillier: PaillierParty, enc_z: Sequence[int], z_bits: int
) -> Program[np.ndarray]:
    """Joint decryption of Enc(z), decoded from its fixed-point scale."""
    plain = yield from paillier.joint_decrypt(list(enc_z), RELEASE_PHASE)
    return np.asarray(decode(np.array(plain, dtype=object), z_bits), dtype=np.float64)
