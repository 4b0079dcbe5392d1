"""``coopetition bench NAME``: run one benchmark from ``coopetition.sims.bench_NAME``.

A benchmark module exposes ``add_arguments(parser)`` and ``run(args) -> dict``; the dict is
printed as a table, or as one JSON object with ``--json``. Results are written where ``--out``
says; without it, into a fresh ``coopetition-bench-NAME-*`` folder under the working directory,
so a run never overwrites a tracked file (the figures in docs/ are regenerated on purpose, with
``--out results/bench_NAME.json``).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from tqdm import tqdm

from coopetition.engine.errors import ConfigError
from coopetition.outputs import fresh_name

BENCHMARKS = (
    "paillier",
    "zk",
    "spdz",
    "range",
    "gadgets",
    "preprocessing",
    "ppadmm",
    "sgd-spdz",
    "copml",
    "dkg",
    "helen",
    "helen-offload",
    "cluster",
    "helen-prep",
    "helen-song",
    "helen-prepare",
)
#: the epilog when a benchmark module names no ``EXAMPLE`` of its own (a quick, valid command)
EXAMPLE = "coopetition bench {name} --json"


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("bench", help="run a benchmark and print rates and ratios")
    bench_sub = parser.add_subparsers(dest="benchmark", required=True, metavar="NAME")
    for name in BENCHMARKS:
        try:
            module_name = f"coopetition.sims.bench_{name.replace('-', '_')}"
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue
        one = bench_sub.add_parser(
            name,
            help=(module.__doc__ or "").strip().splitlines()[0],
            epilog="example:\n  " + getattr(module, "EXAMPLE", EXAMPLE.format(name=name)),
            formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        )
        one.add_argument("--json", action="store_true", help="print one JSON object")
        module.add_arguments(one)
        for action in one._actions:  # the modules' own help names their old default
            if action.dest == "out":
                action.help = "result file (default: a fresh coopetition-bench-* folder here)"
        one.set_defaults(func=_run, module=module, name=name)


@contextlib.contextmanager
def _elapsed_ticker(every: float = 30.0) -> Iterator[None]:
    """Say the benchmark is still running: a live elapsed-time bar on a terminal, else a line
    every ``every`` seconds (benchmarks do not report their own progress)."""
    done = threading.Event()
    terminal = sys.stderr.isatty()
    bar = tqdm(desc="measuring", unit="s", file=sys.stderr, disable=not terminal, leave=False)

    def tick() -> None:
        started = time.perf_counter()
        while not done.wait(1.0 if terminal else every):
            if terminal:
                bar.update(1)
            else:
                print(f"  still measuring, {time.perf_counter() - started:.0f}s", file=sys.stderr)

    thread = threading.Thread(target=tick, daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()
        bar.close()


def _run(args: argparse.Namespace) -> int:
    insecure = getattr(args, "insecure_bits", None) is not None
    if getattr(args, "out", None) is None and not insecure:
        args.out = fresh_name(Path.cwd(), f"coopetition-bench-{args.name}") / (
            f"bench_{args.name}.json"
        )
    print(f"coopetition bench {args.name}: measuring (may take minutes) ...", file=sys.stderr)
    started = time.perf_counter()
    try:
        with _elapsed_ticker():
            result = args.module.run(args)
    except ModuleNotFoundError as exc:
        print(
            f"error: this benchmark needs {exc.name}, which is not installed; run: "
            "pip install 'coopetition[bench]'",
            file=sys.stderr,
        )
        return 2
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:
        text = str(exc).replace(
            "pass insecure_allow_small=True only in tests",
            "use --insecure-bits N (insecure, for smoke tests) or --bits 2048",
        )
        print(f"error: {text}", file=sys.stderr)
        return 2
    print(f"done in {time.perf_counter() - started:.1f}s", file=sys.stderr)
    if getattr(args, "out", None) is not None and Path(args.out).exists():
        print(f"results written to {args.out}", file=sys.stderr)
    if args.json:
        print(json.dumps(result, sort_keys=True))
    else:
        for key, value in result.items():
            shown = json.dumps(value, sort_keys=True) if isinstance(value, dict) else value
            print(f"{key:40} {shown}", file=sys.stdout)
    return 0
