"""The configuration file of one party in a real multi-host session (``coopetition party``).

Example (every party's file lists the same session, parties and training parameters)::

    [party]
    id = 0
    key_file = "party0.key"          # made by `coopetition keys new`
    listen = "0.0.0.0:7000"
    data = "bank_a.csv"              # features..., target last; or .npz with arrays X and y

    [session]
    id = "5f0c..."                   # hex, agreed out of band, fresh for every run
    protocol = "admm"

    [admm]
    objective = "lasso"              # least_squares | lasso | ridge | elastic_net
    lam = 32.0
    rho = 160.0
    iterations = 50

    [deadlines]                      # optional, seconds
    phase = 600

    [[peers]]
    id = 1
    address = "10.0.0.2:7000"
    public_key = "d75a98..."         # the peer's `keys new` output

Relative paths are resolved against the config file's folder. Errors name the key at fault.
"""

from __future__ import annotations

import tomllib
import warnings
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from nacl.signing import SigningKey, VerifyKey

from coopetition.engine.errors import ConfigError, PartyId
from coopetition.engine.identity import read_key_file, verify_key_from_hex
from coopetition.engine.party import Deadlines
from coopetition.protocols.admm import AdmmConfig, Objective


@dataclass(frozen=True)
class PeerEntry:
    id: PartyId
    host: str
    port: int
    verify_key: VerifyKey


@dataclass(frozen=True)
class PartyFile:
    party_id: PartyId
    signing_key: SigningKey
    listen: tuple[str, int]
    data_path: Path
    session: bytes
    protocol: str
    admm: AdmmConfig
    deadlines: Deadlines
    peers: tuple[PeerEntry, ...]


def parse_address(text: Any, *, what: str) -> tuple[str, int]:
    if not isinstance(text, str) or ":" not in text:
        raise ConfigError(f"{what} must be 'host:port', got {text!r}")
    host, _, port = text.rpartition(":")
    host = host.strip("[]")
    try:
        number = int(port)
    except ValueError:
        raise ConfigError(f"{what} has a non-numeric port: {text!r}") from None
    if not 0 <= number <= 65535:
        raise ConfigError(f"{what} port out of range: {number}")
    return host, number


def _get(table: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    if key not in table:
        raise ConfigError(f"[{where}] needs '{key}'")
    value = table[key]
    if isinstance(value, bool) or not isinstance(value, kind):
        raise ConfigError(f"[{where}] {key} has the wrong type ({type(value).__name__})")
    return value


def _number(table: dict[str, Any], key: str, where: str, default: float) -> float:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"[{where}] {key} must be a number, got {value!r}")
    return float(value)


def _table(doc: dict[str, Any], name: str) -> dict[str, Any]:
    value = doc.get(name, {})
    if not isinstance(value, dict):
        raise ConfigError(f"[{name}] must be a table")
    return value


#: Party ids travel as u64 in the TCP handshake.
MAX_PARTY_ID = 2**64 - 1

DEADLINE_KEYS = ("phase", "heartbeat_interval", "heartbeat_timeout", "finish", "abort_send", "send")


