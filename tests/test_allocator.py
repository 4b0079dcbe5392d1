"""The allocator thresholds keep a freed buffer's pages mapped: in a tuned process and in the
preparation's spawned worker processes, and not where the user opted out.

Each case runs in a fresh process (the thresholds are process-wide, and the suite's own process
is tuned by conftest) a script that counts the minor page faults of allocating, filling and
freeing a 48 MiB buffer 20 times after one warm-up round. glibc's default maps every such
buffer afresh (a fault per page each round, about 10 000 in all); tuned, the heap keeps the
pages and the rounds after the first fault almost nothing.
"""

from __future__ import annotations

import os
import platform
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

from coopetition.engine import allocator
from coopetition.protocols.spdz.party_hosts import WorkerParties

pytestmark = pytest.mark.skipif(
    platform.libc_ver()[0] != "glibc", reason="the thresholds are glibc's"
)

ROUNDS = """
import resource, numpy as np
def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
buf = np.ones(48 << 20, dtype=np.uint8); del buf
before = faults()
for _ in range(20):
    buf = np.ones(48 << 20, dtype=np.uint8); buf.sum(); del buf
open({report!r}, "w").write(str(faults() - before))
"""
TUNE = "from coopetition.engine.allocator import tune_allocator\ntune_allocator()\n"


def _script(tmp_path: Path, name: str, prelude: str = "") -> tuple[Path, Path]:
    report = tmp_path / f"{name}.faults"
    script = tmp_path / f"{name}.py"
    script.write_text(prelude + ROUNDS.format(report=str(report)))
    return script, report


def _faults_in_fresh_process(tmp_path: Path, name: str, prelude: str, **env: str) -> int:
    script, report = _script(tmp_path, name, prelude)
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    clean.pop(allocator.OPT_OUT, None)
    subprocess.run([sys.executable, str(script)], env=clean | env, check=True, timeout=120)
    return int(report.read_text())


def test_a_tuned_process_reuses_freed_pages(tmp_path: Path) -> None:
    untuned = _faults_in_fresh_process(tmp_path, "untuned", "")
    assert untuned > 5_000  # 20 rounds of 48 MiB, mapped afresh each time
    assert _faults_in_fresh_process(tmp_path, "tuned", TUNE) < untuned // 20


def test_opting_out_leaves_glibc_alone(tmp_path: Path) -> None:
    untuned = _faults_in_fresh_process(tmp_path, "untuned", "")
    opted_out = _faults_in_fresh_process(tmp_path, "out", TUNE, **{allocator.OPT_OUT: "system"})
    assert opted_out > untuned // 2


def test_the_preparations_worker_processes_tune_themselves(tmp_path: Path) -> None:
    """WorkerParties' workers run MASCOT's buffers; each tunes itself before its ``init``."""
    script, report = _script(tmp_path, "worker")
    hosts = WorkerParties([0, 1], 1, init=(runpy.run_path, (str(script),)))
    try:
        assert hosts._ask({0: ("fetch", None)}) == {0: ("object", 0), 1: ("object", 1)}
    finally:
        hosts.close()
    assert int(report.read_text()) < 500


def test_a_user_opt_out_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(allocator.OPT_OUT, "system")
    assert allocator.tune_allocator() is False
    monkeypatch.delenv(allocator.OPT_OUT)
    assert allocator.tune_allocator() is True
