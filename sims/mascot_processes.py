"""MASCOT with every party in its own OS process, over loopback TCP and the real engine.

This is the deployment the protocol is built for (each party its own process or machine),
measured on one host: parties are started with ``multiprocessing`` (spawn), each runs the
engine (signed frames, keyed bus, broadcast echo) over a ``TcpTransport`` and one MASCOT phase
(:func:`coopetition.protocols.spdz.mascot_machine.mascot_run`) that sets up its OT links and
then fills its store with triples and bits. Each party reports when its set-up ended and
when its triples and its bits were done; rates use the slowest party.
"""

from __future__ import annotations

import multiprocessing as mp
import time
from typing import Any

import trio
from nacl.signing import SigningKey

from coopetition.engine.allocator import tune_allocator
from coopetition.engine.identity import Identity
from coopetition.engine.party import Deadlines, Party, PartyConfig
from coopetition.protocols.spdz.mascot import MascotParty
from coopetition.protocols.spdz.mascot_machine import mascot_run
from coopetition.protocols.spdz.pairwise import MixedProgram
from coopetition.sims.benchkit import free_ports
from coopetition.transports.tcp import PeerAddress, TcpTransport

#: One phase holds the whole fill; heartbeats keep running between compute steps.
DEADLINES = Deadlines(phase=3600, heartbeat_interval=2, heartbeat_timeout=120, finish=60)


def timed_fill(
    member: MascotParty, triples: int, bits: int, batch: int, marks: dict[str, float]
) -> MixedProgram[Any]:
    yield from member.setup()
    marks["setup"], marks["cpu_setup"] = time.perf_counter(), time.process_time()
    yield from member.fill(triples=triples, batch=batch)
    marks["triples"], marks["cpu_triples"] = time.perf_counter(), time.process_time()
    yield from member.fill(bits=bits, batch=batch)
    marks["bits"], marks["cpu_bits"] = time.perf_counter(), time.process_time()
    return member.store


async def _party(
    pid: int, m: int, seeds: list[bytes], ports: list[int], job: dict[str, Any]
) -> dict[str, float]:
    keys = [SigningKey(s) for s in seeds]
    roster = {p: keys[p].verify_key for p in range(m)}
    marks: dict[str, float] = {"start": time.perf_counter()}
    member = MascotParty(pid, m, job["session"])
    run = mascot_run(
        pid,
        tuple(range(m)),
        lambda: timed_fill(member, job["triples"], job["bits"], job["batch"], marks),
    )
    tcp = TcpTransport(
        pid,
        keys[pid],
        ("127.0.0.1", ports[pid]),
        {q: PeerAddress("127.0.0.1", ports[q], roster[q]) for q in range(m) if q != pid},
        connect_timeout=60,
    )
    async with tcp:
        config = PartyConfig(Identity(pid, keys[pid]), roster, job["session"], DEADLINES)
        await Party(config, tcp).run(run)
    return marks


def _child(
    pid: int, m: int, seeds: list[bytes], ports: list[int], job: dict[str, Any], out: Any
) -> None:
    tune_allocator()  # as the preparation's workers (engine.allocator)
    try:
        out.put((pid, trio.run(_party, pid, m, seeds, ports, job)))
    except BaseException as exc:  # report, never hang the parent
        out.put((pid, {"error": repr(exc)}))


def run_processes(
    m: int, triples: int, bits: int, batch: int, timeout: float = 3600
) -> dict[str, Any]:
    """Run m party processes; returns set-up seconds and triples/s and bits/s (slowest party)."""
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    seeds = [SigningKey.generate().encode() for _ in range(m)]
    ports = free_ports(m)
    job = {
        "session": f"bench-mascot-tcp-{m}".encode(),
        "triples": triples,
        "bits": bits,
        "batch": batch,
    }
    procs = [ctx.Process(target=_child, args=(p, m, seeds, ports, job, out)) for p in range(m)]
    rates = phase_rates(collect_marks(procs, out, timeout, "party"), triples, bits)
    return {f"{k}_processes_tcp" if "per_" in k else f"processes_{k}": v for k, v in rates.items()}


def collect_marks(
    procs: list[Any], out: Any, timeout: float, what: str
) -> dict[int, dict[str, float]]:
    """Start the processes, wait for each one's time marks, and never leave one behind."""
    for proc in procs:
        proc.start()
    marks: dict[int, dict[str, float]] = {}
    try:
        for _ in procs:
            who, got = out.get(timeout=timeout)
            marks[who] = got
    finally:
        for proc in procs:
            proc.join(timeout=10)
            if proc.is_alive():
                proc.kill()
    errors = {p: v["error"] for p, v in marks.items() if "error" in v}
    if errors:
        raise RuntimeError(f"MASCOT {what} processes failed: {errors}")
    return marks


def phase_rates(marks: dict[int, dict[str, float]], triples: int, bits: int) -> dict[str, Any]:
    """Wall rates from the slowest process; CPU rates from all processes' CPU seconds together
    (the engine, signing, TCP and MASCOT): with c idle cores the wall time is at least the
    CPU time divided by c."""
    setup_end = max(v["setup"] for v in marks.values())
    triples_end = max(v["triples"] for v in marks.values())
    bits_end = max(v["bits"] for v in marks.values())
    start = min(v["start"] for v in marks.values())
    cpu_triples = sum(v["cpu_triples"] - v["cpu_setup"] for v in marks.values())
    cpu_bits = sum(v["cpu_bits"] - v["cpu_triples"] for v in marks.values())
    return {
        "setup_s": round(setup_end - start, 2),
        "mascot_triples_per_s": round(triples / (triples_end - setup_end), 2),
        "mascot_triples_per_cpu_s": round(triples / cpu_triples, 2),
        "mascot_bits_per_s": round(bits / (bits_end - triples_end), 2) if bits else None,
        "mascot_bits_per_cpu_s": round(bits / cpu_bits, 2) if bits else None,
    }
