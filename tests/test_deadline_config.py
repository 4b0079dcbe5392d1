"""The phase-limit settings from a party file (``[deadlines]``) and the command line: parsed
into ``Deadlines``, and every mistake a one-line error that names the key."""

from __future__ import annotations

import pytest
from test_cli import _write_config

from coopetition.main import main
from coopetition.party_config import load_party_file

PEER_KEY = '"' + "ab" * 32 + '"'


def _with_deadlines(tmp_path, table: str):
    """A valid party file with ``table`` appended after its last [[peers]] entry."""
    return _write_config(tmp_path, peer_key=PEER_KEY + "\n" + table)


def test_party_file_phase_table_and_scale_are_read(tmp_path):
    path = _with_deadlines(
        tmp_path,
        "[deadlines]\nphase = 900\nbudget_scale = 0.5\n[deadlines.phases]\nhelen-input = 7200\n",
    )
    deadlines = load_party_file(path).deadlines
    assert deadlines.phases == {"helen-input": 7200.0}
    assert deadlines.budget_scale == 0.5
    assert deadlines.phase_limit("helen-input", 1e6) == (7200.0, "configured")
    assert deadlines.phase_limit("helen-verify", 1000.0) == (900.0, "declared")  # the floor
    assert deadlines.phase_limit("helen-verify", 4000.0) == (2000.0, "declared")


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ("[deadlines.phases]\nhelen-input = -5\n", "deadline phases.helen-input must be a"),
        ('[deadlines.phases]\nhelen-input = "1h"\n', "phases.helen-input must be a positive"),
        ("[deadlines.phases]\nhelen-input = inf\n", "positive, finite number of seconds"),
        ("[deadlines]\nbudget_scale = 0\n", "budget_scale"),
        ("[deadlines]\nbudget_scale = nan\n", "[deadlines] budget_scale: expected float > 0"),
        ("[deadlines]\nbudget_scal = 2\n", "did you mean 'budget_scale'"),
        ("[deadlines]\nphases = 5\n", "phases"),
    ],
)
def test_party_file_deadline_errors_are_one_line(tmp_path, capsys, table, message):
    path = _with_deadlines(tmp_path, table)
    capsys.readouterr()  # the key file's notice
    assert main(["party", "--config", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err
    assert "\n" not in err, err


@pytest.mark.parametrize(
    "argv",
    [
        ["demo", "--phase-deadline", "0"],
        ["demo", "--phase-budget-scale", "-1"],
        ["bench", "helen", "--phase-budget-scale", "nan"],
        ["bench", "helen", "--phase-deadline", "soon"],
    ],
)
def test_flags_refuse_what_is_not_a_positive_number(capsys, argv):
    with pytest.raises(SystemExit) as stop:
        main(argv)
    assert stop.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert "invalid positive number value" in err[-1], err
