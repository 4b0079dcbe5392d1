"""``coopetition keys new``: make a party identity (an Ed25519 key pair); ``keys dkg``: see
``cmd_dkg``."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from nacl.signing import SigningKey

from coopetition.cli_help import HelpFormatter
from coopetition.engine.errors import ConfigError
from coopetition.engine.identity import public_key_hex, write_key_file


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("keys", help="manage party identities")
    keys_sub = parser.add_subparsers(dest="keys_command", required=True, metavar="ACTION")
    new = keys_sub.add_parser(
        "new",
        help="create a key pair; prints the public key to share",
        epilog="example:\n  coopetition keys new --out party0.key",
        formatter_class=HelpFormatter,
    )
    new.add_argument("--out", type=Path, required=True, help="secret key file to write (0600)")
    new.add_argument("--force", action="store_true", help="overwrite an existing key file")
    new.set_defaults(func=_new)
    from coopetition.cmd_dkg import register_dkg

    register_dkg(keys_sub)
    show = keys_sub.add_parser(
        "show",
        help="print the public key of a key file",
        epilog="example:\n  coopetition keys show party0.key",
        formatter_class=HelpFormatter,
    )
    show.add_argument("file", type=Path, help="key file made by `keys new`")
    show.set_defaults(func=_show)


def _show(args: argparse.Namespace) -> int:
    from coopetition.keyfile import read_private_key

    try:
        key = read_private_key(args.file)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(public_key_hex(key.verify_key))
    return 0


def _new(args: argparse.Namespace) -> int:
    key = SigningKey.generate()
    try:
        write_key_file(args.out, key, overwrite=args.force)
        os.chmod(args.out, 0o600)  # --force on an existing file keeps its mode otherwise
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(public_key_hex(key.verify_key))
    print(f"secret key written to {args.out}; share only the public key above", file=sys.stderr)
    return 0
