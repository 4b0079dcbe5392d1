"""``coopetition session new``: write the session file every party of a run shares.

The file holds a fresh session id, the protocol and its public training parameters, how every
party reads its table (target and feature columns), and each party's id, address and public key
(from ``coopetition keys new``). Each party's own config refers to it with
``[party] session = "session.toml"``; docs/deployment.md walks through a run.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import msgspec

from coopetition.cli_help import HelpFormatter
from coopetition.config_schema import AdmmTable, DataTable, PartyEntry, SessionDoc, SessionTable
from coopetition.engine.errors import ConfigError
from coopetition.engine.identity import verify_key_from_hex
from coopetition.party_config import load_session_file, parse_address

EXAMPLE = """example (three hosts; each public key is the output of `coopetition keys new`):
  coopetition session new --out session.toml --target quality --objective lasso --lam 30 \\
      --party 0=10.0.0.1:7000,<public key of party 0> \\
      --party 1=10.0.0.2:7000,<public key of party 1> \\
      --party 2=10.0.0.3:7000,<public key of party 2>"""


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("session", help="create the session file all parties share")
    session_sub = parser.add_subparsers(dest="session_command", required=True, metavar="ACTION")
    new = session_sub.add_parser(
        "new",
        help="write a session file with a fresh id",
        epilog=EXAMPLE,
        formatter_class=HelpFormatter,
    )
    new.add_argument("--out", type=Path, required=True, help="session file to write")
    new.add_argument(
        "--party",
        action="append",
        required=True,
        metavar="ID=HOST:PORT,PUBLIC_KEY",
        help="one per party (at least two)",
    )
    defaults = AdmmTable()
    new.add_argument("--protocol", choices=["admm"], default="admm", help="training protocol")
    new.add_argument(
        "--objective",
        choices=["least_squares", "lasso", "ridge", "elastic_net"],
        default=defaults.objective,
    )
    new.add_argument(
        "--lam", type=float, default=defaults.lam, help="regularisation (Helen's scaling)"
    )
    new.add_argument("--l1-ratio", type=float, default=defaults.l1_ratio, help="elastic net mix")
    new.add_argument("--rho", type=float, default=defaults.rho, help="initial ADMM penalty")
    new.add_argument("--iterations", type=int, default=defaults.iterations, help="most rounds")
    new.add_argument(
        "--tolerance",
        type=float,
        default=defaults.tolerance,
        help="residual tolerance; 0 = fixed rounds",
    )
    new.add_argument(
        "--scaling",
        choices=["none", "center", "standardize"],
        default=defaults.scaling,
        help="data preparation agreed among the parties (standardize: pooled mean and std)",
    )
    new.add_argument("--target", help="target column name or 0-based index (default: last column)")
    new.add_argument("--features", help="comma-separated feature columns (default: all others)")
    new.add_argument("--force", action="store_true", help="overwrite an existing file")
    new.set_defaults(func=_new)


def _column(text: str) -> str | int:
    return int(text) if text.isdigit() else text


def _party(text: str) -> PartyEntry:
    ident, eq, rest = text.partition("=")
    address, comma, key = rest.partition(",")
    if not (eq and comma and ident.strip().isdigit()):
        raise ConfigError(f"--party {text!r}: expected ID=HOST:PORT,PUBLIC_KEY")
    parse_address(address.strip(), what=f"--party {ident} address")
    verify_key_from_hex(key.strip(), what=f"--party {ident} public key")
    return PartyEntry(id=int(ident), address=address.strip(), public_key=key.strip())


def _new(args: argparse.Namespace) -> int:
    try:
        if args.out.exists() and not args.force:
            raise ConfigError(f"{args.out} exists; refusing to overwrite it (use --force)")
        doc = SessionDoc(
            session=SessionTable(id=os.urandom(16).hex(), protocol=args.protocol),
            admm=AdmmTable(
                objective=args.objective,
                lam=0.0 if args.objective == "least_squares" else args.lam,
                l1_ratio=args.l1_ratio,
                rho=args.rho,
                iterations=args.iterations,
                tolerance=args.tolerance,
                scaling=args.scaling,
            ),
            data=DataTable(
                target=None if args.target is None else _column(args.target),
                features=None
                if args.features is None
                else [_column(c.strip()) for c in args.features.split(",") if c.strip()],
            ),
            parties=sorted((_party(p) for p in args.party), key=lambda e: e.id),
        )
        args.out.write_bytes(encode_session(doc))
        load_session_file(args.out)  # the file we wrote passes the same checks as any other
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"session {doc.session.id} written to {args.out}", file=sys.stderr)
    return 0


def encode_session(doc: SessionDoc) -> bytes:
    """TOML text of a session file (no None values: TOML has no null)."""
    header = b"# coopetition session file: give every party the same copy\n"
    return header + msgspec.toml.encode(_drop_none(msgspec.to_builtins(doc)))


def _drop_none(value: object) -> object:
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_none(v) for v in value]
    return value
