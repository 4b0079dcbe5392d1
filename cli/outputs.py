"""Where commands write by default: a fresh folder or file under the working directory.

A command never overwrites anything by default, so it can never overwrite a tracked file: it
picks ``NAME-YYYYmmdd-HHMMSS`` (with ``-2``, ``-3``... on a clash) and says where it wrote.
"""

from __future__ import annotations

import time
from pathlib import Path


def fresh_directory(parent: Path, prefix: str) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    candidate = parent / f"{prefix}-{stamp}"
    n = 2
    while True:
        try:
            candidate.mkdir(parents=True)
            return candidate
        except FileExistsError:
            candidate = parent / f"{prefix}-{stamp}-{n}"
            n += 1


def fresh_name(parent: Path, prefix: str) -> Path:
    """A ``prefix-YYYYmmdd-HHMMSS`` path under ``parent`` that does not exist yet (not created)."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    candidate = parent / f"{prefix}-{stamp}"
    n = 2
    while candidate.exists():
        candidate = parent / f"{prefix}-{stamp}-{n}"
        n += 1
    return candidate