def load_party_file(path: Path) -> PartyFile:
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {path} cannot be read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    base = path.parent
    party, session, admm = _table(doc, "party"), _table(doc, "session"), _table(doc, "admm")
    deadlines_table = _table(doc, "deadlines")
    pid = _get(party, "id", int, "party")
    key_file = base / _get(party, "key_file", str, "party")
    listen = parse_address(_get(party, "listen", str, "party"), what="[party] listen")
    data_path = base / _get(party, "data", str, "party")
    try:
        session_id = bytes.fromhex(_get(session, "id", str, "session"))
    except ValueError:
        raise ConfigError("[session] id must be hexadecimal") from None
    protocol = session.get("protocol", "admm")
    if protocol != "admm":
        raise ConfigError(f"[session] protocol {protocol!r} is not available yet (only 'admm')")
    objective = Objective(
        admm.get("objective", "lasso"),
        lam=_number(admm, "lam", "admm", 0.0),
        l1_ratio=_number(admm, "l1_ratio", "admm", 0.5),
    )
    iterations = admm.get("iterations", 10)
    if isinstance(iterations, bool) or not isinstance(iterations, int):
        raise ConfigError(f"[admm] iterations must be a whole number, got {iterations!r}")
    admm_config = AdmmConfig(
        objective, rho=_number(admm, "rho", "admm", 1.0), iterations=iterations
    )
    unknown = sorted(set(deadlines_table) - set(DEADLINE_KEYS))
    if unknown:
        raise ConfigError(f"[deadlines] has unknown keys {unknown}; known: {list(DEADLINE_KEYS)}")
    deadlines = Deadlines(
        **{k: _number(deadlines_table, k, "deadlines", 0.0) for k in deadlines_table}
    )
    peer_tables = doc.get("peers", [])
    if not isinstance(peer_tables, list):
        raise ConfigError("peers must be an array of tables ([[peers]])")
    peers = []
    for index, entry in enumerate(peer_tables):
        where = f"peers #{index + 1}"
        if not isinstance(entry, dict):
            raise ConfigError(f"[{where}] must be a table")
        host, port = parse_address(_get(entry, "address", str, where), what=f"[{where}] address")
        peers.append(
            PeerEntry(
                id=_get(entry, "id", int, where),
                host=host,
                port=port,
                verify_key=verify_key_from_hex(
                    _get(entry, "public_key", str, where), what=f"[{where}] public_key"
                ),
            )
        )
    ids = [p.id for p in peers]
    if not all(0 <= i <= MAX_PARTY_ID for i in [pid, *ids]):
        raise ConfigError(f"party ids must be integers in [0, {MAX_PARTY_ID}]")
    if not 1 <= len(session_id) <= 64:
        raise ConfigError("[session] id must be 1 to 64 bytes (2 to 128 hex digits)")
    if not peers:
        raise ConfigError("a session needs at least one [[peers]] entry")
    if len(set(ids)) != len(ids) or pid in ids:
        raise ConfigError("peer ids must be distinct and differ from [party] id")
    return PartyFile(
        party_id=pid,
        signing_key=read_key_file(key_file),
        listen=listen,
        data_path=data_path,
        session=session_id,
        protocol=protocol,
        admm=admm_config,
        deadlines=deadlines,
        peers=tuple(peers),
    )


def load_party_data(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """``.npz`` with arrays ``X`` and ``y``, or CSV with the target in the last column.

    Whatever the file holds, the result is a 2-D ``X`` with at least one row and column and a
    1-D ``y`` of the same length, all finite; anything else is a ``ConfigError``.
    """
    try:
        exists = path.exists()
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the path
        raise ConfigError(f"data file {path!r} is not a usable path: {exc}") from None
    if not exists:
        raise ConfigError(f"data file {path} does not exist")
    if path.suffix == ".npz":
        X, y = _load_npz(path)
    else:
        X, y = _load_csv(path)
    if X.ndim != 2 or X.shape[0] < 1 or X.shape[1] < 1 or y.ndim != 1 or len(y) != X.shape[0]:
        raise ConfigError(
            f"{path}: need X of shape (rows, features) and y of shape (rows,), "
            f"got {X.shape} and {y.shape}"
        )
    if not (np.isfinite(X).all() and np.isfinite(y).all()):
        raise ConfigError(f"{path} holds NaN or infinite values")
    return X, y


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
)


def _load_npz(path: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as archive:
            if not hasattr(archive, "files") or "X" not in archive or "y" not in archive:
                raise ConfigError(f"{path} must hold arrays named X and y")
            return np.asarray(archive["X"], dtype=float), np.asarray(archive["y"], dtype=float)
    except ConfigError:
        raise
    except _NPZ_ERRORS as exc:
        raise ConfigError(f"{path} is not a readable .npz archive: {exc}") from None


def _load_csv(path: Path) -> tuple[np.ndarray, np.ndarray]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "input contained no data": checked below
        try:
            table = np.loadtxt(path, delimiter=",", ndmin=2)
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path} cannot be read: {exc}") from None
        except ValueError:
            try:
                table = np.loadtxt(path, delimiter=",", ndmin=2, skiprows=1)
            except ValueError as exc:
                raise ConfigError(f"{path} is not a numeric CSV: {exc}") from None
    if table.shape[1] < 2:
        raise ConfigError(f"{path} needs at least one feature column and a target column")
    return table[:, :-1], table[:, -1]
