"""``coopetition bench helen --processes``: one OS process per party over loopback TCP.

INSECURE sizes (1280-bit key, 16 interval repetitions; each party still makes its own MASCOT
preprocessing and proves everything). The per-party figures come from the kernel (each party
process's own peak RSS and CPU) and from each party's own run record; the model is checked
against plaintext ADMM with the same quantised rho, not against this code's output.
"""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from coopetition.engine.errors import ConfigError
from coopetition.helen_party import helen_config
from coopetition.main import main
from coopetition.party_config import load_party_file
from coopetition.protocols.admm.objective import Objective
from coopetition.protocols.helen.config import HelenConfig
from coopetition.sims import helen_processes
from coopetition.sims.bench_helen import synthetic


@pytest.mark.slow
@pytest.mark.processes
def test_bench_helen_in_party_processes(tmp_path, capsys):
    out = tmp_path / "bench.json"
    shape = ["--parties", "3", "--features", "2", "--iterations", "1", "--rows", "30"]
    small = ["--key-bits", "1280", "--insecure", "--processes"]
    assert main(["bench", "helen", *shape, *small, "--json", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert json.loads(capsys.readouterr().out) == result
    assert result["layout"].startswith("one OS process per party with its own MASCOT")
    assert result["rel_l2_vs_admm"] <= 1e-3
    assert result["preprocessing"].startswith("per party over the bus: MASCOT")
    rss, cpu = result["peak_rss_mib_per_party"], result["party_process_cpu_seconds"]
    assert len(rss) == 3 and all(r > 20 for r in rss) and result["peak_rss_mib"] == max(rss)
    assert len(cpu) == 3 and all(c > 0 for c in cpu)
    # each party's own preprocessing is among its phases, with its CPU, E and bytes
    for phase in ("keygen", "offline", "mascot", "input", "local", "coordinate", "verify"):
        row = result["phases"][phase]
        # keygen: the dealer's key; verify: only the final MAC check, which has nothing to
        # send when every opening was checked in its own iteration (Gadget 4's tests are gone)
        assert row["bytes_sent_total"] > 0 or phase in ("keygen", "verify"), phase
        assert row["cost_E_mean"] >= 0
    assert result["phases"]["mascot"]["cost_E_mean"] > result["phases"]["local"]["cost_E_mean"]
    assert len(result["per_party"]) == 3


@pytest.mark.parametrize("kind", ["lasso", "elastic_net", "ridge"])
def test_the_helen_table_round_trips_through_a_party_file(tmp_path, kind):
    """The session's [helen] table says what the bench's config says: a party re-reads it
    with the party command's own loader into the same HelenConfig (but for the preprocessing,
    which party processes always make with MASCOT)."""
    parts, _ = synthetic(2, 2, 30, seed=0)
    config = HelenConfig(
        objective=Objective(kind, lam=3.25, l1_ratio=0.3),
        rho=12.5,
        iterations=3,
        x_bound=4.0,
        y_bound=16.0,
        w_bound=512.0,
        precision=20,
        key_bits=1280,
        insecure=True,
        interval_repetitions=16,
        preprocessing="insecure-dealer",
    )
    table = helen_processes.helen_table(config, rows=30)
    host = helen_processes.make_hosts(tmp_path, parts, table, key_share=True)[0]
    spec = load_party_file(host / "party0.toml")
    assert spec.helen is not None and spec.helen.rows == 30 and spec.helen.keygen == "file"
    again = helen_config(spec.helen, where="party0.toml")
    assert again == replace(config, preprocessing="mascot")


@pytest.mark.slow
@pytest.mark.processes
def test_bench_helen_on_preprocessing_made_beforehand(tmp_path, capsys):
    """--processes prepared: MASCOT's offline phase here, each party's online phases in its own
    process (its file read once, then deleted)."""
    out = tmp_path / "bench.json"
    shape = ["--parties", "3", "--features", "2", "--iterations", "1", "--rows", "30"]
    small = ["--key-bits", "1280", "--insecure", "--processes", "prepared"]
    assert main(["bench", "helen", *shape, *small, "--json", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["layout"].startswith("the preprocessing made in one process")
    assert result["rel_l2_vs_admm"] <= 1e-3
    assert len(result["peak_rss_mib_per_party"]) == 3
    assert set(result["phases"]) == {"setup", "input", "local", "coordinate", "verify", "release"}
    assert result["phases"]["input"]["bytes_sent_total"] > 0


def test_a_prepared_party_refuses_a_missing_file(tmp_path, capsys):
    from coopetition.sims import helen_prepared

    assert helen_prepared.main([str(tmp_path / "nowhere.prepared")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "nowhere.prepared" in err[0]


def test_a_failing_party_stops_the_run_with_its_last_line(tmp_path):
    parts, _ = synthetic(2, 2, 30, seed=0)
    hosts = helen_processes.make_hosts(tmp_path, parts, "[helen]\nrows = 1\n", key_share=False)
    with pytest.raises(
        ConfigError, match=r"party \d exited with 2: error: party \d: 30 rows, above the agreed"
    ):
        helen_processes.run_parties(hosts, timeout=120)
