"""``coopetition keys dkg``: three real processes over TCP make a key with no dealer.

512-bit key (INSECURE, via ``insecure_allow_small`` in the config) so the run takes seconds.
"""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from nacl.signing import SigningKey

from coopetition.engine.identity import public_key_hex, write_key_file
from coopetition.protocols.paillier.serialize import decode_key_share, decode_threshold_public_key
from coopetition.protocols.paillier.threshold import threshold_decrypt
from coopetition.protocols.zk.transcript import ProofContext


def _ports(count: int) -> list[int]:
    socks = []
    for _ in range(count):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def _configs(tmp: Path, m: int) -> list[Path]:
    keys = [SigningKey.generate() for _ in range(m)]
    ports = _ports(m)
    session = os.urandom(16).hex()
    paths = []
    for i in range(m):
        write_key_file(tmp / f"p{i}.key", keys[i])
        peers = "".join(
            f'[[peers]]\nid = {j}\naddress = "127.0.0.1:{ports[j]}"\n'
            f'public_key = "{public_key_hex(keys[j].verify_key)}"\n\n'
            for j in range(m)
            if j != i
        )
        text = (
            f'[party]\nid = {i}\nkey_file = "p{i}.key"\nlisten = "127.0.0.1:{ports[i]}"\n\n'
            f'[session]\nid = "{session}"\n\n'
            f"[dkg]\nbits = 512\ninsecure_allow_small = true\nbatch = 64\n"
            f'share_out = "p{i}.share"\npublic_out = "p{i}.pub"\n\n'
            f"[deadlines]\nphase = 300\n\n{peers}"
        )
        path = tmp / f"p{i}.toml"
        path.write_text(text)
        paths.append(path)
    return paths


@pytest.mark.long  # three processes over TCP: ~20 s idle, minutes on a loaded machine
@pytest.mark.processes
def test_keys_dkg_makes_a_working_key_with_no_dealer(tmp_path):
    m = 3
    configs = _configs(tmp_path, m)
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "coopetition", "keys", "dkg", "--config", str(c), "--quiet"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for c in configs
    ]
    outputs = [p.communicate(timeout=600) for p in procs]
    for proc, (_out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
    reports = [json.loads(out) for out, _ in outputs]
    assert len({r["fingerprint"] for r in reports}) == 1
    publics = [(tmp_path / f"p{i}.pub").read_bytes() for i in range(m)]
    assert len(set(publics)) == 1
    shares = []
    for i in range(m):
        path = tmp_path / f"p{i}.share"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        shares.append(decode_key_share(path.read_bytes(), insecure_allow_small=True))
    tpk = decode_threshold_public_key(publics[0], insecure_allow_small=True)
    assert all(s.threshold_public == tpk for s in shares)
    values = [5, -7, 2**100]
    cts = [tpk.public.encrypt(v) for v in values]
    assert threshold_decrypt(shares, cts, ProofContext(b"cli", "check", 0, 0)) == values
    # a second run refuses to overwrite the secret share
    again = subprocess.run(
        [sys.executable, "-m", "coopetition", "keys", "dkg", "--config", str(configs[0])],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert again.returncode == 2 and "exists" in again.stderr


def test_keys_dkg_refuses_a_bad_config_with_one_line(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text(
        '[party]\nid = 0\nkey_file = "k"\nlisten = "127.0.0.1:1"\n[session]\nid = "00"\n[dkg]\nbitz = 2048\n'
    )
    out = subprocess.run(
        [sys.executable, "-m", "coopetition", "keys", "dkg", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2
    assert "unknown keys ['bitz']" in out.stderr
