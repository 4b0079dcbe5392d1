"""Where m in-process parties' objects live while their programs run: here, or in workers.

The in-process preparation of a Helen run (``protocols.helen.local_prep``) holds every party's
state in one process and drives their sans-IO programs in lock step (``harness.run_local``).
That is one core. :class:`WorkerParties` keeps the same lock step but puts party i's objects
in spawned worker process i mod w: each worker advances its own parties' programs (their
arithmetic runs there, in parallel with the other workers) and hands what they send straight
to the other workers (``party_mesh``: encoded as ``run_local`` encodes it), and this process
checks that all parties are at the same tag, counts the bytes, and decides the next round.
A test that tampers with messages gets them routed through this process instead.
Results (batches, stores) come back pickled; so do the objects themselves (``fetch``).

Both hosts run a *step*: a module-level function ``step(obj, *args) -> program`` (it must be
importable by name in a worker). :class:`LocalParties` runs it here with ``run_local`` and is
what one worker means, so the two layouts share every protocol line.

Secrets cross process boundaries only over this machine's pipes to our own children (the party
objects hold key shares); nothing is logged, and an error crosses as its type and message.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import pickle
import socket
import time
from collections.abc import Callable, Sequence
from typing import Any

import cbor2

from coopetition.engine.allocator import tune_allocator
from coopetition.engine.errors import DeadlineExceeded, LocalFailure, ProtocolViolation
from coopetition.engine.program import send_past_findings, tag_of

from .harness import HarnessStats, Tamper, run_local
from .pairwise import MixedProgram
from .party_mesh import PEER_GONE, Mesh, Outbox, PeerGone

Step = Callable[..., MixedProgram[Any]]

#: seconds a worker may take for one round before the parent gives up (generous: a round of
#: 2048-bit range proofs for a few hundred masks takes minutes on a loaded core)
ROUND_TIMEOUT = 6 * 3600.0


class LocalParties:
    """The parties' objects in this process; a step runs with ``run_local`` (one core)."""

    workers = 1

    def __init__(self, objects: Sequence[Any]) -> None:
        self.objects = list(objects)
        self.worker_cpu = 0.0  # CPU seconds spent outside this process (none here)

    def run(
        self,
        step: Step,
        *args: Any,
        stats: HarnessStats | None = None,
        tamper: Tamper | None = None,
    ) -> list[Any]:
        return run_local([step(o, *args) for o in self.objects], stats=stats, tamper=tamper)

    def fetch(self) -> list[Any]:
        return self.objects

    def close(self) -> None:
        """Nothing to stop: the objects live here (``WorkerParties.close`` ends processes)."""


def _rebuild(cls: type[BaseException], args: tuple[Any, ...], state: dict[str, Any]) -> Any:
    """An exception of class ``cls`` with ``args`` and attributes ``state``, not re-initialised."""
    exc = cls.__new__(cls)
    exc.args = args
    exc.__dict__.update(state)
    return exc


class _Rebuilt:
    """Pickles as ``exc`` rebuilt field by field: for exceptions whose ``__init__`` takes more
    than their message (``ProofRejected(kind, prover, check)``), which plain pickling cannot
    rebuild; the parent gets the same type with the same attributes (the prover, the culprit)."""

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self.exc), self.exc.args, dict(self.exc.__dict__)))


def _portable(exc: BaseException) -> Any:
    """The exception itself if it survives pickling, else rebuilt field by field, else (its
    class or fields do not pickle) a RuntimeError with its text."""
    for candidate in (exc, _Rebuilt(exc)):
        try:
            pickle.loads(pickle.dumps(candidate))
        except Exception:
            continue
        return candidate
    return RuntimeError(f"{type(exc).__name__}: {exc}")


