"""Keep freed memory inside the process, so that bulk work does not pay for page faults again.

MASCOT's OT messages and the preparation's batches are numpy buffers of 10-60 MiB that are
allocated and freed thousands of times. glibc serves each one from a fresh ``mmap`` (above its
dynamic threshold) or trims the heap after the free, so every buffer is faulted in page by
page again. On this project's reference machine (a 2-core virtual machine) a minor fault costs
about 3 us, and the demo's preparation spent 30 of its 134 CPU seconds in the kernel
(11 million faults; docs/benchmarks.md, "Page faults"). Raising glibc's mmap and trim
thresholds keeps those pages mapped and reused: 0.3 million faults, 5 s in the kernel.

:func:`tune_allocator` sets both thresholds for the calling process (``mallopt``) and, through
the environment, for every process it spawns later (glibc reads ``MALLOC_MMAP_THRESHOLD_`` and
``MALLOC_TRIM_THRESHOLD_`` at start-up; the project's worker and party processes are spawned,
so they inherit it). Values the user already put in the environment win. The cost is memory
held after a peak: at most ``TRIM_THRESHOLD`` of free heap stays resident, and buffers above
``MMAP_THRESHOLD`` are still mapped and returned one by one. Elsewhere than glibc this does
nothing. ``COOPETITION_ALLOCATOR=system`` turns it off.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import platform

MMAP_THRESHOLD = 64 << 20  # buffers larger than this are still mapped and unmapped alone
TRIM_THRESHOLD = 256 << 20  # free heap kept resident before glibc gives it back
_M_TRIM_THRESHOLD = -1  # glibc's mallopt parameter numbers (malloc.h)
_M_MMAP_THRESHOLD = -3
OPT_OUT = "COOPETITION_ALLOCATOR"
ENVIRONMENT = {"MALLOC_MMAP_THRESHOLD_": MMAP_THRESHOLD, "MALLOC_TRIM_THRESHOLD_": TRIM_THRESHOLD}


def tune_allocator() -> bool:
    """Apply the thresholds here and for children; True if glibc took them in this process."""
    if os.environ.get(OPT_OUT, "").lower() == "system" or platform.libc_ver()[0] != "glibc":
        return False
    for name, value in ENVIRONMENT.items():
        os.environ.setdefault(name, str(value))
    libc_name = ctypes.util.find_library("c")
    if libc_name is None:
        return False
    mallopt = getattr(ctypes.CDLL(libc_name), "mallopt", None)
    if mallopt is None:
        return False
    try:
        mmap = int(os.environ["MALLOC_MMAP_THRESHOLD_"])
        trim = int(os.environ["MALLOC_TRIM_THRESHOLD_"])
    except ValueError:  # the user's own setting, which glibc itself reads or ignores
        return False
    if not (0 <= mmap < 2**31 and 0 <= trim < 2**31):
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, mmap) == 1 and mallopt(_M_TRIM_THRESHOLD, trim) == 1)
