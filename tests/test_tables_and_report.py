"""Reading a party's table (CSV header detection, columns by name, Parquet) and drawing a run."""

import json
from pathlib import Path

import numpy as np
import pytest

from coopetition.config_schema import DataTable
from coopetition.engine.errors import ConfigError
from coopetition.main import main
from coopetition.tabular import load_table


def test_csv_with_header_selects_columns_by_name(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("age,bmi,noise,cost\n30,22.5,1,100\n40,30.1,0,250\n")
    table = load_table(path, DataTable(target="cost", features=["bmi", "age"]))
    assert table.feature_names == ("bmi", "age") and table.target_name == "cost"
    np.testing.assert_array_equal(table.X, [[22.5, 30], [30.1, 40]])
    np.testing.assert_array_equal(table.y, [100, 250])


def test_headerless_csv_keeps_every_row(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("1,2,3\n4,5,6\n")
    table = load_table(path)
    assert table.X.shape == (2, 2) and table.feature_names == ("x0", "x1")
    with pytest.raises(ConfigError, match="is a name, but the file has no header"):
        load_table(path, DataTable(target="y"))


def test_explicit_header_setting_overrides_detection(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("2019,2020,total\n1,2,3\n")  # numeric column names
    with pytest.raises(ConfigError, match="mixes numbers and text"):
        load_table(path)
    table = load_table(path, DataTable(header=True))
    assert table.feature_names == ("2019", "2020") and table.X.shape == (1, 2)


def test_parquet_by_column_name(tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    pq.write_table(
        pa.table({"a": [1.0, 2.0], "b": [3.0, 4.0], "y": [5.0, 6.0]}), tmp_path / "t.parquet"
    )
    table = load_table(tmp_path / "t.parquet", DataTable(target="a"))
    assert table.feature_names == ("b", "y")
    np.testing.assert_array_equal(table.y, [1.0, 2.0])


def test_local_training_run_record_draws_three_plots(tmp_path, capsys, monkeypatch):
    pytest.importorskip("matplotlib")
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(1)
    X = rng.normal(size=(90, 3))
    y = X @ [1.0, 0.0, -2.0] + 0.05 * rng.normal(size=90)
    data = np.column_stack([X, y])
    np.savetxt("all.csv", data, delimiter=",", header="a,b,c,y", comments="")
    code = main(
        [
            "train",
            "--local",
            "all.csv",
            "--split",
            "3",
            "--objective",
            "ridge",
            "--lam",
            "1",
            "--out",
            "m.json",
            "--run-out",
            "run.json",
            "--quiet",
        ]
    )
    assert code == 0, capsys.readouterr().err
    model = json.loads(Path("m.json").read_text())
    assert model["parties"] == 3 and model["feature_names"] == ["a", "b", "c"]
    assert main(["report", "run.json", "--out", "plots"]) == 0
    for name in ("timeline.png", "bytes.png", "convergence.png"):
        assert (tmp_path / "plots" / name).read_bytes()[:4] == b"\x89PNG"
