"""Soak: many consecutive 4-party plaintext-ADMM sessions over real TCP on 127.0.0.1, one OS
process per party, each session with one seeded random fault from the catalogue (crash =
SIGKILL, stop = SIGSTOP then SIGCONT, partition, delay, corrupt, equivocate).

``python -m coopetition.sims.soak --runs 200 [--out results/soak.json]``

Per run it records the fault, the outcome (every surviving party completed with the correct
model, or ended with a typed abort), the wall time, and per party process the peak RSS, open
file descriptors and threads (sampled with psutil). A run is a *hang* if any party outlives
``--hang-after`` seconds, a *wrong model* if a party completed with a model that differs from
another's or from the textbook consensus-ADMM reference. Growth is the mean of the first 20
runs against the last 20 (per-party peaks, and this driver's own RSS and descriptors, which
would show leaked sockets, pipes or zombie processes).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import select
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from nacl.signing import SigningKey

from coopetition.sims.benchkit import free_ports
from coopetition.sims.workloads import AdmmWorkload, synthetic_admm

PARTIES = 4
FAULTS = ("crash", "stop", "partition", "delay", "corrupt", "equivocate")
DEADLINES = {
    "phase": 20.0,
    "heartbeat_interval": 0.25,
    # Generous for loopback: on a shared 2-core machine a starved party can be silent for
    # seconds, and the soak is about leaks and hangs, not the detector's reaction time.
    "heartbeat_timeout": 5.0,
    "finish": 5.0,
    "abort_send": 1.0,
}
#: Abort codes a soak run may end with: all typed, all in the fault catalogue.
TYPED_ABORTS = {
    "peer_crashed",
    "peer_unreachable",
    "deadline_exceeded",
    "equivocation",
    "broadcast_inconsistent",
    "protocol_violation",
    "cheating_detected",
    "connect_failed",
}


def textbook_admm(workload: AdmmWorkload) -> np.ndarray:
    """Consensus ADMM (Boyd et al. 2011, sec. 7.1 and 8.2) written out in numpy: the reference
    every completed model is compared with, independent of the engine's own code."""
    cfg = workload.config
    rho, m = cfg.rho, len(workload.parts)
    lam1, lam2 = cfg.objective.lam1, cfg.objective.lam2
    d = workload.true_model.shape[0]
    inverses = [np.linalg.inv(X.T @ X + rho * np.eye(d)) for X, _ in workload.parts.values()]
    xty = [X.T @ y for X, y in workload.parts.values()]
    z, u = np.zeros(d), [np.zeros(d) for _ in range(m)]
    for _ in range(cfg.iterations):
        w = [inverses[i] @ (xty[i] + rho * (z - u[i])) for i in range(m)]
        v = sum(w[i] + u[i] for i in range(m)) / m
        kappa = lam1 / (rho * m)
        z = np.sign(v) * np.maximum(np.abs(v) - kappa, 0) * (rho * m / (rho * m + 2 * lam2))
        u = [u[i] + w[i] - z for i in range(m)]
    return z


def plan_fault(rng: random.Random, iterations: int, kind: str | None = None) -> dict[str, Any]:
    """One fault from the catalogue (``kind``, or a seeded random one) with seeded parameters."""
    kind = kind or rng.choice(FAULTS)
    victim = rng.randrange(PARTIES)
    others = [p for p in range(PARTIES) if p != victim]
    if kind == "crash":
        return {"kind": kind, "party": victim, "after": rng.uniform(0.0, 1.0)}
    if kind == "stop":
        # Both sides of the heartbeat timeout: short freezes are ridden out, long ones abort.
        return {
            "kind": kind,
            "party": victim,
            "after": rng.uniform(0.0, 0.5),
            "seconds": rng.uniform(0.2, 2 * DEADLINES["heartbeat_timeout"]),
        }
    if kind == "partition":
        start = rng.uniform(0.0, 0.5)
        length = rng.uniform(0.2, 2 * DEADLINES["heartbeat_timeout"])
        params = {"side_a": [victim], "side_b": others, "start": start, "stop": start + length}
        return {"kind": kind, "params": params}
    if kind == "delay":
        params = {
            "delay": rng.uniform(0.005, 0.1),
            "jitter": rng.uniform(0, 0.05),
            "probability": rng.uniform(0.2, 1.0),
            "src": [victim],
        }
        return {"kind": kind, "params": params}
    if kind == "corrupt":
        return {"kind": kind, "params": {"probability": rng.uniform(0.01, 0.05)}}
    targets = sorted(rng.sample(others, rng.randint(1, len(others) - 1)))
    params = {
        "party": victim,
        "phase": "coordinate",
        "round": rng.randrange(iterations),
        "action": "equivocate",
        "targets": targets,
    }
    return {"kind": "equivocate", "params": params}