def _worker_main(
    conn: Any,
    mine: dict[int, Any],
    m: int,
    init: tuple[Callable[..., Any], tuple[Any, ...]],
    me: int = 0,
    owner: dict[int, int] | None = None,
    peers: dict[int, Any] | None = None,
) -> None:
    """A worker's loop: run steps for its parties, one round per message from the parent."""
    tune_allocator()  # MASCOT's buffers: keep freed pages (engine.allocator)
    init[0](*init[1])
    programs: dict[int, MixedProgram[Any]] = {}
    owner = owner if owner is not None else dict.fromkeys(range(m), me)
    mesh = Mesh(peers or {}, ROUND_TIMEOUT)
    use_mesh = False
    local: dict[int, dict[int, Any]] = {}

    def advance(inputs: dict[int, Any]) -> dict[int, tuple[str, Any]]:
        nonlocal local
        outbox = Outbox(m, owner, me, use_mesh)
        out: dict[int, tuple[str, Any]] = {}
        for i, value in inputs.items():
            try:
                request = send_past_findings(programs[i], value)
                out[i] = outbox.add(i, request)  # the tag source without its payloads
            except StopIteration as stop:
                out[i] = ("done", stop.value)
                del programs[i]
            except Exception as exc:
                out[i] = ("error", _portable(exc))
        if use_mesh:
            local = outbox.local
            mesh.send(outbox.bundles)
        return out

    while True:
        command, payload = conn.recv()
        started = time.process_time()
        if command == "close":
            mesh.close()
            conn.send(({}, time.process_time() - started))
            return
        try:
            arrived = mesh.receive() if mesh.pending else {}
        except PeerGone:  # a peer worker died: it, not this one, is what the parent reports
            raise SystemExit(PEER_GONE) from None
        if command == "start":
            step, args, use_mesh = payload
            programs = {}
            replies: dict[int, tuple[str, Any]] = {}
            for i, obj in mine.items():
                try:
                    programs[i] = step(obj, *args)
                except Exception as exc:
                    replies[i] = ("error", _portable(exc))
            replies.update(advance({i: None for i in programs}))
        elif command == "round":
            if use_mesh:  # in party order, as run_local lists them (a culprit may be the first)
                inboxes = {
                    i: dict(sorted({**local.get(i, {}), **arrived.get(i, {})}.items()))
                    for i in programs
                }
            else:
                inboxes = {
                    i: {s: cbor2.loads(b) for s, b in inbox.items()} for i, inbox in payload.items()
                }
            replies = advance(inboxes)
        elif command == "abort":
            for prog in programs.values():
                prog.close()
            programs = {}
            replies = {}
        else:  # "fetch"
            replies = {i: ("object", obj) for i, obj in mine.items()}
        conn.send((replies, time.process_time() - started))


def _nothing() -> None:
    """The default worker ``init``: a secure key needs nothing admitted in the workers."""


