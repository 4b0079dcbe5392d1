"""MASCOT with the m parties spread over a few OS processes (one per core), no engine.

A middle layout between the one-process harness (``run_local``: every party's work on one
core) and one process per party over TCP with the engine (``mascot_processes``: signed,
encrypted frames, echoes). Here party i lives in worker process i mod w; each worker drives
its parties' programs in lock step exactly like ``run_local`` (every payload CBOR-encoded as
on the wire, broadcasts delivered to everyone, point-to-point messages only to their
receiver) and, once per round, swaps the encoded messages for the other workers' parties
through a pipe. So each party still computes only its own share of the work, and the figure
says what this machine's cores give when the parties' arithmetic runs in parallel; it leaves
out the engine's signing, encryption and echo broadcast (measured separately by
``mascot_processes``).
"""

from __future__ import annotations

import multiprocessing as mp
import threading
import time
from typing import Any

import cbor2

from coopetition.engine.allocator import tune_allocator
from coopetition.protocols.spdz.mascot import MascotParty
from coopetition.protocols.spdz.online import Exchange
from coopetition.protocols.spdz.pairwise import Pairwise
from coopetition.sims.mascot_processes import collect_marks, phase_rates, timed_fill


def _encode(sender: int, request: Exchange | Pairwise, m: int) -> dict[int, bytes]:
    """The wire bytes from ``sender`` to every receiver (a broadcast also to itself)."""
    if isinstance(request, Pairwise):
        return {j: cbor2.dumps(request.payloads[j]) for j in range(m) if j != sender}
    data = cbor2.dumps(request.payload)
    return dict.fromkeys(range(m), data)


def _worker(w: int, workers: int, m: int, job: dict[str, Any], links: list[Any], out: Any) -> None:
    tune_allocator()  # as the preparation's workers (engine.allocator)
    mine = [i for i in range(m) if i % workers == w]
    marks: dict[str, float] = {"start": time.perf_counter()}
    progs = {
        i: timed_fill(
            MascotParty(i, m, job["session"]), job["triples"], job["bits"], job["batch"], marks
        )
        for i in mine
    }
    try:
        requests = {i: progs[i].send(None) for i in mine}
        while True:
            wire = {i: _encode(i, requests[i], m) for i in mine}
            tags = {requests[i].tag for i in mine}
            senders = []
            for v, conn in enumerate(links):
                if conn is not None:  # everything my parties send to worker v's parties
                    bundle = {
                        (i, j): b for i in mine for j, b in wire[i].items() if j % workers == v
                    }
                    # Send from a thread: two workers sending megabytes at once would block.
                    senders.append(threading.Thread(target=conn.send, args=((tags, bundle),)))
                    senders[-1].start()
            for conn in links:
                if conn is not None:
                    their_tags, got = conn.recv()
                    if their_tags != tags:
                        raise RuntimeError(f"workers fell out of step: {tags} vs {their_tags}")
                    wire.update({i: {} for i, _ in got if i not in wire})
                    for (i, j), b in got.items():
                        wire[i][j] = b
            for thread in senders:
                thread.join()
            finished = 0
            for j in mine:
                inbox = {i: cbor2.loads(wire[i][j]) for i in wire if j in wire[i]}
                try:
                    requests[j] = progs[j].send(inbox)
                except StopIteration:
                    finished += 1
            if finished:
                if finished != len(mine):
                    raise RuntimeError("parties of one worker finished at different rounds")
                break
        out.put((w, marks))
    except BaseException as exc:  # report, never hang the parent
        out.put((w, {"error": repr(exc)}))
        raise


def run_workers(
    m: int, triples: int, bits: int, batch: int, workers: int = 2, timeout: float = 3600
) -> dict[str, Any]:
    """MASCOT for m parties on ``workers`` processes; rates use the slowest worker."""
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    ends: list[list[Any]] = [[None] * workers for _ in range(workers)]
    for a in range(workers):
        for b in range(a + 1, workers):
            ends[a][b], ends[b][a] = ctx.Pipe()
    job = {
        "session": f"bench-mascot-workers-{m}".encode(),
        "triples": triples,
        "bits": bits,
        "batch": batch,
    }
    procs = [
        ctx.Process(target=_worker, args=(w, workers, m, job, ends[w], out)) for w in range(workers)
    ]
    rates = phase_rates(collect_marks(procs, out, timeout, "worker"), triples, bits)
    return {"workers": workers} | {
        f"{k}_workers" if "per_" in k else f"workers_{k}": v for k, v in rates.items()
    }
