"""The command line as a user runs it: demo (memory and TCP processes), keys, party configs."""

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from coopetition.main import main
from coopetition.party_config import load_party_file

CLI = [sys.executable, "-m", "coopetition"]


def _demo_json(*extra):
    out = subprocess.run(
        [*CLI, "demo", "--protocol", "admm", "--json", *extra],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    assert "round" in out.stderr  # progress is shown, on stderr
    return json.loads(out.stdout)


def test_demo_memory_json_matches_reference():
    report = _demo_json()
    for key in (
        "protocol",
        "parties",
        "transport",
        "iterations",
        "objective",
        "reference_objective",
        "max_abs_coef_diff",
    ):
        assert key in report
    assert report["protocol"] == "admm" and report["parties"] == 4
    assert report["transport"] == "memory"
    assert report["max_abs_coef_diff"] < 1e-6  # the demo's defaults stop on the residuals
    assert report["converged"] and report["iterations"] < 1000
    assert report["objective"] == pytest.approx(report["reference_objective"], rel=1e-8)
    assert report["parties_agree"]


@pytest.mark.processes
def test_demo_tcp_runs_each_party_in_its_own_process():
    report = _demo_json(
        "--transport", "tcp", "--parties", "3", "--objective", "ridge", "--iterations", "30"
    )
    assert report["transport"] == "tcp" and report["parties"] == 3
    assert report["max_abs_coef_diff"] < 1e-4
    assert report["parties_agree"]


def test_demo_rejects_bad_arguments(capsys):
    assert main(["demo", "--parties", "1"]) == 2
    assert "at least 2" in capsys.readouterr().err


def test_keys_new_writes_a_private_file_and_refuses_to_clobber(tmp_path, capsys):
    path = tmp_path / "me.key"
    assert main(["keys", "new", "--out", str(path)]) == 0
    public = capsys.readouterr().out.strip()
    assert len(bytes.fromhex(public)) == 32
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert public in path.read_text()
    assert main(["keys", "new", "--out", str(path)]) == 2
    assert "refusing" in capsys.readouterr().err


def _write_config(folder: Path, **overrides) -> Path:
    assert main(["keys", "new", "--out", str(folder / "k.key")]) == 0
    np.savez(folder / "d.npz", X=np.ones((4, 2)), y=np.ones(4))
    fields = {
        "listen": '"127.0.0.1:0"',
        "session": '"00ff"',
        "objective": '"lasso"',
        "peer_key": '"' + "ab" * 32 + '"',
        "peer_address": '"127.0.0.1:9"',
    }
    fields.update(overrides)
    text = f"""
[party]
id = 0
key_file = "k.key"
listen = {fields["listen"]}
data = "d.npz"
[session]
id = {fields["session"]}
[admm]
objective = {fields["objective"]}
[[peers]]
id = 1
address = {fields["peer_address"]}
public_key = {fields["peer_key"]}
"""
    path = folder / "party.toml"
    path.write_text(text)
    return path


def test_party_config_loads(tmp_path):
    spec = load_party_file(_write_config(tmp_path))
    assert spec.party_id == 0 and spec.peers[0].port == 9
    assert spec.admm.objective.kind == "lasso"


@pytest.mark.parametrize(
    "override, message",
    [
        ({"listen": '"nohost"'}, "host:port"),
        ({"session": '"zz"'}, "hexadecimal"),
        ({"objective": '"svm"'}, "[admm] objective: expected one of 'least_squares', 'lasso'"),
        ({"peer_key": '"abcd"'}, "32 bytes"),
        ({"peer_address": '"127.0.0.1:99999"'}, "port out of range"),
        ({"objective": '"lasso"\nlam = "abc"'}, "[admm] lam: expected float, got str"),
        ({"objective": '"lasso"\niterations = 10.7'}, "[admm] iterations: expected int, got float"),
        ({"objective": '"lasso"\nrho = true'}, "[admm] rho: expected float, got bool"),
        ({"peer_key": '"' + "ab" * 32 + '"\n[deadlines]\nphse = 3'}, "did you mean 'phase'"),
        (
            {"objective": '"lasso"\nlamda = 32.0'},
            "[admm]: unknown key 'lamda' (did you mean 'lam'?)",
        ),
    ],
)
def test_party_config_errors_name_the_field(tmp_path, capsys, override, message):
    path = _write_config(tmp_path, **override)
    assert main(["party", "--config", str(path)]) == 2
    assert message in capsys.readouterr().err


def test_unreadable_config_and_data_are_clear_errors(tmp_path, capsys):
    assert main(["party", "--config", str(tmp_path)]) == 2
    assert "cannot be read" in capsys.readouterr().err
    bad = tmp_path / "bad.toml"
    bad.write_bytes(b"\xff\xfe")
    assert main(["party", "--config", str(bad)]) == 2
    assert "cannot be read" in capsys.readouterr().err
    path = _write_config(tmp_path)
    (tmp_path / "d.npz").write_bytes(b"not a zip archive")
    assert main(["party", "--config", str(path)]) == 2
    assert "not a readable .npz" in capsys.readouterr().err
