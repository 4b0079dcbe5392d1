"""Helen's SPDZ preprocessing, made by each party over the bus (one OS process per party works).

Two phases, in this order, sized from the public parameters alone (d, m, the largest n_i,
iterations, objective; see ``plan``):

1. ``helen-offline``: the threshold-Paillier offline phase (``OfflineParty``): each party's
   MAC key share alpha_i with its interval-proved Enc(alpha_i) (Gadgets 3 and 4 need the
   encrypted key), the dual-form masks of Gadget 3's way back (authenticated shares *and* the
   public ciphertext of each mask), and the statistical masks r'' of the truncations and
   comparisons: sums of range-proved contributions, cheaper here than from MASCOT's bits
   (docs/crypto.md, "Statistical masks from the threshold-Paillier offline phase").
2. ``helen-mascot``: MASCOT (OT-based, ``MascotParty``) under the same MAC key share: its base
   OTs and COPE set-up, then the MAC-key binding (``mascot_keybind``: one random MASCOT value
   converted through Gadget 3 under the published Enc(alpha_i) and compared, so a party whose
   COPE key differs from the plaintext of its Enc(alpha_i) makes the phase abort before any
   item is made), then the triples and bits of the SPDZ coordination; its batches are then moved into the Paillier phase's store.

Every broadcast goes through the engine's consistent broadcast (``ProgramMachine``); MASCOT's
OT messages are point-to-point (``MascotMachine``). Nothing here needs another party's secret,
so it is what ``coopetition party`` runs; ``local_run`` keeps an in-process shortcut for tests
(which runs the same binding, through ``LocalMascot``). docs/crypto.md, "MAC key binding", says
what the binding proves and why its abort names nobody.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from coopetition.engine.program import Program, program_machine
from coopetition.protocols.fixedpoint import HelenScales
from coopetition.protocols.helen import coordinate_phase as coord
from coopetition.protocols.helen.config import HelenConfig
from coopetition.protocols.spdz.conversion import PaillierParty
from coopetition.protocols.spdz.mascot import MascotParty
from coopetition.protocols.spdz.mascot_keybind import bind_mac_key
from coopetition.protocols.spdz.mascot_machine import MascotMachine
from coopetition.protocols.spdz.offline import OfflineParty
from coopetition.protocols.spdz.pairwise import MixedProgram
from coopetition.protocols.spdz.preprocessing import PreprocessingStore, transfer_batches

#: Range-proved masks per batch (``local_prep`` uses the same): one batch's proofs for a
#: verifier are one message, so this bounds it (a few MB at 2048 bits) whatever the shape.
MASK_BATCH = 512

OFFLINE_PHASE = "helen-offline"
MASCOT_PHASE = "helen-mascot"

#: both preprocessing machines compute heavily in their handlers: run off the event loop
OfflineMachine = program_machine(OFFLINE_PHASE, offload=True)


class HelenMascotMachine(MascotMachine):
    """MASCOT under Helen's own phase name (its own message space and deadline)."""

    phase: ClassVar[str] = MASCOT_PHASE
    offload: ClassVar[bool] = True


@dataclass(frozen=True)
class PreprocessingPlan:
    """What a whole run consumes; public (derived from the agreed parameters only)."""

    triples: int
    bits: int
    bounded: tuple[tuple[int, int], ...]  # (bits, count) of statistical masks
    dual: tuple[int, int]  # (bits, count) of ciphertext-carrying masks (Gadget 3 back)

    def describe(self) -> dict[str, Any]:
        return {
            "triples": self.triples,
            "bits": self.bits,
            "masks": {str(b): c for b, c in self.bounded},
            "dual_masks": {str(self.dual[0]): self.dual[1]},
        }


def plan(config: HelenConfig, scales: HelenScales) -> PreprocessingPlan:
    """The items ``config.iterations`` coordinations take (``coordinate_phase`` counts one)."""
    it = config.iterations
    need = coord.needs_per_iteration(scales, config.objective)
    dual_bits, dual_count = coord.dual_masks_per_iteration(scales, config.objective)
    return PreprocessingPlan(
        triples=need.triples * it,
        bits=need.bits * it,
        bounded=tuple((b, c * it) for b, c in need.bounded if c),
        dual=(dual_bits, dual_count * it),
    )


def paillier_offline_program(
    paillier: PaillierParty, work: PreprocessingPlan
) -> Program[PreprocessingStore]:
    """MAC key share with Enc(alpha_i), then the dual-form and statistical masks, into a fresh
    store."""
    offline = OfflineParty(paillier)
    batches = tuple(
        (bits, size)
        for bits, count in (work.dual, *work.bounded)
        for size in batch_sizes(count, MASK_BATCH)
    )
    return (yield from offline.fill(bounded=batches))


def batch_sizes(n: int, size: int) -> list[int]:
    """``n`` items in batches of at most ``size`` (both preparations batch alike)."""
    return [min(size, n - start) for start in range(0, n, size)]


#: the binding step's signature (``bind_mac_key``; a test's cheater skips its local guard)
Binder = Callable[[MascotParty, PaillierParty], MixedProgram[None]]


def mascot_party(party: int, parties: int, session: bytes, alpha_share: int) -> MascotParty:
    """This party's MASCOT instance for the run, keyed with ``alpha_share``."""
    return MascotParty(party, parties, session + b"/helen-mascot", alpha_share=alpha_share)


def mascot_program(
    mascot: MascotParty,
    paillier: PaillierParty,
    work: PreprocessingPlan,
    bind: Binder = bind_mac_key,
) -> MixedProgram[PreprocessingStore]:
    """MASCOT's base OTs and COPE set-up, the binding of its key share to Enc(alpha_i), then
    triples and bits.

    The binding runs before any item is made: a mismatch aborts the phase (``MacCheckFailed``,
    anonymous) after one conversion rather than after the whole preprocessing, and a retired
    ``MascotParty`` refuses every further step.
    """
    yield from mascot.setup()
    yield from bind(mascot, paillier)
    return (yield from mascot.fill(triples=work.triples, bits=work.bits))


def merge(target: PreprocessingStore, source: PreprocessingStore) -> PreprocessingStore:
    """Move MASCOT's batches into the Paillier phase's store (same MAC key share, checked)."""
    transfer_batches([source], [target])
    return target


def provenance(work: PreprocessingPlan) -> str:
    return (
        f"per party over the bus: MASCOT (triples {work.triples}, bits {work.bits}); "
        f"threshold-Paillier offline phase (MAC key with Enc(alpha_i), {work.dual[1]} dual masks, "
        f"{sum(c for _, c in work.bounded)} masks); "
        "MASCOT key bound to Enc(alpha_i)"
    )
