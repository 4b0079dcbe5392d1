"""Every bad input from issue 13 gives one line on stderr and a nonzero exit, never a traceback."""

import json
import os
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

from coopetition.main import main

CLI = [sys.executable, "-m", "coopetition"]


def _one_line_error(capsys, code, expected_code=2):
    err = capsys.readouterr().err.strip()
    assert code == expected_code, err
    assert "Traceback" not in err
    last = err.splitlines()[-1]
    assert last.startswith(("error:", "aborted:")), err
    return last


def _free_ports(count):
    socks = [socket.socket() for _ in range(count)]
    try:
        for sock in socks:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in socks]
    finally:
        for sock in socks:
            sock.close()


def _start_and_wait_listening(config):
    """Start party 0 with JSON logs; return once it listens (so it holds its lock)."""
    proc = subprocess.Popen(
        [*CLI, "party", "--config", str(config), "--log-json"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines = []
    for line in proc.stderr:
        lines.append(line)
        if '"tcp.listening"' in line or not line.startswith("{"):
            break
    return proc, lines


def _session(folder, capsys, *, lam_key="lam"):
    """Keys, a session file and party 0's file, as docs/deployment.md makes them."""
    public = []
    for i in range(2):
        assert main(["keys", "new", "--out", str(folder / f"party{i}.key")]) == 0
        public.append(capsys.readouterr().out.strip())
    ports = _free_ports(2)
    parties = [f"--party={i}=127.0.0.1:{ports[i]},{public[i]}" for i in range(2)]
    assert main(["session", "new", "--out", str(folder / "session.toml"), *parties]) == 0
    text = (folder / "session.toml").read_text().replace("lam = ", f"{lam_key} = ")
    (folder / "session.toml").write_text(text)
    (folder / "data.csv").write_text("a,b,y\n1,2,3\n4,5,6\n7,8,10\n")
    config = folder / "party0.toml"
    config.write_text(
        '[party]\nid = 0\nkey_file = "party0.key"\ndata = "data.csv"\nsession = "session.toml"\n'
    )
    capsys.readouterr()
    return config


def test_unknown_key_names_file_key_and_suggestion(tmp_path, capsys):
    config = _session(tmp_path, capsys, lam_key="lamda")
    line = _one_line_error(capsys, main(["train", "--config", str(config)]))
    assert str(tmp_path / "session.toml") in line
    assert "[admm]: unknown key 'lamda' (did you mean 'lam'?)" in line


def test_wrong_type_names_the_expected_type(tmp_path, capsys):
    config = _session(tmp_path, capsys)
    text = (tmp_path / "session.toml").read_text().replace("rho = 1.0", 'rho = "fast"')
    (tmp_path / "session.toml").write_text(text)
    line = _one_line_error(capsys, main(["train", "--config", str(config)]))
    assert "[admm] rho: expected float, got str" in line


def test_key_file_of_random_bytes(tmp_path, capsys):
    config = _session(tmp_path, capsys)
    key = tmp_path / "party0.key"
    key.write_bytes(os.urandom(64))
    os.chmod(key, 0o600)
    line = _one_line_error(capsys, main(["train", "--config", str(config)]))
    assert "is not a coopetition key file" in line


def test_key_file_that_is_a_directory(tmp_path, capsys):
    config = _session(tmp_path, capsys)
    (tmp_path / "party0.key").unlink()
    (tmp_path / "party0.key").mkdir()
    line = _one_line_error(capsys, main(["party", "--config", str(config)]))
    assert "is not a regular file" in line


def test_world_readable_key_file_is_refused_with_the_chmod(tmp_path, capsys):
    config = _session(tmp_path, capsys)
    key = tmp_path / "party0.key"
    os.chmod(key, 0o644)
    line = _one_line_error(capsys, main(["train", "--config", str(config)]))
    assert f"run: chmod 600 {key}" in line


def test_bad_first_row_of_a_headerless_csv_is_never_taken_as_a_header(tmp_path, capsys):
    data = tmp_path / "a.csv"
    data.write_text("1.0,2.0x,3.0\n4,5,6\n7,8,9\n")
    other = tmp_path / "b.csv"
    other.write_text("1,2,3\n4,5,6\n7,8,10\n")
    line = _one_line_error(capsys, main(["train", "--local", str(data), str(other)]))
    assert "line 1 mixes numbers and text ('2.0x')" in line
    data.write_text("1,2,3\n4,5x,6\n7,8,9\n")  # the same typo further down names its line
    line = _one_line_error(capsys, main(["train", "--local", str(data), str(other)]))
    assert "line 2, column 'x1': '5x' is not a finite number" in line


def test_header_names_must_exist(tmp_path, capsys):
    for name in ("a.csv", "b.csv"):
        (tmp_path / name).write_text("a,b,y\n1,2,3\n4,5,6\n7,8,10\n")
    files = [str(tmp_path / "a.csv"), str(tmp_path / "b.csv")]
    line = _one_line_error(capsys, main(["train", "--local", *files, "--target", "price"]))
    assert "no column named 'price'; columns: a, b, y" in line


@pytest.mark.processes
def test_a_party_started_twice_is_detected(tmp_path, capsys):
    config = _session(tmp_path, capsys)
    first, _ = _start_and_wait_listening(config)
    try:
        second = subprocess.run(
            [*CLI, "party", "--config", str(config)], capture_output=True, text=True, timeout=60
        )
        assert second.returncode == 2
        assert second.stderr.strip().splitlines()[-1] == (
            f"error: party 0 is already running on this host (its key file "
            f"{tmp_path / 'party0.key'} is locked by another process)"
        )
    finally:
        first.kill()
        first.communicate()


@pytest.mark.processes
def test_refused_connections_and_waits_are_logged(tmp_path, capsys):
    config = _session(tmp_path, capsys)
    port = int(
        (tmp_path / "session.toml").read_text().split("127.0.0.1:")[1].split(",")[0].split('"')[0]
    )
    proc, lines = _start_and_wait_listening(config)
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(b"GET / HTTP/1.0\r\n\r\n" * 4)
            time.sleep(3.0)  # the party refuses it and waits for party 1 (reported after 2 s)
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    events = [json.loads(line) for line in [*lines, *err.splitlines()] if line.startswith("{")]
    refused = [e for e in events if e.get("event") == "tcp.refused"]
    assert refused and refused[0]["error"], events
    waiting = [e for e in events if e.get("event") == "waiting_for_peers"]
    assert waiting and waiting[0]["parties"] == [1]


def test_demo_without_scikit_learn_gives_the_pip_line(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "sklearn", None)
    line = _one_line_error(capsys, main(["demo", "--iterations", "2"]))
    assert "pip install 'coopetition[demo]'" in line


def test_bench_without_phe_gives_the_pip_line(monkeypatch, capsys, tmp_path):
    monkeypatch.setitem(sys.modules, "phe", None)
    monkeypatch.chdir(tmp_path)
    code = main(["bench", "paillier", "--insecure-bits", "256", "--seconds", "0.01"])
    line = _one_line_error(capsys, code)
    assert "needs phe" in line and "pip install 'coopetition[bench]'" in line


def test_parquet_without_pyarrow_gives_the_pip_line(monkeypatch, capsys, tmp_path):
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    for name in ("a.parquet", "b.parquet"):
        (tmp_path / name).write_bytes(b"PAR1")
    files = [str(tmp_path / "a.parquet"), str(tmp_path / "b.parquet")]
    line = _one_line_error(capsys, main(["train", "--local", *files]))
    assert "pip install 'coopetition[parquet]'" in line


def test_bench_zk_small_bits_names_the_flag(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    line = _one_line_error(capsys, main(["bench", "zk", "--bits", "1000"]))
    assert "--insecure-bits" in line and "insecure_allow_small" not in line
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_version_and_bare_command(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == "coopetition 0.1.0"
    assert main([]) == 2
    assert "examples:" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["demo", "train", "party", "session new", "report", "sim"])
def test_every_help_has_an_example(command, capsys):
    with pytest.raises(SystemExit):
        main([*command.split(), "--help"])
    text = capsys.readouterr().out
    assert "example" in text


def test_session_new_refuses_a_bad_public_key(tmp_path, capsys):
    code = main(
        [
            "session",
            "new",
            "--out",
            str(tmp_path / "s.toml"),
            "--party",
            "0=127.0.0.1:1,abcd",
            "--party",
            "1=127.0.0.1:2,abcd",
        ]
    )
    line = _one_line_error(capsys, code)
    assert "--party 0 public key must be 32 bytes" in line


def test_local_training_output_never_overwrites(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(0)
    for name in ("a.csv", "b.csv"):
        X = rng.normal(size=(30, 3))
        rows = np.column_stack([X, X @ [1.0, -2.0, 0.5] + 0.1 * rng.normal(size=30)])
        np.savetxt(tmp_path / name, rows, delimiter=",", header="p,q,r,t", comments="")
    for _ in range(2):
        assert main(["train", "--local", "a.csv", "b.csv", "--target", "t", "--quiet"]) == 0
    assert sorted(p.name for p in tmp_path.glob("model-*.json")) == [
        "model-local-2.json",
        "model-local.json",
    ]
