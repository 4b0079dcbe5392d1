"""Run one fuzzing harness for N inputs and report inputs/s, findings by kind and peak RSS.

The engine is atheris (libFuzzer with coverage feedback from the instrumented Python modules
the target names), run in a child process because libFuzzer ends its process when done. Where
atheris is not installed, a plain mutation loop over the seed corpus runs in-process instead
(no coverage feedback; the report says which engine ran).

Every input goes through ``Harness``, which turns the target's contract into findings:

* ``exception``: an exception that is not one of the target's documented typed errors;
* ``invariant``: the input decoded but the decoded value broke one of the harness's checks;
* ``hang``: one input used more than ``time_limit`` seconds of CPU (a CPU-time timer,
  SIGPROF, interrupts it: wall time would report a starved process on a busy machine);
* ``memory``: the process's peak RSS rose by more than ``memory_limit_mib`` during one input.

Findings are grouped by signature (kind, exception type, innermost project frame); the first
input of each signature is saved, so it can be replayed and kept as a regression test.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random
import resource
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from coopetition.fuzz_targets import NETWORK_TARGETS, FuzzTarget

#: The checked-in seed corpus and regression inputs (one folder per target).
CORPUS_ROOT = Path(__file__).resolve().parent.parent / "tests" / "fuzz_corpus"


def targets() -> dict[str, FuzzTarget]:
    from coopetition.fuzz_files import FILE_TARGETS

    return {**NETWORK_TARGETS, **FILE_TARGETS}


class _Timeout(BaseException):
    """Raised by SIGPROF inside a harness; a BaseException so no harness swallows it."""


def _on_alarm(_signum: int, _frame: Any) -> None:
    raise _Timeout


def _max_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


_PROJECT = str(Path(__file__).resolve().parent.parent)


def _where(exc: BaseException) -> str:
    """The innermost frame in the project's own code (else the innermost frame at all)."""
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if f.filename.startswith(_PROJECT) and ".venv" not in f.filename]
    chosen = ours or frames
    if not chosen:
        return "?"
    return f"{Path(chosen[-1].filename).name}:{chosen[-1].lineno}"


@dataclass
class Finding:
    kind: str
    error: str
    where: str
    message: str
    count: int = 1
    input_file: str | None = None


