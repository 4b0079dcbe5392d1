"""``coopetition bench NAME``: run one benchmark from ``coopetition.sims.bench_NAME``.

A benchmark module exposes ``add_arguments(parser)`` and ``run(args) -> dict``; the dict is
printed as a table, or as one JSON object with ``--json``. Benchmarks also write their results
under ``results/`` so the docs can quote them.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys

BENCHMARKS = ("paillier", "zk", "spdz", "dkg")


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("bench", help="run a benchmark and print rates and ratios")
    bench_sub = parser.add_subparsers(dest="benchmark", required=True, metavar="NAME")
    for name in BENCHMARKS:
        try:
            module = importlib.import_module(f"coopetition.sims.bench_{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"coopetition.sims.bench_{name}":
                raise
            continue
        one = bench_sub.add_parser(name, help=(module.__doc__ or "").strip().splitlines()[0])
        one.add_argument("--json", action="store_true", help="print one JSON object")
        module.add_arguments(one)
        one.set_defaults(func=_run, module=module)


def _run(args: argparse.Namespace) -> int:
    result = args.module.run(args)
    if args.json:
        print(json.dumps(result, sort_keys=True))
    else:
        for key, value in result.items():
            print(f"{key:40} {value}", file=sys.stdout)
    return 0
