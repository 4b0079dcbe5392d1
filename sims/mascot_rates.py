"""MPC offline cost of a Helen run from its exact item counts and MASCOT's measured per-item cost.

The paper's Fig. 3 plots an "MPC offline" part that the authors estimated rather than ran. A
real MASCOT preparation of a sweep point is hours here (the 2048-bit demo alone needs 77 154
items), so the sweep does the same, with the estimate's two factors stated apart:

* the items: exactly what the run's preparation plan asks MASCOT for
  (``local_run.preprocessing_plan``: triples and checked bits; the statistical masks come from
  the threshold-Paillier offline phase, ``helen_sweep`` scales that part);
* the CPU per item: a real MASCOT sample (``local_prep.make_preprocessing`` with the
  ``mascot`` preparation, base OTs, COPE, key binding, sacrifice and MAC checks all run) made
  in this process at the run's m and key, ``sample`` triples and ``sample`` bits in the
  preparation's own batches of ``local_prep.BATCH``, timed per stage (CPU of all m parties).

Estimate (all parties' CPU) = setup + binding + triples x CPU/triple + bit-items x CPU/bit.
It is labelled "estimated from measured per-item cost" wherever it is reported.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from coopetition.protocols.helen import local_prep
from coopetition.protocols.helen.config import HelenConfig
from coopetition.protocols.helen.local_run import dealer_key
from coopetition.protocols.spdz.conversion import PaillierParty

__all__ = ["MascotRates", "bit_items", "measure_rates"]

#: the label every report of the estimate carries
LABEL = "estimated from measured per-item cost (real MASCOT sample in this process)"


@dataclass(frozen=True)
class MascotRates:
    """CPU seconds (all m parties together) of one MASCOT sample, per stage and per item."""

    parties: int
    key_bits: int
    sample_triples: int
    sample_bits: int
    setup_cpu_seconds: float  # base OTs and COPE set-up
    binding_cpu_seconds: float  # COPE's key shares bound to Enc(alpha_i)
    cpu_per_triple: float
    cpu_per_bit: float

    def estimate(self, triples: int, bits: int) -> float:
        """All parties' CPU seconds for ``triples`` triples and ``bits`` checked bits."""
        fixed = self.setup_cpu_seconds + self.binding_cpu_seconds
        return fixed + triples * self.cpu_per_triple + bits * self.cpu_per_bit

    def as_dict(self) -> dict[str, Any]:
        return {k: round(v, 6) if isinstance(v, float) else v for k, v in asdict(self).items()}


def bit_items(plan: local_prep.Plan) -> int:
    """Checked bits MASCOT makes for ``plan`` (its masks come from the offline phase)."""
    return plan.bits


def measure_rates(config: HelenConfig, parties: int, sample: int = 256) -> MascotRates:
    """Make ``sample`` real MASCOT triples and bits among ``parties`` in this process.

    ``config`` gives the key (its INSECURE cached test key below 2048 bits, else a fresh
    dealer key) and the repetition counts; everything runs on this process's threads
    (``workers=1``) so ``time.process_time`` sees all of it.
    """
    if sample < 1:
        raise ValueError(f"the MASCOT sample needs at least one item, got {sample}")
    kg = dealer_key(parties, config)
    reps: dict[str, Any] = (
        {}
        if config.interval_repetitions is None
        else {"interval_repetitions": config.interval_repetitions}
    )
    paillier = [PaillierParty(kg.key_share(i), b"mascot-rates", **reps) for i in range(parties)]
    plan = local_prep.Plan(  # no dual masks: the Paillier offline phase is measured in the run
        dual_masks=(1, 0), triples=sample, bits=sample, bounded=(), preprocessing="mascot"
    )
    local_prep.make_preprocessing(paillier, plan, b"mascot-rates/mascot", workers=1)
    stage = {name: s.cpu_here + s.cpu_workers for name, s in plan.stages.items()}
    return MascotRates(
        parties=parties,
        key_bits=config.key_bits,
        sample_triples=sample,
        sample_bits=sample,
        setup_cpu_seconds=stage["mascot setup"],
        binding_cpu_seconds=stage["mascot key binding"],
        cpu_per_triple=stage["mascot triples"] / sample,
        cpu_per_bit=stage["mascot bits"] / sample,
    )
