"""How a virtual-time simulation's wall time and memory grow with the number of parties.

``python -m coopetition.sims.scale [--parties 10 20 50 100] [--iterations 3]`` runs plaintext
ADMM over the ``wan-40mbps`` preset once per party count, each in a fresh child process so that
peak resident memory is that run's own, and writes ``results/scale.json``. Each row is compared
with the smallest run of the same invocation (ratios), and the log-log slope of wall time
against m says how far from the m^2 message count the simulator's cost is.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any


def one(parties: int, iterations: int, seed: int) -> dict[str, Any]:
    from coopetition.sims.execute import simulate_scenario
    from coopetition.sims.scenario import parse

    scenario = parse(
        {
            "run": {"name": f"scale-{parties}", "seed": seed, "parties": parties},
            "protocol": {"objective": "lasso", "lam": 1.0, "iterations": iterations},
            "data": {"rows_per_party": 40, "features": 10},
            "network": {"preset": "wan-40mbps"},
            "deadlines": {
                "phase": 600,
                "heartbeat_interval": 5,
                "heartbeat_timeout": 300,
                "finish": 300,
            },
        }
    )
    cpu0 = time.process_time()
    result = simulate_scenario(scenario)
    cpu = time.process_time() - cpu0
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "parties": parties,
        "outcome": result.outcome,
        "virtual_seconds": result.virtual_seconds,
        "wall_seconds": result.wall_seconds,
        "cpu_seconds": cpu,
        "peak_rss_mib": peak_kib / 1024,
        "link_frames": result.link_frames,
        "link_bytes": result.link_bytes,
        "protocol_messages": sum(int(r["messages_sent"]) for r in result.per_phase().values()),
        "cpu_us_per_link_frame": 1e6 * cpu / max(1, result.link_frames),
        "transcript_sha256": result.transcript_sha256,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parties", type=int, nargs="+", default=[10, 20, 50, 100])
    parser.add_argument("--iterations", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("results/scale.json"))
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(one(args.one, args.iterations, args.seed)))
        return 0
    rows = []
    for m in args.parties:
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "coopetition.sims.scale",
                "--one",
                str(m),
                "--iterations",
                str(args.iterations),
                "--seed",
                str(args.seed),
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        row = json.loads(proc.stdout.strip().splitlines()[-1])
        rows.append(row)
        print(
            f"m={m:4d} {row['outcome']:9} virtual {row['virtual_seconds']:8.3f}s  wall "
            f"{row['wall_seconds']:8.2f}s  cpu {row['cpu_seconds']:8.2f}s  peak "
            f"{row['peak_rss_mib']:7.1f} MiB  frames {row['link_frames']}",
            flush=True,
        )
    base = rows[0]
    for row in rows:
        row["wall_ratio_vs_smallest"] = row["wall_seconds"] / base["wall_seconds"]
        row["cpu_ratio_vs_smallest"] = row["cpu_seconds"] / base["cpu_seconds"]
        row["frames_ratio_vs_smallest"] = row["link_frames"] / base["link_frames"]
    slope = None
    if len(rows) > 1:
        xs = [math.log(r["parties"]) for r in rows]
        ys = [math.log(r["cpu_seconds"]) for r in rows]
        mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
        slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum(
            (x - mx) ** 2 for x in xs
        )
    report = {
        "benchmark": "scale",
        "workload": f"plaintext ADMM lasso, {args.iterations} iterations, 40 rows x 10 features "
        "per party, wan-40mbps preset, virtual time",
        "python": platform.python_version(),
        "machine": platform.machine(),
        "rows": rows,
        "cpu_loglog_slope": slope,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1, sort_keys=True) + "\n")
    print(f"cpu time grows as m^{slope:.2f}" if slope else "", f"-> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
