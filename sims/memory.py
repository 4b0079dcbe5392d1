"""Peak resident memory of this process, per benchmark step.

Linux keeps a process's high-water mark of resident memory (``VmHWM`` in ``/proc/self/status``)
and lets the process reset it by writing ``5`` to ``/proc/self/clear_refs`` (since Linux 4.0).
A benchmark that runs several protocols in one process resets it before each one and reads it
after, so each protocol's figure is its own peak, not the largest so far. Elsewhere the figure
falls back to ``getrusage``'s ``ru_maxrss``, the peak since the process started, and says so.
"""

from __future__ import annotations

import resource
import sys
from pathlib import Path

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
