"""One party of a soak run, as its own OS process: ``python -m coopetition.sims.soak_party SPEC``.

(or ``--serve``: one spec path per line on stdin, see ``serve``). SPEC is a JSON file written by ``sims/soak.py``: the party's id and secret key, every party's
public key and loopback port, the session id, the data file, the ADMM parameters, the deadlines
and the link or Byzantine fault this process injects. The stack is the one of
``tests/test_faults_tcp.py``: ``TcpTransport`` on 127.0.0.1, a fault layer (the WAN simulator
with an ideal topology, holding this process's link faults for the links it sends on), the
reliable layer, and the party runtime with an optional Byzantine payload hook.

Writes one JSON object to the output path: ``outcome`` (completed / aborted), the model or the
abort code and culprit, and the wall time. Exit codes: 0 completed, 3 aborted.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import trio
from nacl.signing import SigningKey, VerifyKey

from coopetition.engine.errors import ProtocolAborted, TransportError
from coopetition.engine.identity import Identity
from coopetition.engine.party import Deadlines, Party, PartyConfig
from coopetition.protocols.admm import AdmmConfig, AdmmRun, Objective
from coopetition.sims.byzantine import Byzantine
from coopetition.transports.faults import Corrupt, Delay, Partition, ideal_topology
from coopetition.transports.reliable import ReliableTransport
from coopetition.transports.tcp import PeerAddress, TcpTransport
from coopetition.transports.wan import WanSimulator

LINK_FAULTS = {"partition": Partition, "delay": Delay, "corrupt": Corrupt}


def build_faults(spec: dict[str, Any]) -> tuple[list[Any], Any]:
    """(link faults, Byzantine fault or None) from the spec's ``fault`` entry."""
    fault = spec.get("fault") or {}
    kind = fault.get("kind")
    params = fault.get("params", {})
    if kind in LINK_FAULTS:
        return [LINK_FAULTS[kind](**params)], None
    if kind == "equivocate" and params.get("party") == spec["party"]:
        return [], Byzantine(**params)
    return [], None


async def run_party(spec: dict[str, Any]) -> dict[str, Any]:
    pid = spec["party"]
    ids = sorted(int(p) for p in spec["ports"])
    key = SigningKey(bytes.fromhex(spec["secret_key"]))
    roster = {int(p): VerifyKey(bytes.fromhex(h)) for p, h in spec["public_keys"].items()}
    ports = {int(p): port for p, port in spec["ports"].items()}
    deadlines = Deadlines(**spec["deadlines"])
    admm = spec["admm"]
    config = AdmmConfig(
        Objective(admm["objective"], lam=admm["lam"], l1_ratio=admm["l1_ratio"]),
        rho=admm["rho"],
        iterations=admm["iters"],
    )
    with np.load(spec["data"]) as archive:
        X, y = archive["X"], archive["y"]
    link_faults, byzantine = build_faults(spec)
    tcp = TcpTransport(
        pid,
        key,
        ("127.0.0.1", ports[pid]),
        {q: PeerAddress("127.0.0.1", ports[q], roster[q]) for q in ids if q != pid},
        connect_timeout=spec["connect_timeout"],
    )
    try:
        async with (
            tcp,
            WanSimulator(ideal_topology(ids), seed=spec["seed"], faults=link_faults) as sim,
        ):
            transport = ReliableTransport(sim.wrap(tcp), rto_initial=0.2, rto_max=0.5)
            hook = byzantine.hook(sim.schedule, ids) if byzantine else None
            party = Party(
                PartyConfig(Identity(pid, key), roster, bytes.fromhex(spec["session"]), deadlines),
                transport,
                payload_hook=hook,
            )
            Path(spec["marker"]).touch()  # the driver fires crash/stop faults after this
            try:
                result = await party.run(AdmmRun(config, X, y, party=pid, parties=tuple(ids)))
                outcome: dict[str, Any] = {"outcome": "completed", "model": result.model.tolist()}
            except ProtocolAborted as exc:
                outcome = {"outcome": "aborted", "abort_code": exc.code, "culprit": exc.culprit}
            await transport.drain(1.0)
    except TransportError as exc:  # could not connect (a peer was killed before connecting)
        outcome = {"outcome": "aborted", "abort_code": "connect_failed", "culprit": exc.peer}
    return outcome


def run_spec(path: str) -> int:
    spec = json.loads(Path(path).read_text())
    started = time.perf_counter()
    outcome = trio.run(run_party, spec)
    outcome["party"] = spec["party"]
    outcome["wall_seconds"] = round(time.perf_counter() - started, 3)
    Path(spec["output"]).write_text(json.dumps(outcome))
    return 0 if outcome["outcome"] == "completed" else 3


def serve() -> None:
    """Long-lived mode: one spec path per line on stdin, one session each, ``done`` on stdout.

    The soak keeps one such process per party across sessions, so memory, descriptors or
    threads that a session leaves behind accumulate where the soak measures them."""
    print("ready", flush=True)
    for line in sys.stdin:
        run_spec(line.strip())
        print("done", flush=True)


def main(argv: list[str]) -> int:
    if argv == ["--serve"]:
        serve()
        return 0
    return run_spec(argv[0])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
