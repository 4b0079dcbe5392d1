"""``coopetition bench helen``: the per-phase table of a tiny INSECURE run (1280-bit key).

The figures themselves are machine-dependent; checked here are what they must satisfy whatever
the machine: every phase is present, costs are positive where the phase computes, bytes add up
over the parties, the release's exponentiations follow the protocol's formula (see
``test_helen_run_record``), and nothing is written without ``--out`` outside a fresh folder.
"""

from __future__ import annotations

import json

import numpy as np

from coopetition.main import main
from coopetition.sims.bench_helen import NOISE, synthetic

M, D = 2, 2


def test_synthetic_data_follows_its_model():
    parts, w = synthetic(3, 4, 500, seed=1)
    X = np.vstack([p[0] for p in parts])
    y = np.concatenate([p[1] for p in parts])
    fitted = np.linalg.lstsq(X, y, rcond=None)[0]
    assert np.max(np.abs(fitted - w)) < 0.05
    assert abs(np.std(y - X @ w) - NOISE) < 0.02
    again, w2 = synthetic(3, 4, 500, seed=1)
    assert np.array_equal(w, w2) and all(
        np.array_equal(a[0], b[0]) for a, b in zip(parts, again, strict=True)
    )


def test_bench_helen_reports_every_phase(tmp_path, monkeypatch, capsys):
    """One tiny run (m = 2, d = 2): its per-phase table (the sweep: ``test_helen_sweep``)."""
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "run" / "bench_helen.json"
    args = ["--parties", str(M), "--features", str(D), "--iterations", "1"]
    insecure = ["--rows", "20", "--key-bits", "1280", "--insecure", "--json", "--out", str(out)]
    assert main(["bench", "helen", *args, *insecure]) == 0
    run = json.loads(capsys.readouterr().out)
    assert json.loads(out.read_text())["phases"] == run["phases"]
    phases = run["phases"]
    assert set(phases) == {"setup", "input", "local", "coordinate", "verify", "release"}
    for name in ("input", "local", "coordinate", "release"):
        assert phases[name]["cost_E_mean"] > 0 and phases[name]["full_exponentiations_mean"] > 0
    # verify is only the final MAC check since Gadget 4's tests went (docs/crypto.md, "Gadget 3
    # without published shares"): no exponentiation at all
    assert phases["verify"]["full_exponentiations_mean"] == 0
    for name, row in phases.items():
        assert row["bytes_sent_total"] == sum(
            p["phase_traffic"][name]["bytes_sent"] for p in run["per_party"]
        )
    release = phases["release"]["exponentiations_party0"]
    # d shares, 2 prover exponentiations, 2 per *other* party's proof (not its own)
    assert release["paillier.powmod"] == D + 2 + 2 * (M - 1)
    assert run["E_seconds"] > 0 and run["peak_rss_mib"] > 0
    assert run["prepare_cpu_seconds"] > 0
    assert run["rel_l2_vs_admm"] <= 1e-3
    assert run["insecure"] and run["key_bits"] == 1280
    assert not (tmp_path / "results").exists()
