"""Helen on the WAN simulator: proofs charged to virtual time, per-phase virtual seconds, and the
released model against plaintext ADMM (an independent float64 reference).

INSECURE test parameters (named so in the scenario): 1280-bit trusted-dealer key, 512-bit
ring-Pedersen moduli, 16 interval-proof repetitions, insecure-dealer triples and bits.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from coopetition.engine.errors import ConfigError
from coopetition.protocols.helen import numerics, preprocess_phase
from coopetition.protocols.helen.info import HELEN_INFO
from coopetition.sims import scenario as sc
from coopetition.sims.execute import simulate_scenario, workload_of

SCENARIO = Path(__file__).resolve().parents[1] / "sims" / "scenarios" / "helen-us-west-east.toml"
#: the phases of a run whose key and preprocessing are made before it starts (the simulator's)
PHASES = [
    p.name
    for p in HELEN_INFO.phases
    if p.name not in (preprocess_phase.OFFLINE_PHASE, preprocess_phase.MASCOT_PHASE)
]


def test_helen_on_the_us_west_east_wan_matches_plaintext_admm() -> None:
    scenario = sc.load(SCENARIO)
    result = simulate_scenario(scenario)
    assert result.outcome == "completed", (result.abort_code, result.abort_reason)
    models = [r.model for r in result.results.values()]
    assert len(models) == 3 and all(np.array_equal(models[0], m) for m in models)
    reference = workload_of(scenario).plaintext_model()
    assert numerics.relative_l2(models[0], reference) <= 1e-3
    phases = result.per_phase()
    assert set(PHASES) <= set(phases)
    for name in PHASES:
        row = phases[name]
        # every phase proves or decrypts: measured CPU time was charged to the virtual clock
        assert row["compute_seconds"] > 0, name
        assert row["virtual_seconds"] >= row["compute_seconds"] - 1e-9, name
    # one-way latency across the continent is 35 +- 1 ms and a phase has at least one broadcast
    # round with its echo (setup has just that one under the dealer's common ring-Pedersen
    # modulus): the network shows in every phase's virtual time
    assert phases["helen-setup"]["virtual_seconds"] >= 2 * 0.034
    # parties enter a phase at different times, so phase spans overlap a little: each is
    # within the run, and together they cover most of it
    spans = [phases[p]["virtual_seconds"] for p in PHASES]
    assert max(spans) <= result.virtual_seconds
    assert sum(spans) >= 0.9 * result.virtual_seconds
    record = result.results[0].record
    assert record["key_generation"] == "trusted-dealer (INSECURE test key)"


@pytest.mark.parametrize(
    ("protocol", "message"),
    [
        ({"keybits": 1280}, "unknown key(s) ['keybits'] in [protocol]"),
        ({"preset": "case1"}, "keys ['preset'] do not apply to helen"),
        ({"key_bits": "big"}, "[protocol] key_bits must be int, got 'big'"),
        ({"insecure": 1}, "[protocol] insecure must be bool"),
        ({"key_bits": 1280}, "needs insecure=True"),
        ({"rho": 0}, "rho must be a finite number > 0"),
        ({"lam": 10**400}, "lam is too large"),
        ({"w_bound": float("nan")}, "w_bound must be a finite number > 0"),
        ({"objective": "svm", "insecure": True}, "objective must be one of"),
    ],
)
def test_helen_scenario_keys_are_checked_at_load(protocol, message) -> None:
    with pytest.raises(ConfigError) as info:
        sc.parse({"protocol": {"name": "helen", **protocol}}, source="bad.toml")
    assert message in str(info.value)


def test_helen_fault_targets_come_from_its_metadata() -> None:
    doc = {
        "protocol": {"name": "helen", "iterations": 2},
        "faults": [{"kind": "crash", "party": 1, "phase": "helen-local", "round": 2}],
    }
    with pytest.raises(ConfigError, match=r"rounds 0\.\.1 with 2 iterations"):
        sc.parse(doc, source="bad.toml")
    doc["faults"] = [{"kind": "crash", "party": 1, "phase": "helen-local", "round": 1}]
    assert sc.parse(doc).crashes[0].phase == "helen-local"


def test_helen_needs_measured_compute() -> None:
    doc = {"protocol": {"name": "helen"}, "compute": {"mode": "model"}}
    with pytest.raises(ConfigError, match='mode = "measured"'):
        workload_of(sc.parse(doc))


@pytest.mark.long
def test_bench_helen_offload_threads_keep_the_loop_responsive(tmp_path) -> None:
    import argparse

    from coopetition.sims import bench_helen_offload as bench

    parser = argparse.ArgumentParser()
    bench.add_arguments(parser)
    args = parser.parse_args(
        ["--iterations", "1", "--features", "2", "--out", str(tmp_path / "b.json")]
    )
    result = bench.run(args)
    assert (tmp_path / "b.json").exists()
    # inline, a whole proof step holds the loop; in threads, the loop only waits for the GIL
    assert result["threads.loop_max_stall_s"] < result["inline.loop_max_stall_s"]
    assert result["inline.rel_l2_vs_admm"] <= 1e-3 and result["threads.rel_l2_vs_admm"] <= 1e-3
