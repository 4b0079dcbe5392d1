"""Run a distributed key generation with every party in its own process, over real TCP.

This is how the benchmark measures the DKG (one process per party, as on separate hosts, so
the parties' arithmetic runs in parallel on every core) and what ``coopetition keys dkg`` runs
for one party of a multi-host session (``run_dkg_party``).
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import trio
from nacl.signing import SigningKey, VerifyKey

from coopetition.engine.errors import PartyId, PeerUnreachable, ProtocolAborted, TransportError
from coopetition.engine.identity import Identity
from coopetition.engine.party import Deadlines, Party, PartyConfig
from coopetition.protocols.paillier.dkg import DkgParams, DkgProgress, DkgResult, DkgRun
from coopetition.sims.benchkit import free_ports
from coopetition.transports.tcp import PeerAddress, TcpTransport


@dataclass(frozen=True)
class DkgPeer:
    id: PartyId
    host: str
    port: int
    verify_key: VerifyKey


async def run_dkg_party(
    party_id: PartyId,
    signing_key: SigningKey,
    listen: tuple[str, int],
    peers: list[DkgPeer],
    params: DkgParams,
    session: bytes,
    deadlines: Deadlines,
    *,
    progress: Callable[[DkgProgress], None] | None = None,
    audit_fraction: float = 0.125,
) -> DkgResult:
    """One party of a DKG over TCP; returns its result or raises one ``ProtocolAborted``."""
    identity = Identity(party_id, signing_key)
    roster = {p.id: p.verify_key for p in peers}
    roster[party_id] = identity.verify_key
    config = PartyConfig(identity, roster, session, deadlines)
    transport = TcpTransport(
        party_id,
        signing_key,
        listen,
        {p.id: PeerAddress(p.host, p.port, p.verify_key) for p in peers},
        connect_timeout=deadlines.heartbeat_timeout,
    )
    run = DkgRun(
        party_id,
        config.parties,
        params,
        session=session,
        audit_fraction=audit_fraction,
        progress=progress,
    )
    try:
        async with transport:
            result: DkgResult = await Party(config, transport).run(run)
    except TransportError as exc:
        raise PeerUnreachable(
            f"could not connect: {exc}", culprit=exc.peer, phase="connect"
        ) from None
    return result


def _child(
    party_id: int,
    key_bytes: bytes,
    ports: list[int],
    verify_keys: list[bytes],
    params: DkgParams,
    session: bytes,
    deadlines: Deadlines,
    audit_fraction: float,
    queue: Any,
    report_progress: bool,
) -> None:
    peers = [
        DkgPeer(j, "127.0.0.1", ports[j], VerifyKey(verify_keys[j]))
        for j in range(len(ports))
        if j != party_id
    ]

    def progress(p: DkgProgress) -> None:
        if report_progress:
            queue.put(("progress", p))

    try:
        result = trio.run(
            lambda: run_dkg_party(
                party_id,
                SigningKey(key_bytes),
                ("127.0.0.1", ports[party_id]),
                peers,
                params,
                session,
                deadlines,
                progress=progress,
                audit_fraction=audit_fraction,
            )
        )
        queue.put(("result", party_id, result, time.process_time()))
    except ProtocolAborted as exc:
        queue.put(("error", party_id, f"{type(exc).__name__}: {exc}", exc.culprit))


@dataclass
class LocalDkgOutcome:
    results: dict[int, DkgResult]
    errors: dict[int, tuple[str, int | None]]
    seconds: float
    cpu_seconds: dict[int, float]


def run_dkg_processes(
    params: DkgParams,
    *,
    deadlines: Deadlines | None = None,
    audit_fraction: float = 0.125,
    progress: Callable[[DkgProgress], None] | None = None,
    timeout: float = 3600.0,
) -> LocalDkgOutcome:
    """All m parties, one spawned process each, connected over TCP on 127.0.0.1."""
    m = params.parties
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    keys = [SigningKey.generate() for _ in range(m)]
    ports = free_ports(m)
    session = os.urandom(16)
    deadlines = deadlines or Deadlines()
    started = time.perf_counter()
    procs = [
        ctx.Process(
            target=_child,
            args=(
                i,
                bytes(keys[i]),
                ports,
                [bytes(k.verify_key) for k in keys],
                params,
                session,
                deadlines,
                audit_fraction,
                queue,
                i == 0 and progress is not None,
            ),
            daemon=True,
        )
        for i in range(m)
    ]
    for proc in procs:
        proc.start()
    results: dict[int, DkgResult] = {}
    errors: dict[int, tuple[str, int | None]] = {}
    cpu: dict[int, float] = {}
    try:
        while len(results) + len(errors) < m:
            remaining = timeout - (time.perf_counter() - started)
            if remaining <= 0:
                raise TimeoutError(f"the DKG did not finish within {timeout} s")
            item = queue.get(timeout=remaining)
            if item[0] == "progress":
                if progress is not None:
                    progress(item[1])
            elif item[0] == "result":
                results[item[1]] = item[2]
                cpu[item[1]] = item[3]
            else:
                errors[item[1]] = (item[2], item[3])
    finally:
        for proc in procs:
            proc.join(timeout=10)
            if proc.is_alive():
                proc.kill()
    return LocalDkgOutcome(results, errors, time.perf_counter() - started, cpu)
