"""Helen with ONE OS PROCESS PER PARTY over loopback TCP (``coopetition party --config``).

INSECURE parameters (named so): 1280-bit threshold keys, 512-bit ring-Pedersen moduli (each
process admits the others' small moduli only because the agreed digest says insecure, and
still checks their proofs), 16 interval-proof repetitions. Every process makes its own MAC key
and preprocessing over the bus (threshold-Paillier offline phase and MASCOT). The released
model must be the same at every party and within 1e-3 relative L2 of plaintext ADMM with the
same quantised rho (``numerics.run_plaintext``).

* ``test_helen_tcp_processes_with_key_files``: key shares from a test dealer, written as the
  0600 share files ``coopetition keys dkg`` writes.
* ``test_helen_tcp_processes_with_dkg_key_files``: issue 11's "done when": the key shares
  come from ``coopetition keys dkg --config`` (three processes, no dealer), then Helen runs with
  them in three more processes.
"""

from __future__ import annotations

import os
import subprocess

import numpy as np
import pytest
from helen_hosts import CLI, free_ports, make_hosts, models_agree, run_parties, write_secret
from test_helen_run import PARTIES, ROWS, wine_parts

from coopetition.main import main
from coopetition.protocols.admm.objective import Objective
from coopetition.protocols.helen import numerics as H
from coopetition.protocols.helen.config import HelenConfig
from coopetition.protocols.helen.local_run import dealer_key
from coopetition.protocols.paillier.serialize import encode_key_share

FEATURES = (1, 10)
LAM, RHO = 0.02 * PARTIES * ROWS, 0.1 * PARTIES * ROWS
KEY_BITS = 1280


def helen_table(iterations: int = 1, keygen: str = "file") -> str:
    return (
        "[helen]\n"
        f'objective = "lasso"\nlam = {LAM}\nrho = {RHO}\niterations = {iterations}\n'
        f"rows = {ROWS}\nx_bound = 8.0\ny_bound = 8.0\nw_bound = 1024.0\nprecision = 20\n"
        f"key_bits = {KEY_BITS}\ninsecure = true\ninterval_repetitions = 16\n"
        f'keygen = "{keygen}"\n'
    )


def config(iterations: int = 1) -> HelenConfig:
    return HelenConfig(
        objective=Objective("lasso", lam=LAM),
        rho=RHO,
        iterations=iterations,
        w_bound=1024.0,
        precision=20,
        key_bits=KEY_BITS,
        insecure=True,
        interval_repetitions=16,
    )


def assert_matches_admm(outcomes, parts, iterations: int = 1) -> None:
    model = models_agree(outcomes)
    cfg = config(iterations)
    scales = cfg.scales(len(FEATURES), ROWS, PARTIES)
    plain = H.run_plaintext(parts, cfg.objective, scales.rho_quantised, iterations)
    assert H.relative_l2(model, plain) <= 1e-3, (model, plain)


@pytest.mark.long
@pytest.mark.processes
def test_helen_tcp_processes_with_key_files(tmp_path):
    parts = wine_parts(FEATURES)
    hosts = make_hosts(tmp_path, parts, helen_table(), key_share=True)
    dealer = dealer_key(PARTIES, config())
    for i, host in enumerate(hosts):
        write_secret(host / f"party{i}.share", encode_key_share(dealer.key_share(i)))
    outcomes = run_parties(hosts)
    assert_matches_admm(outcomes, parts)
    record = outcomes[0]["record"]
    assert record["key_generation"] == "key-file party0.share (INSECURE test key)"
    assert record["preprocessing"].startswith("per party over the bus: MASCOT")
    assert outcomes[0]["feature_names"] == ["x0", "x1"]


def _dkg_config(i: int, ports: list[int], keys: list[str], session: str) -> str:
    peers = "".join(
        f'[[peers]]\nid = {j}\naddress = "127.0.0.1:{ports[j]}"\npublic_key = "{keys[j]}"\n\n'
        for j in range(PARTIES)
        if j != i
    )
    return (
        f'[party]\nid = {i}\nkey_file = "party{i}.key"\nlisten = "127.0.0.1:{ports[i]}"\n\n'
        f'[session]\nid = "{session}"\n\n'
        f'[dkg]\nbits = {KEY_BITS}\nshare_out = "party{i}.share"\npublic_out = "threshold.pub"\n'
        "insecure_allow_small = true\n\n"
        "[deadlines]\nphase = 3600\nheartbeat_timeout = 1800\nfinish = 600\n\n" + peers
    )


