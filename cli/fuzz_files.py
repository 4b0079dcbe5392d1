"""Fuzzing harnesses for every file a user hands in: party config, scenario, key file and data
(CSV and ``.npz``). The contract is the CLI's: any file either loads into a sane value or raises
``ConfigError`` (which the CLI prints as one line and exits 2); nothing else may escape.

Each input is written to a file in a private temporary folder, which also holds a valid key
file and data file, so relative paths in a fuzzed config resolve to something real.
"""

from __future__ import annotations

import atexit
import copy
import json
import math
import shutil
import struct
import tempfile
import tomllib
from pathlib import Path
from typing import Any

import numpy as np

from coopetition.engine.errors import ConfigError
from coopetition.engine.identity import public_key_hex, read_key_file, write_key_file
from coopetition.fuzz_targets import KEYS, VERIFY, FuzzTarget
from coopetition.party_config import load_party_data, load_party_file
from coopetition.sims.scenario import load as load_scenario

_folder: Path | None = None


def folder() -> Path:
    """The harnesses' scratch folder (one per process), with ``party0.key`` and ``party0.csv``."""
    global _folder
    if _folder is None:
        # Memory-backed where there is one: a file per input on disk costs milliseconds.
        shm = "/dev/shm" if Path("/dev/shm").is_dir() else None
        _folder = Path(tempfile.mkdtemp(prefix="coopetition-fuzz-", dir=shm))
        atexit.register(shutil.rmtree, _folder, True)
        write_key_file(_folder / "party0.key", KEYS[0], overwrite=True)
        (_folder / "party0.csv").write_text("1,2,3\n4,5,6\n")
    return _folder


def _write(name: str, data: bytes) -> Path:
    path = folder() / name
    path.write_bytes(data)
    return path


def fuzz_party_config(data: bytes) -> None:
    spec = load_party_file(_write("party.toml", data))
    ids = [spec.party_id, *(p.id for p in spec.peers)]
    assert all(isinstance(i, int) and 0 <= i < 2**64 for i in ids), "unusable party id accepted"
    assert 1 <= len(spec.session) <= 64, "unusable session id accepted"
    assert spec.party_id not in {p.id for p in spec.peers}
    assert all(0 <= p.port <= 65535 for p in spec.peers)


def fuzz_scenario(data: bytes) -> None:
    scenario = load_scenario(_write("scenario.toml", data))
    assert 2 <= scenario.parties <= 1000


def fuzz_key_file(data: bytes) -> None:
    key = read_key_file(_write("fuzzed.key", data))
    assert len(bytes(key)) == 32


def _check_table(X: np.ndarray, y: np.ndarray) -> None:
    assert X.ndim == 2 and y.ndim == 1 and X.shape[0] == y.shape[0] >= 1 and X.shape[1] >= 1
    assert np.isfinite(X).all() and np.isfinite(y).all(), "non-finite data accepted"


def fuzz_csv(data: bytes) -> None:
    _check_table(*load_party_data(_write("data.csv", data)))


def fuzz_npz(data: bytes) -> None:
    _check_table(*load_party_data(_write("data.npz", data)))


def _toml_string(text: str) -> str:
    # JSON string escapes are TOML basic-string escapes; TOML also wants DEL escaped.
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007F")


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        items = (f"{_toml_string(k)} = {_toml_value(v)}" for k, v in value.items())
        return "{" + ", ".join(items) + "}"
    raise TypeError(type(value).__name__)


def toml_text(doc: dict[str, Any]) -> str:
    """A small TOML writer for generated documents: top-level values, tables, arrays of
    tables (what tomllib gives back for the files here)."""
    head, body = [], []
    for name, table in doc.items():
        key = _toml_string(name)
        if isinstance(table, list) and table and all(isinstance(t, dict) for t in table):
            for item in table:
                body.append(f"[[{key}]]")
                body += [f"{_toml_string(k)} = {_toml_value(v)}" for k, v in item.items()]
        elif isinstance(table, dict):
            body.append(f"[{key}]")
            body += [f"{_toml_string(k)} = {_toml_value(v)}" for k, v in table.items()]
        else:
            head.append(f"{key} = {_toml_value(table)}")
    return "\n".join(head + body) + "\n"


_STRINGS = (
    "",
    "admm",
    "lasso",
    "ridge",
    "least_squares",
    "elastic_net",
    "127.0.0.1:7000",
    "[::1]:65536",
    "host:-1",
    "00" * 32,
    "zz",
    "party0.key",
    ".",
    "coordinate",
    "w_plus_u",
    "equivocate",
    "crash",
    "partition",
    "silent",
    "lan",
)


class _Source:
    """Reads the fuzzer's bytes as a stream of choices (zeros once exhausted)."""

    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def byte(self) -> int:
        value = self.data[self.pos] if self.pos < len(self.data) else 0
        self.pos += 1
        return value

    def take(self, n: int) -> bytes:
        out = self.data[self.pos : self.pos + n].ljust(n, b"\x00")
        self.pos += n
        return out


