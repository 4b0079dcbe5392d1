"""``coopetition fuzz TARGET --runs N``: fuzz one decoder (or ``all``) and report inputs/s,
findings by kind and peak RSS; ``--out FILE`` merges the report into a JSON results file.

Exit codes: 0 no findings, 1 findings (their inputs are saved under ``--findings``), 2 usage.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("fuzz", help="fuzz a decoder or an input file format")
    parser.add_argument("target", help="a target name, 'all', or 'list' to show the targets")
    parser.add_argument("--runs", type=int, default=10_000, help="inputs per target")
    parser.add_argument("--engine", choices=("auto", "atheris", "mutation"), default="auto")
    parser.add_argument("--time-limit", type=float, default=1.0, help="seconds per input")
    parser.add_argument("--memory-limit", type=float, default=256.0, help="MiB per input")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--findings",
        type=Path,
        default=Path(tempfile.gettempdir()) / "coopetition-fuzz-findings",
        help="folder for the inputs behind findings",
    )
    parser.add_argument(
        "--corpus", type=Path, help="keep the working corpus here (one subfolder per target)"
    )
    parser.add_argument(
        "--accumulate",
        action="store_true",
        help="with --out: add this run's inputs and findings to the target's earlier entry "
        "(a long campaign in chunks), instead of replacing it",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object per target")
    parser.add_argument("--out", type=Path, help="merge the reports into this JSON file")
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from coopetition.fuzz_runner import run, targets

    known = targets()
    if args.target == "list":
        for name, target in known.items():
            print(f"{name:18} {target.doc}")
        return 0
    names = list(known) if args.target == "all" else [args.target]
    if any(n not in known for n in names) or args.runs < 1:
        print(f"error: unknown target {args.target!r} (try 'list') or --runs < 1", file=sys.stderr)
        return 2
    reports = {}
    for name in names:
        print(f"fuzzing {name} for {args.runs} inputs ...", file=sys.stderr)
        report = run(
            name,
            args.runs,
            engine=args.engine,
            time_limit=args.time_limit,
            memory_limit_mib=args.memory_limit,
            findings_dir=args.findings,
            seed=args.seed,
            corpus_dir=args.corpus / name if args.corpus else None,
        )
        report.update(_context())
        reports[name] = report
        if args.json:
            print(json.dumps(report, sort_keys=True))
        else:
            print(
                f"{name}: {report['inputs']} inputs, {report['inputs_per_second']}/s, "
                f"findings {report['findings_by_kind'] or 'none'}, "
                f"peak RSS {report['peak_rss_mib']} MiB"
            )
            for finding in report["findings"]:
                print(f"  {finding['kind']}: {finding['error']} at {finding['where']}")
    if args.out:
        merged: dict[str, Any] = {}
        if args.out.exists():
            merged = json.loads(args.out.read_text())
        table = merged.setdefault("targets", {})
        for name, report in reports.items():
            table[name] = _accumulate(table.get(name), report) if args.accumulate else report
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(merged, indent=1, sort_keys=True) + "\n")
    return 1 if any(r["open_findings"] for r in reports.values()) else 0


def _accumulate(old: dict[str, Any] | None, new: dict[str, Any]) -> dict[str, Any]:
    """One campaign entry from two chunks: inputs, time and findings add up."""
    if not old:
        return new
    out = dict(new)
    out["inputs"] = old["inputs"] + new["inputs"]
    out["seconds"] = round(old["seconds"] + new["seconds"], 2)
    out["inputs_per_second"] = round(out["inputs"] / out["seconds"]) if out["seconds"] else None
    out["chunks"] = old.get("chunks", 1) + 1
    out["peak_rss_mib"] = max(old["peak_rss_mib"], new["peak_rss_mib"])
    kinds = dict(old["findings_by_kind"])
    for kind, count in new["findings_by_kind"].items():
        kinds[kind] = kinds.get(kind, 0) + count
    out["findings_by_kind"] = kinds
    seen = {(f["kind"], f["error"], f["where"]) for f in new["findings"]}
    out["findings"] = new["findings"] + [
        f for f in old["findings"] if (f["kind"], f["error"], f["where"]) not in seen
    ]
    out["open_findings"] = len(out["findings"])
    return out


def _context() -> dict[str, Any]:
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
        ).stdout.strip()
    except OSError:
        commit = ""
    return {
        "git_commit": commit or None,
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%MZ"),
    }
