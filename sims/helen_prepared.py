"""``bench helen --processes prepared``: one process per party, preprocessing made beforehand.

SPDZ splits its work into an offline phase (MAC keys, triples, bits, masks) and an online phase.
Here the offline phase is made in the bench's process exactly as the one-process layout makes it
(``local_run.prepare_parties``: the dealer's key, each party's MAC key, dual and statistical
masks, MASCOT over both cores in worker processes), then each party's own material goes into a private file and
each party runs the online phases (setup, input, local, coordinate, verify, release) in its own
OS process over loopback TCP, started as ``python -m coopetition.sims.helen_prepared FILE``.

Why: MASCOT moves about 155 kB per item and ordered pair of parties; over the signed, encrypted
bus (``--processes``, each party its own MASCOT) the song workload's preparation would push
about 160 GB per party through it. The worker processes move the same bytes without signing or
encrypting them, while the online phases, whose proofs keep the GIL (``zk.gil``), get a core
per party only in their own processes.

The files are pickles: written 0600 into a 0700 folder this process made, read once (and
deleted) by the child it started, never by anything else; the same trust as the pipes to
``local_prep``'s workers. This is a measurement layout, not a deployment path: a real party makes
its own preprocessing with the others (docs/deployment.md).
"""

from __future__ import annotations

import json
import os
import pickle
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import trio
from nacl.signing import SigningKey, VerifyKey

from coopetition.engine.config import Deadlines, PartyConfig
from coopetition.engine.errors import ConfigError, ProtocolAborted
from coopetition.engine.identity import Identity
from coopetition.engine.party import Party
from coopetition.protocols.helen import preprocess_phase as pre
from coopetition.protocols.helen.config import HelenConfig
from coopetition.protocols.helen.local_prep import admit_insecure
from coopetition.protocols.helen.local_run import prepare_parties
from coopetition.protocols.helen.session import HelenRun
from coopetition.protocols.paillier.keys import is_insecure_test_key
from coopetition.sims.benchkit import free_ports
from coopetition.sims.helen_processes import ProcessRun, run_commands, write_secret
from coopetition.sims.helen_progress import PhaseProgress, prep_printer
from coopetition.transports.tcp import TcpTransport
from coopetition.transports.tcp_core import PeerAddress

__all__ = ["bench_run", "main"]


def write_party_files(
    folder: Path,
    parts: Sequence[tuple[np.ndarray, np.ndarray]],
    config: HelenConfig,
    material: tuple[list[Any], list[Any], dict[str, str]],
    *,
    rows: int,
    session: bytes,
    deadlines: Deadlines,
) -> list[Path]:
    """One 0600 file per party: its data, key share, MAC key and preprocessing, identity and
    the roster (everyone's address and public key)."""
    paillier, stores, provenance = material
    pk = paillier[0].pk
    # an INSECURE test key and its small N~ are admitted only in the process that made them
    # (or was told so by it, as local_prep tells its workers): the child is told the same
    rings = [r for p in paillier for r in (p.ring, p.common_ring) if r is not None]
    insecure = (pk, rings) if is_insecure_test_key(pk) else None
    keys = [SigningKey.generate() for _ in parts]
    ports = free_ports(len(parts))
    roster = {i: ("127.0.0.1", ports[i], bytes(k.verify_key)) for i, k in enumerate(keys)}
    paths = []
    for i, (X, y) in enumerate(parts):
        payload = {
            "party": i,
            "parties": tuple(range(len(parts))),
            "config": config,
            "X": X,
            "y": y,
            "rows": rows,
            "paillier": paillier[i],
            "store": stores[i],
            "provenance": provenance,
            "session": session,
            "signing_key": bytes(keys[i]),
            "roster": roster,
            "deadlines": deadlines,
            "insecure": insecure,
        }
        path = folder / f"party{i}.prepared"
        write_secret(path, pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL))
        paths.append(path)
    return paths


async def run_party(payload: dict[str, Any], progress: TextIO | None) -> dict[str, Any]:
    """This party's online phases over TCP; its released model, run record and statistics."""
    me = payload["party"]
    identity = Identity(me, SigningKey(payload["signing_key"]))
    roster = {p: VerifyKey(key) for p, (_, _, key) in payload["roster"].items()}
    config = PartyConfig(identity, roster, payload["session"], payload["deadlines"])
    peers = {
        p: PeerAddress(host, port, VerifyKey(key))
        for p, (host, port, key) in payload["roster"].items()
        if p != me
    }
    listen = payload["roster"][me][:2]
    transport = TcpTransport(me, identity.signing_key, listen, peers, connect_timeout=600.0)
    helen = payload["config"]
    observer = (
        None
        if progress is None
        else PhaseProgress(progress, helen.iterations, skip=(pre.OFFLINE_PHASE, pre.MASCOT_PHASE))
    )
    protocol = HelenRun(
        helen,
        payload["X"],
        payload["y"],
        party=me,
        parties=payload["parties"],
        paillier=payload["paillier"],
        store=payload["store"],
        rows=payload["rows"],
        provenance=payload["provenance"],
    )
    party = Party(config, transport, observer=observer)
    try:
        await transport.connect()
        result = await party.run(protocol)
    finally:
        await transport.aclose()
    return {
        "model": np.asarray(result.model, dtype=float).tolist(),
        "record": result.record,
        "stats": party.stats.as_dict(),
    }


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m coopetition.sims.helen_prepared FILE [--progress]``: one party; the outcome
    as one JSON line on stdout (exit 0), or one line on stderr (3: aborted, 2: bad file)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args:
        print("error: usage: helen_prepared FILE [--progress]", file=sys.stderr)
        return 2
    path = Path(args[0])
    try:
        data = path.read_bytes()
    except OSError as exc:
        print(f"error: {path}: {exc.strerror}", file=sys.stderr)
        return 2
    path.unlink()  # the party's secrets live on in this process only
    payload = pickle.loads(data)
    if payload["insecure"] is not None:
        admit_insecure(*payload["insecure"])
    progress = sys.stderr if "--progress" in args else None
    try:
        outcome = trio.run(run_party, payload, progress)
    except ProtocolAborted as exc:
        print(f"aborted: {exc}", file=sys.stderr)
        return 3
    print(json.dumps(outcome, sort_keys=True))
    return 0


def bench_run(
    parts: Sequence[tuple[np.ndarray, np.ndarray]],
    config: HelenConfig,
    rows: int,
    *,
    work_dir: Path,
    deadlines: Deadlines,
    workers: int | None = None,
    progress: TextIO | None = None,
) -> ProcessRun:
    """The offline phase here (timed as "prepare"), then one online process per party."""
    if len(parts) < 2:
        raise ConfigError("training needs at least two parties")
    session = os.urandom(16)
    d = parts[0][0].shape[1]
    started = time.perf_counter()
    material = prepare_parties(
        config,
        len(parts),
        d,
        rows,
        session,
        workers=workers,
        progress=None if progress is None else prep_printer(progress, started),
    )
    prepared = time.perf_counter()
    os.chmod(work_dir, 0o700)
    paths = write_party_files(
        work_dir, parts, config, material, rows=rows, session=session, deadlines=deadlines
    )
    del material
    module = [sys.executable, "-m", "coopetition.sims.helen_prepared"]
    commands = [
        [*module, str(p), *(["--progress"] if progress is not None and i == 0 else [])]
        for i, p in enumerate(paths)
    ]
    finished = run_commands(commands, [work_dir] * len(paths), progress=progress)
    return ProcessRun.of(finished, prepared - started, time.perf_counter() - started)


if __name__ == "__main__":
    raise SystemExit(main())
