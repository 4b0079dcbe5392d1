"""Sample where Helen's ``coordinate`` and ``verify`` CPU goes, with py-spy, at 2048 bits.

All m parties run in this process as ``coopetition bench helen`` runs them (``train_locally``,
memory transport, synthetic rows). The phases profiled here run at production parameters: a
2048-bit trusted-dealer key with safe primes, every party's 2048-bit ring-Pedersen N~ of the
threshold-Paillier offline phase (Gadgets 3 and 4 prove against those), 128-bit challenges and
the default interval-proof repetitions. To spend the CPU on the phases profiled, what comes
before them is made cheaply and says so: the SPDZ triples, bits and truncation masks come from
the INSECURE dealer (``preprocessing="insecure-dealer"``; the coordinate phase consumes them
the same way), and the setup phase's ring-Pedersen moduli, which only the input phase's proofs
use, are the INSECURE 512-bit test size (``HelenConfig.insecure``). The input phase is
therefore cheaper than in production and is not what this tool reports.

When the first party enters a profiled phase, a ``py-spy record`` attaches to this process
(raw collapsed stacks, idle threads excluded); when the last party leaves it, py-spy is
stopped and writes its file. ``process_time`` at the same two moments gives the phase's CPU
seconds (every party and thread), so sample shares convert to CPU seconds and to E (one full
2048-bit r^N mod N^2, measured before the run and again, on the sampling thread, at each
window's ends: the load during a phase is not the load before it). Parties enter and leave a
phase at slightly different moments, so the windows include a little of the neighbouring
phases. Stacks are Python frames only (no ``--native``): time in gmpy2 is charged to the Python
function that called it.

Run: ``nice -n 5 python -m coopetition.sims.helen_phase_profile --out-dir DIR`` (py-spy, from
the ``bench`` extra, must be installed; ``--key-bits 1024`` with an INSECURE test key for a
smoke run). Everything goes into DIR (the raw stacks and ``run.json``);
``sims.stack_attribution`` turns the raw files into the table.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import trio

from coopetition.engine.errors import ConfigError
from coopetition.protocols.admm.objective import Objective
from coopetition.protocols.helen.config import HelenConfig
from coopetition.protocols.helen.local_run import train_locally
from coopetition.sims.bench_helen import e_seconds_at, synthetic
from coopetition.sims.benchkit import git_commit, random_modulus
from coopetition.sims.helen_matrix import value_bound

#: the phases sampled, by the engine's phase names
PROFILED = ("helen-coordinate", "helen-verify")


def e_thread_seconds(pk: Any, reps: int = 5) -> float:
    """One full r^N mod N^2 in CPU seconds of this thread: the parties' worker threads may be
    busy meanwhile, so process time would count their work too."""
    return e_seconds_at(pk, reps, clock=time.thread_time)


class Sampler:
    """Starts py-spy when the first party enters a profiled phase, stops it when the last leaves."""

    def __init__(self, parties: int, out_dir: Path, rate: int, pyspy: str) -> None:
        self.parties, self.out_dir, self.rate, self.pyspy = parties, out_dir, rate, pyspy
        self.e_key = random_modulus(2048)  # E is measured again at each window's ends
        self.inside: dict[str, set[int]] = {p: set() for p in PROFILED}
        self.done: dict[str, set[int]] = {p: set() for p in PROFILED}
        self.proc: dict[str, subprocess.Popen[bytes]] = {}
        self.windows: dict[str, dict[str, Any]] = {}

    def __call__(self, party: int, phase: str, rnd: int, event: str) -> None:
        if phase not in PROFILED:
            return
        if event == "start":
            if not self.inside[phase] and phase not in self.proc:
                self._start(phase)
            self.inside[phase].add(party)
        elif event == "end":
            self.inside[phase].discard(party)
            self.done[phase].add(party)
            if len(self.done[phase]) == self.parties and not self.inside[phase]:
                self._stop(phase)

    def _start(self, phase: str) -> None:
        out = self.out_dir / f"{phase}.raw"
        cmd = [self.pyspy, "record", "--pid", str(os.getpid()), "--format", "raw"]
        cmd += ["--rate", str(self.rate), "--output", str(out), "--nonblocking"]
        self.proc[phase] = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(1.0)  # let py-spy attach before the phase's work starts in earnest
        e = e_thread_seconds(self.e_key)
        self.windows[phase] = {
            "cpu_start": time.process_time(),
            "wall_start": time.perf_counter(),
            "E_seconds_start": e,
            "load_start": list(os.getloadavg()),
        }

    def _stop(self, phase: str) -> None:
        window = self.windows[phase]
        window["cpu_seconds"] = time.process_time() - window["cpu_start"]
        window["wall_seconds"] = time.perf_counter() - window["wall_start"]
        window["E_seconds_end"] = e_thread_seconds(self.e_key)
        window["load_end"] = list(os.getloadavg())
        proc = self.proc[phase]
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise ConfigError(f"py-spy did not finish writing the {phase} profile") from None


def profile_config(parts: list[Any], iterations: int, key_bits: int = 2048) -> HelenConfig:
    """``bench helen``'s LASSO parameters; 2048-bit key, cheap preprocessing (module docstring)."""
    import numpy as np

    X = np.vstack([p[0] for p in parts])
    y = np.concatenate([p[1] for p in parts])
    total = len(y)
    return HelenConfig(
        objective=Objective("lasso", lam=0.02 * total),
        rho=0.1 * total,
        iterations=iterations,
        x_bound=value_bound(X),
        y_bound=value_bound(y),
        key_bits=key_bits,
        insecure=True,  # the insecure dealer's triples and the input phase's small N~ only
        interval_repetitions=None,
        preprocessing="insecure-dealer",
    )


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parties", type=int, default=4)
    parser.add_argument("--features", type=int, default=20)
    parser.add_argument("--iterations", type=int, default=1)
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument(
        "--key-bits", type=int, default=2048, help="below 2048: INSECURE test key (smoke runs)"
    )
    parser.add_argument("--rate", type=int, default=50, help="py-spy samples per second")
    parser.add_argument("--out-dir", type=Path, required=True)
    args = parser.parse_args(argv)
    pyspy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(pyspy).exists():
        raise SystemExit("py-spy is not installed here (pip install -e '.[bench]')")
    args.out_dir.mkdir(parents=True, exist_ok=True)
    parts, _ = synthetic(args.parties, args.features, args.rows, seed=0)
    config = profile_config(parts, args.iterations, args.key_bits)
    sampler = Sampler(args.parties, args.out_dir, args.rate, pyspy)
    e = e_seconds_at(sampler.e_key)
    load_before = os.getloadavg()
    outcome = trio.run(
        lambda: train_locally(
            parts,
            config,
            session=b"helen-phase-profile",
            party_options=lambda _p: {"observer": sampler},
            workers=1,
        )
    )
    if not outcome.completed:
        raise ConfigError(f"the run aborted: {outcome.first_error()}")
    records = [outcome.results[p].record for p in sorted(outcome.results)]
    result = {
        "commit": git_commit(("protocols", "engine", "sims")),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "parties": args.parties,
        "features": args.features,
        "iterations": args.iterations,
        "rows": args.rows,
        "E_seconds": e,
        "windows": sampler.windows,
        "phase_cpu_seconds": [r["phase_cpu_seconds"] for r in records],
    }
    (args.out_dir / "run.json").write_text(json.dumps(result, indent=1) + "\n")
    return result


if __name__ == "__main__":
    print(json.dumps(main(), indent=1))
