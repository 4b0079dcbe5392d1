"""Running this host's party of a real session: what ``party``, ``train`` and the API share.

``run_party_file`` connects (saying whom it waits for while it waits), trains, and returns the
outcome as a JSON-ready dict: the model with feature names and intercept, the residual history,
per-phase statistics and a per-phase timeline (what ``coopetition report`` draws).
``single_instance`` refuses a second process for the same party: it holds an exclusive lock on
the party's key file for the whole run.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import trio

from coopetition.cli_logging import PeerWatch
from coopetition.engine.errors import ConfigError, PeerUnreachable, ProtocolAborted, TransportError
from coopetition.engine.identity import Identity
from coopetition.engine.party import Party, PartyConfig
from coopetition.party_config import PartyFile
from coopetition.protocols.admm import AdmmRun, Objective
from coopetition.protocols.admm.session import AdmmResult
from coopetition.tabular import Table
from coopetition.transports.tcp import PeerAddress, TcpTransport

#: first "waiting for parties ..." line after this many seconds, then at this interval
WAIT_REPORT_FIRST = 2.0
WAIT_REPORT_EVERY = 10.0


@contextlib.contextmanager
def single_instance(spec: PartyFile) -> Iterator[None]:
    """Hold an exclusive lock on the key file; a second process for this party is refused."""
    fd = os.open(spec.key_path, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise ConfigError(
                    f"party {spec.party_id} is already running on this host (its key file "
                    f"{spec.key_path} is locked by another process)"
                ) from None
            raise
        yield
    finally:
        os.close(fd)


class Timeline:
    """A ``Party`` observer keeping, per party and phase, the first start and last end time."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.spans: dict[tuple[int, str], list[float]] = {}

    def __call__(self, party: int, phase: str, rnd: int, event: str) -> None:
        now = time.perf_counter() - self.started
        span = self.spans.setdefault((party, phase), [now, now])
        if event == "end":
            span[1] = now

    def as_list(self) -> list[dict[str, Any]]:
        return [
            {"party": p, "phase": phase, "start": round(a, 6), "end": round(b, 6)}
            for (p, phase), (a, b) in sorted(self.spans.items(), key=lambda kv: kv[1][0])
        ]


def observers(*fns: Any) -> Any:
    active = [f for f in fns if f is not None]

    def observe(party: int, phase: str, rnd: int, event: str) -> None:
        for fn in active:
            fn(party, phase, rnd, event)

    return observe


def result_dict(
    result: AdmmResult, table: Table, party: Party, timeline: Timeline
) -> dict[str, Any]:
    """The released model and how the run went, as plain JSON types."""
    coef = result.coef if result.coef is not None else result.model
    prediction = table.X @ coef + result.intercept
    residual = table.y - prediction
    spread = float(((table.y - table.y.mean()) ** 2).sum())
    scaling = result.scaling
    return {
        "outcome": "completed",
        "party": party.id,
        "protocol": "admm",
        "target": table.target_name,
        "feature_names": list(table.feature_names),
        "coef": [float(c) for c in coef],
        "intercept": float(result.intercept),
        "model": result.model.tolist(),
        "scaling": None
        if scaling is None
        else {
            "kind": scaling.kind,
            "feature_mean": scaling.x_mean.tolist(),
            "feature_scale": scaling.x_scale.tolist(),
            "target_mean": scaling.y_mean,
        },
        "iterations": result.iterations,
        "converged": result.converged,
        "local_rows": result.local_rows,
        "local_rmse": float(np.sqrt(np.mean(residual**2))),
        "local_r2": float(1 - (residual @ residual) / spread) if spread > 0 else None,
        "history": [
            {
                "primal": h.primal,
                "dual": h.dual,
                "primal_tolerance": h.primal_tolerance,
                "dual_tolerance": h.dual_tolerance,
                "rho": h.rho,
            }
            for h in result.history
        ],
        "transcript_sha256": party.transcript_digest,
        "stats": party.stats.as_dict(),
        "timeline": timeline.as_list(),
    }


async def _report_waiting(spec: PartyFile, watch: PeerWatch, log: Any) -> None:
    await trio.sleep(WAIT_REPORT_FIRST)
    started = trio.current_time() - WAIT_REPORT_FIRST
    while True:
        missing = [p for p in spec.peers if p.id not in watch.connected]
        if missing:
            waited = trio.current_time() - started
            log.info(
                "waiting_for_peers",
                parties=[p.id for p in missing],
                addresses=[f"{p.host}:{p.port}" for p in missing],
                waited_s=round(waited, 1),
                gives_up_after_s=spec.connect_timeout,
            )
        await trio.sleep(WAIT_REPORT_EVERY)


