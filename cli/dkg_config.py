"""The configuration file of one party of a distributed key generation (``coopetition keys dkg``).

Example (every party's file lists the same session and [dkg] values)::

    [party]
    id = 0
    key_file = "party0.key"          # identity made by `coopetition keys new`
    listen = "0.0.0.0:7100"

    [session]
    id = "5f0c..."                   # hex, agreed out of band, fresh for every run

    [dkg]
    bits = 2048                      # 2048, 3072 or 4096
    share_out = "party0.share"       # this party's secret key share (written 0600)
    public_out = "threshold.pub"     # the threshold public key (the same at every party)
    batch = 256                      # candidates per round trip (optional)
    multiplier = "additive"          # optional: "additive" (p, q secret against m-1 colluders,
                                     # default) or "shamir" (honest majority only, faster)

    [deadlines]                      # optional, seconds
    phase = 900

    [[peers]]
    id = 1
    address = "10.0.0.2:7100"
    public_key = "d75a98..."

Relative paths are resolved against the config file's folder. Errors name the key at fault.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nacl.signing import SigningKey

from coopetition.engine.errors import ConfigError, PartyId
from coopetition.engine.identity import read_key_file, verify_key_from_hex
from coopetition.engine.party import Deadlines
from coopetition.party_config import parse_address, read_toml
from coopetition.protocols.paillier.dkg import DkgParams
from coopetition.sims.dkg_local import DkgPeer

_DKG_KEYS = {
    "bits",
    "share_out",
    "public_out",
    "batch",
    "audit_fraction",
    "insecure_allow_small",
    "multiplier",
}


DEADLINE_KEYS = ("phase", "heartbeat_interval", "heartbeat_timeout", "finish", "abort_send", "send")


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


@dataclass(frozen=True)
class DkgFile:
    party_id: PartyId
    signing_key: SigningKey
    listen: tuple[str, int]
    session: bytes
    params: DkgParams
    share_out: Path
    public_out: Path
    audit_fraction: float
    deadlines: Deadlines
    peers: tuple[DkgPeer, ...]


def load_dkg_file(path: Path) -> DkgFile:
    doc = read_toml(path)
    base = path.parent
    party, session, dkg = _table(doc, "party"), _table(doc, "session"), _table(doc, "dkg")
    unknown = sorted(set(dkg) - _DKG_KEYS)
    if unknown:
        raise ConfigError(f"[dkg] has unknown keys {unknown}; known: {sorted(_DKG_KEYS)}")
    pid = _get(party, "id", int, "party")
    listen = parse_address(_get(party, "listen", str, "party"), what="[party] listen")
    try:
        session_id = bytes.fromhex(_get(session, "id", str, "session"))
    except ValueError:
        raise ConfigError("[session] id must be hexadecimal") from None
    peers = _peers(doc)
    ids = sorted([pid] + [p.id for p in peers])
    if ids != list(range(len(ids))):
        raise ConfigError(f"party ids must be 0..m-1 without gaps, got {ids}")
    bits = dkg.get("bits", 2048)
    batch = dkg.get("batch", 256)
    for name, value in (("bits", bits), ("batch", batch)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"[dkg] {name} must be a whole number, got {value!r}")
    insecure = dkg.get("insecure_allow_small", False)
    if not isinstance(insecure, bool):
        raise ConfigError("[dkg] insecure_allow_small must be true or false")
    # ConfigError for bad sizes (below 2048 bits only with insecure_allow_small, tests) or m < 3
    multiplier = dkg.get("multiplier", "additive")
    if not isinstance(multiplier, str):
        raise ConfigError("[dkg] multiplier must be a string")
    params = DkgParams(
        bits, len(ids), batch=batch, insecure_allow_small=insecure, multiplier=multiplier
    )
    audit = _number(dkg, "audit_fraction", "dkg", 0.125)
    if not 0.0 <= audit <= 1.0:
        raise ConfigError("[dkg] audit_fraction must be between 0 and 1")
    deadlines_table = _table(doc, "deadlines")
    unknown = sorted(set(deadlines_table) - set(DEADLINE_KEYS))
    if unknown:
        raise ConfigError(f"[deadlines] has unknown keys {unknown}; known: {list(DEADLINE_KEYS)}")
    deadlines = Deadlines(
        **{k: _number(deadlines_table, k, "deadlines", 0.0) for k in deadlines_table}
    )
    return DkgFile(
        party_id=pid,
        signing_key=read_key_file(base / _get(party, "key_file", str, "party")),
        listen=listen,
        session=session_id,
        params=params,
        share_out=base / _get(dkg, "share_out", str, "dkg"),
        public_out=base / _get(dkg, "public_out", str, "dkg"),
        audit_fraction=audit,
        deadlines=deadlines,
        peers=peers,
    )


def _peers(doc: dict[str, Any]) -> tuple[DkgPeer, ...]:
    peers = []
    for index, entry in enumerate(doc.get("peers", [])):
        where = f"peers #{index + 1}"
        host, port = parse_address(_get(entry, "address", str, where), what=f"[{where}] address")
        peers.append(
            DkgPeer(
                id=_get(entry, "id", int, where),
                host=host,
                port=port,
                verify_key=verify_key_from_hex(
                    _get(entry, "public_key", str, where), what=f"[{where}] public_key"
                ),
            )
        )
    if len(peers) < 2:
        raise ConfigError("a distributed key generation needs at least two [[peers]] entries")
    if len({p.id for p in peers}) != len(peers):
        raise ConfigError("peer ids must be distinct")
    return tuple(peers)
