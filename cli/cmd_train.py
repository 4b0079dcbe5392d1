"""``coopetition train``: train on your own CSV or Parquet files.

* ``train --config party0.toml``: this host's party of a real session (docs/deployment.md).
* ``train --local a.csv b.csv c.csv --target y``: try it first on one machine: one simulated
  party per file, all in this process.

Either way the released model is written as JSON (feature names, coefficients and intercept in
the data's original units, the agreed scaling, rounds, convergence) to ``--out``, by default a
fresh ``model-*.json`` in the working directory (never overwriting a file). ``--run-out`` also
writes the run record (residual history, per-phase statistics, timeline) that ``coopetition
report`` draws.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from coopetition.cli_help import HelpFormatter
from coopetition.cmd_party import add_run_options, run_one_party
from coopetition.config_schema import AdmmTable, DataTable
from coopetition.engine.errors import ConfigError, ProtocolAborted
from coopetition.party_run import fresh_path, model_json

EXAMPLE = """examples:
  coopetition train --local a.csv b.csv c.csv --target quality --objective lasso --lam 30
  coopetition train --config party0.toml --out model.json

Model file: {"feature_names": [...], "coef": [...], "intercept": ..., "scaling": {...}, ...}"""


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "train",
        help="train on your own CSV/Parquet files (one party of a session, or all locally)",
        epilog=EXAMPLE,
        formatter_class=HelpFormatter,
    )
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--config", type=Path, help="this party's config (a real session)")
    mode.add_argument(
        "--local", type=Path, nargs="+", metavar="FILE", help="one data file per simulated party"
    )
    parser.add_argument("--out", type=Path, help="model file (default: a fresh model-*.json here)")
    parser.add_argument("--run-out", type=Path, help="also write the run record for `report`")
    local = parser.add_argument_group("--local only (a real session reads these from its files)")
    defaults = AdmmTable()
    local.add_argument(
        "--split", type=int, metavar="N", help="deal one file's rows among N simulated parties"
    )
    local.add_argument("--target", help="target column name or 0-based index (default: last)")
    local.add_argument("--features", help="comma-separated feature columns (default: all others)")
    local.add_argument(
        "--header", choices=["auto", "yes", "no"], default="auto", help="is line 1 a header?"
    )
    local.add_argument(
        "--objective",
        choices=["least_squares", "lasso", "ridge", "elastic_net"],
        default=defaults.objective,
    )
    local.add_argument("--lam", type=float, default=defaults.lam, help="regularisation")
    local.add_argument("--l1-ratio", type=float, default=defaults.l1_ratio)
    local.add_argument("--rho", type=float, default=defaults.rho, help="initial ADMM penalty")
    local.add_argument("--iterations", type=int, default=defaults.iterations, help="most rounds")
    local.add_argument("--tolerance", type=float, default=defaults.tolerance)
    local.add_argument(
        "--scaling", choices=["none", "center", "standardize"], default=defaults.scaling
    )
    add_run_options(parser)
    parser.set_defaults(func=_run)


def _column(text: str) -> str | int:
    return int(text) if text.isdigit() else text


def _run(args: argparse.Namespace) -> int:
    if args.config is not None:
        code, outcome, spec = run_one_party(args)
        if outcome is None or spec is None:
            return code
        if code == 0:
            model = model_json(outcome, spec)
            _write(args, model, outcome, stem=f"model-party{spec.party_id}")
        return code
    return _run_local(args)


def _run_local(args: argparse.Namespace) -> int:
    from coopetition.api import simulate
    from coopetition.cli_progress import RoundPrinter
    from coopetition.party_config import admm_config
    from coopetition.tabular import load_table, split_table

    try:
        if len(args.local) < 2 and not args.split:
            raise ConfigError("--local needs two or more data files (one per party), or --split N")
        if args.split is not None and (len(args.local) != 1 or args.split < 2):
            raise ConfigError("--split N takes one data file and N >= 2")
        spec = DataTable(
            target=None if args.target is None else _column(args.target),
            features=None
            if args.features is None
            else [_column(c.strip()) for c in args.features.split(",") if c.strip()],
            header={"auto": "auto", "yes": True, "no": False}[args.header],
        )
        tables = [load_table(path, spec) for path in args.local]
        if args.split:
            tables = split_table(tables[0], args.split)
        names = {t.feature_names for t in tables}
        if len(names) != 1:
            raise ConfigError(f"the files' feature columns differ: {sorted(names)}")
        table = AdmmTable(
            objective=args.objective,
            lam=args.lam,
            l1_ratio=args.l1_ratio,
            rho=args.rho,
            iterations=args.iterations,
            tolerance=args.tolerance,
            scaling=args.scaling,
        )
        config = admm_config(table, where="command line")
        printer = None if args.quiet else RoundPrinter(sys.stderr, config.iterations, only_party=0)
        fit = simulate(
            [(t.X, t.y) for t in tables],
            config,
            feature_names=tables[0].feature_names,
            observer=printer,
        )
    except ProtocolAborted as exc:
        print(f"aborted: {exc}", file=sys.stderr)
        return 3
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    model: dict[str, Any] = {
        "format": "coopetition-linear-model/1",
        "protocol": "admm",
        "objective": config.objective.kind,
        "lam": config.objective.lam,
        "l1_ratio": config.objective.l1_ratio,
        "parties": len(tables),
        "target": tables[0].target_name,
        "feature_names": list(fit.feature_names),
        "coef": fit.coef.tolist(),
        "intercept": fit.intercept,
        "iterations": fit.iterations,
        "converged": fit.converged,
    }
    run = {
        **model,
        "outcome": "completed",
        "history": [vars(h) for h in fit.history],
        "stats": fit.stats,
        "timeline": fit.timeline,
    }
    _write(args, model, run, stem="model-local")
    return 0


def _write(
    args: argparse.Namespace, model: dict[str, Any], run: dict[str, Any], *, stem: str
) -> None:
    out = args.out or fresh_path(Path.cwd(), stem, ".json")
    out.write_text(json.dumps(model, indent=2) + "\n")
    if args.run_out:
        args.run_out.write_text(json.dumps(run, sort_keys=True) + "\n")
    if not model["converged"]:
        print(
            f"warning: stopped after {model['iterations']} rounds without meeting the residual "
            "tolerance; raise iterations or check the data's scaling",
            file=sys.stderr,
        )
    print(f"model written to {out}", file=sys.stderr)
    width = max(len(n) for n in model["feature_names"])
    print(f"{'feature':{width}}  coefficient")
    for name, value in zip(model["feature_names"], model["coef"], strict=True):
        print(f"{name:{width}}  {value: .6g}")
    print(f"{'intercept':{width}}  {model['intercept']: .6g}")
