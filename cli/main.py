"""``coopetition`` command line: one sub-command per module, registered below.

Each command module exposes ``register(subparsers)`` which adds its parser and sets
``func(args) -> int`` as the parser default, so adding a command touches one line here.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from coopetition import __version__
from coopetition.engine.allocator import tune_allocator

COMMAND_MODULES = (
    "coopetition.cmd_demo",
    "coopetition.cmd_party",
    "coopetition.cmd_keys",
    "coopetition.cmd_bench",
    "coopetition.cmd_sim",
    "coopetition.cmd_train",
    "coopetition.cmd_session",
    "coopetition.cmd_report",
    "coopetition.cmd_fuzz",
)


EPILOG = """examples:
  coopetition demo                                   4 local parties on wine data, vs scikit-learn
  coopetition train --local a.csv b.csv --target y   your own files, all parties on this machine
  coopetition session new --help                     start a real multi-host session
  coopetition COMMAND --help                         options and defaults of one command

docs/deployment.md walks through a 3-host run."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="coopetition",
        description="Train linear models jointly without sharing data (plaintext ADMM today; "
        "Helen's building blocks exist, the Helen protocol not yet).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"coopetition {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    tune_allocator()  # this process; the preparation's workers tune themselves
    parser = build_parser()
    if not (sys.argv[1:] if argv is None else argv):
        parser.print_help(sys.stderr)
        return 2
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
