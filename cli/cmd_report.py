"""``coopetition report RUN.json``: PNG plots of one run.

Reads a run record (``coopetition party --output``, ``train --run-out``) and draws, into
``--out`` (default a fresh ``coopetition-report-*`` folder here):

* ``timeline.png``: per party, when each phase ran (first start to last end);
* ``bytes.png``: bytes sent and received per phase, per party;
* ``convergence.png``: primal and dual residuals against their tolerances per round, and rho.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from coopetition.cli_help import HelpFormatter
from coopetition.engine.errors import ConfigError
from coopetition.optional import require
from coopetition.outputs import fresh_name


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "report",
        help="draw PNG plots of a run (timeline, bytes per phase, convergence)",
        epilog="example:\n  coopetition train --local a.csv b.csv --run-out run.json\n"
        "  coopetition report run.json --out plots/",
        formatter_class=HelpFormatter,
    )
    parser.add_argument("run", type=Path, help="run record (JSON)")
    parser.add_argument("--out", type=Path, help="folder for the PNGs (default: a fresh one here)")
    parser.set_defaults(func=_run)


def _load(path: Path) -> dict[str, Any]:
    try:
        record = json.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"run record {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"run record {path} cannot be read: {exc}") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"run record {path} is not JSON: {exc}") from None
    if not isinstance(record, dict) or record.get("outcome") != "completed":
        raise ConfigError(f"{path} is not the record of a completed run")
    return record


def _per_party_stats(record: dict[str, Any]) -> dict[str, dict[str, Any]]:
    stats = record.get("stats", {})
    if stats and all(isinstance(v, dict) and "bytes_sent" in v for v in stats.values()):
        return {str(record.get("party", 0)): stats}  # one party's record
    return {str(k): v for k, v in stats.items()}


def _run(args: argparse.Namespace) -> int:
    try:
        record = _load(args.run)
        require("matplotlib", extra="plot", package="matplotlib")
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = args.out or fresh_name(Path.cwd(), "coopetition-report")
    out.mkdir(parents=True, exist_ok=True)
    written = []

    timeline = record.get("timeline", [])
    if timeline:
        phases = sorted(
            {t["phase"] for t in timeline},
            key=lambda p: min(t["start"] for t in timeline if t["phase"] == p),
        )
        colours = {p: plt.get_cmap("tab10")(i % 10) for i, p in enumerate(phases)}
        fig, ax = plt.subplots(figsize=(9, 1 + 0.5 * len({t["party"] for t in timeline})))
        for t in timeline:
            ax.barh(
                t["party"],
                max(t["end"] - t["start"], 1e-4),
                left=t["start"],
                color=colours[t["phase"]],
                label=t["phase"],
            )
        handles, labels = ax.get_legend_handles_labels()
        unique = dict(zip(labels, handles, strict=True))
        ax.legend(unique.values(), unique.keys(), loc="upper right", fontsize="small")
        ax.set_xlabel("seconds since start")
        ax.set_ylabel("party")
        ax.set_title("phases per party (first start to last end)")
        written.append(_save(fig, out / "timeline.png", plt))

    per_party = _per_party_stats(record)
    if per_party:
        phases = sorted({p for s in per_party.values() for p in s})
        fig, ax = plt.subplots(figsize=(9, 4))
        width = 0.8 / max(1, len(per_party))
        for i, (party, stats) in enumerate(sorted(per_party.items())):
            xs = [j + i * width for j in range(len(phases))]
            ax.bar(
                xs,
                [stats.get(p, {}).get("bytes_sent", 0) for p in phases],
                width,
                label=f"party {party} sent",
            )
            ax.bar(
                xs,
                [stats.get(p, {}).get("bytes_received", 0) for p in phases],
                width,
                bottom=[stats.get(p, {}).get("bytes_sent", 0) for p in phases],
                alpha=0.5,
                label=f"party {party} received",
            )
        ax.set_xticks([j + 0.4 - width / 2 for j in range(len(phases))], phases)
        ax.set_ylabel("bytes")
        ax.set_title("bytes per phase")
        ax.legend(fontsize="small")
        written.append(_save(fig, out / "bytes.png", plt))

    history = record.get("history", [])
    if history:
        rounds = range(1, len(history) + 1)
        fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 6), sharex=True)
        for key, style in (
            ("primal", "-"),
            ("dual", "-"),
            ("primal_tolerance", ":"),
            ("dual_tolerance", ":"),
        ):
            values = [h[key] if h[key] > 0 else float("nan") for h in history]
            top.semilogy(rounds, values, style, label=key)
        top.set_ylabel("residual")
        top.legend(fontsize="small")
        top.set_title("convergence (Boyd et al. 2011, section 3.3)")
        bottom.semilogy(rounds, [h["rho"] for h in history])
        bottom.set_ylabel("rho")
        bottom.set_xlabel("round")
        written.append(_save(fig, out / "convergence.png", plt))

    if not written:
        print(f"error: {args.run} holds no timeline, statistics or history", file=sys.stderr)
        return 2
    for path in written:
        print(path)
    return 0


def _save(fig: Any, path: Path, plt: Any) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