@pytest.mark.long
@pytest.mark.processes
def test_helen_tcp_processes_with_dkg_key_files(tmp_path):
    """No dealer anywhere: `coopetition keys dkg` makes the shares, Helen runs with them."""
    parts = wine_parts(FEATURES)
    hosts = make_hosts(tmp_path, parts, helen_table(), key_share=True)
    keys = [
        subprocess.run(
            [*CLI, "keys", "show", f"party{i}.key"], cwd=h, capture_output=True, text=True
        ).stdout.strip()
        for i, h in enumerate(hosts)
    ]
    ports, session = free_ports(PARTIES), os.urandom(16).hex()
    for i, host in enumerate(hosts):
        (host / "dkg.toml").write_text(_dkg_config(i, ports, keys, session))
    procs = [
        subprocess.Popen(
            [*CLI, "keys", "dkg", "--config", "dkg.toml", "--quiet"],
            cwd=h,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for h in hosts
    ]
    for proc in procs:
        out, err = proc.communicate(timeout=3000)
        assert proc.returncode == 0, (out, err[-2000:])
    for i, host in enumerate(hosts):
        assert (host / f"party{i}.share").stat().st_mode & 0o777 == 0o600
    outcomes = run_parties(hosts)
    assert_matches_admm(outcomes, parts)
    record = outcomes[0]["record"]
    assert record["key_generation"] == "key-file party0.share (INSECURE test key)"
    fingerprints = {o["record"]["key_fingerprint"] for o in outcomes}
    assert len(fingerprints) == 1
    assert np.isfinite(outcomes[0]["local_rmse"])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda p, s: (p, s), "needs [party] key_share"),
        (lambda p, s: (p, s.replace("[helen]\n", "[helen]\nrows_max = 3\n")), "unknown key"),
        (lambda p, s: (p, s.replace('keygen = "file"', 'keygen = "dealer"')), "expected one of"),
        (lambda p, s: (p, s.replace("key_bits = 1280", "key_bits = 1536\n# ")), "needs insecure"),
        (lambda p, s: (p + 'key_share = "nowhere.share"\n', s), "nowhere.share does not exist"),
        (lambda p, s: (p, s.replace(f"rows = {ROWS}", "rows = 5")), "above the agreed"),
        (lambda p, s: (p, s.replace("x_bound = 8.0", "x_bound = 0.5")), "x_bound"),
    ],
)
def test_bad_helen_party_config_is_one_line(tmp_path, monkeypatch, capsys, change, message):
    parts = wine_parts(FEATURES)
    host = make_hosts(tmp_path, parts, helen_table(), key_share=False)[0]
    party, session = (host / "party0.toml").read_text(), (host / "session.toml").read_text()
    head, _, tail = party.partition("\n[deadlines]")
    head, session = change(head + "\n", session)
    if "insecure" in message:
        session = session.replace("insecure = true", "insecure = false")
    (host / "party0.toml").write_text(head + "[deadlines]" + tail)
    (host / "session.toml").write_text(session)
    monkeypatch.chdir(host)
    assert main(["party", "--config", "party0.toml"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], lines


@pytest.mark.long
@pytest.mark.processes
def test_helen_tcp_processes_with_in_session_dkg(tmp_path):
    """keygen = "dkg": the key is generated among the Helen processes; the record says dkg."""
    parts = wine_parts(FEATURES)
    hosts = make_hosts(tmp_path, parts, helen_table(keygen="dkg"), key_share=False)
    outcomes = run_parties(hosts)
    assert_matches_admm(outcomes, parts)
    assert all(o["record"]["key_generation"] == "dkg (INSECURE test key)" for o in outcomes)
    assert len({o["record"]["key_fingerprint"] for o in outcomes}) == 1


def test_two_party_helen_with_dkg_is_refused_before_connecting(tmp_path, monkeypatch, capsys):
    parts = wine_parts(FEATURES)[:2]
    host = make_hosts(tmp_path, parts, helen_table(keygen="dkg"), key_share=False)[0]
    monkeypatch.chdir(host)
    assert main(["party", "--config", "party0.toml"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "at least 3 parties" in lines[0], lines