def _value(src: _Source, depth: int = 0) -> Any:
    kind = src.byte() % (9 if depth < 2 else 5)
    if kind == 0:
        return int.from_bytes(src.take(1), "big", signed=True)
    if kind == 1:
        return int.from_bytes(src.take(8), "big", signed=True)
    if kind == 2:
        return struct.unpack(">d", src.take(8))[0]
    if kind == 3:
        return bool(src.byte() & 1)
    if kind == 4:
        return _STRINGS[src.byte() % len(_STRINGS)]
    if kind == 5:
        return src.take(src.byte() % 12).decode("latin-1")
    if kind == 6:
        return [_value(src, depth + 1) for _ in range(src.byte() % 4)]
    if kind == 7:
        return {_STRINGS[src.byte() % len(_STRINGS)]: _value(src, depth + 1)}
    return [{"id": _value(src, depth + 1)}]


def mutate_doc(doc: dict[str, Any], data: bytes) -> dict[str, Any]:
    """Apply input-chosen edits to a valid document: retype or drop a key, add one, replace a
    whole table, so the loaders' semantic checks are reached (raw byte mutations mostly stop at
    the TOML parser)."""
    src = _Source(data)
    doc = copy.deepcopy(doc)
    for _ in range(src.byte() % 6 + 1):
        op = src.byte() % 5
        names = sorted(doc)
        name = names[src.byte() % len(names)] if names else "x"
        table = doc.get(name)
        if isinstance(table, list) and table and isinstance(table[0], dict):
            table = table[src.byte() % len(table)]
        keys = sorted(table) if isinstance(table, dict) else []
        if op <= 1 and keys:
            table[keys[src.byte() % len(keys)]] = _value(src)  # type: ignore[index]
        elif op == 2 and keys:
            del table[keys[src.byte() % len(keys)]]  # type: ignore[union-attr]
        elif op == 3 and isinstance(table, dict):
            table[_STRINGS[src.byte() % len(_STRINGS)] or "extra"] = _value(src)
        else:
            doc[name] = _value(src)
    return doc


def fuzz_party_config_doc(data: bytes) -> None:
    fuzz_party_config(toml_text(mutate_doc(_PARTY_DOC, data)).encode())


def fuzz_scenario_doc(data: bytes) -> None:
    seeds = _scenario_docs()
    doc = seeds[data[0] % len(seeds)] if data else seeds[0]
    fuzz_scenario(toml_text(mutate_doc(doc, data[1:])).encode())


_SCENARIO_DOCS: list[dict[str, Any]] = []


def _scenario_docs() -> list[dict[str, Any]]:
    if not _SCENARIO_DOCS:
        _SCENARIO_DOCS.extend(tomllib.loads(s.decode()) for s in scenario_seeds())
    return _SCENARIO_DOCS


def _structured_seeds() -> list[bytes]:
    return [b"", b"\x00\x00", bytes(range(64)), bytes(range(255, 190, -1))]


_PARTY_DOC: dict[str, Any] = {
    "party": {"id": 0, "key_file": "party0.key", "listen": "127.0.0.1:7000", "data": "x.csv"},
    "session": {"id": "00ff" * 8, "protocol": "admm"},
    "admm": {"objective": "lasso", "lam": 0.5, "rho": 1.0, "iterations": 5},
    "deadlines": {"phase": 30.0, "heartbeat_timeout": 3},
    "peers": [
        {"id": p, "address": f"127.0.0.1:{7000 + p}", "public_key": public_key_hex(VERIFY[p])}
        for p in (1, 2)
    ],
}


def party_config_seeds() -> list[bytes]:
    return [toml_text(_PARTY_DOC).encode()]


def scenario_seeds() -> list[bytes]:
    from importlib import resources

    folder_ = resources.files("coopetition.sims").joinpath("scenarios")
    return [p.read_bytes() for p in sorted(folder_.iterdir(), key=str) if p.name.endswith(".toml")]


def key_file_seeds() -> list[bytes]:
    return [(folder() / "party0.key").read_bytes(), b'secret_key = "00"\n']


def csv_seeds() -> list[bytes]:
    return [b"1,2,3\n4,5,6\n", b"a,b,y\n1.5,-2,3e2\n0,0,1\n", b"1,2\n"]


def npz_seeds() -> list[bytes]:
    import io

    buffer = io.BytesIO()
    np.savez(buffer, X=np.ones((2, 2)), y=np.zeros(2))
    return [buffer.getvalue()]


FILE_TARGETS = {
    t.name: t
    for t in (
        FuzzTarget(
            "party_config_doc",
            fuzz_party_config_doc,
            (ConfigError,),
            _structured_seeds,
            256,
            "party configuration, structured: input-chosen edits of a valid document",
        ),
        FuzzTarget(
            "scenario_doc",
            fuzz_scenario_doc,
            (ConfigError,),
            _structured_seeds,
            256,
            "scenario, structured: input-chosen edits of the shipped scenarios",
        ),
        FuzzTarget(
            "party_config",
            fuzz_party_config,
            (ConfigError,),
            party_config_seeds,
            4096,
            "party configuration TOML (coopetition party --config)",
        ),
        FuzzTarget(
            "scenario",
            fuzz_scenario,
            (ConfigError,),
            scenario_seeds,
            4096,
            "simulation scenario TOML (coopetition sim)",
        ),
        FuzzTarget(
            "key_file",
            fuzz_key_file,
            (ConfigError,),
            key_file_seeds,
            1024,
            "party key file (coopetition keys new)",
        ),
        FuzzTarget(
            "csv",
            fuzz_csv,
            (ConfigError,),
            csv_seeds,
            2048,
            "party data as CSV",
        ),
        FuzzTarget(
            "npz",
            fuzz_npz,
            (ConfigError,),
            npz_seeds,
            4096,
            "party data as .npz",
        ),
    )
}
