"""A party's table from CSV, Parquet or ``.npz``: columns by name, and no row ever dropped silently.

Header detection (``[data] header = "auto"``): a first row that is all numbers is data, a first
row with no number in it is a header, and a first row that mixes the two is an error, because it
is either a header with numeric names or a data row with a typo, and guessing would either lose
the row or make a header of it. Every later cell must be a number; the first one that is not
is reported with its line and column. Parquet files carry their own column names; ``.npz``
archives hold arrays ``X`` and ``y``.
"""

from __future__ import annotations

import csv
import math
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from coopetition.config_schema import DataTable
from coopetition.engine.errors import ConfigError
from coopetition.optional import require


@dataclass(frozen=True)
class Table:
    X: np.ndarray
    y: np.ndarray
    feature_names: tuple[str, ...]
    target_name: str


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _columns(
    names: list[str], spec: DataTable, path: Path, has_header: bool
) -> tuple[list[int], int]:
    def index(key: str | int, what: str) -> int:
        if isinstance(key, int):
            if key >= len(names):
                raise ConfigError(
                    f"{path}: {what} column {key} does not exist ({len(names)} columns)"
                )
            return key
        if not has_header:
            raise ConfigError(
                f"{path}: {what} column {key!r} is a name, but the file has no header row; "
                "use a 0-based column number"
            )
        if key not in names:
            raise ConfigError(f"{path}: no column named {key!r}; columns: {', '.join(names)}")
        return names.index(key)

    target = index(spec.target, "target") if spec.target is not None else len(names) - 1
    if spec.features is not None:
        features = [index(f, "feature") for f in spec.features]
        if target in features:
            raise ConfigError(f"{path}: the target column {names[target]!r} is also a feature")
    else:
        features = [i for i in range(len(names)) if i != target]
    if not features:
        raise ConfigError(f"{path}: needs at least one feature column besides the target")
    return features, target


def _read_csv(path: Path, spec: DataTable) -> Table:
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            rows = [row for row in csv.reader(handle, delimiter=spec.delimiter) if row]
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"data file {path} cannot be read: {exc}") from None
    except csv.Error as exc:
        raise ConfigError(f"data file {path} is not a CSV file: {exc}") from None
    if not rows:
        raise ConfigError(f"data file {path} is empty")
    first = [cell.strip() for cell in rows[0]]
    numeric = [_number(cell) is not None for cell in first]
    if spec.header == "auto":
        if all(numeric):
            has_header = False
        elif not any(numeric):
            has_header = True
        else:
            bad = [c for c, ok in zip(first, numeric, strict=True) if not ok]
            raise ConfigError(
                f"{path}: line 1 mixes numbers and text ({', '.join(map(repr, bad[:3]))}); it is "
                "either a header or a data row with a bad value: set [data] header = true or "
                "false (CLI: --header / --no-header)"
            )
    else:
        has_header = spec.header
    width = len(first)
    names = first if has_header else [f"x{i}" for i in range(width)]
    body = rows[1:] if has_header else rows
    offset = 2 if has_header else 1
    values = np.empty((len(body), width))
    for r, row in enumerate(body):
        if len(row) != width:
            raise ConfigError(
                f"{path}: line {r + offset} has {len(row)} columns, the first line has {width}"
            )
        for c, cell in enumerate(row):
            value = _number(cell.strip())
            if value is None:
                raise ConfigError(
                    f"{path}: line {r + offset}, column {names[c]!r}: {cell.strip()!r} is not a "
                    "finite number"
                )
            values[r, c] = value
    if not len(body):
        raise ConfigError(f"data file {path} has a header but no data rows")
    features, target = _columns(names, spec, path, has_header)
    fallback = [f"x{i}" for i in range(len(features))]
    feature_names = tuple(names[i] for i in features) if has_header else tuple(fallback)
    return Table(values[:, features], values[:, target], feature_names, names[target])


def _read_parquet(path: Path, spec: DataTable) -> Table:
    parquet = require("pyarrow.parquet", extra="parquet", package="pyarrow")
    try:
        table = parquet.read_table(path)
    except Exception as exc:  # pyarrow raises many types for a bad file
        raise ConfigError(f"data file {path} is not a readable Parquet file: {exc}") from None
    names = list(table.column_names)
    features, target = _columns(names, spec, path, has_header=True)
    columns = []
    for i in [*features, target]:
        try:
            column = table.column(i).to_numpy(zero_copy_only=False).astype(np.float64)
        except (TypeError, ValueError):
            raise ConfigError(f"{path}: column {names[i]!r} is not numeric") from None
        if not np.isfinite(column).all():
            raise ConfigError(f"{path}: column {names[i]!r} has missing or infinite values")
        columns.append(column)
    data = np.column_stack(columns)
    return Table(data[:, :-1], data[:, -1], tuple(names[i] for i in features), names[target])


#: What numpy's and zipfile's readers raise on a damaged or hostile archive.
_NPZ_ERRORS = (
    OSError,
    ValueError,
    EOFError,
    KeyError,
    TypeError,
    NotImplementedError,
    zipfile.BadZipFile,
    zlib.error,
    # zipfile refuses a member whose header says it is encrypted with a RuntimeError
    RuntimeError,
)


def _read_npz(path: Path) -> Table:
    try:
        with np.load(path, allow_pickle=False) as archive:
            if not hasattr(archive, "files") or "X" not in archive or "y" not in archive:
                raise ConfigError(f"{path} must hold arrays named X and y")
            X = np.asarray(archive["X"], dtype=float)
            y = np.asarray(archive["y"], dtype=float)
    except ConfigError:
        raise
    except _NPZ_ERRORS as exc:
        raise ConfigError(f"{path} is not a readable .npz archive: {exc}") from None
    if X.ndim != 2 or X.shape[0] < 1 or X.shape[1] < 1 or y.ndim != 1 or len(y) != X.shape[0]:
        raise ConfigError(
            f"{path}: need X of shape (rows, features) and y of shape (rows,), "
            f"got {X.shape} and {y.shape}"
        )
    if not (np.isfinite(X).all() and np.isfinite(y).all()):
        raise ConfigError(f"{path} holds NaN or infinite values")
    return Table(X, y, tuple(f"x{i}" for i in range(X.shape[1])), "y")


def load_table(path: Path, spec: DataTable | None = None) -> Table:
    spec = spec or DataTable()
    if path.is_dir():
        raise ConfigError(f"data file {path} is a directory")
    if not path.exists():
        raise ConfigError(f"data file {path} does not exist")
    suffix = path.suffix.lower()
    if suffix == ".npz":
        return _read_npz(path)
    if suffix in (".parquet", ".pq"):
        return _read_parquet(path, spec)
    return _read_csv(path, spec)


def split_table(table: Table, parties: int, *, seed: int = 0) -> list[Table]:
    """Deal the rows (shuffled with ``seed``) into ``parties`` nearly equal tables."""
    rows = table.X.shape[0]
    if not 2 <= parties <= rows:
        raise ConfigError(f"cannot deal {rows} rows among {parties} parties")
    order = np.random.default_rng(seed).permutation(rows)
    return [
        Table(table.X[idx], table.y[idx], table.feature_names, table.target_name)
        for idx in np.array_split(order, parties)
    ]