@dataclass
class Harness:
    """Calls the target on one input and classifies what happens."""

    target: FuzzTarget
    time_limit: float = 1.0
    memory_limit_mib: float = 256.0
    findings_dir: Path | None = None
    inputs: int = 0
    findings: dict[tuple[str, str, str], Finding] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._rss = _max_rss_mib()
        signal.signal(signal.SIGPROF, _on_alarm)

    def warm_up(self, samples: list[bytes]) -> None:
        """Run a few inputs untimed and uncounted: first calls import modules and fill caches,
        which must not be reported as a hang."""
        for data in samples[:3]:
            with contextlib.suppress(Exception):
                self.target.run(data)
        self._rss = _max_rss_mib()

    def __call__(self, data: bytes) -> None:
        self.inputs += 1
        signal.setitimer(signal.ITIMER_PROF, self.time_limit)
        try:
            self.target.run(data)
        except self.target.expected:
            pass
        except _Timeout:
            self._record("hang", "Timeout", "?", f"over {self.time_limit} CPU seconds", data)
        except AssertionError as exc:
            self._record("invariant", "AssertionError", _where(exc), str(exc), data)
        except MemoryError as exc:
            self._record("memory", "MemoryError", _where(exc), "", data)
        except Exception as exc:
            self._record("exception", type(exc).__name__, _where(exc), str(exc)[:200], data)
        finally:
            signal.setitimer(signal.ITIMER_PROF, 0)
        rss = _max_rss_mib()
        if rss - self._rss > self.memory_limit_mib:
            self._record("memory", "PeakRss", "?", f"+{rss - self._rss:.0f} MiB", data)
        self._rss = rss

    def _record(self, kind: str, error: str, where: str, message: str, data: bytes) -> None:
        key = (kind, error, where)
        found = self.findings.get(key)
        if found is not None:
            found.count += 1
            return
        found = self.findings[key] = Finding(kind, error, where, message)
        if self.findings_dir is not None:
            self.findings_dir.mkdir(parents=True, exist_ok=True)
            name = f"{self.target.name}-{kind}-{hashlib.sha1(data).hexdigest()[:12]}.bin"
            (self.findings_dir / name).write_bytes(data)
            found.input_file = str(self.findings_dir / name)

    def by_kind(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for f in self.findings.values():
            out[f.kind] = out.get(f.kind, 0) + f.count
        return out


def corpus_inputs(target: FuzzTarget) -> list[bytes]:
    """The target's built-in seeds plus the checked-in corpus and regression inputs."""
    out = list(target.seeds())
    folder = CORPUS_ROOT / target.name
    if folder.is_dir():
        out += [p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()]
    return out


def _mutate(rng: random.Random, data: bytes, pool: list[bytes], max_len: int) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(6)
        pos = rng.randrange(len(buf) + 1)
        if op == 0 and buf:
            buf[min(pos, len(buf) - 1)] ^= 1 << rng.randrange(8)
        elif op == 1:
            buf[pos:pos] = bytes([rng.choice((0, 1, 0x7F, 0x80, 0xFF, rng.randrange(256)))])
        elif op == 2 and buf:
            del buf[pos : pos + rng.randint(1, 8)]
        elif op == 3 and buf:
            buf[min(pos, len(buf) - 1)] = rng.randrange(256)
        elif op == 4:
            other = rng.choice(pool)
            start = rng.randrange(len(other) + 1)
            buf[pos:pos] = other[start : start + rng.randint(1, 32)]
        else:
            buf[pos:] = buf[pos : pos + rng.randint(0, 16)] * rng.randint(1, 3)
    return bytes(buf[:max_len])


def run_mutation(
    harness: Harness, runs: int, seed: int = 0, budget_seconds: float | None = None
) -> None:
    """The fallback engine: the whole corpus first, then random mutations of it (no coverage
    feedback) until ``runs`` inputs or ``budget_seconds`` have passed."""
    pool = corpus_inputs(harness.target) or [b""]
    harness.warm_up(pool)
    for data in pool:
        harness(data)
    rng = random.Random(seed)
    stop = time.monotonic() + budget_seconds if budget_seconds is not None else float("inf")
    while harness.inputs < runs and time.monotonic() < stop:
        harness(_mutate(rng, rng.choice(pool), pool, harness.target.max_len))


def _atheris_available() -> bool:
    try:
        import atheris  # noqa: F401
    except ImportError:
        return False
    return True


def run(
    name: str,
    runs: int,
    *,
    engine: str = "auto",
    time_limit: float = 1.0,
    memory_limit_mib: float = 256.0,
    findings_dir: Path | None = None,
    seed: int = 0,
    corpus_dir: Path | None = None,
) -> dict[str, Any]:
    """Fuzz target ``name`` for ``runs`` inputs; returns the report (see module docstring).
    ``corpus_dir`` keeps atheris's working corpus between runs (default: a temporary one)."""
    target = targets()[name]
    if engine == "auto":
        engine = "atheris" if _atheris_available() else "mutation"
    started = time.perf_counter()
    if engine == "atheris":
        report = _run_atheris_child(
            target, runs, time_limit, memory_limit_mib, findings_dir, seed, corpus_dir
        )
    else:
        harness = Harness(target, time_limit, memory_limit_mib, findings_dir)
        run_mutation(harness, runs, seed)
        report = _report(harness)
    seconds = time.perf_counter() - started
    report.update(
        target=name,
        engine=engine,
        seconds=round(seconds, 2),
        inputs_per_second=round(report["inputs"] / seconds) if seconds else None,
    )
    return report


def _report(harness: Harness) -> dict[str, Any]:
    return {
        "inputs": harness.inputs,
        "findings_by_kind": harness.by_kind(),
        "open_findings": len(harness.findings),
        "findings": [vars(f) for f in harness.findings.values()],
        "peak_rss_mib": round(_max_rss_mib(), 1),
    }


def _run_atheris_child(
    target: FuzzTarget,
    runs: int,
    time_limit: float,
    memory_limit_mib: float,
    findings_dir: Path | None,
    seed: int,
    corpus_dir: Path | None,
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="coopetition-fuzz-") as tmp:
        stats = Path(tmp) / "stats.json"
        corpus = corpus_dir or Path(tmp) / "corpus"
        corpus.mkdir(parents=True, exist_ok=True)
        for data in corpus_inputs(target):
            (corpus / hashlib.sha1(data).hexdigest()).write_bytes(data)
        cmd = [
            sys.executable,
            "-m",
            "coopetition.fuzz_worker",
            target.name,
            str(runs),
            str(stats),
            str(corpus),
            str(time_limit),
            str(memory_limit_mib),
            str(findings_dir or ""),
            str(seed),
        ]
        log = Path(tmp) / "libfuzzer.log"
        with log.open("w") as err:
            code = subprocess.call(cmd, stdout=subprocess.DEVNULL, stderr=err)
        if not stats.exists():
            tail = log.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"the atheris worker for {target.name} failed ({code}): {tail}")
        report: dict[str, Any] = json.loads(stats.read_text())
        report["corpus_size"] = sum(1 for _ in corpus.iterdir())
        if code != 0:  # libFuzzer killed the worker itself (its own timeout or RSS limit)
            report["open_findings"] += 1
            kind = "hang" if "timeout" in log.read_text(errors="replace") else "crash"
            report["findings_by_kind"][kind] = report["findings_by_kind"].get(kind, 0) + 1
        return report


def worker(argv: list[str]) -> None:
    """Child process (see ``fuzz_worker``): hand the harness to libFuzzer; ends the process."""
    import atheris

    name, runs_s, stats_s, corpus, limit_s, mem_s, findings_s, seed = argv
    target = targets()[name]
    runs = int(runs_s)
    harness = Harness(
        target, float(limit_s), float(mem_s), Path(findings_s) if findings_s else None
    )
    stats = Path(stats_s)
    harness.warm_up(corpus_inputs(target))
    written = {"at": 0.0, "findings": 0}

    def write_stats() -> None:
        tmp = stats.with_suffix(".tmp")
        tmp.write_text(json.dumps(_report(harness)))
        os.replace(tmp, stats)
        written.update(at=time.monotonic(), findings=len(harness.findings))

    def one_input(data: bytes) -> None:
        harness(data)
        if (
            harness.inputs >= runs
            or len(harness.findings) != written["findings"]
            or time.monotonic() - written["at"] > 1.0
        ):
            write_stats()

    write_stats()
    atheris.Setup(
        [
            "coopetition-fuzz",
            corpus,
            f"-runs={runs}",
            f"-max_len={target.max_len}",
            # libFuzzer's own (wall-clock) timeout only as a backstop for a stuck C call.
            f"-timeout={max(120, int(float(limit_s) * 100))}",
            f"-rss_limit_mb={int(float(mem_s) * 8 + 2048)}",
            f"-seed={int(seed) + 1}",
        ],
        one_input,
    )
    try:
        atheris.Fuzz()
    finally:
        write_stats()
