"""docs/deployment.md, followed step by step on 127.0.0.1: three parties, three processes.

Each step runs the command the guide shows (the test checks the guide still shows it), with the
guide's file contents, each party in its own folder as on its own host. The model every party
writes must be the same and match scikit-learn's fit of the same objective on the pooled,
standardised data, mapped back to the original units.
"""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from coopetition.sims.benchkit import free_ports
from coopetition.sims.data import load_raw

CLI = [sys.executable, "-m", "coopetition"]
GUIDE = (Path(__file__).parent.parent / "docs" / "deployment.md").read_text()
LAM = 30.0


def _write_csvs(hosts):
    raw = load_raw("wine-red")
    X, y, names = raw.X, raw.y, raw.feature_names
    order = np.random.default_rng(7).permutation(len(y))
    parts = np.array_split(order, len(hosts))
    for host, rows in zip(hosts, parts, strict=True):
        with (host / "data.csv").open("w") as handle:
            handle.write(",".join([*names, "quality"]) + "\n")
            for r in rows:
                handle.write(",".join(repr(float(v)) for v in [*X[r], y[r]]) + "\n")
    return X, y, names


def _reference(X, y):
    from sklearn.linear_model import Lasso

    mean, std = X.mean(axis=0), X.std(axis=0)
    model = Lasso(alpha=LAM / len(y), tol=1e-12, max_iter=200_000).fit((X - mean) / std, y)
    coef = model.coef_ / std
    return coef, model.intercept_ - mean @ coef


def _run(args, cwd):
    return subprocess.run(
        [*CLI, *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=True
    )


@pytest.mark.processes
def test_three_parties_on_loopback_follow_the_guide(tmp_path):
    hosts = [tmp_path / f"host{i}" for i in range(3)]
    for host in hosts:
        host.mkdir()
    X, y, names = _write_csvs(hosts)

    # 1. each host makes its identity
    assert "coopetition keys new --out party0.key" in GUIDE
    public = [
        _run(["keys", "new", "--out", f"party{i}.key"], host).stdout.strip()
        for i, host in enumerate(hosts)
    ]

    # 2. one host creates the session file (loopback: one port per party)
    assert "coopetition session new --out session.toml --target quality --objective lasso" in GUIDE
    assert "--lam 30" in GUIDE and "--party 0=" in GUIDE
    ports = free_ports(3)
    parties = [f"--party={i}=127.0.0.1:{ports[i]},{public[i]}" for i in range(3)]
    _run(
        [
            "session",
            "new",
            "--out",
            "session.toml",
            "--target",
            "quality",
            "--objective",
            "lasso",
            "--lam",
            "30",
            *parties,
        ],
        hosts[0],
    )
    shared = (hosts[0] / "session.toml").read_bytes()

    # 3. every host gets the same session file and writes its party file
    party_file = '[party]\nid = {i}\nkey_file = "party{i}.key"\ndata = "data.csv"\nsession = "session.toml"\n'
    assert party_file.format(i=0).replace("data.csv", "hospital_a.csv") in GUIDE
    for i, host in enumerate(hosts):
        (host / "session.toml").write_bytes(shared)
        (host / f"party{i}.toml").write_text(party_file.format(i=i))

    # 4. start the three parties, one process each, one second apart
    assert "coopetition train --config party0.toml --out model.json" in GUIDE
    procs = []
    for i, host in enumerate(hosts):
        procs.append(
            subprocess.Popen(
                [*CLI, "train", "--config", f"party{i}.toml", "--out", "model.json"],
                cwd=host,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    outputs = [p.communicate(timeout=300) for p in procs]
    for proc, (_out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
        assert "model written to model.json" in err
    assert "waiting_for_peers" in outputs[0][1] or "tcp.connected" in outputs[0][1]

    models = [json.loads((h / "model.json").read_text()) for h in hosts]
    assert all(m["coef"] == models[0]["coef"] for m in models[1:])
    model = models[0]
    assert model["feature_names"] == list(names) and model["target"] == "quality"
    assert model["converged"] and model["scaling"]["kind"] == "standardize"
    coef, intercept = _reference(X, y)
    np.testing.assert_allclose(model["coef"], coef, atol=1e-6)
    assert model["intercept"] == pytest.approx(intercept, abs=1e-6)
    # nothing but the model was written into a host's folder
    assert sorted(p.name for p in hosts[1].iterdir()) == [
        "data.csv",
        "model.json",
        "party1.key",
        "party1.toml",
        "session.toml",
    ]