def catalogue_expects(fault: dict[str, Any]) -> str:
    """What docs/faults.md says the fault must lead to: ``completes``, ``aborts`` or
    ``either`` (a freeze or cut close to the heartbeat timeout may go either way)."""
    kind, timeout = fault["kind"], DEADLINES["heartbeat_timeout"]
    if kind in ("delay", "corrupt"):
        return "completes"
    if kind in ("crash", "equivocate"):
        return "aborts"  # unless the run finished before the fault fired
    params = fault.get("params", {})
    length = fault["seconds"] if kind == "stop" else params["stop"] - params["start"]
    if length < 0.5 * timeout:
        return "completes"
    return "aborts" if length > 1.5 * timeout else "either"


def _culprit(fault: dict[str, Any]) -> int | None:
    if "party" in fault:
        return int(fault["party"])
    params = fault.get("params", {})
    if "party" in params:
        return int(params["party"])
    if fault["kind"] == "partition":
        return None  # each side may blame the other: checked as "a party of the other side"
    return None


class _Sampler:
    """Peak RSS, descriptors and threads of the party processes, sampled while they run."""

    def __init__(self, pids: list[int]) -> None:
        import psutil  # a test/bench dependency: only the soak itself needs it

        self._gone = (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied)
        self.procs = {i: psutil.Process(pid) for i, pid in enumerate(pids)}
        self.peak: dict[int, dict[str, float]] = {
            i: {"rss_mib": 0.0, "fds": 0, "threads": 0} for i in self.procs
        }

    def sample(self) -> None:
        for i, proc in self.procs.items():
            try:
                with proc.oneshot():
                    rss = proc.memory_info().rss / 2**20
                    fds, threads = proc.num_fds(), proc.num_threads()
            except self._gone:
                continue
            peak = self.peak[i]
            peak["rss_mib"] = max(peak["rss_mib"], round(rss, 1))
            peak["fds"], peak["threads"] = max(peak["fds"], fds), max(peak["threads"], threads)


class _Workers:
    """One long-lived ``soak_party --serve`` process per party, respawned after a SIGKILL or a
    hang; each serves one session per line written to its stdin."""

    def __init__(self, err_folder: Path) -> None:
        self.err_folder = err_folder
        self.procs: dict[int, subprocess.Popen] = {}
        self.spawned = 0

    def ensure(self) -> None:
        for pid in range(PARTIES):
            proc = self.procs.get(pid)
            if proc is not None and proc.poll() is None:
                continue
            err = (self.err_folder / f"err{pid}.log").open("a")
            proc = subprocess.Popen(
                [sys.executable, "-m", "coopetition.sims.soak_party", "--serve"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=err,
                text=True,
                bufsize=1,
            )
            err.close()
            assert proc.stdout is not None
            if proc.stdout.readline().strip() != "ready":
                raise RuntimeError(f"soak party {pid} did not start; see {err.name}")
            self.procs[pid] = proc
            self.spawned += 1

    def start(self, pid: int, spec_path: Path) -> None:
        proc = self.procs[pid]
        assert proc.stdin is not None
        proc.stdin.write(f"{spec_path}\n")
        proc.stdin.flush()

    def finished(self, pid: int) -> bool:
        """True once the party printed ``done`` for the current session or died."""
        proc = self.procs[pid]
        if proc.poll() is not None:
            return True
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], 0)
        return bool(ready) and proc.stdout.readline().strip() == "done"

    def kill_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGCONT)
                proc.kill()
            proc.wait()

    def close(self) -> None:
        for proc in self.procs.values():
            if proc.stdin is not None:
                proc.stdin.close()
        for proc in self.procs.values():
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def run_once(
    index: int,
    seed: int,
    folder: Path,
    hang_after: float,
    workers: _Workers,
    kind: str | None = None,
) -> dict[str, Any]:
    rng = random.Random(seed)
    iterations = rng.randint(10, 30)
    work = synthetic_admm(
        PARTIES,
        rows_per_party=30,
        features=5,
        objective="elastic_net",
        lam=0.5,
        iterations=iterations,
        seed=seed,
    )
    fault = plan_fault(rng, iterations, kind)
    keys = [SigningKey.generate() for _ in range(PARTIES)]
    ports = free_ports(PARTIES)
    session = os.urandom(16).hex()
    workers.ensure()
    for pid in range(PARTIES):
        X, y = work.parts[pid]
        np.savez(folder / f"p{pid}.npz", X=X, y=y)
        spec = {
            "party": pid,
            "secret_key": bytes(keys[pid]).hex(),
            "public_keys": {str(p): bytes(k.verify_key).hex() for p, k in enumerate(keys)},
            "ports": {str(p): port for p, port in enumerate(ports)},
            "session": session,
            "seed": seed,
            "data": str(folder / f"p{pid}.npz"),
            "admm": {
                "objective": work.config.objective.kind,
                "lam": work.config.objective.lam,
                "l1_ratio": work.config.objective.l1_ratio,
                "rho": work.config.rho,
                "iters": iterations,
            },
            "deadlines": DEADLINES,
            "connect_timeout": 15.0,
            "fault": fault,
            "output": str(folder / f"out{pid}.json"),
            "marker": str(folder / f"connected{pid}"),
        }
        (folder / f"out{pid}.json").unlink(missing_ok=True)
        (folder / f"connected{pid}").unlink(missing_ok=True)
        (folder / f"spec{pid}.json").write_text(json.dumps(spec))
    sampler = _Sampler([workers.procs[p].pid for p in range(PARTIES)])
    started = time.monotonic()
    for pid in range(PARTIES):
        workers.start(pid, folder / f"spec{pid}.json")
    fired, hung = False, False
    victim = fault.get("party")
    pending = set(range(PARTIES))
    while pending:
        sampler.sample()
        pending = {pid for pid in pending if not workers.finished(pid)}
        if not fired and victim is not None and (folder / f"connected{victim}").exists():
            fired = True
            _fire(fault, workers.procs[victim])
        if time.monotonic() - started > hang_after:
            hung = True
            workers.kill_all()
            break
        time.sleep(0.05)
    seconds = time.monotonic() - started
    outcomes = {}
    for pid in range(PARTIES):
        path = folder / f"out{pid}.json"
        outcomes[pid] = json.loads(path.read_text()) if path.exists() else None
    codes = {pid: workers.procs[pid].poll() for pid in range(PARTIES)}
    return _judge(index, seed, fault, work, outcomes, codes, hung, seconds, sampler)


