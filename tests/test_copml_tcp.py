"""COPML with one OS process per party over loopback TCP (``coopetition party --config``): five
data owners and the dealer node, six processes. Every owner releases exactly the model of the
in-memory run of the same data and dealer seed."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from nacl.signing import SigningKey

from coopetition.engine.identity import public_key_hex, write_key_file
from coopetition.protocols.copml import CopmlParams
from coopetition.sims.benchkit import free_ports
from coopetition.sims.copml_work import CopmlWorkload, split_rows
from coopetition.sims.runner import simulate

CLI = [sys.executable, "-m", "coopetition"]
OWNERS, DEALER, SEED = 5, 5, 11
PARAMS = CopmlParams(N=OWNERS, K=1, T=1, iterations=4, lx=8, lw=12, lc=6, eta_exp=5)


def _dataset():
    rng = np.random.default_rng(5)
    X = rng.uniform(-0.5, 0.5, (40, 4))
    X[:, -1] = 0.5
    y = (X @ np.array([3.0, -2.0, 1.5, 0.4]) + rng.normal(size=40) * 0.3 > 0).astype(np.int64)
    return X, y


def _session_toml(parts, ports, public):
    rows = ", ".join(str(len(y)) for _, y in parts)
    lines = [
        "[session]",
        'id = "c0f11e"',
        'protocol = "copml"',
        "",
        "[copml]",
        f"K = {PARAMS.K}",
        f"T = {PARAMS.T}",
        f"iterations = {PARAMS.iterations}",
        f"lx = {PARAMS.lx}",
        f"lw = {PARAMS.lw}",
        f"lc = {PARAMS.lc}",
        f"eta_exp = {PARAMS.eta_exp}",
        f"features = {parts[0][0].shape[1]}",
        f"rows = [{rows}]",
        f"dealer = {DEALER}",
        f"insecure_dealer_seed = {SEED}",
    ]
    for i in range(OWNERS + 1):
        lines += [
            "",
            "[[parties]]",
            f"id = {i}",
            f'address = "127.0.0.1:{ports[i]}"',
            f'public_key = "{public[i]}"',
        ]
    return "\n".join(lines) + "\n"


@pytest.mark.processes
def test_copml_one_process_per_party_over_tcp_matches_the_memory_run(tmp_path):
    X, y = _dataset()
    parts = split_rows(X, y, OWNERS)
    keys = [SigningKey.generate() for _ in range(OWNERS + 1)]
    ports = free_ports(OWNERS + 1)
    session = _session_toml(parts, ports, [public_key_hex(k.verify_key) for k in keys])
    procs = []
    for i in range(OWNERS + 1):
        host = tmp_path / f"host{i}"
        host.mkdir()
        write_key_file(host / "party.key", keys[i])
        os.chmod(host / "party.key", 0o600)
        (host / "session.toml").write_text(session)
        data = ""
        if i != DEALER:
            np.savez(host / "data.npz", X=parts[i][0], y=parts[i][1].astype(float))
            data = 'data = "data.npz"\n'
        (host / "party.toml").write_text(
            f'[party]\nid = {i}\nkey_file = "party.key"\nsession = "session.toml"\n{data}'
        )
        procs.append(
            subprocess.Popen(
                [*CLI, "party", "--config", "party.toml", "--quiet"],
                cwd=host,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    outcomes = []
    for proc in procs:
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err[-2000:]
        outcomes.append(json.loads(out.strip().splitlines()[-1]))
    assert [o["role"] for o in outcomes] == ["owner"] * OWNERS + ["dealer"]
    assert "model" not in outcomes[DEALER]

    # the same data and dealer seed in memory, with the in-process dealer
    work = CopmlWorkload(PARAMS, parts, dealer_seed=SEED)
    reference = simulate(work.factory, range(OWNERS), network="lan", seed=1)
    assert reference.outcome == "completed", reference.abort_reason
    want = reference.results[0].model
    for o in outcomes[:OWNERS]:
        assert o["outcome"] == "completed" and np.array_equal(np.array(o["model"]), want)
