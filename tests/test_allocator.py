"""The allocator thresholds keep a freed buffer's pages mapped, here and in spawned children.

Each case runs in a fresh interpreter (the thresholds are process-wide and the suite's own
process is already tuned by conftest) and counts the minor page faults of allocating, filling
and freeing a 48 MiB buffer 20 times after one warm-up round. glibc's default maps every such
buffer afresh (one fault per page each round); tuned, the heap keeps the pages and the rounds
after the first fault almost nothing.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

from coopetition.engine import allocator

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
print(faults() - before)
"""


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    env.pop(allocator.OPT_OUT, None)
    env.update(extra)
    return env


def _faults(prelude: str, env: dict[str, str]) -> int:
    out = subprocess.run(
        [sys.executable, "-c", prelude + ROUNDS],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return int(out.stdout.split()[-1])


TUNE = "from coopetition.engine.allocator import tune_allocator\nassert tune_allocator()\n"


def test_tuned_process_reuses_freed_pages() -> None:
    untuned = _faults("", _clean_env())
    tuned = _faults(TUNE, _clean_env())
    assert untuned > 5_000  # 20 rounds of 48 MiB, mapped afresh each time
    assert tuned < untuned // 20


def test_a_spawned_child_inherits_the_thresholds() -> None:
    """Party and worker processes are spawned after the command tuned itself."""
    parent = (
        TUNE
        + "import subprocess, sys\n"
        + f"print(subprocess.run([sys.executable, '-c', {ROUNDS!r}], capture_output=True,"
        + " text=True, check=True).stdout)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", parent],
        env=_clean_env(),
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    child_faults = int(out.stdout.split()[-1])
    assert child_faults < _faults("", _clean_env()) // 20


def test_opt_out_and_the_users_own_values_win(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(allocator.OPT_OUT, "system")
    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_", raising=False)
    assert allocator.tune_allocator() is False
    assert "MALLOC_TRIM_THRESHOLD_" not in os.environ
    monkeypatch.delenv(allocator.OPT_OUT)
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", str(128 << 20))
    assert allocator.tune_allocator() is True
    assert os.environ["MALLOC_TRIM_THRESHOLD_"] == str(128 << 20)
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "lots")
    assert allocator.tune_allocator() is False  # left to glibc, which ignores it
