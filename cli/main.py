"""``coopetition`` command line: one sub-command per module, registered below.

Each command module exposes ``register(subparsers)`` which adds its parser and sets
``func(args) -> int`` as the parser default, so adding a command touches one line here.
"""

from __future__ import annotations

import argparse
import importlib
import sys

COMMAND_MODULES = (
    "coopetition.cmd_demo",
    "coopetition.cmd_party",
    "coopetition.cmd_keys",
    "coopetition.cmd_bench",
    "coopetition.cmd_sim",
    "coopetition.cmd_fuzz",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="coopetition",
        description="Train linear models jointly without sharing data (Helen, COPML, ADMM).",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
