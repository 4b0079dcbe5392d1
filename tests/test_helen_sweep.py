"""``coopetition bench helen --sweep``: Fig. 3's three parts at two tiny INSECURE points.

Checked: the CSV and PNG are written beside ``--out`` with the three parts (SVD proofs, MPC
offline, model compute) positive at every point; every pinned parameter is equal across the
points while the swept dimension moves; the pins are what the docstring promises (value bounds
covering every point's data, rho and lambda at the m = 4 reference whatever m is, production
proof repetitions); the MPC offline estimate is the item count times the measured per-item
cost (checked against a hand count of a plan); a sweep without ``--insecure`` is refused.
"""

from __future__ import annotations

import argparse
import csv
import json

import numpy as np
import pytest

from coopetition.engine.errors import ConfigError
from coopetition.main import main
from coopetition.protocols.helen.local_prep import Plan
from coopetition.protocols.zk import interval
from coopetition.sims import helen_sweep
from coopetition.sims.bench_helen import synthetic
from coopetition.sims.mascot_rates import MascotRates, bit_items


def _args(**kw: object) -> argparse.Namespace:
    base = {
        "sweep": "m",
        "sweep_values": "2,3",
        "parties": 4,
        "features": 3,
        "rows": 40,
        "seed": 0,
        "iterations": 1,
        "key_bits": 1024,
        "insecure": True,
        "mascot_sample": 8,
    }
    return argparse.Namespace(**{**base, **kw})


def test_sweep_writes_three_parts_with_equal_pins(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "sweep" / "bench_helen.json"
    argv = ["bench", "helen", "--sweep", "d", "--sweep-values", "1,2", "--parties", "2"]
    argv += ["--rows", "20", "--iterations", "1", "--key-bits", "1024", "--insecure"]
    argv += ["--mascot-sample", "16", "--json", "--out", str(out)]
    assert main(argv) == 0
    result = json.loads(capsys.readouterr().out)
    with (out.parent / "bench_helen_fig3a.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    png = out.parent / "bench_helen_fig3a.png"
    assert png.stat().st_size > 1000
    png.unlink()
    assert helen_sweep.replot(out.parent / "bench_helen_fig3a.csv") == png  # from the CSV alone
    assert png.stat().st_size > 1000
    assert json.loads(out.read_text())["points"] == result["points"]  # the whole sweep
    assert not (tmp_path / "results").exists()
    assert [(r["parties"], r["features"]) for r in rows] == [("2", "1"), ("2", "2")]
    for r in rows:
        for part in ("svd_proofs", "mpc_offline", "model_compute"):
            assert float(r[f"{part}_E"]) > 0 and float(r[f"{part}_cpu_s"]) > 0
        assert r["mpc_offline_how"].startswith("estimated from measured per-item cost")
        assert float(r["rel_l2_vs_admm"]) <= 1e-3
    pinned = [{k: v for k, v in r.items() if k.startswith("pinned_")} for r in rows]
    assert len(pinned[0]) == 12 and pinned[0] == pinned[1]
    assert pinned[0]["pinned_interval_repetitions"] == str(interval.DEFAULT_REPETITIONS)
    # the runs really used the pinned config (not one made from each point's data)
    for run in result["runs"]:
        assert run["insecure"] and run["key_bits"] == 1024 and run["rows_per_party"] == 20
    # deterministic counts grow with d at the pinned scales
    assert int(rows[1]["svd_proofs_multi_bases"]) > int(rows[0]["svd_proofs_multi_bases"])
    assert int(rows[1]["mascot_triples"]) > int(rows[0]["mascot_triples"])


def test_pins_cover_every_point_and_do_not_follow_m():
    args = _args()
    shapes = helen_sweep.shapes(args)
    assert shapes == [(2, 3), (3, 3)]
    pins = helen_sweep.pin(args, shapes, synthetic)
    for m, d in shapes:
        parts, _ = synthetic(m, d, args.rows, args.seed)
        assert max(np.abs(p[0]).max() for p in parts) <= pins.x_bound
        assert max(np.abs(p[1]).max() for p in parts) <= pins.y_bound
    assert np.log2(pins.x_bound).is_integer() and np.log2(pins.y_bound).is_integer()
    # rho and lambda are the m = 4 reference's, whatever m the points have
    assert pins.rho == pytest.approx(0.1 * 4 * args.rows)
    assert pins.lam == pytest.approx(0.02 * 4 * args.rows)
    config = pins.config()
    assert config.interval_repetitions is None and config.insecure
    assert config.rho == pins.rho and config.objective.lam == pins.lam
    assert pins.interval_repetitions == interval.DEFAULT_REPETITIONS == 128


def test_paper_points_pin_the_other_dimension():
    args = _args(sweep="d", sweep_values=None, parties=7)
    assert helen_sweep.shapes(args) == [(4, d) for d in range(10, 100, 10)]
    args = _args(sweep="m", sweep_values=None, features=7)
    assert helen_sweep.shapes(args) == [(m, 50) for m in range(2, 9)]


def test_sweep_refuses_without_insecure_and_too_few_rows():
    args = _args(insecure=False)
    with pytest.raises(ConfigError, match="--insecure"):
        helen_sweep.pin(args, helen_sweep.shapes(args), synthetic)
    args = _args(rows=2)
    with pytest.raises(ConfigError, match="--rows"):
        helen_sweep.pin(args, helen_sweep.shapes(args), synthetic)
    with pytest.raises(ConfigError, match="integers"):
        helen_sweep.points(_args(sweep_values="2,x"))


def test_replot_refuses_a_csv_that_is_not_a_sweep(tmp_path):
    path = tmp_path / "other.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(ConfigError, match="not a sweep CSV"):
        helen_sweep.replot(path)


def test_offline_estimate_is_items_times_measured_cost():
    plan = Plan(dual_masks=(83, 10), triples=100, bits=50, bounded=((41, 3), (87, 2)))
    assert bit_items(plan) == 50  # the masks come from the threshold-Paillier offline phase
    assert plan.paillier_masks == ((41, 3), (87, 2))
    rates = MascotRates(4, 1024, 256, 256, 2.0, 1.0, 0.01, 0.02)
    assert rates.estimate(100, 347) == pytest.approx(2.0 + 1.0 + 100 * 0.01 + 347 * 0.02)
