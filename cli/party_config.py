"""A party's configuration in a real multi-host session (``coopetition party`` / ``train``).

The file formats are in ``config_schema`` and docs/deployment.md. A party's file either refers
to the shared session file (``[party] session = "session.toml"``, written by ``coopetition
session new``) or carries the session tables inline (``[session]``, ``[admm]`` and ``[[peers]]``,
every party but itself). Relative paths are resolved against the file's folder. Every error is a
``ConfigError`` naming the file and the key at fault.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from nacl.signing import SigningKey, VerifyKey

from coopetition.config_schema import (
    AdmmTable,
    ComputeTable,
    CopmlTable,
    DataTable,
    DeadlinesTable,
    HelenTable,
    PartyDoc,
    PartyEntry,
    SessionDoc,
    decode_toml,
)
from coopetition.engine.errors import ConfigError, PartyId
from coopetition.engine.identity import verify_key_from_hex
from coopetition.engine.party import Deadlines
from coopetition.keyfile import read_private_key
from coopetition.protocols.admm import AdmmConfig, Objective

#: how long a party waits for all its peers to come up, unless [deadlines] connect says otherwise
DEFAULT_CONNECT_SECONDS = 120.0


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
    data: DataTable = field(default_factory=DataTable)
    connect_timeout: float = DEFAULT_CONNECT_SECONDS
    config_path: Path = Path(".")
    key_path: Path = Path(".")
    #: Helen's table (``protocol = "helen"``) and this party's key share file, if any
    helen: HelenTable | None = None
    key_share_path: Path | None = None
    copml: CopmlTable | None = None
    #: where the party's bulk exponentiations run (``[compute]``; ``pools.open_pool``)
    compute: ComputeTable = field(default_factory=ComputeTable)


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


#: Party ids travel as u64 in the TCP handshake.
MAX_PARTY_ID = 2**64 - 1


def table_objective(table: AdmmTable | HelenTable) -> Objective:
    """The objective an ``[admm]`` or ``[helen]`` table names (least squares ignores lam)."""
    return Objective(
        table.objective,
        lam=0.0 if table.objective == "least_squares" else table.lam,
        l1_ratio=table.l1_ratio,
    )


def admm_config(table: AdmmTable, *, where: str) -> AdmmConfig:
    """The protocol's parameters from a validated ``[admm]`` table."""
    try:
        return AdmmConfig(
            table_objective(table),
            rho=table.rho,
            iterations=table.iterations,
            contribution_bound=table.contribution_bound,
            tolerance=table.tolerance or None,
            adaptive_rho=table.adaptive_rho,
            scaling=table.scaling,
        )
    except ConfigError as exc:
        raise ConfigError(f"{where} [admm]: {exc}") from None


def _deadlines(table: DeadlinesTable, where: str) -> tuple[Deadlines, float]:
    values = {
        k: getattr(table, k)
        for k in (
            "phase",
            "heartbeat_interval",
            "heartbeat_timeout",
            "finish",
            "abort_send",
            "send",
            "budget_scale",
            "phases",
        )
        if getattr(table, k) is not None
    }
    try:
        deadlines = Deadlines(**values)
    except (ConfigError, ValueError) as exc:
        raise ConfigError(f"{where} [deadlines]: {exc}") from None
    return deadlines, table.connect if table.connect is not None else DEFAULT_CONNECT_SECONDS


def _peer(entry: PartyEntry, where: str) -> PeerEntry:
    host, port = parse_address(entry.address, what=f"{where} address")
    key = verify_key_from_hex(entry.public_key, what=f"{where} public_key")
    return PeerEntry(id=entry.id, host=host, port=port, verify_key=key)


def load_session_file(path: Path) -> SessionDoc:
    doc = decode_toml(path, SessionDoc, what="session file")
    ids = [p.id for p in doc.parties]
    if len(ids) < 2 or len(set(ids)) != len(ids):
        raise ConfigError(f"{path}: [[parties]] needs at least two entries with distinct ids")
    return doc


