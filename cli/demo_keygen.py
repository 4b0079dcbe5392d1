"""``coopetition demo --keygen dkg|dealer``: make and check the threshold Paillier key first.

Plaintext ADMM does not encrypt, so the key is not used by the demo's training; this runs the
key generation Helen's setup will run (``dkg``: the distributed key generation among the demo's
parties, in this process for ``--transport memory`` and one process per party over TCP for
``--transport tcp``; ``dealer``: the trusted dealer, for comparison) and checks the key with a
threshold decryption of test values, every partial decryption with its proof.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

import trio

from coopetition.engine.errors import ConfigError
from coopetition.engine.local import local_configs, run_parties
from coopetition.protocols.paillier.dkg import DkgParams, DkgRun
from coopetition.protocols.paillier.threshold import (
    KeyShare,
    TrustedDealerKeyGeneration,
    threshold_decrypt,
)
from coopetition.protocols.zk.transcript import ProofContext
from coopetition.sims.dkg_local import run_dkg_processes
from coopetition.transports.memory import MemoryNetwork


def run_keygen(kind: str, parties: int, bits: int, transport: str, log: Any) -> dict[str, Any]:
    started = time.perf_counter()
    tried = None
    if kind == "dealer":
        dealer = TrustedDealerKeyGeneration(parties, bits)
        shares = dealer.key_shares()
    elif kind == "dkg":
        params = DkgParams(bits, parties)  # ConfigError below 3 parties or for a bad size

        def progress(p: Any) -> None:
            print(f"keygen: {p.candidates_tried} candidates tried", file=log, flush=True)

        if transport == "tcp":
            outcome = run_dkg_processes(params, progress=progress)
            if outcome.errors:
                raise ConfigError(f"the key generation aborted: {outcome.errors}")
            results = outcome.results
        else:
            results = trio.run(_memory_dkg, params, progress)
        shares = [results[i].key_share for i in range(parties)]
        tried = results[0].candidates_tried
    else:
        raise ConfigError(f"unknown key generation {kind!r}")
    seconds = time.perf_counter() - started
    _check(shares)
    tpk = shares[0].threshold_public
    print(
        f"keygen: {kind} made a {tpk.public.bits}-bit {parties}-party key "
        f"{tpk.public.fingerprint.hex()} in {seconds:.1f} s; threshold decryption with proofs ok",
        file=log,
    )
    report: dict[str, Any] = {
        "kind": kind,
        "bits": tpk.public.bits,
        "fingerprint": tpk.public.fingerprint.hex(),
        "seconds": round(seconds, 3),
        "checked": "threshold decryption of test values, every share proved",
    }
    if tried is not None:
        report["candidates_tried"] = tried
    return report


async def _memory_dkg(params: DkgParams, progress: Any) -> dict[int, Any]:
    ids = list(range(params.parties))
    session = secrets.token_bytes(16)
    runs = [
        DkgRun(i, tuple(ids), params, session=session, progress=progress if i == 0 else None)
        for i in ids
    ]
    run = await run_parties(local_configs(ids), MemoryNetwork(ids).transports(), runs)
    if not run.completed:
        raise ConfigError(f"the key generation aborted: {run.first_error()}")
    return run.results


def _check(shares: list[KeyShare]) -> None:
    tpk = shares[0].threshold_public
    values = [secrets.randbelow(1 << 62) - (1 << 61) for _ in range(3)]
    cts = [tpk.public.encrypt(v) for v in values]
    if threshold_decrypt(shares, cts, ProofContext(b"demo-keygen", "check", 0, 0)) != values:
        raise ConfigError("the generated key does not decrypt correctly")
