"""The key and all preprocessing of an in-process Helen run, on one core or on several.

``local_run.prepare_parties`` makes, in the starting process, what the m parties start with:

1. the threshold key from a trusted dealer (its two safe primes searched in parallel when
   there are workers: ``parallel_keys``);
2. the threshold-Paillier offline phase (``OfflineParty``): ring-Pedersen parameters,
   Enc(alpha_i) with range proofs, the ciphertext-carrying masks of Gadget 3's way back, and
   the statistical masks of the truncations and comparisons (range-proved contributions:
   per mask cheaper than MASCOT's w bits, docs/benchmarks.md);
3. MASCOT's setup, the MAC key binding against Enc(alpha_i) (``mascot_keybind``), then the
   triples and bits the iterations consume, moved into the offline stores.

Steps 2 and 3 are the parties' own programs in lock step. With ``workers`` > 1 each party's
objects (its Paillier side, offline party) live in worker process i mod w for the whole
preparation (``spdz.party_hosts.WorkerParties``), so the parties' arithmetic runs on w cores,
and step 3 runs beside step 2's masks on w more workers of its own, driven from a thread
(``_side_by_side``: MASCOT's lock step alone leaves about a fifth of two cores idle). The
same programs, the same checks (MASCOT's sacrifice and MAC checks, the key binding, the
offline phase's proofs) and the same batch sizes run in either layout. At the end the parties'
Paillier sides and stores come back to this process and are what ``HelenRun`` is given; the
copies in the workers end with them.

``stages`` (if given) receives, per stage, wall seconds, CPU seconds of this process and of
the workers, and the count of items made: ``sims/bench_helen_prepare.py`` reports them.
"""

from __future__ import annotations

import os
import resource
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from coopetition.protocols.helen.config import SECURE_KEY_BITS
from coopetition.protocols.helen.preprocess_phase import MASK_BATCH, batch_sizes
from coopetition.protocols.paillier.keys import (
    PublicKey,
    is_insecure_test_key,
    register_insecure_test_key,
)
from coopetition.protocols.paillier.parallel_keys import dealer_keypair
from coopetition.protocols.paillier.threshold import TrustedDealerKeyGeneration
from coopetition.protocols.spdz.conversion import RANGE, PaillierParty
from coopetition.protocols.spdz.harness import HarnessStats, Tamper
from coopetition.protocols.spdz.mascot import MascotParty
from coopetition.protocols.spdz.mascot_keybind import bind_mac_key
from coopetition.protocols.spdz.offline import OfflineParty
from coopetition.protocols.spdz.pairwise import MixedProgram
from coopetition.protocols.spdz.party_hosts import LocalParties, WorkerParties, host_parties
from coopetition.protocols.spdz.preprocessing import (
    Batch,
    InsecureDealerPreprocessing,
    PreprocessingStore,
    transfer_batches,
)
from coopetition.protocols.zk import range_params as rpm
from coopetition.protocols.zk.range_params import RingPedersen

#: MASCOT items per batch (``LocalMascot``'s default)
BATCH = 128


def children_cpu() -> float:
    """CPU seconds of this process's finished (joined) child processes."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def default_workers() -> int:
    """All local cores."""
    return max(1, os.cpu_count() or 1)


#: below this many MASCOT items (and with an INSECURE key) the default is one process: a
#: spawned worker costs a few CPU seconds of imports and table building, about what a couple
#: of hundred items cost. In effect this keeps only dealt (INSECURE dealer) runs in-process:
#: the smallest Helen shape with MASCOT (2 parties, 2 features, 1 iteration) needs ~1 160
#: items (triples and bits; its masks come from the offline phase), so every MASCOT run gets
#: a worker per core unless ``workers`` is given
MIN_ITEMS_FOR_WORKERS = 1000


def default_workers_for(plan: Plan, key_bits: int) -> int:
    """Every core when the work pays for the workers' start-up, else 1."""
    secure = key_bits >= SECURE_KEY_BITS  # safe primes for the key and each N~: always worth it
    return default_workers() if secure or plan.mascot_items >= MIN_ITEMS_FOR_WORKERS else 1


