"""Helen with one OS process per party on 127.0.0.1 (``coopetition party --config``).

Each party gets its own folder, as on its own host: identity key, data CSV, the shared session
file, its party file and (with ``keygen = "file"``) its 0600 key share file. The processes talk
over loopback TCP through the signed bus and each makes its own MAC key and SPDZ preprocessing
(threshold-Paillier offline phase and MASCOT), exactly as on separate hosts.

Why ``bench helen --processes`` runs this way: with all parties in one process the proofs share
one interpreter, and since they keep the GIL (``zk.gil``) the input phase gets about one core
however many the machine has; one process per party uses every core in every phase, and its
peak RSS is that party's own (issue 15's "peak memory per party").
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from coopetition.engine.config import Deadlines
from coopetition.engine.errors import ConfigError
from coopetition.engine.identity import public_key_hex, write_key_file
from coopetition.protocols.helen.config import HelenConfig
from coopetition.sims.benchkit import free_ports

__all__ = [
    "PartyProcess",
    "ProcessRun",
    "helen_table",
    "make_hosts",
    "run_commands",
    "run_parties",
    "write_secret",
]

CLI = [sys.executable, "-m", "coopetition"]
#: the parties' deadlines (long phases get Helen's own budgets on top, faults.md)
PARTY_DEADLINES = Deadlines(phase=3600, heartbeat_timeout=1800, finish=600)


def deadlines_toml(deadlines: Deadlines = PARTY_DEADLINES, connect: float = 600) -> str:
    """A party file's ``[deadlines]`` body for ``deadlines``."""
    return (
        f"phase = {deadlines.phase!r}\nheartbeat_timeout = {deadlines.heartbeat_timeout!r}\n"
        f"finish = {deadlines.finish!r}\nbudget_scale = {deadlines.budget_scale!r}\n"
        f"connect = {connect!r}\n"
    )


