"""``coopetition party --config FILE`` with ``protocol = "helen"``: this host's Helen party.

The session's ``[helen]`` table holds the public parameters every party must agree on (setup
compares their signed digest); the party's own file names its data and, with
``keygen = "file"``, its threshold key share (``[party] key_share``, mode 0600, written by
``coopetition keys dkg --config``). With ``keygen = "dkg"`` the key is generated in the session,
among the Helen parties, with no dealer. The party then makes its own MAC key and SPDZ
preprocessing over the bus (``protocols/helen/preprocess_phase``) and trains; see
docs/deployment.md, "Helen across hosts".

Data are used as read (no scaling phase): every |feature| must be below ``x_bound`` and every
|target| below ``y_bound``, and the party's row count below the agreed ``rows``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from coopetition.config_schema import HelenTable
from coopetition.engine.errors import ConfigError
from coopetition.engine.party import Party
from coopetition.keyfile import check_private
from coopetition.party_config import PartyFile, table_objective
from coopetition.protocols.helen.config import HelenConfig
from coopetition.protocols.helen.key_phase import KeySetup
from coopetition.protocols.helen.local_run import check_parts
from coopetition.protocols.helen.session import HelenResult, HelenRun
from coopetition.protocols.paillier.serialize import MalformedEncoding, decode_key_share
from coopetition.tabular import Table


def helen_config(table: HelenTable, *, where: str) -> HelenConfig:
    """The run's ``HelenConfig`` from a validated ``[helen]`` table (``ConfigError`` if bad)."""
    try:
        return HelenConfig(
            objective=table_objective(table),
            rho=table.rho,
            iterations=table.iterations,
            x_bound=table.x_bound,
            y_bound=table.y_bound,
            w_bound=table.w_bound,
            precision=table.precision,
            key_bits=table.key_bits,
            insecure=table.insecure,
            interval_repetitions=table.interval_repetitions,
            preprocessing="mascot",
        )
    except ConfigError as exc:
        raise ConfigError(f"{where} [helen]: {exc}") from None


def load_key_share(spec: PartyFile, config: HelenConfig) -> KeySetup:
    """This party's key source: its share file (0600, decoded and checked) or the DKG."""
    table = spec.helen
    assert table is not None
    if table.keygen == "dkg":
        return KeySetup.distributed(batch=table.dkg_batch)
    path = spec.key_share_path
    if path is None:
        raise ConfigError(
            f'{spec.config_path}: [helen] keygen = "file" needs [party] key_share (the share '
            'file `coopetition keys dkg` wrote), or set keygen = "dkg"'
        )
    check_private(path)
    try:
        share = decode_key_share(path.read_bytes(), insecure_allow_small=config.insecure)
    except (MalformedEncoding, ValueError) as exc:
        raise ConfigError(f"key share file {path} is not a threshold key share: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"key share file {path} cannot be read: {exc}") from None
    return KeySetup.from_share(share, origin=f"key-file {path.name}")


def check_helen_data(table: Table, config: HelenConfig, rows: int, party: int) -> None:
    """Refuse this party's data before any cryptography (values the proofs could not carry)."""
    try:
        check_parts([(table.X, table.y)])
    except ConfigError as exc:
        raise ConfigError(str(exc).replace("party 0:", f"party {party}:", 1)) from None
    n = len(table.y)
    if n > rows:
        raise ConfigError(f"party {party}: {n} rows, above the agreed [helen] rows = {rows}")
    if np.abs(table.X).max() >= config.x_bound:
        raise ConfigError(f"party {party}: a feature value reaches [helen] x_bound")
    if np.abs(table.y).max() >= config.y_bound:
        raise ConfigError(f"party {party}: a target value reaches [helen] y_bound")


def check_helen_party(spec: PartyFile, table: Table) -> tuple[HelenConfig, KeySetup]:
    """Everything checkable before connecting: parameters, party ids, data, key source."""
    assert spec.helen is not None
    where = str(spec.config_path)
    config = helen_config(spec.helen, where=where)
    parties = sorted([spec.party_id, *(p.id for p in spec.peers)])
    if parties != list(range(len(parties))):
        raise ConfigError(f"{where}: Helen numbers its parties 0..m-1, got {parties}")
    check_helen_data(table, config, spec.helen.rows, spec.party_id)
    key = load_key_share(spec, config)
    key.check(config, spec.party_id, len(parties))
    return config, key


def helen_run(spec: PartyFile, table: Table, parties: tuple[int, ...]) -> HelenRun:
    """The ``HelenRun`` of this party, with its key source and data checked."""
    assert spec.helen is not None
    config, key = check_helen_party(spec, table)
    return HelenRun(
        config,
        table.X,
        table.y,
        party=spec.party_id,
        parties=parties,
        rows=spec.helen.rows,
        key=key,
        session=spec.session,
    )


def helen_result_dict(result: HelenResult, table: Table, party: Party) -> dict[str, Any]:
    """The released model and the run record, as plain JSON types."""
    coef = np.asarray(result.model, dtype=float)
    residual = table.y - table.X @ coef
    spread = float(((table.y - table.y.mean()) ** 2).sum())
    return {
        "outcome": "completed",
        "party": party.id,
        "protocol": "helen",
        "target": table.target_name,
        "feature_names": list(table.feature_names),
        "coef": [float(c) for c in coef],
        "intercept": 0.0,
        "model": coef.tolist(),
        "scaling": None,
        "iterations": result.iterations,
        "converged": None,
        "local_rows": result.local_rows,
        "local_rmse": float(np.sqrt(np.mean(residual**2))),
        "local_r2": float(1 - (residual @ residual) / spread) if spread > 0 else None,
        "record": result.record,
        "transcript_sha256": party.transcript_digest,
        "stats": party.stats.as_dict(),
    }
