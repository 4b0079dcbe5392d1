"""``coopetition demo``: Helen is the default protocol; flags, JSON report and progress.

Small INSECURE keys are passed explicitly (1280 bits, ``--insecure``) and only the first two
features are used, so this stays fast; the default (2048 bits, every feature) is timed in
docs/benchmarks.md.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from coopetition.main import main

FAST = ["--parties", "2", "--features", "2", "--iterations", "1", "--key-bits", "1280"]


@pytest.mark.parametrize("layout", [None, "threads"])  # None: the default, party processes
def test_default_protocol_is_helen_and_the_json_has_every_field(layout, capsys):
    flags = [] if layout is None else ["--layout", layout]
    assert main(["demo", *FAST, *flags, "--insecure", "--json"]) == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    for key in (
        "protocol",
        "parties",
        "objective",
        "iterations",
        "key_bits",
        "outcome",
        "model",
        "admm_model",
        "rel_l2_vs_admm",
        "max_abs_coef_diff_vs_admm",
        "test_error",
        "sklearn_test_error",
        "phase_seconds",
    ):
        assert key in report, key
    assert report["protocol"] == "helen" and report["outcome"] == "completed"
    assert (report["parties"], report["iterations"], report["key_bits"]) == (2, 1, 1280)
    assert report["objective"] == "lasso" and len(report["model"]) == 2
    assert report["layout"] == (layout or "processes")
    # independent check of the reported figures from the reported models
    model, admm = np.array(report["model"]), np.array(report["admm_model"])
    assert report["rel_l2_vs_admm"] == pytest.approx(
        np.linalg.norm(model - admm) / np.linalg.norm(admm)
    )
    assert report["rel_l2_vs_admm"] <= 1e-3
    assert report["max_abs_coef_diff_vs_admm"] == pytest.approx(np.max(np.abs(model - admm)))
    assert [p["party"] for p in report["per_party"]] == [0, 1]
    for party in report["per_party"]:
        assert party["phase_exponentiations"]["release"]["paillier.powmod"] > 0
        assert party["phase_traffic"]["input"]["bytes_sent"] > 0
    # progress: one line per phase of the plan (setup, input, local, coordinate, verify, release)
    # (party 0's lines, prefixed "party 0:" when the parties run in their own processes)
    lines = [line.split("party 0:")[-1].strip() for line in captured.err.splitlines()]
    lines = [line for line in lines if line.startswith("[")]
    assert len(lines) == 6 and lines[0].startswith("[1/6] helen-setup")
    assert "ETA" in lines[2] and lines[-1].rstrip().endswith("done)")
    # and before the parties start, one line per preparation stage (key, offline phase, ...)
    prep = [line.strip() for line in captured.err.splitlines() if "preparing:" in line]
    assert prep[0].startswith("preparing: dealer key:")
    assert any(line.startswith("preparing: paillier offline setup:") for line in prep)
    assert all("elapsed" in line for line in prep)


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--key-bits", "1280"], "needs insecure=True"),
        (["--features", "0", "--insecure", "--key-bits", "1280"], "--features must be in 1..11"),
        (["--iterations", "0", "--insecure", "--key-bits", "1280"], "iterations must be"),
    ],
)
def test_bad_helen_flags_are_one_line_errors(flags, message, capsys):
    assert main(["demo", *flags]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and message in err and "\n" not in err


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (
            ["--parties", "3", "--keygen", "dkg", "--layout", "processes"],
            "--keygen dkg runs with --layout threads",
        ),
        (["--layout", "threads", "--transport", "tcp"], "runs over --transport memory only"),
    ],
)
def test_layout_conflicts_are_one_line_errors(flags, message, capsys):
    assert main(["demo", *FAST, "--insecure", *flags]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and message in err and "\n" not in err


def test_an_abort_in_a_party_process_is_reported_as_aborted(capsys):
    """Phases given a millisecond each: the party processes stop, the demo says why (exit 3)."""
    flags = ["--phase-deadline", "0.001", "--phase-budget-scale", "0.000001"]
    assert main(["demo", *FAST, "--insecure", "--json", *flags]) == 3
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert report["outcome"] == "aborted" and report["abort_reason"]
    assert any(line.startswith("aborted:") for line in captured.err.splitlines())
