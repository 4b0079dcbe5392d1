"""Helpers for Helen with one OS process per party on 127.0.0.1 (``coopetition party``).

Each party gets its own folder, as on its own host: identity key, data CSV, the shared session
file and its party file; key share files come from the caller (a test dealer or the DKG).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from coopetition.engine.identity import public_key_hex, write_key_file
from coopetition.sims.benchkit import free_ports

CLI = [sys.executable, "-m", "coopetition"]


def write_secret(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def make_hosts(root: Path, parts, helen_table: str, *, key_share: bool) -> list[Path]:
    """Folders host0.. with key, data.csv, session.toml and party<i>.toml; returns them."""
    from nacl.signing import SigningKey

    hosts = [root / f"host{i}" for i in range(len(parts))]
    keys = [SigningKey.generate() for _ in parts]
    ports = free_ports(len(parts))
    entries = "".join(
        f'[[parties]]\nid = {i}\naddress = "127.0.0.1:{ports[i]}"\n'
        f'public_key = "{public_key_hex(k.verify_key)}"\n\n'
        for i, k in enumerate(keys)
    )
    session = (
        f'[session]\nid = "{os.urandom(16).hex()}"\nprotocol = "helen"\n\n'
        f'{helen_table}\n[data]\ntarget = "y"\n\n{entries}'
    )
    for i, (host, (X, y)) in enumerate(zip(hosts, parts, strict=True)):
        host.mkdir()
        write_key_file(host / f"party{i}.key", keys[i])
        os.chmod(host / f"party{i}.key", 0o600)
        names = [f"x{j}" for j in range(X.shape[1])]
        rows = "\n".join(",".join(repr(float(v)) for v in [*X[r], y[r]]) for r in range(len(y)))
        (host / "data.csv").write_text(",".join([*names, "y"]) + "\n" + rows + "\n")
        (host / "session.toml").write_text(session)
        share = f'key_share = "party{i}.share"\n' if key_share else ""
        (host / f"party{i}.toml").write_text(
            f'[party]\nid = {i}\nkey_file = "party{i}.key"\ndata = "data.csv"\n'
            f'session = "session.toml"\n{share}\n'
            "[deadlines]\nphase = 3600\nheartbeat_timeout = 1800\nfinish = 600\nconnect = 600\n"
        )
    return hosts


def run_parties(hosts: list[Path], *, timeout: float = 3000.0) -> list[dict]:
    """Start ``coopetition party`` in every folder (one process each); their JSON outcomes."""
    procs = [
        subprocess.Popen(
            [*CLI, "party", "--config", f"party{i}.toml", "--quiet"],
            cwd=host,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i, host in enumerate(hosts)
    ]
    outcomes = []
    try:
        for proc in procs:
            out, err = proc.communicate(timeout=timeout)
            assert proc.returncode == 0, (proc.returncode, out, err[-3000:])
            outcomes.append(json.loads(out.strip().splitlines()[-1]))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    return outcomes


def models_agree(outcomes: list[dict]) -> np.ndarray:
    models = [np.array(o["model"]) for o in outcomes]
    assert all(np.array_equal(models[0], m) for m in models[1:])
    return models[0]