@dataclass
class PrepParty:
    """One party's preparation state, kept together so it can live in a worker process."""

    paillier: PaillierParty
    offline: OfflineParty | None = None
    store: PreprocessingStore | None = None
    mascot: MascotParty | None = None

    def __getstate__(self) -> dict[str, Any]:
        """What crosses between processes: the Paillier side and the store, which is all the
        parent uses. The offline and MASCOT parties are working state that stays in the
        process that ran them (the offline party's transcript is a hash object, which does
        not pickle: fetching it back failed every worker-made preparation)."""
        return {"paillier": self.paillier, "store": self.store, "offline": None, "mascot": None}


@dataclass
class Stage:
    """What one stage of the preparation cost."""

    wall: float = 0.0
    cpu_here: float = 0.0
    cpu_workers: float = 0.0
    items: int = 0

    def as_dict(self) -> dict[str, float | int]:
        return {
            "wall_s": round(self.wall, 3),
            "cpu_s": round(self.cpu_here + self.cpu_workers, 3),
            "cpu_here_s": round(self.cpu_here, 3),
            "cpu_workers_s": round(self.cpu_workers, 3),
            "items": self.items,
        }


@dataclass
class Plan:
    """The preprocessing a run needs: Paillier dual masks and MASCOT items (all iterations)."""

    dual_masks: tuple[int, int]  # (bits, count)
    triples: int
    bits: int
    bounded: tuple[tuple[int, int], ...]  # (bits, count)
    preprocessing: str = "mascot"
    stages: dict[str, Stage] = field(default_factory=dict)
    #: called with each stage's name and cost as it ends (progress lines)
    report: Callable[[str, Stage], None] | None = field(default=None, repr=False, compare=False)

    @property
    def paillier_masks(self) -> tuple[tuple[int, int], ...]:
        """The statistical masks the threshold-Paillier offline phase makes: all of them when
        MASCOT makes the triples and bits, none with the insecure dealer (which deals them)."""
        return self.bounded if self.preprocessing == "mascot" else ()

    @property
    def mascot_items(self) -> int:
        """Triples and bits that MASCOT makes (0 with the insecure dealer)."""
        if self.preprocessing != "mascot":
            return 0
        return self.triples + self.bits


# -- the steps the parties run (module level: a worker imports them by name) ------------------


def offline_setup(p: PrepParty) -> MixedProgram[None]:
    p.offline = OfflineParty(p.paillier)
    p.store = yield from p.offline.setup()


def offline_masks(p: PrepParty, count: int, bits: int) -> MixedProgram[None]:
    """``count`` range-proved masks of ``bits`` bits (with their ciphertexts) into the store."""
    assert p.offline is not None and p.store is not None
    p.store.add((yield from p.offline.bounded(count, bits)))


def mascot_setup(
    p: PrepParty, session: bytes, mascot_class: type[MascotParty]
) -> MixedProgram[PreprocessingStore]:
    p.mascot = mascot_class(
        p.paillier.party, p.paillier.parties, session, alpha_share=p.paillier.alpha_share
    )
    return (yield from p.mascot.setup())


def mascot_bind(p: PrepParty) -> MixedProgram[None]:
    assert p.mascot is not None
    yield from bind_mac_key(p.mascot, p.paillier)


def mascot_batch(p: PrepParty, kind: str, count: int, bits: int) -> MixedProgram[Batch]:
    assert p.mascot is not None
    if kind == "triples":
        return (yield from p.mascot.triples(count))
    if kind == "bits":
        return (yield from p.mascot.bits(count))
    return (yield from p.mascot.bounded(count, bits))


@contextmanager
def _stage(plan: Plan, name: str, host: Any, items: int = 0) -> Iterator[None]:
    # this thread's CPU: MASCOT's stages run in a second thread beside the masks'
    wall, cpu, workers = time.perf_counter(), time.thread_time(), host.worker_cpu
    try:
        yield
    finally:
        s = plan.stages.setdefault(name, Stage())
        s.wall += time.perf_counter() - wall
        s.cpu_here += time.thread_time() - cpu
        s.cpu_workers += host.worker_cpu - workers
        s.items += items
    if plan.report is not None:
        plan.report(name, s)


class _NoHost:
    worker_cpu = 0.0