async def run_party_file(
    spec: PartyFile, table: Table, *, log: Any = None, progress: Any = None
) -> dict[str, Any]:
    """Connect to every peer, train, release; raises ``ProtocolAborted`` or ``ConfigError``."""
    timeline = Timeline()
    parties = tuple(sorted([spec.party_id, *(p.id for p in spec.peers)]))
    protocol: Any
    if spec.protocol == "helen":
        from coopetition.helen_party import helen_run

        protocol = helen_run(spec, table, parties)
    else:
        protocol = AdmmRun(spec.admm, table.X, table.y, party=spec.party_id, parties=parties)
    result, party = await run_over_tcp(
        spec, protocol, log=log, observer=observers(progress, timeline)
    )
    if spec.protocol == "helen":
        from coopetition.helen_party import helen_result_dict

        return {**helen_result_dict(result, table, party), "timeline": timeline.as_list()}
    return result_dict(result, table, party, timeline)


async def run_over_tcp(
    spec: PartyFile, protocol: Any, *, log: Any = None, observer: Any = None
) -> tuple[Any, Party]:
    """Run ``protocol`` as this party over TCP: connect to every peer, run, close; returns the
    protocol's result and the party (its transcript and statistics)."""
    identity = Identity(spec.party_id, spec.signing_key)
    roster = {p.id: p.verify_key for p in spec.peers}
    roster[spec.party_id] = identity.verify_key
    config = PartyConfig(identity, roster, spec.session, spec.deadlines)
    watch = PeerWatch(log) if log is not None else None
    transport = TcpTransport(
        spec.party_id,
        spec.signing_key,
        spec.listen,
        {p.id: PeerAddress(p.host, p.port, p.verify_key) for p in spec.peers},
        connect_timeout=spec.connect_timeout,
        logger=watch,
    )
    party = Party(config, transport, logger=log, observer=observer)
    try:
        await _connect_reporting(transport, spec, watch, log)
        result = await party.run(protocol)
    except TransportError as exc:
        raise PeerUnreachable(
            f"could not connect: {exc}", culprit=exc.peer, phase="connect"
        ) from None
    except ConfigError as exc:
        cause = exc.__cause__
        if isinstance(cause, OSError) and cause.errno == errno.EADDRINUSE:
            raise ConfigError(
                f"{exc} (is this party already running, or another program on that port?)"
            ) from None
        raise
    finally:
        await transport.aclose()
    return result, party


async def _connect_reporting(
    transport: TcpTransport, spec: PartyFile, watch: PeerWatch | None, log: Any
) -> None:
    """``transport.connect()`` while saying whom it waits for; raises what connect raises.

    The connect error is caught inside the nursery and raised outside it, so callers get the
    error itself rather than an exception group.
    """
    failure: Exception | None = None
    async with trio.open_nursery() as nursery:
        if watch is not None:
            nursery.start_soon(_report_waiting, spec, watch, log)
        try:
            await transport.connect()
        except Exception as exc:
            failure = exc
        finally:
            nursery.cancel_scope.cancel()
    if failure is not None:
        raise failure


def aborted_dict(spec: PartyFile, exc: ProtocolAborted) -> dict[str, Any]:
    return {
        "outcome": "aborted",
        "party": spec.party_id,
        "abort_code": exc.code,
        "abort_reason": exc.reason,
        "culprit": exc.culprit,
        "reported_by": exc.reported_by,
    }


def model_json(outcome: dict[str, Any], spec: PartyFile) -> dict[str, Any]:
    """The released model file: what a user loads to predict (``coopetition.load_model``)."""
    objective = spec.admm.objective
    if spec.protocol == "helen" and spec.helen is not None:
        objective = Objective(
            spec.helen.objective, lam=spec.helen.lam, l1_ratio=spec.helen.l1_ratio
        )
    keys = ("target", "feature_names", "coef", "intercept", "scaling", "iterations", "converged")
    return {
        "format": "coopetition-linear-model/1",
        "protocol": spec.protocol,
        "objective": objective.kind,
        "lam": objective.lam,
        "l1_ratio": objective.l1_ratio,
        "session": spec.session.hex(),
        "parties": len(spec.peers) + 1,
        **{k: outcome[k] for k in keys},
    }


def fresh_path(folder: Path, stem: str, suffix: str) -> Path:
    """``folder/stem.suffix``, or ``stem-2``, ``stem-3``... so nothing is ever overwritten."""
    candidate = folder / f"{stem}{suffix}"
    n = 2
    while candidate.exists():
        candidate = folder / f"{stem}-{n}{suffix}"
        n += 1
    return candidate