class WorkerParties:
    """The parties' objects in ``workers`` spawned processes (party i in worker i mod w)."""

    def __init__(
        self,
        objects: Sequence[Any],
        workers: int,
        *,
        init: tuple[Callable[..., Any], tuple[Any, ...]] | None = None,
    ) -> None:
        """``init`` = (function, args) runs first in every worker (module level, e.g. to
        carry over this process's explicit choice of an INSECURE test key)."""
        self.m = len(objects)
        self.workers = max(1, min(workers, self.m))
        self.worker_cpu = 0.0  # CPU seconds the workers reported for their commands
        ctx = mp.get_context("spawn")  # a forked trio process is not safe to copy
        self._owner = {i: i % self.workers for i in range(self.m)}
        self._conns: list[Any] = []
        self._procs: list[Any] = []
        # one socket pair per two workers: the mesh that carries the parties' messages
        pairs = {(a, b): socket.socketpair() for a in range(self.workers) for b in range(a)}
        try:
            for w in range(self.workers):
                mine = {i: objects[i] for i in range(self.m) if self._owner[i] == w}
                peers = {b: pair[0] for (a, b), pair in pairs.items() if a == w}
                peers.update({a: pair[1] for (a, b), pair in pairs.items() if b == w})
                here, there = ctx.Pipe()
                proc = ctx.Process(
                    target=_worker_main,
                    args=(there, mine, self.m, init or (_nothing, ()), w, self._owner, peers),
                    name=f"prep-worker-{w}",
                    daemon=True,
                )
                proc.start()
                there.close()
                self._conns.append(here)
                self._procs.append(proc)
        except BaseException:
            self.close()
            raise
        finally:
            for pair in pairs.values():  # the workers hold their own copies
                for sock in pair:
                    sock.close()

    def _died(self, w: int) -> LocalFailure:
        """The abort for worker ``w`` gone (killed, crashed): our own failure, no culprit."""
        self._procs[w].join(timeout=1)
        if self._procs[w].exitcode == PEER_GONE:  # it lost a peer mid-bundle: name that one
            deadline = time.monotonic() + 1.0
            while (gone := self._first_dead()) is None and time.monotonic() < deadline:
                time.sleep(0.01)
            w = w if gone is None else gone
        code = self._procs[w].exitcode
        return LocalFailure(
            f"preprocessing worker {w} died (exit code {code})", phase="preprocessing"
        )

    def _first_dead(self) -> int | None:
        """The first worker that exited on its own (not for a lost peer), if any."""
        for v, proc in enumerate(self._procs):
            if proc.exitcode not in (None, PEER_GONE):
                return v
        return None

    def _ask(self, messages: dict[int, tuple[str, Any]]) -> dict[int, tuple[str, Any]]:
        """Send each worker its command, gather every party's reply."""
        for w, message in messages.items():
            try:
                self._conns[w].send(message)
            except OSError:
                raise self._died(w) from None
        replies: dict[int, tuple[str, Any]] = {}
        for w in messages:
            try:
                answered = self._conns[w].poll(ROUND_TIMEOUT)
                if answered:
                    got, cpu = self._conns[w].recv()
            except (EOFError, OSError):
                raise self._died(w) from None
            if not answered:
                raise DeadlineExceeded(
                    f"preprocessing worker {w} gave no answer in {ROUND_TIMEOUT} s",
                    phase="preprocessing",
                )
            self.worker_cpu += cpu
            replies.update(got)
        return replies

    def run(
        self,
        step: Step,
        *args: Any,
        stats: HarnessStats | None = None,
        tamper: Tamper | None = None,
    ) -> list[Any]:
        """``run_local``'s lock step with the programs in the workers; same errors, same order.

        Messages go worker to worker (``party_mesh``) unless ``tamper`` must see them here.
        """
        stats = stats if stats is not None else HarnessStats()
        every = range(self.workers)
        mesh = tamper is None
        replies = self._ask({w: ("start", (step, args, mesh)) for w in every})
        results: list[Any] = [None] * self.m
        owners = list(self._owner.items())
        while True:
            errors = {i: r[1] for i, r in replies.items() if r[0] == "error"}
            if errors:
                self._ask({w: ("abort", None) for w in every})
                raise errors[min(errors)]
            done = {i for i, r in replies.items() if r[0] == "done"}
            for i in done:
                results[i] = replies[i][1]
            if len(done) == self.m:
                return results
            if done:
                self._ask({w: ("abort", None) for w in every})
                raise ProtocolViolation("parties fell out of step")
            tags = {tag_of(replies[i][1][0], stats.rounds + 1) for i in range(self.m)}
            if len(tags) != 1:
                self._ask({w: ("abort", None) for w in every})
                raise ProtocolViolation(f"parties fell out of step: {sorted(tags)}")
            tag = tags.pop()
            stats.rounds += 1
            inboxes = self._route(replies, tag, tamper, stats)
            replies = self._ask(
                {
                    w: ("round", None if mesh else {j: inboxes[j] for j, o in owners if o == w})
                    for w in every
                }
            )

    def _route(
        self,
        replies: dict[int, tuple[str, Any]],
        tag: str,
        tamper: Tamper | None,
        stats: HarnessStats,
    ) -> dict[int, dict[int, bytes]]:
        """Every receiver's encoded inbox (none with the mesh), counted as ``harness._route``
        counts it."""
        prefix = tag.split("/")[0]
        inboxes: dict[int, dict[int, bytes]] = {j: {} for j in range(self.m)}
        for i in range(self.m):
            kind, (_, wire, sizes) = replies[i]
            if kind == "pairwise":
                size = sum(sizes.values())
                stats.messages += len(sizes)
            else:
                size = sizes[i] * (self.m - 1)
                stats.messages += self.m - 1
            stats.bytes_sent += size
            stats.per_tag_prefix[prefix] = stats.per_tag_prefix.get(prefix, 0) + size
            for j, data in (wire or {}).items():
                if tamper is not None and i != j:
                    data = cbor2.dumps(tamper(i, j, tag, cbor2.loads(data)))
                inboxes[j][i] = data
        return inboxes

    def fetch(self) -> list[Any]:
        """The parties' objects as they are now in the workers (pickled back)."""
        got = self._ask({w: ("fetch", None) for w in range(self.workers)})
        return [got[i][1] for i in range(self.m)]

    def close(self) -> None:
        """Stop the workers (they hold key shares: never leave them running)."""
        for conn in self._conns:
            with contextlib.suppress(OSError, ValueError):
                conn.send(("close", None))
        for proc in self._procs:
            proc.join(timeout=5)
            if proc.is_alive():
                proc.terminate()
                proc.join()
        for conn in self._conns:
            conn.close()
        self._conns, self._procs = [], []

    def __enter__(self) -> WorkerParties:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def host_parties(
    objects: Sequence[Any],
    workers: int,
    *,
    init: tuple[Callable[..., Any], tuple[Any, ...]] | None = None,
) -> LocalParties | WorkerParties:
    """One worker (or one party): here; more: that many spawned processes."""
    if workers <= 1 or len(objects) <= 1:
        return LocalParties(objects)
    return WorkerParties(objects, workers, init=init)