def write_secret(path: Path, data: bytes) -> None:
    """Write ``data`` to a new file readable by its owner only (as key share files must be)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def helen_table(config: HelenConfig, rows: int, keygen: str = "file") -> str:
    """The session file's ``[helen]`` table for ``config`` (every party's copy is this)."""
    objective = config.objective
    lines = [
        f'objective = "{objective.kind}"',
        f"lam = {float(objective.lam)!r}",
        f"l1_ratio = {float(objective.l1_ratio)!r}",
        f"rho = {float(config.rho)!r}",
        f"iterations = {config.iterations}",
        f"rows = {rows}",
        f"x_bound = {float(config.x_bound)!r}",
        f"y_bound = {float(config.y_bound)!r}",
        f"w_bound = {float(config.w_bound)!r}",
        f"precision = {config.precision}",
        f"key_bits = {config.key_bits}",
        f"insecure = {'true' if config.insecure else 'false'}",
        f'keygen = "{keygen}"',
    ]
    if config.interval_repetitions is not None:
        lines.append(f"interval_repetitions = {config.interval_repetitions}")
    return "[helen]\n" + "\n".join(lines) + "\n"


def make_hosts(
    root: Path,
    parts: Sequence[tuple[np.ndarray, np.ndarray]],
    helen: str,
    *,
    key_share: bool,
    deadlines: Deadlines = PARTY_DEADLINES,
) -> list[Path]:
    """Folders host0.. under ``root`` with key, data.csv, session.toml and party<i>.toml."""
    from nacl.signing import SigningKey

    hosts = [root / f"host{i}" for i in range(len(parts))]
    keys = [SigningKey.generate() for _ in parts]
    ports = free_ports(len(parts))
    entries = "".join(
        f'[[parties]]\nid = {i}\naddress = "127.0.0.1:{ports[i]}"\n'
        f'public_key = "{public_key_hex(k.verify_key)}"\n\n'
        for i, k in enumerate(keys)
    )
    session = (
        f'[session]\nid = "{os.urandom(16).hex()}"\nprotocol = "helen"\n\n'
        f'{helen}\n[data]\ntarget = "y"\n\n{entries}'
    )
    for i, (host, (X, y)) in enumerate(zip(hosts, parts, strict=True)):
        host.mkdir()
        write_key_file(host / f"party{i}.key", keys[i])
        os.chmod(host / f"party{i}.key", 0o600)
        names = ",".join([*(f"x{j}" for j in range(X.shape[1])), "y"])
        # %.17g reads back as the same double: the parties train on exactly these values
        np.savetxt(
            host / "data.csv",
            np.column_stack([X, y]),
            fmt="%.17g",
            delimiter=",",
            header=names,
            comments="",
        )
        (host / "session.toml").write_text(session)
        share = f'key_share = "party{i}.share"\n' if key_share else ""
        (host / f"party{i}.toml").write_text(
            f'[party]\nid = {i}\nkey_file = "party{i}.key"\ndata = "data.csv"\n'
            f'session = "session.toml"\n{share}\n[deadlines]\n{deadlines_toml(deadlines)}'
        )
    return hosts


@dataclass
class PartyProcess:
    """One finished party process: its JSON outcome and what the kernel says it used."""

    outcome: dict[str, Any]
    peak_rss_mib: float
    cpu_seconds: float
    wall_seconds: float


def _echo(stream: TextIO, sink: TextIO | None, prefix: str, keep: list[str]) -> None:
    for line in stream:
        keep.append(line)
        del keep[:-50]
        if sink is not None:
            sink.write(prefix + line)
            sink.flush()


def run_parties(
    hosts: list[Path],
    *,
    timeout: float = 3000.0,
    progress: TextIO | None = None,
) -> list[PartyProcess]:
    """Run ``coopetition party`` in every folder (one process each) and wait for all of them;
    party 0 prints its progress to ``progress`` if given (the others run ``--quiet``)."""
    commands = [
        [*CLI, "party", "--config", f"party{i}.toml"]
        + ([] if progress is not None and i == 0 else ["--quiet"])
        for i in range(len(hosts))
    ]
    return run_commands(commands, hosts, timeout=timeout, progress=progress)


def run_commands(
    commands: list[list[str]],
    cwds: Sequence[Path],
    *,
    timeout: float = float("inf"),
    progress: TextIO | None = None,
) -> list[PartyProcess]:
    """Start one party process per command and wait for all of them.

    Each must print its outcome as the last line of stdout. Party 0's stderr goes to
    ``progress`` as it comes (if given). A party that exits non-zero, or a run past ``timeout``
    seconds, stops every process and raises ``ConfigError`` with the last line that party
    wrote on stderr."""
    started = time.perf_counter()
    procs, tails, readers = [], [], []
    for i, (command, cwd) in enumerate(zip(commands, cwds, strict=True)):
        proc = subprocess.Popen(
            command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        tail: list[str] = []
        sink = progress if i == 0 else None
        reader = threading.Thread(
            target=_echo, args=(proc.stderr, sink, f"party {i}: ", tail), daemon=True
        )
        reader.start()
        procs.append(proc)
        tails.append(tail)
        readers.append(reader)
    finished: list[PartyProcess | None] = [None] * len(procs)
    outputs = [""] * len(procs)

    def read_out(i: int) -> None:
        stream = procs[i].stdout
        assert stream is not None
        outputs[i] = stream.read()

    out_readers = [
        threading.Thread(target=read_out, args=(i,), daemon=True) for i in range(len(procs))
    ]
    for thread in out_readers:
        thread.start()
    try:
        pending = set(range(len(procs)))
        while pending:
            for i in sorted(pending):
                pid, status, usage = os.wait4(procs[i].pid, os.WNOHANG)
                if pid == 0:
                    continue
                pending.discard(i)
                procs[i].returncode = os.waitstatus_to_exitcode(status)
                out_readers[i].join(timeout=30)
                readers[i].join(timeout=30)
                if procs[i].returncode != 0:
                    last = tails[i][-1].strip() if tails[i] else "(nothing on stderr)"
                    raise ConfigError(f"party {i} exited with {procs[i].returncode}: {last}")
                finished[i] = PartyProcess(
                    outcome=json.loads(outputs[i].strip().splitlines()[-1]),
                    peak_rss_mib=round(usage.ru_maxrss / 1024, 1),
                    cpu_seconds=round(usage.ru_utime + usage.ru_stime, 2),
                    wall_seconds=round(time.perf_counter() - started, 2),
                )
            if time.perf_counter() - started > timeout:
                raise ConfigError(f"the party processes ran past {timeout:g} s")
            time.sleep(0.2)
    finally:
        for proc in procs:
            if proc.returncode is None and proc.poll() is None:
                proc.kill()
                proc.wait()
    return [f for f in finished if f is not None]


@dataclass
class ProcessRun:
    """What ``bench helen --processes`` reads from a run (the in-process bench's fields)."""

    records: list[dict[str, Any]]
    stats: list[dict[str, Any]]
    model: np.ndarray
    prepare_wall_seconds: float
    wall_seconds: float
    parties: list[PartyProcess]

    @classmethod
    def of(cls, finished: list[PartyProcess], prepare: float, wall: float) -> ProcessRun:
        """The run of ``finished`` processes, which must have released the same model."""
        outcomes = [p.outcome for p in finished]
        models = [np.asarray(o["model"], dtype=float) for o in outcomes]
        if not all(np.array_equal(models[0], m) for m in models[1:]):
            raise ConfigError("the parties released different models")
        return cls(
            records=[o["record"] for o in outcomes],
            stats=[o["stats"] for o in outcomes],
            model=models[0],
            prepare_wall_seconds=prepare,
            wall_seconds=wall,
            parties=finished,
        )


def bench_run(
    parts: Sequence[tuple[np.ndarray, np.ndarray]],
    config: HelenConfig,
    rows: int,
    *,
    work_dir: Path,
    deadlines: Deadlines = PARTY_DEADLINES,
    workers: int | None = None,
    progress: TextIO | None = None,
) -> ProcessRun:
    """The hosts' folders, then a trusted dealer's key shares written as 0600 files (the
    "prepare" stage, timed: the only work done before the parties start), then one
    ``coopetition party`` process per party. ``wall_seconds`` counts from the dealer's start."""
    from coopetition.protocols.helen import local_prep
    from coopetition.protocols.helen.local_run import dealer_key
    from coopetition.protocols.paillier.serialize import encode_key_share

    table = helen_table(config, rows)
    hosts = make_hosts(work_dir, parts, table, key_share=True, deadlines=deadlines)
    started = time.perf_counter()
    dealer = dealer_key(len(parts), config, workers or local_prep.default_workers())
    for i, host in enumerate(hosts):
        write_secret(host / f"party{i}.share", encode_key_share(dealer.key_share(i)))
    prepared = time.perf_counter()
    finished = run_parties(hosts, timeout=float("inf"), progress=progress)
    return ProcessRun.of(finished, prepared - started, time.perf_counter() - started)
