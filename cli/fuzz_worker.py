"""The atheris child process of ``fuzz_runner``: instruments the project's modules (and the
pure-Python parsers they call) for coverage feedback *before* importing them, then runs one
harness under libFuzzer. ``python -m coopetition.fuzz_worker TARGET RUNS STATS CORPUS ...``"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports(include=["coopetition", "tomllib", "cbor2"]):
    from coopetition import fuzz_files, fuzz_runner  # noqa: F401
    from coopetition.sims import scenario  # noqa: F401

if __name__ == "__main__":
    fuzz_runner.worker(sys.argv[1:])