def _fire(fault: dict[str, Any], proc: subprocess.Popen) -> None:
    time.sleep(fault["after"])
    if fault["kind"] == "crash":
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    else:
        proc.send_signal(signal.SIGSTOP)
        time.sleep(fault["seconds"])
        proc.send_signal(signal.SIGCONT)


def _judge(
    index: int,
    seed: int,
    fault: dict[str, Any],
    work: AdmmWorkload,
    outcomes: dict[int, Any],
    exit_codes: dict[int, int | None],
    hung: bool,
    seconds: float,
    sampler: _Sampler,
) -> dict[str, Any]:
    crashed = fault["party"] if fault["kind"] == "crash" else None
    reference = textbook_admm(work)
    problems = []
    models = []
    codes = {}
    for pid, out in outcomes.items():
        if pid == crashed:
            continue
        if out is None:
            problems.append(f"party {pid} wrote no result (exit {exit_codes[pid]})")
            continue
        if out["outcome"] == "completed":
            models.append(np.array(out["model"]))
        else:
            codes[pid] = (out["abort_code"], out["culprit"])
            if out["abort_code"] not in TYPED_ABORTS:
                problems.append(f"party {pid}: untyped abort {out['abort_code']}")
    wrong = bool(models) and (
        len({m.tobytes() for m in models}) != 1
        or not np.allclose(models[0], reference, rtol=1e-9, atol=1e-12)
    )
    blame = _culprit(fault)
    wrong_blame = [
        pid
        for pid, (_, culprit) in codes.items()
        if culprit is not None and blame is not None and culprit != blame and pid != blame
    ]
    if wrong_blame:
        problems.append(
            f"parties {wrong_blame} blamed another party than {blame}: "
            + ", ".join(f"{codes[p][0]} naming {codes[p][1]}" for p in wrong_blame)
        )
    return {
        "run": index,
        "seed": seed,
        "fault": fault,
        "outcome": "hang" if hung else ("completed" if not codes else "aborted"),
        "catalogue_expects": catalogue_expects(fault),
        "abort_codes": {str(p): c for p, c in codes.items()},
        "wrong_model": wrong,
        "problems": problems,
        "seconds": round(seconds, 2),
        "parties": {str(p): v for p, v in sampler.peak.items()},
    }


def _mean(values: list[float]) -> float:
    return float(np.mean(values)) if values else 0.0