def dealer(
    parties: int, bits: int, *, insecure_keypair: Any = None, workers: int = 1
) -> TrustedDealerKeyGeneration:
    """The trusted dealer's threshold key (safe primes searched on ``workers`` processes)."""
    if insecure_keypair is not None:
        return TrustedDealerKeyGeneration(
            parties, bits, insecure_allow_small=True, keypair=insecure_keypair
        )
    return TrustedDealerKeyGeneration(parties, bits, keypair=dealer_keypair(bits, workers))


def dealer_ring(bits: int, *, insecure: bool = False, workers: int = 1) -> RingPedersen:
    """The trusted dealer's one ring-Pedersen (N~, s, t) for every verifier's range proofs.

    Two fresh safe primes (searched on ``workers`` processes, as the key's), s = t^lambda; the
    factorisation and lambda are dropped here, as the dealer drops the key's p and q
    (docs/crypto.md, "A common ring-Pedersen modulus from the trusted dealer").
    """
    if insecure:
        return rpm.generate(bits, insecure_allow_small=True)[0]
    _, primes = dealer_keypair(bits, workers)
    return rpm.from_safe_primes(primes.p, primes.q)[0]


def admit_insecure(pk: PublicKey, rings: list[RingPedersen]) -> None:
    """In a worker: accept the INSECURE test key and small N~ its parent explicitly chose."""
    register_insecure_test_key(pk)
    for ring in rings:
        rpm.admit_insecure_modulus(ring)


def _insecure_choice(
    paillier: list[PaillierParty],
) -> tuple[Callable[..., None], tuple[Any, ...]] | None:
    """The worker init carrying this process's explicit INSECURE choice, if it made one.

    A small key or N~ is accepted only in the process that made it through the insecure test
    option (``keys``, ``range_params``). With an INSECURE test key the parties' small N~ are
    therefore made here, before the parties go to the workers, and every worker is told of
    exactly those moduli; with a secure key nothing is carried and each party makes its own
    2048-bit N~ in its worker, as before.
    """
    pk = paillier[0].pk
    if not is_insecure_test_key(pk):
        return None
    rings = []
    for p in paillier:
        if p.common_ring is not None:
            rings.append(p.common_ring)
        elif p.range_kind == RANGE and (p.ring is None or p.ring_secret is None):
            p.ring, p.ring_secret = rpm.generate(p.ring_bits, insecure_allow_small=True)
        if p.ring is not None:
            rings.append(p.ring)
    return admit_insecure, (pk, rings)


def make_preprocessing(
    paillier: list[PaillierParty],
    plan: Plan,
    session: bytes,
    *,
    workers: int = 1,
    tamper: Tamper | None = None,
    stats: HarnessStats | None = None,
    mascot_class: type[MascotParty] | None = None,
) -> tuple[list[PaillierParty], list[PreprocessingStore]]:
    """Steps 2 and 3 of the module docstring; returns the parties' Paillier sides and stores.

    The returned Paillier objects replace the ones passed in (with workers they are the
    workers' copies, which ran the setup and the key binding). ``tamper`` and ``mascot_class``
    (importable by name) let tests play a cheater in either layout.

    With workers, MASCOT runs beside the Paillier masks (``_side_by_side``): MASCOT's lock
    step leaves about a fifth of two cores idle (its rounds wait on the parent's routing),
    which the masks' exponentiations fill.
    """
    with _stage(plan, "start workers", _NoHost()):
        init = _insecure_choice(paillier) if workers > 1 else None
        host: LocalParties | WorkerParties = host_parties(
            [PrepParty(p) for p in paillier], workers, init=init
        )
    try:
        run = _runner(host, stats, tamper)
        with _stage(plan, "paillier offline setup", host):
            run(offline_setup)
        if plan.preprocessing == "insecure-dealer":
            _paillier_masks(plan, run, host)
            objects = host.fetch()
            stores = [o.store for o in objects]
            gen = InsecureDealerPreprocessing(
                len(stores), alpha_shares=[s.alpha_share for s in stores]
            )
            if plan.triples:
                gen.triples(plan.triples)
            gen.bits(plan.bits)
            for b, c in plan.bounded:
                gen.bounded(c, b)
            gen.transfer_to(stores)
            return [o.paillier for o in objects], stores
        if workers > 1 and plan.mascot_items:
            mascot_stores = _side_by_side(
                plan, run, host, session, mascot_class, workers, init, tamper, stats
            )
        else:
            _paillier_masks(plan, run, host)
            mascot_stores = _mascot(plan, run, host, session, mascot_class)
        with _stage(plan, "fetch and transfer", host):
            objects = host.fetch()
            stores = [o.store for o in objects]
            transfer_batches(mascot_stores, stores)
        return [o.paillier for o in objects], stores
    finally:
        host.close()


