"""Exponentiations spread over the machine's cores with threads.

gmpy2's ``powmod_base_list`` and ``powmod_exp_list`` run a whole list of exponentiations in C
and release the GIL while they do, so plain threads use every core without the start-up cost,
pickling and memory duplication of a process pool. Lists too short to amortise the hand-off
run on the calling thread.

With a negative exponent GMP inverts the base and, if the base is not invertible, aborts the
whole process (SIGABRT, not a Python exception). Callers validate ciphertexts first (``ops``,
``threshold``); as a last line of defence these functions refuse a non-invertible base with
``ValueError`` before any negative exponent reaches GMP.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from functools import lru_cache
from typing import Any

import gmpy2

from coopetition.protocols.paillier import opcount

_MIN_PARALLEL = 2


def cores() -> int:
    return max(
        1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    )


@lru_cache(maxsize=1)
def _executor() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=cores(), thread_name_prefix="paillier-powmod")


def _timed(fn: Callable[..., list], *args: Any) -> tuple[list, float]:
    """In a helper thread: ``fn(*args)`` and the CPU seconds this thread spent on it."""
    started = time.thread_time()
    out = fn(*args)
    return out, time.thread_time() - started


def _submit(fn: Callable[..., list], *args: Any) -> Future:
    return _executor().submit(_timed, fn, *args)


def _gather(futures: list[Future]) -> list[gmpy2.mpz]:
    """The chunks' results in order; their CPU goes to the calling party (``opcount``)."""
    values: list[gmpy2.mpz] = []
    seconds = 0.0
    for future in futures:
        chunk, cpu = future.result()
        values.extend(chunk)
        seconds += cpu
    opcount.helper_cpu(seconds)
    return values


def _chunks(values: list, parts: int) -> list[list]:
    size = -(-len(values) // parts)
    return [values[i : i + size] for i in range(0, len(values), size)]


def _require_invertible(bases: list, modulus: int) -> None:
    for i, b in enumerate(bases):
        if gmpy2.gcd(b, modulus) != 1:
            raise ValueError(f"base [{i}] is not invertible; refusing a negative exponent")


def powmod_base_list(bases: list, exponent: int, modulus: int) -> list[gmpy2.mpz]:
    """``[b**exponent mod modulus for b in bases]`` on all cores."""
    if exponent < 0:
        _require_invertible(list(bases), modulus)
    workers = cores()
    if workers == 1 or len(bases) < _MIN_PARALLEL:
        return gmpy2.powmod_base_list(bases, exponent, modulus)
    futures = [
        _submit(gmpy2.powmod_base_list, chunk, exponent, modulus)
        for chunk in _chunks(list(bases), workers)
    ]
    return _gather(futures)


def powmod_exp_list(base: int, exponents: list, modulus: int) -> list[gmpy2.mpz]:
    """``[base**e mod modulus for e in exponents]`` on all cores."""
    if any(e < 0 for e in exponents):
        _require_invertible([base], modulus)
    workers = cores()
    if workers == 1 or len(exponents) < _MIN_PARALLEL:
        return gmpy2.powmod_exp_list(base, exponents, modulus)
    futures = [
        _submit(gmpy2.powmod_exp_list, base, chunk, modulus)
        for chunk in _chunks(list(exponents), workers)
    ]
    return _gather(futures)


def powmod_pairs(bases: list, exponents: list, modulus: int) -> list[gmpy2.mpz]:
    """``[b**e mod modulus for b, e in zip(bases, exponents)]`` on all cores."""
    if len(bases) != len(exponents):
        raise ValueError("bases and exponents differ in length")
    workers = cores()
    if workers == 1 or len(bases) < _MIN_PARALLEL:
        return _pairs(list(bases), list(exponents), modulus)
    size = -(-len(bases) // workers)
    futures = [
        _submit(_pairs, bases[i : i + size], exponents[i : i + size], modulus)
        for i in range(0, len(bases), size)
    ]
    return _gather(futures)


def _pairs(bases: list, exponents: list, modulus: int) -> list[gmpy2.mpz]:
    # gmpy2.powmod holds the GIL; a list function per pair releases it for the long part.
    _require_invertible([b for b, e in zip(bases, exponents, strict=True) if e < 0], modulus)
    return [
        gmpy2.powmod_exp_list(b, [e], modulus)[0] for b, e in zip(bases, exponents, strict=True)
    ]
