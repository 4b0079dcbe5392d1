"""``bench helen-prep``: a small INSECURE run has every field, consistent sums and no file."""

from __future__ import annotations

import argparse

import pytest

from coopetition.engine.errors import ConfigError
from coopetition.sims import bench_helen_prep


def _args(**kw) -> argparse.Namespace:
    base = dict(features="2,3", key_bits=512, insecure=True, old_max_d=3, project_d=90, out=None)
    base.update(kw)
    return argparse.Namespace(**base)


def test_small_run_reports_both_proofs_and_a_projection(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = bench_helen_prep.run(_args())
    assert list(tmp_path.iterdir()) == []  # nothing written without --out
    row = result["cpu_seconds"]["3"]
    for key in ("local_prove_gadget1", "local_prove_twosided", "product_prove_gadget1"):
        assert row[key] > 0
    # per party at m = 4: rest + 3 (range proof + verification), and prove + 3 verifications
    raw = {k: float(v) for k, v in row.items()}
    party = bench_helen_prep.per_party(raw, 4)
    pair = raw["input_range_prove"] + raw["input_range_verify"] + raw["input_verify_rest"]
    assert party["input"] == pytest.approx(raw["input_prove_rest"] + 3 * pair)
    assert set(result["projected"]) == {"d", "fit", "m=3", "m=4"}
    assert result["gadget1_over_twosided"]["2"]["local_prove"] > 0


def test_fit_recovers_a_quadratic():
    values = [3 * d * d + 5 * d for d in (10, 20)]
    assert bench_helen_prep.fit_quadratic([10, 20], values, 90) == pytest.approx(3 * 8100 + 450)
    # a falling quadratic term (noise) is dropped: b d through the points instead
    assert bench_helen_prep.fit_quadratic([5, 10], [10.0, 15.0], 90) > 15.0


def test_refuses_small_keys_without_insecure_and_bad_features():
    with pytest.raises(ConfigError, match="--insecure"):
        bench_helen_prep.run(_args(insecure=False))
    with pytest.raises(ConfigError, match="comma-separated"):
        bench_helen_prep.run(_args(features="a,b"))