def read_toml(path: Path) -> dict[str, Any]:
    """The TOML document at ``path``; ``ConfigError`` naming the file if it cannot be had."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {path} cannot be read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None


def load_party_file(path: Path) -> PartyFile:
    doc = decode_toml(path, PartyDoc, what="config file")
    base = path.parent
    party = doc.party
    if party.session is not None:
        if (
            doc.session is not None
            or doc.admm is not None
            or doc.helen is not None
            or doc.copml is not None
            or doc.peers
            or doc.parties
        ):
            raise ConfigError(
                f"{path}: [party] session names a session file, so [session], [admm], [helen] "
                "and [[peers]] belong there, not here"
            )
        session_path = base / party.session
        shared = load_session_file(session_path)
        session_table, admm_table, where = shared.session, shared.admm, str(session_path)
        helen_table = shared.helen
        copml_table = shared.copml
        entries = [e for e in shared.parties if e.id != party.id]
        if len(entries) == len(shared.parties):
            raise ConfigError(
                f"{path}: [party] id {party.id} is not among the parties of {session_path} "
                f"({', '.join(str(e.id) for e in shared.parties)})"
            )
        me = next(e for e in shared.parties if e.id == party.id)
        data_table = doc.data or shared.data
    else:
        if doc.session is None:
            raise ConfigError(
                f'{path}: needs [party] session = "session.toml" (or an inline [session] table)'
            )
        session_table, admm_table, where = doc.session, doc.admm or AdmmTable(), str(path)
        helen_table = doc.helen
        copml_table = doc.copml
        entries = [e for e in [*doc.peers, *doc.parties] if e.id != party.id]
        me = next((e for e in doc.parties if e.id == party.id), None)
        data_table = doc.data or DataTable()
    if not entries:
        raise ConfigError(f"{where}: a session needs at least one other party")
    ids = [e.id for e in entries]
    if len(set(ids)) != len(ids):
        raise ConfigError(f"{where}: party ids must be distinct")
    try:
        session_id = bytes.fromhex(session_table.id)
    except ValueError:
        raise ConfigError(f"{where}: [session] id must be hexadecimal") from None
    if not 1 <= len(session_id) <= 64:
        raise ConfigError(f"{where}: [session] id must be 1 to 64 bytes (2 to 128 hex digits)")
    if not all(0 <= i <= MAX_PARTY_ID for i in [party.id, *ids]):
        raise ConfigError(f"{where}: party ids must be integers in [0, {MAX_PARTY_ID}]")
    if party.listen is not None:
        listen = parse_address(party.listen, what=f"{path}: [party] listen")
    elif me is not None:
        listen = ("0.0.0.0", parse_address(me.address, what=f"{where}: party {me.id} address")[1])
    else:
        raise ConfigError(f"{path}: [party] needs 'listen' (host:port)")
    if session_table.protocol == "copml" and copml_table is None:
        raise ConfigError(f"{where}: protocol 'copml' needs a [copml] table")
    is_dealer = copml_table is not None and copml_table.dealer == party.id
    if party.data is None and not is_dealer:
        raise ConfigError(f"{path}: [party] needs 'data' (the CSV, Parquet or .npz file)")
    deadlines, connect = _deadlines(doc.deadlines, str(path))
    peers = tuple(
        _peer(e, f"{where}: [[{'parties' if party.session or doc.parties else 'peers'}]] id {e.id}")
        for e in entries
    )
    key_path = base / party.key_file
    if session_table.protocol == "helen" and helen_table is None:
        raise ConfigError(f'{where}: protocol = "helen" needs a [helen] table')
    compute = doc.compute
    if (compute.backend == "dask") != (compute.scheduler is not None):
        raise ConfigError(
            f"{path}: [compute] scheduler = 'tcp://host:port' goes with backend = 'dask' "
            f"(and only with it); got backend = {compute.backend!r}, scheduler = "
            f"{compute.scheduler!r}"
        )
    return PartyFile(
        party_id=party.id,
        signing_key=read_private_key(key_path),
        listen=listen,
        data_path=base / party.data if party.data is not None else base,
        session=session_id,
        protocol=session_table.protocol,
        admm=admm_config(admm_table, where=where),
        deadlines=deadlines,
        peers=peers,
        data=data_table,
        connect_timeout=connect,
        config_path=path,
        key_path=key_path,
        helen=helen_table,
        key_share_path=None if party.key_share is None else base / party.key_share,
        copml=copml_table,
        compute=compute,
    )


def load_party_data(path: Path, data: DataTable | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The party's (X, y); see ``tabular.load_table`` for CSV and Parquet."""
    from coopetition.tabular import load_table

    table = load_table(path, data or DataTable())
    return table.X, table.y
