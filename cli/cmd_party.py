"""``coopetition party --config FILE``: run this host's party of a multi-host session.

Prints one JSON object (the released model with feature names and intercept, or the abort with
its culprit) on stdout; logs and progress go to stderr. Exit codes: 0 trained, 2 bad input
(configuration, key, data, port in use, party already running), 3 the run aborted.
``coopetition train --config FILE`` runs the same party and writes the model file.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import trio

from coopetition.cli_help import HelpFormatter
from coopetition.cli_logging import configure
from coopetition.cli_progress import RoundPrinter
from coopetition.engine.errors import ConfigError, ProtocolAborted
from coopetition.party_config import PartyFile, load_party_file
from coopetition.party_run import aborted_dict, run_party_file, single_instance
from coopetition.protocols.paillier.pools import open_pool
from coopetition.tabular import Table, load_table

EXAMPLE = """example:
  coopetition party --config party0.toml --output result0.json

The config file format and a full 3-host walk-through: docs/deployment.md."""


def add_run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quiet", action="store_true", help="only warnings and errors on stderr")
    parser.add_argument(
        "--log-json",
        action="store_true",
        help="log JSON lines on stderr instead of human-readable text",
    )


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "party",
        help="run one party of a multi-host session; prints the outcome as JSON",
        epilog=EXAMPLE,
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--config", type=Path, required=True, help="party configuration (TOML)")
    parser.add_argument("--output", type=Path, help="also write the JSON outcome to this file")
    add_run_options(parser)
    parser.set_defaults(func=_run)


def prepare(config: Path) -> tuple[PartyFile, Table]:
    spec = load_party_file(config)
    if spec.protocol not in ("admm", "helen"):
        raise ConfigError(f"{config}: protocol {spec.protocol!r} is not available yet")
    table = load_table(spec.data_path, spec.data)
    if spec.helen is not None and spec.protocol == "helen":
        from coopetition.helen_party import check_helen_party

        check_helen_party(spec, table)  # parameters, data and key share: one-line errors now
    return spec, table


def _run(args: argparse.Namespace) -> int:
    try:
        protocol = load_party_file(args.config).protocol
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if protocol == "copml":
        from coopetition.copml_party import run_copml_party

        code, outcome = run_copml_party(args)
    else:
        code, outcome, _ = run_one_party(args)
    if outcome is None:
        return code
    text = json.dumps(outcome, sort_keys=True)
    print(text)
    if args.output:
        args.output.write_text(text + "\n")
    return code


def run_one_party(args: argparse.Namespace) -> tuple[int, dict[str, Any] | None, PartyFile | None]:
    """Load, lock, run; returns (exit code, outcome, spec). Errors are printed as one line."""
    try:
        spec, table = prepare(args.config)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2, None, None
    log = configure(json_lines=args.log_json, quiet=args.quiet)
    progress = None if args.quiet else _progress(spec)
    started = time.perf_counter()
    log.info(
        "party_starting",
        party=spec.party_id,
        listen=f"{spec.listen[0]}:{spec.listen[1]}",
        peers=[p.id for p in spec.peers],
        rows=int(table.X.shape[0]),
        features=int(table.X.shape[1]),
        connect_timeout_s=spec.connect_timeout,
        compute=spec.compute.backend,
    )
    try:
        with single_instance(spec), compute_pool(spec):
            outcome = trio.run(lambda: run_party_file(spec, table, log=log, progress=progress))
        code = 0
    except ProtocolAborted as exc:
        outcome = aborted_dict(spec, exc)
        print(f"aborted: {exc}{_hint(spec, exc)}", file=sys.stderr)
        code = 3
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2, None, spec
    outcome["wall_seconds"] = round(time.perf_counter() - started, 3)
    return code, outcome, spec


def compute_pool(spec: PartyFile) -> AbstractContextManager[Any]:
    """The party's ``[compute]`` backend for its bulk exponentiations, for the whole run."""
    c = spec.compute
    return open_pool(c.backend, c.scheduler, timeout=c.connect, where=str(spec.config_path))


def _progress(spec: PartyFile) -> RoundPrinter:
    if spec.protocol == "helen" and spec.helen is not None:
        from coopetition.protocols.helen.info import HELEN_INFO

        return RoundPrinter(sys.stderr, spec.helen.iterations, info=HELEN_INFO)
    return RoundPrinter(sys.stderr, spec.admm.iterations)


def _hint(spec: PartyFile, exc: ProtocolAborted) -> str:
    """What the operator can check, for failures a config mistake usually causes."""
    if "roster key" in exc.reason and exc.culprit is not None:
        return (
            f" (check that party {exc.culprit}'s public_key in the session file matches "
            f"`coopetition keys show` of its key file, and that {spec.config_path} names the "
            "right session file)"
        )
    if exc.code == "peer_unreachable" and exc.phase == "connect":
        return " (is every party started, and its address in the session file right?)"
    return ""
