"""How long each Helen phase may take: a cost model in E over the run's agreed public shape.

The engine's phase deadline is one number (``Deadlines.phase``, 600 s), but Helen's phases
differ by orders of magnitude and grow with the shape: input preparation ~ m d^2, the local
step ~ m d^2 per iteration, a coordination (Gadget 3 both ways) ~ m (2m + 1) d per iteration,
verification ~ m (2m + 1) d T as fitted to Gadget 4's runs (the phase is now one final MAC
check, docs/crypto.md, "Gadget 3 without published shares": the budget is generous until
re-fitted), MASCOT ~ (m - 1) per item. ``phase_work`` gives one party's work per phase in E
(one full 2048-bit r^N mod N^2), each formula a conservative fit through the measured per-party E counts in docs/benchmarks.md
(2048-bit m = 3, d = 3 run of ``bench helen``; the 1024-bit d = 10 run; the ``bench helen-prep``
projections to d = 90; the MASCOT rates per CPU second); ``tests/test_phase_budget.py`` checks
the fit lies above those figures.

``phase_budgets`` turns that into seconds:

    budget(phase) = SLACK * E_SECONDS * key_factor(key_bits) * m * phase_work(phase)

that is, the work of all m parties of the phase done one after the other on one core at
``E_SECONDS`` per E (a 2048-bit E measured at load 13-16 on this project's 2-core machine;
9.2 ms when idle), with ``SLACK`` for a shared machine (wall time on an oversubscribed machine
is several times CPU time; ``Deadlines.budget_scale`` lowers it on dedicated hardware). Every input is agreed in the setup phase
by signed digest (m, d, iterations, key size, and the preprocessing counts that follow from
them and the agreed row bound), so every honest party declares the same budget. The engine floors each budget at ``Deadlines.phase``, scales it by
``Deadlines.budget_scale`` and caps it at one week (``engine.config``); docs/faults.md
("Phase budgets") says why and what bound a stalling cheater meets.
"""

from __future__ import annotations

from dataclasses import dataclass

from coopetition.engine.errors import ConfigError
from coopetition.protocols.fixedpoint import HelenScales
from coopetition.protocols.helen import coordinate_phase as coord
from coopetition.protocols.helen import input_phase, local_phase, release_phase, setup_phase
from coopetition.protocols.helen import preprocess_phase as pre
from coopetition.protocols.helen.config import HelenConfig

__all__ = ["E_SECONDS", "SLACK", "HelenShape", "key_factor", "phase_budgets", "phase_work"]

#: Seconds per E the budgets assume (results/bench_helen.json: E = 16.2 ms at load 13-16).
E_SECONDS = 0.016
#: Headroom for a shared machine: the budget is this many times the serial work of all parties.
#: ``bench helen`` (m = 3, d = 3, 2048 bits, load 13-16) spent 468 s of wall time in
#: ``coordinate`` for 74 CPU s of all three parties (6.3x); the formulas are ~1.4x above its
#: counts, so 8 leaves ~1.8x over that run.
SLACK = 8.0


@dataclass(frozen=True)
class HelenShape:
    """The agreed public shape a run's budgets derive from (nothing a party could skew alone)."""

    parties: int
    features: int
    iterations: int
    key_bits: int
    plan: pre.PreprocessingPlan

    @classmethod
    def of(cls, config: HelenConfig, scales: HelenScales) -> HelenShape:
        """The shape of a run of ``config`` with the agreed ``scales`` (d, m, rows bound)."""
        if scales.parties < 2 or scales.features < 1:
            raise ConfigError(
                f"a Helen shape needs m >= 2 and d >= 1, got m={scales.parties} d={scales.features}"
            )
        return cls(
            scales.parties,
            scales.features,
            config.iterations,
            config.key_bits,
            pre.plan(config, scales),
        )


def key_factor(key_bits: int) -> float:
    """Cost of an exponentiation at ``key_bits`` relative to 2048 bits.

    Modular exponentiation costs ~k^3; below 2048 bits the factor is (k/2048)^2, larger than
    the cube (conservative: the range-proof exponents do not shrink with the key).
    """
    ratio = key_bits / 2048
    return ratio**2 if ratio <= 1 else ratio**3


def _mascot_items(plan: pre.PreprocessingPlan) -> int:
    """MASCOT items a plan costs: triples and bits (the masks come from the offline phase)."""
    return plan.triples + plan.bits


def _paillier_masks(plan: pre.PreprocessingPlan) -> int:
    """Range-proved masks the offline phase makes: the dual ones and the statistical ones."""
    return plan.dual[1] + sum(count for _, count in plan.bounded)


def phase_work(shape: HelenShape) -> dict[str, float]:
    """One party's work per phase machine, in E at 2048 bits (per iteration for the loop's
    phases: each iteration is its own machine with its own deadline).

    Fits (measured per party, E; docs/benchmarks.md), each formula at or above all of them:
    setup 174 (m = 3); input 337 (m = 3, d = 3), 123 000 / 180 500 projected at d = 90,
    m = 3 / 4; local 31 (d = 3), 2 160 / 2 710 projected at d = 90; coordinate 1 528
    (m = 3, d = 3), 9 000 projected at m = 4, d = 11, both measured with the per-value
    publication that Gadget 3 no longer makes (so the formula is conservative); verify 1 248
    (m = 3, d = 3, T = 1), 20 000 projected at m = 4, d = 11, T = 3, both with Gadget 4's tests,
    now a MAC check of few openings (conservative likewise); release 29; MASCOT ~0.16 E per
    item and peer pair (45-50 items per CPU second at m = 4; 0.38 E at m = 2 over TCP), here
    0.5; the Paillier offline phase ~11 E to prove a mask (dual or statistical) and ~3 E per
    verifier.
    """
    m, d, t = shape.parties, shape.features, shape.iterations
    pk = key_factor(shape.key_bits)
    conversions = m * (2 * m + 1) * d  # values Gadget 3 moves per iteration
    return {
        setup_phase.PHASE: 100.0 * m + 300.0,
        pre.OFFLINE_PHASE: pk * ((15.0 + 5.0 * (m - 1)) * _paillier_masks(shape.plan) + 300.0),
        # MASCOT's items are OT work, not exponentiations: no key factor on them
        pre.MASCOT_PHASE: 0.5 * (m - 1) * _mascot_items(shape.plan) + pk * 500.0,
        input_phase.PHASE: pk * (8.0 * m * d * d + 80.0 * m * d + 300.0),
        local_phase.PHASE: pk * (0.1 * m * d * d + 10.0 * m * d + 50.0),
        coord.PHASE: pk * (30.0 * conversions + 300.0),
        # Kept at the fit of the measured Gadget 4 runs: the phase is now one MAC check and no
        # Paillier work, so this is a generous deadline, to be re-fit from a new measurement
        # (tests/test_helen_budget.py pins the formula above the recorded figures).
        release_phase.VERIFY_PHASE: pk * (25.0 * conversions * t + 300.0),
        release_phase.RELEASE_PHASE: pk * (10.0 * m * d + 100.0),
    }


def phase_budgets(shape: HelenShape) -> dict[str, float]:
    """Seconds each phase machine declares (before the engine's floor, scale and cap)."""
    return {
        phase: SLACK * E_SECONDS * shape.parties * work for phase, work in phase_work(shape).items()
    }
