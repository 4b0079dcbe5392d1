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
from coopetition.sims.soak_catalogue import (
    DEADLINES,
    FAULTS,
    PARTIES,
    TYPED_ABORTS,
    catalogue_expects,
    culprit_of,
    plan_fault,
)
from coopetition.sims.soak_report import summarise, textbook_admm

#: re-exported for the tests and the fault-matrix checks
__all__ = [
    "FAULTS",
    "TYPED_ABORTS",
    "catalogue_expects",
    "plan_fault",
    "soak",
    "summarise",
    "textbook_admm",
]
from coopetition.sims.workloads import AdmmWorkload, synthetic_admm


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
    blame = culprit_of(fault)
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
