"""Train with Helen among m in-process parties (memory transport by default).

What happens before the parties start, in this process, and is recorded as such in the run
record (``key_generation``, ``preprocessing``):

* the threshold Paillier key comes from a TRUSTED DEALER (``TrustedDealerKeyGeneration``; the
  dealer knows the decryption key), with a small INSECURE cached test key when
  ``config.key_bits < 2048`` (``config.insecure`` required);
* the SPDZ MAC key, the ciphertext-carrying masks of Gadget 3's way back and the statistical
  masks of the truncations and comparisons come from the real threshold-Paillier offline phase
  (``OfflineParty``, range-proved contributions);
* triples and bits come from MASCOT (``preprocessing="mascot"``, real OT based), or triples,
  bits and the statistical masks from an INSECURE dealer that knows the MAC key
  (``"insecure-dealer"``, tests).

With ``per_party=True`` (or ``keygen="dkg"``) each party instead makes its own MAC key and
preprocessing over the bus inside the session (``preprocess_phase``), as one OS process per
party does (``coopetition party``); the key share then comes from the dealer (handed to the
party like a key file) or, with ``keygen="dkg"``, from the in-session distributed key generation
(no dealer at all).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from coopetition.engine.errors import ConfigError, PartyId
from coopetition.engine.local import LocalRun, local_configs, run_parties
from coopetition.engine.party import Deadlines
from coopetition.protocols.admm.local import check_data
from coopetition.protocols.helen import coordinate_phase as coord
from coopetition.protocols.helen import local_prep
from coopetition.protocols.helen.config import SECURE_KEY_BITS, HelenConfig
from coopetition.protocols.helen.key_phase import KeySetup
from coopetition.protocols.helen.session import HelenRun
from coopetition.protocols.paillier.keys import insecure_test_keypair
from coopetition.protocols.paillier.threshold import TrustedDealerKeyGeneration
from coopetition.protocols.spdz.conversion import PaillierParty
from coopetition.transports.base import Transport
from coopetition.transports.memory import MemoryNetwork


def dealer_key(parties: int, config: HelenConfig, workers: int = 1) -> TrustedDealerKeyGeneration:
    """The threshold key from a trusted dealer (INSECURE cached test key below 2048 bits).

    A secure key's two safe primes are searched in parallel when ``workers`` > 1.
    """
    if config.key_bits < SECURE_KEY_BITS:
        return local_prep.dealer(
            parties, config.key_bits, insecure_keypair=insecure_test_keypair(config.key_bits)
        )
    return local_prep.dealer(parties, config.key_bits, workers=workers)


def preprocessing_plan(
    config: HelenConfig, parties: int, features: int, rows: int
) -> local_prep.Plan:
    """How much of each item the whole run consumes (deterministic in the agreed shape)."""
    scales = config.scales(features, rows, parties)
    bits, count = coord.dual_masks_per_iteration(scales, config.objective)
    need = coord.needs_per_iteration(scales, config.objective)
    it = config.iterations
    return local_prep.Plan(
        dual_masks=(bits, count * it),
        triples=need.triples * it,
        bits=need.bits * it,
        bounded=tuple((b, c * it) for b, c in need.bounded),
        preprocessing=config.preprocessing,
    )


def prepare_parties(
    config: HelenConfig,
    parties: int,
    features: int,
    rows: int,
    session: bytes,
    paillier_class: dict[int, type[PaillierParty]] | None = None,
    *,
    workers: int | None = None,
    stages: dict[str, local_prep.Stage] | None = None,
    progress: Callable[[str, local_prep.Stage], None] | None = None,
) -> tuple[list[PaillierParty], list, dict[str, str]]:
    """Key shares, MAC key and all preprocessing of a run, made in this process.

    ``workers`` processes carry the parties' preprocessing programs and the dealer's
    safe-prime search (``local_prep``); 1 = all in this process. Default: every local core
    when the work pays for the workers' start-up (a secure key, or at least
    ``local_prep.MIN_ITEMS_FOR_WORKERS`` MASCOT items), else 1.
    Custom ``paillier_class`` parties (tests' cheaters) stay in this process. ``stages``
    receives what each stage cost; ``progress`` is called as each stage ends.
    """
    plan = preprocessing_plan(config, parties, features, rows)
    plan.report = progress
    if workers is None:
        workers = local_prep.default_workers_for(plan, config.key_bits)
    if workers < 1:
        raise ConfigError(f"workers must be at least 1, got {workers}")
    if paillier_class:  # a test's class may not be importable in a spawned worker
        workers = 1
    t0, c0, k0 = time.perf_counter(), time.process_time(), local_prep.children_cpu()
    kg = dealer_key(parties, config, workers)
    key_stage = plan.stages.setdefault("dealer key", local_prep.Stage())
    key_stage.wall, key_stage.cpu_here = time.perf_counter() - t0, time.process_time() - c0
    key_stage.cpu_workers = local_prep.children_cpu() - k0  # the safe-prime processes
    if progress is not None:
        progress("dealer key", key_stage)
    classes = paillier_class or {}
    reps: dict[str, Any] = (
        {}
        if config.interval_repetitions is None
        else {"interval_repetitions": config.interval_repetitions}
    )
    paillier = [
        classes.get(i, PaillierParty)(kg.key_share(i), session, **reps) for i in range(parties)
    ]
    if config.dealer_ring:  # the dealer's one N~ for every verifier (local_prep.dealer_ring)
        t0, c0, k0 = time.perf_counter(), time.process_time(), local_prep.children_cpu()
        bits = paillier[0].ring_bits  # the gadgets' size (2048 unless the key is INSECURE)
        ring = local_prep.dealer_ring(bits, insecure=bits < SECURE_KEY_BITS, workers=workers)
        for p in paillier:
            p.common_ring = ring
        ring_stage = plan.stages.setdefault("dealer ring-Pedersen modulus", local_prep.Stage())
        ring_stage.wall, ring_stage.cpu_here = time.perf_counter() - t0, time.process_time() - c0
        ring_stage.cpu_workers = local_prep.children_cpu() - k0
        if progress is not None:
            progress("dealer ring-Pedersen modulus", ring_stage)
    # Handing MASCOT the Paillier parties (not just their alpha_i) makes it run the key
    # binding (``mascot_keybind``): COPE's key shares must be those inside Enc(alpha_i).
    paillier, stores = local_prep.make_preprocessing(
        paillier, plan, session + b"/mascot", workers=workers
    )
    if stages is not None:
        stages.update(plan.stages)
    provenance = {
        "key_generation": "trusted-dealer"
        + (" (INSECURE test key)" if config.key_bits < SECURE_KEY_BITS else ""),
        "key_bits": str(config.key_bits),
        "preprocessing": config.preprocessing
        + (" (triples, bits)" if config.preprocessing == "mascot" else " (triples, bits, masks)")
        + "; threshold-Paillier offline phase (MAC key, dual masks"
        + (", statistical masks)" if config.preprocessing == "mascot" else ")"),
    }
    return paillier, stores, provenance


def check_parts(parts: Sequence[tuple[np.ndarray, np.ndarray]]) -> None:
    """Refuse bad data before any cryptography, naming the party and the problem."""
    widths = set()
    for pid, (X, y) in enumerate(parts):
        try:
            X, y = check_data(X, y)
        except ConfigError as exc:
            raise ConfigError(f"party {pid}: {exc}") from exc
        n, d = X.shape
        if n < d:
            raise ConfigError(f"party {pid}: {n} rows for {d} features (needs n_i >= d)")
        constant = [j for j in range(d) if np.ptp(X[:, j]) == 0]
        if constant:
            raise ConfigError(f"party {pid}: constant column(s) {constant}")
        widths.add(d)
    if len(widths) > 1:
        raise ConfigError(f"parties hold different numbers of features: {sorted(widths)}")


def helen_runs(
    parts: Sequence[tuple[np.ndarray, np.ndarray]],
    config: HelenConfig,
    session: bytes,
    *,
    paillier_class: dict[int, type[PaillierParty]] | None = None,
    run_class: dict[int, type[HelenRun]] | None = None,
    keygen: str = "dealer",
    per_party: bool = False,
    workers: int | None = None,
    prep_progress: Callable[[str, local_prep.Stage], None] | None = None,
) -> list[HelenRun]:
    """Checked data, key shares and preprocessing, and one ``HelenRun`` per party (0..m-1).

    ``session`` must be the session id the parties run under (the proofs bind to it).
    ``keygen`` is ``"dealer"`` (trusted dealer, in this process) or ``"dkg"`` (in-session
    distributed key generation, which implies ``per_party``); ``per_party`` makes every
    party's preprocessing over the bus instead of in this process. ``workers`` is how many
    processes make the preprocessing in this process (default: see ``prepare_parties``);
    ``prep_progress`` is called as each of its stages ends.
    """
    if len(parts) < 2:
        raise ConfigError("training needs at least two parties")
    check_parts(parts)
    if keygen not in ("dealer", "dkg"):
        raise ConfigError(f"keygen must be 'dealer' or 'dkg', got {keygen!r}")
    ids = list(range(len(parts)))
    d = parts[0][0].shape[1]
    rows = max(len(X) for X, _ in parts)
    if keygen == "dkg" or per_party:
        if keygen == "dkg":
            keys = [KeySetup.distributed() for _ in ids]
        else:
            dealer = dealer_key(  # only a secure key is searched for (else the cached one)
                len(ids), config, local_prep.default_workers() if workers is None else workers
            )
            keys = [KeySetup.from_share(dealer.key_share(i), "trusted-dealer") for i in ids]
        return [
            (run_class or {}).get(pid, HelenRun)(
                config,
                X,
                y,
                party=pid,
                parties=tuple(ids),
                rows=rows,
                key=keys[pid],
                session=session,
            )
            for pid, (X, y) in zip(ids, parts, strict=True)
        ]
    paillier, stores, provenance = prepare_parties(
        config,
        len(parts),
        d,
        rows,
        session,
        paillier_class,
        workers=workers,
        progress=prep_progress,
    )
    return [
        (run_class or {}).get(pid, HelenRun)(
            config,
            X,
            y,
            party=pid,
            parties=tuple(ids),
            paillier=paillier[pid],
            store=stores[pid],
            rows=rows,
            provenance=provenance,
        )
        for pid, (X, y) in zip(ids, parts, strict=True)
    ]


async def train_locally(
    parts: Sequence[tuple[np.ndarray, np.ndarray]],
    config: HelenConfig,
    *,
    transports: Sequence[Transport] | None = None,
    deadlines: Deadlines | None = None,
    session: bytes = b"helen-local",
    paillier_class: dict[int, type[PaillierParty]] | None = None,
    run_class: dict[int, type[HelenRun]] | None = None,
    party_options: Callable[[PartyId], dict[str, Any]] | None = None,
    keygen: str = "dealer",
    per_party: bool = False,
    workers: int | None = None,
    prep_progress: Callable[[str, local_prep.Stage], None] | None = None,
) -> LocalRun:
    """Run Helen with one party per ``(X_i, y_i)``; parties are numbered 0..m-1.

    ``keygen``, ``per_party`` and ``workers`` as for ``helen_runs``. The default deadlines are the engine's
    (``Deadlines()``): the phases' proof steps run in worker threads (``engine.compute``), so
    in-process parties keep exchanging heartbeats while one of them proves.
    """
    protocols = helen_runs(
        parts,
        config,
        session,
        paillier_class=paillier_class,
        run_class=run_class,
        keygen=keygen,
        per_party=per_party,
        workers=workers,
        prep_progress=prep_progress,
    )
    ids = list(range(len(parts)))
    if transports is None:
        transports = MemoryNetwork(ids).transports()
    configs = local_configs(ids, session=session, deadlines=deadlines)
    return await run_parties(configs, transports, protocols, party_options=party_options)
