"""Where a party's list exponentiations run: its threads, its processes, or its Dask cluster.

A party's heavy arithmetic is dominated by lists of independent modular exponentiations
(``parallel.powmod_base_list`` / ``powmod_exp_list`` / ``powmod_pairs``: threshold decryption
shares, their proofs, plaintext-times-ciphertext products, Gadget 3's conversions). That is the
cut sent to a cluster: each list goes out as ``width`` chunks of (bases, exponent(s), modulus),
plain gmpy2 numbers that pickle in a few microseconds and cost milliseconds each to compute,
so a chunk's round trip is small against its work. Whole machine steps are not sent: they are
live generators holding the party's state, and most of their time is these lists anyway.

Backends (``[compute] backend`` in the party's file, docs/deployment.md):

* ``threads`` (default, ``parallel.ThreadPool``): this process's threads; gmpy2 releases the
  GIL, so they use every local core.
* ``processes`` (``ProcessPool``): this machine's worker processes (spawned, one per core).
  For the same work as ``threads`` plus pickling; useful where threads are capped.
* ``dask`` (``DaskPool``): the workers of an existing Dask ``distributed`` cluster that the
  party runs (``scheduler = "tcp://host:8786"``). Dask was chosen over Ray because its client
  is a plain synchronous object whose ``submit`` is thread-safe (the exponentiations are
  requested from the engine's worker threads, never from trio's event loop) and its workers
  run ordinary Python functions on pickled gmpy2 numbers with no actor or object-store setup.

**Trust boundary.** The cluster computes with the party's secrets: the exponents include its
threshold key share (decryption shares), its MAC key share and masks (Gadget 3), its proof
randomness. A cluster is therefore part of the party, run on machines the party controls, with
the scheduler reachable only by them (Dask's TLS ``security`` if the network is shared). The
chunks' arguments travel in a ``Sealed`` wrapper whose ``repr`` shows no number, since Dask
logs a failed task's arguments; task keys are random (``coopetition-powmod-<uuid>``).
"""

from __future__ import annotations

import multiprocessing
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from typing import Any

from coopetition.engine.errors import ConfigError

from . import parallel

__all__ = ["BACKENDS", "DaskPool", "ProcessPool", "Sealed", "open_pool", "pool_from_config"]

#: the values of ``[compute] backend``
BACKENDS = ("threads", "processes", "dask")
#: seconds to reach a scheduler and see a worker, unless the config says otherwise
DEFAULT_CONNECT_SECONDS = 10.0


class Sealed:
    """A chunk's arguments, pickled as usual but shown as ``<sealed: n arguments>``."""

    __slots__ = ("args",)

    def __init__(self, args: tuple[Any, ...]) -> None:
        self.args = args

    def __repr__(self) -> str:
        return f"<sealed: {len(self.args)} arguments>"

    __str__ = __repr__

    def __getstate__(self) -> tuple[Any, ...]:
        return self.args

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        self.args = state


def run_sealed(fn: Callable[..., Any], sealed: Sealed) -> Any:
    """In a worker: ``fn(*sealed.args)``."""
    return fn(*sealed.args)


class ProcessPool:
    """This machine's worker processes (spawned: a forked trio process is not safe to copy)."""

    name = "processes"
    min_items = 2

    def __init__(self, workers: int | None = None) -> None:
        self.width = workers or parallel.cores()
        self._executor = ProcessPoolExecutor(
            self.width, mp_context=multiprocessing.get_context("spawn")
        )

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future:
        return self._executor.submit(run_sealed, fn, Sealed(args))

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


class DaskPool:
    """The workers of a running Dask cluster; ``width`` is their total thread count."""

    name = "dask"
    #: one exponentiation is milliseconds; a task's round trip about one: send lists of 4+
    min_items = 4

    def __init__(self, scheduler: str, *, timeout: float = DEFAULT_CONNECT_SECONDS) -> None:
        try:
            from distributed import Client
        except ImportError:
            raise ConfigError(
                "[compute] backend = 'dask' needs Dask distributed: install the 'cluster' "
                "extra (pip install 'coopetition[cluster]')"
            ) from None
        self.scheduler = scheduler
        try:
            self.client = Client(scheduler, timeout=timeout, set_as_default=False)
        except Exception as exc:  # OSError, TimeoutError, ValueError for a bad address ...
            raise ConfigError(
                f"[compute] scheduler {scheduler!r} is unreachable: {_first_line(exc)}"
            ) from None
        try:
            self.client.wait_for_workers(1, timeout=timeout)
        except Exception:
            self.client.close()
            raise ConfigError(
                f"[compute] scheduler {scheduler!r} has no workers (waited {timeout:g} s)"
            ) from None
        self.width = max(1, sum(self.client.nthreads().values()))

    def submit(self, fn: Callable[..., Any], *args: Any) -> Any:
        key = f"coopetition-powmod-{uuid.uuid4().hex}"
        return self.client.submit(run_sealed, fn, Sealed(args), key=key, pure=False)

    def close(self) -> None:
        self.client.close()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


def pool_from_config(
    backend: str, scheduler: str | None = None, *, timeout: float = DEFAULT_CONNECT_SECONDS
) -> parallel.Pool:
    """The pool a party's ``[compute]`` table names; ``ConfigError`` (one line) otherwise."""
    if backend not in BACKENDS:
        raise ConfigError(
            f"[compute] backend must be one of {', '.join(BACKENDS)}; got {backend!r}"
        )
    if backend != "dask":
        if scheduler is not None:
            raise ConfigError(f"[compute] scheduler is for backend = 'dask', not {backend!r}")
        return parallel.ThreadPool() if backend == "threads" else ProcessPool()
    if not scheduler:
        raise ConfigError("[compute] backend = 'dask' needs scheduler = 'tcp://host:port'")
    return DaskPool(scheduler, timeout=timeout)


@contextmanager
def open_pool(
    backend: str,
    scheduler: str | None = None,
    *,
    timeout: float = DEFAULT_CONNECT_SECONDS,
    where: str = "",
) -> Iterator[parallel.Pool]:
    """Make the pool, send this process's list exponentiations to it, close it at the end.

    ``where`` (the config file) prefixes a ``ConfigError``.
    """
    try:
        pool = pool_from_config(backend, scheduler, timeout=timeout)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}" if where else str(exc)) from None
    try:
        with parallel.pool_in_use(pool):
            yield pool
    finally:
        pool.close()