def _runner(
    host: Any, stats: HarnessStats | None, tamper: Tamper | None
) -> Callable[..., list[Any]]:
    """``host.run`` with this preparation's counters and test tamper bound in."""

    def run(step: Callable[..., Any], *args: Any) -> list[Any]:
        return host.run(step, *args, stats=stats, tamper=tamper)

    return run


def _paillier_masks(plan: Plan, run: Callable[..., list[Any]], host: Any) -> None:
    """The offline phase's dual and statistical masks, into each party's store."""
    for bits, count in (plan.dual_masks, *plan.paillier_masks):
        dual = (bits, count) == plan.dual_masks
        name = f"paillier {'dual masks' if dual else 'masks'} {bits}-bit"
        with _stage(plan, name, host, count):
            for k in batch_sizes(count, MASK_BATCH):
                run(offline_masks, k, bits)


def _mascot(
    plan: Plan,
    run: Callable[..., list[Any]],
    host: Any,
    session: bytes,
    mascot_class: type[MascotParty] | None,
) -> list[PreprocessingStore]:
    """MASCOT's setup, the MAC key binding, then the triples and bits; the parties' stores."""
    with _stage(plan, "mascot setup", host):
        mascot_stores: list[PreprocessingStore] = run(
            mascot_setup, session, mascot_class or MascotParty
        )
    with _stage(plan, "mascot key binding", host):
        run(mascot_bind)
    items = [("triples", plan.triples, 0, BATCH), ("bits", plan.bits, 0, BATCH)]
    for kind, count, bits, size in items:
        name = f"mascot {kind}" + (f" {bits}-bit" if bits else "")
        with _stage(plan, name, host, count):
            for k in batch_sizes(count, size):
                for store, batch in zip(
                    mascot_stores, run(mascot_batch, kind, k, bits), strict=True
                ):
                    store.add(batch)
    return mascot_stores


def _side_by_side(
    plan: Plan,
    run: Callable[..., list[Any]],
    host: Any,
    session: bytes,
    mascot_class: type[MascotParty] | None,
    workers: int,
    init: Any,
    tamper: Tamper | None,
    stats: HarnessStats | None,
) -> list[PreprocessingStore]:
    """The Paillier masks here and MASCOT in a thread, each on its own ``workers`` processes.

    MASCOT's parties get copies of the Paillier sides as they are after the offline setup
    (the key binding needs Enc(alpha_i)); the copies that go on to the online phase are the
    first host's. The two streams share nothing but the key and the MAC key shares, and their
    proofs carry different phase names, so their transcripts never meet. If the masks fail,
    MASCOT is stopped and the masks' error is raised; if MASCOT fails, its error is raised
    once the masks are done (the other stream is never left running).
    """
    copies = [PrepParty(o.paillier) for o in host.fetch()]
    mascot_host = host_parties(copies, workers, init=init)
    mascot_stats = HarnessStats()
    run_mascot = _runner(mascot_host, mascot_stats, tamper)
    failure: BaseException | None = None
    with ThreadPoolExecutor(1, thread_name_prefix="prep-mascot") as pool:
        future = pool.submit(_mascot, plan, run_mascot, mascot_host, session, mascot_class)
        try:
            _paillier_masks(plan, run, host)
        except BaseException as exc:
            failure = exc
            mascot_host.close()  # its thread then ends with "worker died": not the cause
        try:
            mascot_stores = future.result()
        except BaseException as exc:
            failure = failure or exc
        finally:
            mascot_host.close()
    if failure is not None:
        raise failure
    if stats is not None:
        stats.rounds += mascot_stats.rounds
        stats.bytes_sent += mascot_stats.bytes_sent
        stats.messages += mascot_stats.messages
        for prefix, size in mascot_stats.per_tag_prefix.items():
            stats.per_tag_prefix[prefix] = stats.per_tag_prefix.get(prefix, 0) + size
    return mascot_stores
