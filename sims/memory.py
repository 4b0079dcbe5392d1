"""Peak resident memory of this process, per benchmark step.

Linux keeps a process's high-water mark of resident memory (``VmHWM`` in ``/proc/self/status``)
and lets the process reset it by writing ``5`` to ``/proc/self/clear_refs`` (since Linux 4.0).
A benchmark that runs several protocols in one process resets it before each one and reads it
after, so each protocol's figure is its own peak, not the largest so far. Elsewhere the figure
falls back to ``getrusage``'s ``ru_maxrss``, the peak since the process started, and says so.
"""

from __future__ import annotations

import contextlib
import ctypes
import resource
import sys
from pathlib import Path

from coopetition.engine.allocator import set_thresholds

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")

PER_STEP = "VmHWM since reset (per protocol)"
SINCE_START = "ru_maxrss (peak since the process started)"


def reset_peak_rss() -> str:
    """Reset the high-water mark if the kernel allows; returns what ``peak_rss_mib`` measures."""
    try:
        _CLEAR_REFS.write_text("5")
        _STATUS.read_text()
    except OSError:
        return SINCE_START
    return PER_STEP


def _vm_hwm_kib() -> int | None:
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def peak_rss_mib() -> float:
    """Peak resident memory in MiB (since the last reset where the kernel allows one)."""
    kib = _vm_hwm_kib()
    if kib is None:
        maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        kib = maxrss // 1024 if sys.platform == "darwin" else maxrss  # bytes on macOS
    return round(kib / 1024, 1)


#: allocations of at least this size are mapped alone, so freeing one returns it to the system
MMAP_THRESHOLD = 4 << 20
#: glibc's own default; the command raises it (``engine.allocator``), a memory benchmark undoes that
TRIM_THRESHOLD = 128 << 10


def return_large_frees_to_the_system() -> bool:
    """Make glibc map every allocation of ``MMAP_THRESHOLD`` or more on its own (whether it did
    so is returned; False off glibc).

    By default glibc raises its mapping threshold to the size of the largest block freed so
    far (up to 32 MiB), so after the first coded share of 22 MB is freed, every later one is
    carved from the heap, and the heap keeps the freed space: a 1/10-size Case 2 run left 1.2
    GiB of free heap resident (measured: 1.58 GiB resident after the run, 0.36 GiB after
    ``malloc_trim``). A fixed threshold keeps the resident size close to the live data. The
    trim threshold goes back to glibc's default, which the command raised for speed.
    """
    return set_thresholds(MMAP_THRESHOLD, TRIM_THRESHOLD)


def trim() -> None:
    """Hand free heap memory back to the system (glibc), between benchmark steps."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)
