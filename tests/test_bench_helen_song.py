"""``coopetition bench helen-song``: the MSD-shaped rows, the extrapolation rule, a tiny run.

The real workload (m = 4, d = 90, 100 000 rows per party, 2048 bits) takes hours; here the data
generator is checked against the real subset and the dataset's published ranges, the
extrapolation against a hand computation, and the command end to end at an INSECURE size.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from coopetition.engine.errors import ConfigError
from coopetition.main import main
from coopetition.sims.bench_helen_song import (
    DATA,
    SUBSET,
    extrapolate,
    msd_ranges,
    msd_shaped,
    msd_shaped_raw,
)


def test_rows_have_the_msd_shape_and_ranges():
    X, year = msd_shaped_raw(20_000, 90, seed=3)
    bounds, (lo, hi) = msd_ranges()
    assert X.shape == (20_000, 90) and (lo, hi) == (1922.0, 2011.0)
    assert np.all(bounds[:, 0] <= X) and np.all(bounds[:, 1] >= X)
    assert np.all((year >= lo) & (year <= hi))
    real = np.loadtxt(DATA / SUBSET, delimiter=",")[:, 1:]
    # the real subset's correlation structure (the collinearity ADMM sees), up to clipping
    gap = np.abs(np.corrcoef(X, rowvar=False) - np.corrcoef(real, rowvar=False))
    assert np.median(gap) < 0.03 and gap.max() < 0.3
    # the year depends on the features as in the real subset: a fit explains much of it
    design = np.column_stack([np.ones(len(year)), X])
    residual = year - design @ np.linalg.lstsq(design, year, rcond=None)[0]
    assert np.std(residual) < 0.95 * np.std(year)


def test_parts_are_standardised_and_seeded():
    parts = msd_shaped(3, 400, 5, seed=1)
    X = np.vstack([p[0] for p in parts])
    y = np.concatenate([p[1] for p in parts])
    assert [p[0].shape for p in parts] == [(400, 5)] * 3
    assert np.allclose(X.mean(axis=0), 0, atol=1e-9) and np.allclose(X.std(axis=0), 1)
    assert abs(y.mean()) < 1e-9
    again = msd_shaped(3, 400, 5, seed=1)
    assert all(np.array_equal(a[0], b[0]) for a, b in zip(parts, again, strict=True))
    with pytest.raises(ConfigError, match="features"):
        msd_shaped(2, 10, 91, seed=0)


def test_extrapolation_scales_only_the_iteration_phases():
    walls = {"setup": 6, "input": 600, "local": 30, "coordinate": 120, "verify": 60, "release": 3}
    result = {
        "phases": {p: {"wall_seconds": w} for p, w in walls.items()},
        "prepare_wall_seconds": 240.0,
        "wall_seconds": 1059.0,
    }
    song = extrapolate(result, measured=2, target=10)
    # by hand: fixed 6 + 600 + 3, scaled x5: (30 + 120 + 60 + 240) -> 609 + 2 250 = 2 859 s
    assert song["wall_minutes"] == round(2859 / 60, 1)
    assert song["phase_minutes"]["coordinate"] == 10.0 and song["phase_minutes"]["input"] == 10.0
    assert song["phase_minutes"]["prepare"] == 20.0
    assert song["extrapolated"] and song["measured_iterations"] == 2
    assert extrapolate(result, 2, 2)["extrapolated"] is False
    result["phases"]["mystery"] = {"wall_seconds": 1}
    with pytest.raises(ValueError, match="mystery"):
        extrapolate(result, 2, 10)


def test_tiny_run_end_to_end(tmp_path, capsys):
    out = tmp_path / "helen_song.json"
    args = ["--parties", "2", "--features", "3", "--rows", "30", "--iterations", "3"]
    small = ["--measure-iterations", "1", "--key-bits", "1280", "--insecure"]
    assert main(["bench", "helen-song", *args, *small, "--json", "--out", str(out)]) == 0
    printed = json.loads(capsys.readouterr().out)
    written = json.loads(out.read_text())
    assert printed == written
    for key in (
        "wall_minutes",
        "measured_iterations",
        "extrapolated",
        "peak_rss_mib",
        "phase_minutes",
        "commit",
    ):
        assert key in written
    assert written["extrapolated"] is True and written["measured_iterations"] == 1
    assert written["run"]["iterations"] == 1 and written["run"]["rel_l2_vs_admm"] <= 1e-3
    assert written["wall_minutes"] >= written["measured_wall_minutes"] * 0.9


def test_extrapolation_with_party_processes_scales_their_preprocessing_not_the_dealer():
    """--processes: the dealer's key (prepare) and keygen stay; offline and mascot scale."""
    walls = {"setup": 6, "keygen": 90, "offline": 40, "mascot": 300, "input": 600}
    walls |= {"local": 30, "coordinate": 120, "verify": 60, "release": 3}
    result = {
        "phases": {p: {"wall_seconds": w} for p, w in walls.items()},
        "prepare_wall_seconds": 60.0,
        "wall_seconds": 1309.0,
    }
    song = extrapolate(result, measured=2, target=10, prepare_scales=False)
    # by hand: fixed 6 + 90 + 600 + 3 + 60 = 759, scaled x5: (40 + 300 + 30 + 120 + 60) = 550
    # -> 759 + 2 750 = 3 509 s
    assert song["wall_minutes"] == round(3509 / 60, 1)
    assert song["phase_minutes"]["prepare"] == 1.0 and song["phase_minutes"]["keygen"] == 1.5
    assert song["phase_minutes"]["mascot"] == 25.0
