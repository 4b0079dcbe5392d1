"""``coopetition party --config FILE``: run this host's party of a multi-host session.

Prints one JSON object (the released model, or the abort with its culprit) on stdout, progress on
stderr. Exit codes: 0 trained, 2 bad configuration, 3 the run aborted.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import trio

from coopetition.cli_progress import RoundPrinter
from coopetition.engine.errors import ConfigError, ProtocolAborted, TransportError
from coopetition.engine.identity import Identity
from coopetition.engine.party import Party, PartyConfig
from coopetition.party_config import PartyFile, load_party_data, load_party_file
from coopetition.protocols.admm import AdmmRun
from coopetition.transports.tcp import PeerAddress, TcpTransport


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("party", help="run one party of a multi-host session")
    parser.add_argument("--config", type=Path, required=True, help="party configuration (TOML)")
    parser.add_argument("--output", type=Path, help="also write the JSON result to this file")
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    try:
        spec = load_party_file(args.config)
        X, y = load_party_data(spec.data_path)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    started = time.perf_counter()
    try:
        outcome = trio.run(run_party_file, spec, X, y, None if args.quiet else sys.stderr)
        code = 0
    except ProtocolAborted as exc:
        outcome = {
            "outcome": "aborted",
            "party": spec.party_id,
            "abort_code": exc.code,
            "abort_reason": exc.reason,
            "culprit": exc.culprit,
            "reported_by": exc.reported_by,
        }
        print(f"aborted: {exc}", file=sys.stderr)
        code = 3
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    outcome["wall_seconds"] = round(time.perf_counter() - started, 3)
    text = json.dumps(outcome, sort_keys=True)
    print(text)
    if args.output:
        args.output.write_text(text + "\n")
    return code


async def run_party_file(spec: PartyFile, X: Any, y: Any, progress: Any) -> dict[str, Any]:
    identity = Identity(spec.party_id, spec.signing_key)
    roster = {p.id: p.verify_key for p in spec.peers}
    roster[spec.party_id] = identity.verify_key
    config = PartyConfig(identity, roster, spec.session, spec.deadlines)
    transport = TcpTransport(
        spec.party_id,
        spec.signing_key,
        spec.listen,
        {p.id: PeerAddress(p.host, p.port, p.verify_key) for p in spec.peers},
        connect_timeout=spec.deadlines.heartbeat_timeout,
    )
    printer = RoundPrinter(progress, spec.admm.iterations) if progress else None
    party = Party(config, transport, observer=printer)
    protocol = AdmmRun(spec.admm, X, y, party=spec.party_id, parties=config.parties)
    try:
        async with transport:
            result = await party.run(protocol)
    except TransportError as exc:
        raise party_transport_abort(exc) from None
    return {
        "outcome": "completed",
        "party": spec.party_id,
        "model": result.model.tolist(),
        "iterations": result.iterations,
        "transcript_sha256": party.transcript_digest,
        "stats": party.stats.as_dict(),
    }


def party_transport_abort(exc: TransportError) -> ProtocolAborted:
    from coopetition.engine.errors import PeerUnreachable

    return PeerUnreachable(f"could not connect: {exc}", culprit=exc.peer, phase="connect")
