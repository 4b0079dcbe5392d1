"""One batch of the distributed key generation as a sans-IO program (see ``machine.py``).

Rounds of a batch of K candidates (every message goes through the engine's signed bus;
broadcasts through its consistent broadcast):

commit      broadcast  hash commitments to the K candidate seeds (all randomness of the batch)
sieve-deal  private    Shamir shares of the sieve values and masks
reshare-i   private    degree reduction of the products (1 level for m = 3, 4)
sieve-open  broadcast  masked products -> each party's prime shares (locally)
modulus-*   private, broadcast   shares of p and q -> N for every candidate
            (locally: exact length, N = 1 mod 4, trial division by odd primes up to 2^20)
biprime-first  commit + reveal   one Boneh-Franklin base for every survivor
biprime-full   commit + reveal   ``biprimality_rounds`` bases for the first survivor that passed
key-*       private, broadcast   phi * beta + N * T -> decryption key shares
vk          commit + reveal      verification keys, then proved decryption of test ciphertexts
audit       broadcast  seeds of rejected candidates (all that got past trial division or failed
            a check, a public random fraction of the others) and digests of private messages
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from typing import Any

import gmpy2

from coopetition.engine.errors import CheatingDetected, ProtocolViolation
from coopetition.protocols.paillier.keys import PublicKey, register_insecure_test_key
from coopetition.protocols.paillier.threshold import (
    KeyShare,
    ThresholdPublicKey,
    combine,
    partial_decrypt,
)
from coopetition.protocols.zk.transcript import ProofContext

from . import derive, shamir
from .audit import AuditInput, CandidateRecord, audit_candidate
from .candidate import CandidateParty, payload_digest, seed_commitment, tree_shape
from .checks import boneh_franklin, check_audit, decryption_share, pack, unpack
from .machine import Step, StepReply
from .params import DkgParams, coprime_to, trial_division_product
from .replay import (
    BIPRIME_FIRST,
    BIPRIME_FULL,
    KEY_DEAL,
    KEY_OPEN,
    MODULUS_DEAL,
    MODULUS_OPEN,
    SIEVE_DEAL,
    SIEVE_OPEN,
    reshare_stage,
)

#: Byzantine test hook: (stage, candidate, receiver or None, values) -> values actually used.
Tamper = Callable[[str, int, int | None, list[Any]], list[Any]]


@dataclass
class BatchStats:
    candidates: int = 0
    survivors: int = 0
    passed_first: int = 0
    audited: int = 0


@dataclass
class DkgContext:
    params: DkgParams
    party: int
    session: bytes
    audit_fraction: float = 0.125
    tamper: Tamper | None = None
    #: test hook: called with ("received", StepReply) for every reply and ("state", batch) at
    #: the end of every batch, so a test can inspect everything a party received and held
    observe: Callable[[str, Any], None] | None = None


@dataclass(frozen=True)
class BatchOutcome:
    key_share: KeyShare | None
    stats: BatchStats
    seconds: float


class _Batch:
    """State of one batch at one party; ``run`` is the program."""

    def __init__(self, ctx: DkgContext, batch: int) -> None:
        self.ctx = ctx
        self.p = ctx.params
        self.me = ctx.party
        self.m = ctx.params.parties
        self.batch = batch
        self.size = ctx.params.batch
        self.seeds = [secrets.token_bytes(32) for _ in range(self.size)]
        self.live = [CandidateParty(self.p, self.me, s) for s in self.seeds]
        self.records = [CandidateRecord() for _ in range(self.size)]
        self.commitments: list[list[bytes]] = []
        self.failed_checks: set[int] = set()
        self.moduli: dict[int, int] = {}

    # -- helpers ---------------------------------------------------------------------------

    def _tamper(self, stage: str, k: int, receiver: int | None, values: list[Any]) -> list[Any]:
        if self.ctx.tamper is None:
            return values
        return self.ctx.tamper(stage, k, receiver, values)

    def _bases(self, k: int) -> Callable[[str, int], list[int]]:
        def bases_for(stage: str, n: int) -> list[int]:
            count = 1 if stage == BIPRIME_FIRST else self.p.biprimality_rounds
            return derive.biprimality_bases(self.ctx.session, self.batch, k, n, stage, count)

        return bases_for

    def _private(
        self,
        stage: str,
        active: Sequence[int],
        outputs: dict[int, list[list[int]]],
        width: int,
        bound: int,
    ) -> Generator[Step, StepReply, dict[int, list[list[int]]]]:
        """Send each peer its row of every active candidate; return rows by candidate, sender order."""
        payload = {
            peer: pack(
                [self._tamper(stage, k, peer, list(outputs[k][peer])) for k in active], bound
            )
            for peer in range(self.m)
            if peer != self.me
        }
        reply = yield Step(tag=stage, private=payload)
        received = {
            sender: unpack(reply.private.get(sender), len(active), width, bound, sender, stage)
            for sender in range(self.m)
            if sender != self.me
        }
        rows: dict[int, list[list[int]]] = {}
        for pos, k in enumerate(active):
            row = []
            for sender in range(self.m):
                if sender == self.me:
                    values = [int(v) for v in outputs[k][self.me]]
                else:
                    values = received[sender][pos]
                self.records[k].private.setdefault(stage, {})[sender] = values
                row.append(values)
            self.records[k].reached(stage)
            rows[k] = row
        return rows

    def _broadcast(
        self,
        stage: str,
        active: Sequence[int],
        outputs: dict[int, list[int]],
        width: int,
        bound: int,
        *,
        committed: bool = False,
    ) -> Generator[Step, StepReply, dict[int, list[list[int]]]]:
        """Broadcast one row per active candidate (after a commitment round if ``committed``)."""
        mine = pack([self._tamper(stage, k, None, list(outputs[k])) for k in active], bound)
        commitments: dict[int, Any] = {}
        if committed:
            digest = payload_digest(self.ctx.session, self.batch, self.me, stage, list(mine.values))
            reply = yield Step(tag=stage + "-commit", broadcast=digest)
            commitments = reply.broadcast
            for sender, value in commitments.items():
                if not isinstance(value, bytes) or len(value) != 32:
                    raise ProtocolViolation(f"malformed {stage} commitment", culprit=sender)
        reply = yield Step(tag=stage, broadcast=mine)
        rows: dict[int, list[list[int]]] = {}
        received = {}
        for sender in range(self.m):
            raw = reply.broadcast.get(sender)
            received[sender] = unpack(raw, len(active), width, bound, sender, stage)
            if committed:
                flat = [x for r in received[sender] for x in r]
                digest = payload_digest(self.ctx.session, self.batch, sender, stage, flat)
                if digest != commitments[sender]:
                    raise CheatingDetected(
                        f"party {sender} revealed {stage} values that do not match its commitment",
                        culprit=sender,
                    )
        for pos, k in enumerate(active):
            row = [received[sender][pos] for sender in range(self.m)]
            for sender in range(self.m):
                self.records[k].broadcast.setdefault(stage, {})[sender] = row[sender]
            self.records[k].reached(stage)
            rows[k] = row
        return rows

    def _open(self, rows: dict[int, list[list[int]]], column: int, prime: int) -> dict[int, int]:
        """Open column ``column`` of every candidate; an inconsistent opening fails it."""
        out = {}
        for k, row in rows.items():
            try:
                out[k] = int(shamir.open_value([r[column] for r in row], 2 * self.p.t, prime))
            except shamir.InconsistentOpening:
                self.failed_checks.add(k)
        return out

    # -- the program -----------------------------------------------------------------------

    def run(self) -> Generator[Step, Any, BatchOutcome]:
        started = time.perf_counter()
        p, session = self.p, self.ctx.session
        stats = BatchStats(candidates=self.size)
        everyone = list(range(self.size))
        mine = [
            seed_commitment(session, self.batch, self.me, k, s) for k, s in enumerate(self.seeds)
        ]
        reply = yield Step(tag="commit", broadcast=mine)
        for sender in range(self.m):
            value = reply.broadcast.get(sender)
            if (
                not isinstance(value, list)
                or len(value) != self.size
                or not all(isinstance(c, bytes) and len(c) == 32 for c in value)
            ):
                raise ProtocolViolation("malformed seed commitments", culprit=sender)
            self.commitments.append(value)

        # distributed sieving
        rows = yield from self._private(
            SIEVE_DEAL,
            everyone,
            {k: c.sieve_deal() for k, c in enumerate(self.live)},
            4,
            p.field_sieve,
        )
        for k, c in enumerate(self.live):
            c.absorb_sieve_deal(rows[k])
        for level, factors in enumerate(tree_shape(self.m)):
            width = 2 * (factors // 2)
            outputs = {k: c.reshare(level) for k, c in enumerate(self.live)}
            rows = yield from self._private(
                reshare_stage(level), everyone, outputs, width, p.field_sieve
            )
            for k, c in enumerate(self.live):
                c.absorb_reshare(rows[k])
        rows = yield from self._broadcast(
            SIEVE_OPEN,
            everyone,
            {k: c.sieve_open() for k, c in enumerate(self.live)},
            2,
            p.field_sieve,
        )
        opened_p = self._open(rows, 0, p.field_sieve)
        opened_q = self._open(rows, 1, p.field_sieve)
        alive = [k for k in everyone if k in opened_p and k in opened_q]
        for k in alive:
            self.live[k].set_sieve([opened_p[k], opened_q[k]])

        # the moduli
        rows = yield from self._private(
            MODULUS_DEAL, alive, {k: self.live[k].modulus_deal() for k in alive}, 2, p.field_modulus
        )
        for k in alive:
            self.live[k].absorb_modulus_deal(rows[k])
        # committed: the audit coins hash every N (see ``audit_choice``)
        rows = yield from self._broadcast(
            MODULUS_OPEN,
            alive,
            {k: self.live[k].modulus_share() for k in alive},
            1,
            p.field_modulus,
            committed=True,
        )
        self.moduli = self._open(rows, 0, p.field_modulus)
        survivors = self._sieved([k for k in alive if k in self.moduli])
        stats.survivors = len(survivors)

        return (yield from self.finish(survivors, stats, started))

    def finish(
        self, survivors: list[int], stats: BatchStats, started: float
    ) -> Generator[Step, Any, BatchOutcome]:
        """Boneh-Franklin (one base for every survivor, then all bases for the first that
        passes), the key stage for that one, the audit: the same for every multiplier."""
        key_share: KeyShare | None = None
        accepted: int | None = None
        passed = yield from self._biprimality(BIPRIME_FIRST, survivors)
        stats.passed_first = len(passed)
        for k in passed:
            full = yield from self._biprimality(BIPRIME_FULL, [k])
            if not full:
                continue
            key_share = yield from self._key(k)
            if key_share is not None:
                accepted = k
            else:
                self.failed_checks.add(k)
            break

        stats.audited = yield from self._audit(accepted)
        if self.ctx.observe is not None:
            self.ctx.observe("state", self)
        return BatchOutcome(key_share, stats, time.perf_counter() - started)

    def _sieved(self, candidates: list[int]) -> list[int]:
        """Candidates whose N has the right length, is 1 mod 4 and has no odd prime factor
        below ``trial_bound`` (p and q are units modulo the sieve primes already)."""
        p = self.p
        ok = [
            k
            for k in candidates
            if self.moduli[k].bit_length() == p.bits and self.moduli[k] % 4 == 1
        ]
        # from 3, not from the sieve bound: an honest N has no factor <= B, a shifted one may
        product = trial_division_product(2, p.trial_bound)
        coprime = coprime_to([self.moduli[k] for k in ok], product)
        return [k for k, good in zip(ok, coprime, strict=True) if good]

    def _biprimality(self, stage: str, candidates: list[int]) -> Generator[Step, Any, list[int]]:
        if not candidates:
            return []
        outputs = {}
        for k in candidates:
            n = self.moduli[k]
            outputs[k] = self.live[k].biprimality_values(n, self._bases(k)(stage, n))
        count = 1 if stage == BIPRIME_FIRST else self.p.biprimality_rounds
        bound = max(self.moduli[k] for k in candidates)
        rows = yield from self._broadcast(stage, candidates, outputs, count, bound, committed=True)
        passed = []
        for k in candidates:
            if boneh_franklin(self.moduli[k], rows[k]):
                passed.append(k)
            elif stage == BIPRIME_FULL:
                self.failed_checks.add(k)
        return passed

    def _key(self, k: int) -> Generator[Step, Any, KeyShare | None]:
        p, n, c = self.p, self.moduli[k], self.live[k]
        rows = yield from self._private(KEY_DEAL, [k], {k: c.key_deal(n)}, 3, p.field_key)
        c.absorb_key_deal(rows[k])
        rows = yield from self._broadcast(KEY_OPEN, [k], {k: c.key_share(n)}, 1, p.field_key)
        opened = self._open(rows, 0, p.field_key)
        if k not in opened or not c.set_key_open(n, opened[k]):
            return None
        return (yield from self._check_key(k, n, c))

    def _check_key(
        self, k: int, n: int, c: CandidateParty
    ) -> Generator[Step, Any, KeyShare | None]:
        """Verification keys (committed first), then proved joint decryption of test ciphertexts."""
        p, session = self.p, self.ctx.session
        public = PublicKey(n)
        if p.insecure_allow_small:
            register_insecure_test_key(public)
        n2 = n * n
        v = derive.verification_base(session, n)
        assert c.decryption_exponent is not None
        d = c.decryption_exponent
        mine_vk = int(gmpy2.powmod(v, d, n2))
        vk_stage = "verification-key"
        vk = self._tamper(vk_stage, k, None, [mine_vk])[0]
        reply = yield Step(
            tag=vk_stage + "-commit", broadcast=payload_digest(session, self.batch, vk)
        )
        vk_commitments = reply.broadcast
        reply = yield Step(tag=vk_stage, broadcast=vk)
        keys = []
        for sender in range(self.m):
            value = reply.broadcast.get(sender)
            if not isinstance(value, int) or isinstance(value, bool) or not 0 < value < n2:
                raise ProtocolViolation("malformed verification key", culprit=sender)
            if payload_digest(session, self.batch, value) != vk_commitments.get(sender):
                raise CheatingDetected(
                    f"party {sender} revealed a verification key that does not match its "
                    "commitment",
                    culprit=sender,
                )
            keys.append(value)
        try:
            tpk = ThresholdPublicKey(public, v, tuple(keys), p.share_bits)
        except ValueError:
            return None
        share = KeyShare(tpk, self.me, d)
        tests = derive.test_plaintexts(session, n, p.test_ciphertexts)
        ciphertexts = [public.raw_encrypt(m, r) for m, r in tests]
        context = ProofContext(session, f"dkg-key-check/{self.batch}", k, self.me)
        dec = partial_decrypt(share, ciphertexts, context)
        wire = {
            "values": [int(x) for x in dec.values],
            "e": int(dec.proof.challenge),
            "z": int(dec.proof.response),
        }
        reply = yield Step(tag="key-check", broadcast=wire)
        shares = {}
        for sender in range(self.m):
            shares[sender] = decryption_share(reply.broadcast.get(sender), sender)
        plain = combine(tpk, shares, ciphertexts, context, signed=False)  # names a bad prover
        if plain != [m for m, _ in tests]:
            return None
        return share

    def audit_choice(self, accepted: int | None, forced: set[int]) -> list[int]:
        """Rejected candidates to open: ``forced`` ones, failed checks, and each other one with
        public probability ``audit_fraction`` (a coin drawn after the batch is fixed)."""
        session = self.ctx.session
        transcript = payload_digest(self.commitments, sorted(self.moduli.items()))
        return [
            k
            for k in range(self.size)
            if k != accepted
            and (
                k in self.failed_checks
                or k in forced
                or derive.audit_coin(session, self.batch, k, transcript) < self.ctx.audit_fraction
            )
        ]

    def _audit(self, accepted: int | None) -> Generator[Step, Any, int]:
        """Reveal and replay the rejected candidates chosen for audit; raise on any deviation."""
        session = self.ctx.session
        chosen = self.audit_choice(accepted, set())
        if not chosen:
            return 0
        seeds = [self._tamper("audit-seed", k, None, [self.seeds[k]])[0] for k in chosen]
        claims = [self.records[k].private_digests(self.m, self.me) for k in chosen]
        reply = yield Step(tag="audit", broadcast={"seeds": seeds, "claims": claims})
        revealed = {}
        for sender in range(self.m):
            revealed[sender] = check_audit(
                reply.broadcast.get(sender),
                [len(claims[pos]) for pos in range(len(chosen))],
                self.m,
                sender,
            )
        for pos, k in enumerate(chosen):
            audit_candidate(
                AuditInput(
                    params=self.p,
                    me=self.me,
                    session=session,
                    batch=self.batch,
                    index=k,
                    commitments=[self.commitments[j][k] for j in range(self.m)],
                    seeds=[revealed[j]["seeds"][pos] for j in range(self.m)],
                    claims=[revealed[j]["claims"][pos] for j in range(self.m)],
                    record=self.records[k],
                ),
                self._bases(k),
            )
        return len(chosen)


def batch_program(ctx: DkgContext, batch: int) -> Generator[Step, Any, BatchOutcome]:
    program = _Batch(ctx, batch).run()
    if ctx.observe is None:
        return program
    return _observed(program, ctx.observe)


def _observed(
    program: Generator[Step, Any, BatchOutcome], observe: Callable[[str, Any], None]
) -> Generator[Step, Any, BatchOutcome]:
    reply = None
    while True:
        try:
            request = program.send(reply)
        except StopIteration as stop:
            return stop.value
        reply = yield request
        observe("received", reply)
