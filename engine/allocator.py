"""Keep freed buffers mapped where bulk buffer work runs, so pages are not faulted in again.

MASCOT's OT messages and the preparation's batches are numpy buffers of 10-60 MiB, allocated
and freed thousands of times. By default glibc serves each from a fresh ``mmap`` (above its
dynamic threshold, at most 32 MiB) or trims the heap after the free, so every buffer is faulted
in page by page again. On the project's reference machine (a 2-core virtual machine) that cost
the demo 112 s of kernel time in 32 million minor faults, most of it in the preparation
(docs/benchmarks.md, "Page faults"). With the thresholds below glibc keeps those pages and
reuses them.

:func:`tune_allocator` sets both thresholds for the calling process only (``mallopt``). The
``coopetition`` command calls it (so a ``coopetition party`` process, which makes its own
MASCOT preprocessing, is tuned), and so do the preparation's worker processes
(:mod:`coopetition.protocols.spdz.party_hosts`) and MASCOT's benchmark processes. The
benchmarks' Helen party processes (``sims.helen_prepared``, online phases only) do not: their
work is big integers, not buffers, and there the retained heap raised the input phase's peak
RSS by 15-19 % (d = 60), which the per-party memory budget cannot spare.
``COOPETITION_ALLOCATOR=system`` turns it off; elsewhere than glibc it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import platform

MMAP_THRESHOLD = 64 << 20  # buffers larger than this are still mapped and unmapped alone
TRIM_THRESHOLD = 256 << 20  # free heap kept resident before glibc gives it back
M_TRIM_THRESHOLD = -1  # glibc's mallopt parameter numbers (malloc.h)
M_MMAP_THRESHOLD = -3
OPT_OUT = "COOPETITION_ALLOCATOR"


def set_thresholds(mmap: int, trim: int) -> bool:
    """glibc's mallopt for both thresholds in this process; True if glibc took both (False
    elsewhere than glibc)."""
    if platform.libc_ver()[0] != "glibc":
        return False
    libc_name = ctypes.util.find_library("c")
    mallopt = getattr(ctypes.CDLL(libc_name), "mallopt", None) if libc_name else None
    if mallopt is None:
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, mmap) == 1 and mallopt(M_TRIM_THRESHOLD, trim) == 1)


def tune_allocator() -> bool:
    """Set glibc's mmap and trim thresholds for this process; True if glibc took both."""
    if os.environ.get(OPT_OUT, "").lower() == "system":
        return False
    return set_thresholds(MMAP_THRESHOLD, TRIM_THRESHOLD)
