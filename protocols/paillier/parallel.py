"""Exponentiations spread over the machine's cores with threads.

gmpy2's ``powmod_base_list`` and ``powmod_exp_list`` run a whole list of exponentiations in C
and release the GIL while they do, so plain threads use every core without the start-up cost,
pickling and memory duplication of a process pool. Lists too short to amortise the hand-off
run on the calling thread.

With a negative exponent GMP inverts the base and, if the base is not invertible, aborts the
whole process (SIGABRT, not a Python exception). Callers validate ciphertexts first (``ops``,
``threshold``); as a last line of defence these functions refuse a non-invertible base with
``ValueError`` before any negative exponent reaches GMP.

Where the chunks run is the party's choice (``[compute] backend`` in its file, see
``pools``): this process's threads (the default), its worker processes, or the workers of a
Dask cluster the party owns. ``use_pool`` installs one; every list function below splits its
list into ``pool.width`` chunks and hands each to ``pool.submit``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from functools import lru_cache
from typing import Any, Protocol

import gmpy2

from coopetition.protocols.paillier import opcount

_MIN_PARALLEL = 2


def cores() -> int:
    return max(
        1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    )


class Pool(Protocol):
    """Somewhere to run chunks of a list exponentiation.

    ``width`` is how many chunks a list is cut into (the workers' total threads),
    ``min_items`` the shortest list worth sending (shorter ones run on the calling thread),
    ``submit(fn, *args)`` returns something with ``result()`` giving ``fn(*args)``.
    """

    name: str
    width: int
    min_items: int

    def submit(self, fn: Callable[..., Any], *args: Any) -> Any: ...

    def close(self) -> None: ...


class ThreadPool:
    """This process's threads (gmpy2's list functions release the GIL): the default."""

    name = "threads"
    min_items = _MIN_PARALLEL

    def __init__(self, workers: int | None = None) -> None:
        self.width = workers or cores()
        self._executor = ThreadPoolExecutor(self.width, thread_name_prefix="paillier-powmod")

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future:
        return self._executor.submit(fn, *args)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


@lru_cache(maxsize=1)
def _default_pool() -> ThreadPool:
    return ThreadPool()


def _executor() -> ThreadPoolExecutor:
    """This process's own threads, whatever pool is in use (``ops.matvec`` runs its column
    products there: they hold Python objects, not picklable chunks)."""
    return _default_pool()._executor


_pool: Pool | None = None


def current_pool() -> Pool:
    return _pool if _pool is not None else _default_pool()


def use_pool(pool: Pool | None) -> Pool | None:
    """Send this process's list exponentiations to ``pool`` (``None``: the default threads);
    returns the pool it replaces (the caller closes it if it made it)."""
    global _pool
    previous, _pool = _pool, pool
    return previous


@contextmanager
def pool_in_use(pool: Pool) -> Iterator[Pool]:
    """``pool`` for the duration of the block, then the previous one again (``pool`` is not
    closed: its owner closes it)."""
    previous = use_pool(pool)
    try:
        yield pool
    finally:
        use_pool(previous)


def timed_chunk(fn: Callable[..., list], *args: Any) -> tuple[list, float]:
    """In a worker: ``fn(*args)`` and the CPU seconds this thread spent on it (gmpy2 may
    release the GIL, so other threads of a multi-threaded worker run meanwhile)."""
    context = gmpy2.get_context().copy()
    context.allow_release_gil = True
    started = time.thread_time()
    with context:
        out = fn(*args)
    return out, time.thread_time() - started


def _submit(fn: Callable[..., list], *args: Any) -> Any:
    return current_pool().submit(timed_chunk, fn, *args)


def _split(count: int) -> int:
    """How many chunks a list of ``count`` items goes out in (1: run on this thread)."""
    pool = current_pool()
    return 1 if pool.width == 1 or count < pool.min_items else pool.width


def _gather(futures: list[Any]) -> list[gmpy2.mpz]:
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
    workers = _split(len(bases))
    if workers == 1:
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
    workers = _split(len(exponents))
    if workers == 1:
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
    workers = _split(len(bases))
    if workers == 1:
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