def summarise(runs: list[dict[str, Any]], driver: list[dict[str, float]]) -> dict[str, Any]:
    window = min(20, max(1, len(runs) // 2))

    def peak(run: dict[str, Any], key: str) -> float:
        return max(p[key] for p in run["parties"].values())

    first, last = runs[:window], runs[-window:]
    growth = {
        "rss_growth_mib": round(
            _mean([peak(r, "rss_mib") for r in last]) - _mean([peak(r, "rss_mib") for r in first]),
            2,
        ),
        "fd_growth": round(
            _mean([peak(r, "fds") for r in last]) - _mean([peak(r, "fds") for r in first]), 2
        ),
        "thread_growth": round(
            _mean([peak(r, "threads") for r in last]) - _mean([peak(r, "threads") for r in first]),
            2,
        ),
        "driver_rss_growth_mib": round(
            _mean([d["rss_mib"] for d in driver[-window:]])
            - _mean([d["rss_mib"] for d in driver[:window]]),
            2,
        ),
        "driver_fd_growth": round(
            _mean([d["fds"] for d in driver[-window:]])
            - _mean([d["fds"] for d in driver[:window]]),
            2,
        ),
    }
    by_fault: dict[str, dict[str, int]] = {}
    for r in runs:
        entry = by_fault.setdefault(r["fault"]["kind"], {"runs": 0, "completed": 0, "aborted": 0})
        entry["runs"] += 1
        if r["outcome"] in ("completed", "aborted"):
            entry[r["outcome"]] += 1
    rss = [peak(r, "rss_mib") for r in runs]
    return {
        "runs": len(runs),
        "hangs": sum(r["outcome"] == "hang" for r in runs),
        "wrong_models": sum(r["wrong_model"] for r in runs),
        "runs_with_problems": sum(bool(r["problems"]) for r in runs),
        "completed": sum(r["outcome"] == "completed" for r in runs),
        # typed, but not what the catalogue predicts (a busy machine starves heartbeats)
        "outcomes_off_catalogue": sum(
            (r["catalogue_expects"], r["outcome"]) in {("completes", "aborted")} for r in runs
        ),
        "aborted": sum(r["outcome"] == "aborted" for r in runs),
        **growth,
        "growth_window_runs": window,
        "party_peak_rss_mib": {"min": min(rss), "max": max(rss)},
        "seconds_per_run": {
            "mean": round(_mean([r["seconds"] for r in runs]), 2),
            "max": max(r["seconds"] for r in runs),
        },
        "by_fault": by_fault,
    }


def soak(
    runs: int,
    *,
    seed: int = 0,
    hang_after: float = 60.0,
    progress: Any = None,
    checkpoint: Any = None,
    rotate: bool = False,
) -> dict:
    """Run the sessions; ``checkpoint(report)`` is called after each (for partial results).
    ``rotate``: take the fault kinds in catalogue order (a short run then meets every one)."""
    import psutil

    me = psutil.Process()
    results, driver = [], []
    with tempfile.TemporaryDirectory(prefix="coopetition-soak-") as tmp:
        workers = _Workers(Path(tmp))
        try:
            for index in range(runs):
                kind = FAULTS[index % len(FAULTS)] if rotate else None
                result = run_once(
                    index, seed * 100_003 + index, Path(tmp), hang_after, workers, kind
                )
                results.append(result)
                driver.append({"rss_mib": me.memory_info().rss / 2**20, "fds": me.num_fds()})
                if checkpoint is not None:
                    checkpoint({"summary": summarise(results, driver), "runs": results})
                if progress is not None:
                    print(
                        f"run {index + 1}/{runs}: {result['fault']['kind']:10} "
                        f"{result['outcome']:9} {result['seconds']:6.2f}s "
                        f"{' '.join(result['problems'])}",
                        file=progress,
                        flush=True,
                    )
        finally:
            workers.close()
            spawned = workers.spawned
    summary = summarise(results, driver)
    summary["party_processes_spawned"] = spawned
    return {"summary": summary, "runs": results}


def _git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
        )
    except OSError:
        return None
    return out.stdout.strip() or None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--hang-after", type=float, default=60.0, help="seconds per run")
    parser.add_argument("--out", type=Path, help="write the JSON report here")
    args = parser.parse_args(argv)
    started = time.time()
    load_before = os.getloadavg()
    commit = _git_commit()

    def save(report: dict[str, Any]) -> None:
        summary = report["summary"]
        summary["requested_runs"] = args.runs
        summary["wall_seconds"] = round(time.time() - started, 1)
        summary["load_average_start_now"] = [round(load_before[0], 2), round(os.getloadavg()[0], 2)]
        summary["git_commit"] = commit
        if args.out:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            tmp = args.out.with_suffix(".tmp")
            tmp.write_text(json.dumps(report, indent=1, sort_keys=True) + "\n")
            os.replace(tmp, args.out)

    report = soak(
        args.runs, seed=args.seed, hang_after=args.hang_after, progress=sys.stderr, checkpoint=save
    )
    save(report)
    summary = report["summary"]
    print(json.dumps(summary, indent=1, sort_keys=True))
    return 0 if not (summary["hangs"] or summary["wrong_models"]) else 1


if __name__ == "__main__":
    sys.exit(main())
