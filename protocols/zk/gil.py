"""Proof code keeps the GIL through its gmpy2 operations, even in a worker that releases it.

``engine.compute.ThreadCompute`` runs a party's proof steps in a worker thread with gmpy2's
``allow_release_gil`` on, so that parties in one process could overlap their exponentiations.
A proof, though, is a Python loop around short operations (table walks, 128-bit
multi-exponentiations, ring-Pedersen commitments of a few microseconds at 512-2048 bits) with
Python between them. When several such threads run at once, every operation hands the GIL to
another thread and takes it back through the kernel: measured on Helen's input proofs with four
in-process parties (d = 12, INSECURE 1024-bit key, 512-bit N~, 2 cores), 5.8-6.7x the CPU of
the same four proofs made one after another, two thirds of it system time, 4 million voluntary
context switches, whenever the process found both cores free (about 1.2x when it got one core;
docs/benchmarks.md, "Helen's input phase at large d"). The proofs' own arithmetic grows as d^2
up to d = 90, so this overhead is the likely cause of the Fig. 3 sweep's slow d = 90 point,
which ran four parties in one process on an otherwise idle machine.

:func:`holding_gil` turns the release off for the calling thread for the duration of a call
(gmpy2's context is per thread; the caller's context is restored afterwards, and worker pools
such as ``paillier.parallel`` keep their own). Proof values and transcripts do not change:
only which thread runs when. :data:`HOLD_GIL` exists for the profile's before-figure
(``sims.input_profile --threads``); it stays True otherwise.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import gmpy2

from coopetition.engine.compute import gmpy2_gil

__all__ = ["HOLD_GIL", "holding_gil"]

#: Keep the GIL inside the decorated proof functions (False only for the profile's before-figure).
HOLD_GIL = True

_P = ParamSpec("_P")
_R = TypeVar("_R")


def holding_gil(fn: Callable[_P, _R]) -> Callable[_P, _R]:
    """Decorator: ``fn`` runs with gmpy2 keeping the GIL in this thread, whatever the caller set."""

    @functools.wraps(fn)
    def held(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        if not HOLD_GIL or not gmpy2.get_context().allow_release_gil:
            return fn(*args, **kwargs)
        with gmpy2_gil(False):
            return fn(*args, **kwargs)

    return held
