"""Fuzzing harnesses in CI: every target replays its seed corpus and the checked-in regression
inputs (one per finding fixed), then runs a short mutation budget; the structured file targets
also run under hypothesis. The long campaigns (atheris, a million inputs) are run with
``coopetition fuzz`` and recorded in results/fuzz.json (see docs/faults.md).

Each regression test below names the finding it keeps fixed.
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import cbor2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coopetition import fuzz_files, fuzz_runner
from coopetition.engine import wire
from coopetition.engine.errors import ConfigError
from coopetition.engine.identity import read_key_file
from coopetition.fuzz_runner import Harness, corpus_inputs, run_mutation, targets
from coopetition.main import main as cli_main
from coopetition.party_config import load_party_data, load_party_file
from coopetition.sims.scenario import load as load_scenario

TARGETS = sorted(targets())
#: Seconds of mutation per target in CI (12 targets: about 20 s in all on an idle machine).
BUDGET = 1.5


@pytest.mark.parametrize("name", TARGETS)
def test_corpus_and_a_short_mutation_run_find_nothing(name: str) -> None:
    harness = Harness(targets()[name], time_limit=2.0)
    run_mutation(harness, runs=10**9, seed=1, budget_seconds=BUDGET)
    assert harness.inputs >= len(corpus_inputs(targets()[name]))
    assert not harness.findings, [vars(f) for f in harness.findings.values()]


def test_every_checked_in_regression_input_is_replayed() -> None:
    regressions = sorted(fuzz_runner.CORPUS_ROOT.glob("*/regress-*.bin"))
    assert len(regressions) >= 10
    for path in regressions:
        target = targets()[path.parent.name]
        assert path.read_bytes() in corpus_inputs(target)


def test_harness_reports_each_kind_of_finding() -> None:
    """The classifier itself: an untyped exception, a broken invariant and a hang are findings;
    the documented typed error is not."""

    def run(data: bytes) -> None:
        if data == b"typed":
            raise wire.WireError("fine")
        if data == b"untyped":
            raise KeyError("boom")
        if data == b"invariant":
            raise AssertionError("broken")
        if data == b"hang":
            while True:
                pass

    target = fuzz_runner.FuzzTarget("t", run, (wire.WireError,), list, 16, "test")
    harness = Harness(target, time_limit=0.2)
    for data in (b"typed", b"untyped", b"invariant", b"hang", b"ok"):
        harness(data)
    assert harness.by_kind() == {"exception": 1, "invariant": 1, "hang": 1}
    assert harness.inputs == 5


def test_cli_fuzz_writes_a_results_file(tmp_path: Path) -> None:
    out = tmp_path / "fuzz.json"
    argv = ["fuzz", "record", "--runs", "300", "--engine", "mutation", "--out", str(out)]
    assert cli_main([*argv, "--accumulate"]) == 0
    assert cli_main([*argv, "--accumulate"]) == 0
    entry = json.loads(out.read_text())["targets"]["record"]
    assert entry["inputs"] >= 600 and entry["open_findings"] == 0 and entry["chunks"] == 2
    assert cli_main(["fuzz", "nonsense"]) == 2


def test_atheris_engine_runs_a_target(tmp_path: Path) -> None:
    pytest.importorskip("atheris")
    report = fuzz_runner.run("handshake", 400, engine="atheris", corpus_dir=tmp_path / "c")
    assert report["inputs"] >= 400 and report["open_findings"] == 0
    assert report["corpus_size"] >= len(corpus_inputs(targets()["handshake"]))


# -- structured documents under hypothesis ------------------------------------------------


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=96))
def test_party_config_edits_load_or_raise_config_error(data: bytes) -> None:
    with contextlib.suppress(ConfigError):
        fuzz_files.fuzz_party_config_doc(data)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=96))
def test_scenario_edits_load_or_raise_config_error(data: bytes) -> None:
    with contextlib.suppress(ConfigError):
        fuzz_files.fuzz_scenario_doc(data)


# -- regressions: one per finding fixed -----------------------------------------------------


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_finding_scenario_not_utf8_is_a_config_error(tmp_path: Path) -> None:
    # was: UnicodeDecodeError out of sims.scenario.load
    with pytest.raises(ConfigError):
        load_scenario(_write(tmp_path, "s.toml", b'[run]\nname = "\xee\x80"\n'))


def test_finding_scenario_fault_kind_of_wrong_type(tmp_path: Path) -> None:
    # was: TypeError (unhashable list) from the fault-kind lookup
    text = b'[run]\nparties = 3\n[[faults]]\nkind = ["drop"]\n'
    with pytest.raises(ConfigError):
        load_scenario(_write(tmp_path, "s.toml", text))


@pytest.mark.parametrize(
    "setup",
    ["not-utf8", "directory", "nul"],
)
def test_finding_key_file_unreadable_is_a_config_error(tmp_path: Path, setup: str) -> None:
    # was: UnicodeDecodeError / IsADirectoryError / ValueError out of read_key_file
    if setup == "not-utf8":
        path = _write(tmp_path, "k.key", b'secret_key = "\xe5"\n')
    elif setup == "directory":
        path = tmp_path
    else:
        path = tmp_path / "k\x00.key"
    with pytest.raises(ConfigError):
        read_key_file(path)


def _npz(**arrays: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def _bad_crc() -> bytes:
    data = bytearray(_npz(X=np.ones((2, 2)), y=np.zeros(2)))
    data[data.index(b"\x93NUMPY") + 100] ^= 1
    return bytes(data)


def _encrypted_flag() -> bytes:
    """An archive whose headers claim encrypted members (general-purpose flag bit 0)."""
    data = bytearray(_npz(X=np.ones((2, 2)), y=np.zeros(2)))
    for magic, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = data.find(magic)
        while at != -1:
            data[at + offset] |= 1
            at = data.find(magic, at + 4)
    return bytes(data)


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (b"PK\x03\x04" + bytes(40), "not a readable"),  # was: zipfile.BadZipFile
        (_encrypted_flag(), "not a readable"),  # was: RuntimeError ("password required")
        (_bad_crc(), "not a readable"),  # was: BadZipFile (CRC) on reading X
        (_npz(X=np.ones(3), y=np.zeros(3)), "shape"),  # was: accepted a 1-D X
        (_npz(X=np.ones((2, 2)), y=np.zeros(3)), "shape"),  # was: accepted 2 rows, 3 targets
        (_npz(X=np.ones((2, 2)), y=np.array([np.nan, 1.0])), "NaN"),  # was: accepted NaN
    ],
)
def test_finding_npz_data_is_checked(tmp_path: Path, content: bytes, match: str) -> None:
    # The contract is the type; ``match`` only documents what each case is about.
    with pytest.raises(ConfigError):
        load_party_data(_write(tmp_path, "d.npz", content))


@pytest.mark.parametrize("text", [b"1,nan,3\n4,5,6\n", b"1,2,inf\n"])
def test_finding_csv_with_non_finite_values_is_refused(tmp_path: Path, text: bytes) -> None:
    # was: NaN/inf accepted, to surface later as a NaN model
    with pytest.raises(ConfigError):
        load_party_data(_write(tmp_path, "d.csv", text))


def test_csv_still_loads(tmp_path: Path) -> None:
    X, y = load_party_data(_write(tmp_path, "d.csv", b"a,b,y\n1,2,3\n4,5,6\n"))
    np.testing.assert_array_equal(X, [[1, 2], [4, 5]])
    np.testing.assert_array_equal(y, [3, 6])


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (lambda t: "peers = 3\n" + t.split('[["peers"]]')[0], "array of tables"),  # TypeError
        (lambda t: "peers = [3]\n" + t.split('[["peers"]]')[0], "must be a table"),  # TypeError
        (lambda t: t.replace('"id" = 0', '"id" = -1', 1), "party ids"),  # accepted, then
        # ValueError from the TCP handshake's id check
    ],
)
def test_finding_party_config_shapes(tmp_path: Path, edit, match: str) -> None:
    fuzz_files.folder()  # key file next to the config
    text = edit(fuzz_files.party_config_seeds()[0].decode())
    path = fuzz_files.folder() / "regress.toml"
    path.write_text(text)
    with pytest.raises(ConfigError):  # ``match`` documents the case
        load_party_file(path)


def test_finding_big_integer_vector_is_bounded_like_items() -> None:
    """was: a vector of 2-byte values decoded to one Python int per 2 wire bytes (~18x memory,
    over 1 GiB for one 64 MiB frame), past the item bound that limits every other payload."""
    count = wire.MAX_ITEMS + 1
    data = cbor2.dumps(cbor2.CBORTag(wire.TAG_BIGINT_VECTOR, [2, bytes(2 * count)]))
    with pytest.raises(wire.WireError, match="more than"):
        wire.decode_payload(data)
    ok = cbor2.dumps(cbor2.CBORTag(wire.TAG_BIGINT_VECTOR, [2, bytes(2 * 1000)]))
    assert len(wire.decode_payload(ok)) == 1000
