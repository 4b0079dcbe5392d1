"""One batch of the dishonest-majority DKG (``multiplier = "additive"``) as a sans-IO program.

Rounds of a batch of K candidates (``additive.py`` has the arithmetic; every broadcast goes
through the engine's consistent broadcast, every private message is signed):

commit             broadcast  seed commitments and this party's two OLE public keys
sieve-request/s    private    holders i < s -> s: Enc_i(u_i)        (s = 1 .. m-1)
sieve-reply/s      private    s -> holders: Enc_i(u_i a_s + mask)
modulus-request    broadcast  Enc_i(x_i), Enc_i(y_i)
modulus-reply      private    j -> i < j: Enc_i(x_i y_j + y_i x_j + mask)
modulus-share      broadcast  additive shares of N (mod 2^(bits + kappa + 8))
                   locally: length, N = 1 mod 4, trial division (as ``program.py``)
biprime-*          commit + reveal, as ``program.py``
key-*              the same three rounds on (phi_i, beta_i) under the larger OLE keys, then
                   verification keys and the proved test decryption, as ``program.py``
audit              seeds of rejected candidates (every one that reached Boneh-Franklin and a
                   public random fraction of the others) and digests of the private messages
                   received; ``additive_audit`` replays everyone
"""

from __future__ import annotations

import time
from collections.abc import Generator, Sequence
from dataclasses import dataclass, field
from typing import Any

from coopetition.engine.errors import CheatingDetected, ProtocolAborted, ProtocolViolation
from coopetition.protocols.paillier.encryptor import FixedBaseTable
from coopetition.protocols.paillier.keys import (
    InvalidCiphertext,
    PublicKey,
    register_insecure_test_key,
)
from coopetition.protocols.paillier.threshold import KeyShare
from coopetition.protocols.zk import codec, range_params, range_proof
from coopetition.protocols.zk.errors import ProofRejected
from coopetition.protocols.zk.range_params import ParamProof, RingPedersen, RingPedersenSecret
from coopetition.protocols.zk.range_proof import RangeProof, RangeStatement, RangeWitness
from coopetition.protocols.zk.transcript import ProofContext

from . import derive, keyproof
from .additive import AdditiveCandidate, OleKeys, key_input_ranges, ole_key_bits
from .additive_audit import as_row, audit_additive, blame
from .candidate import payload_digest, seed_commitment
from .checks import audit_reveal_shape, pack, unpack
from .machine import Step
from .params import DkgParams
from .program import BatchOutcome, BatchStats, DkgContext, _Batch
from .replay import BIPRIME_FIRST, BIPRIME_FULL

Message = tuple[str, int, int | None]
_RP_LABEL = "dkg-ring-pedersen"


@dataclass
class AdditiveSetup:
    """One party's material for a whole run (its OLE keys, its ring-Pedersen parameters for
    the range proofs it verifies) and what it pinned from its peers in the first batch."""

    keys: OleKeys
    rp: RingPedersen
    rp_secret: RingPedersenSecret = field(repr=False)
    ole: list[tuple[PublicKey, PublicKey]] = field(default_factory=list)
    rps: list[RingPedersen] = field(default_factory=list)
    #: the peers' product-key DJN tables the audits walk, kept for the run (``audit_additive``)
    tables: dict[PublicKey, FixedBaseTable] = field(default_factory=dict, repr=False)

    @classmethod
    def generate(cls, params: DkgParams) -> AdditiveSetup:
        small = params.insecure_allow_small and params.bits < range_params.DEFAULT_MODULUS_BITS
        bits = range_params.MIN_TEST_BITS if small else range_params.DEFAULT_MODULUS_BITS
        rp, secret = range_params.generate(bits, insecure_allow_small=small)
        return cls(OleKeys.generate(params), rp, secret)


def private_messages(parties: int) -> list[tuple[str, int, int]]:
    """Every private message of one candidate, in protocol order: (stage, sender, receiver)."""
    out = []
    for step in range(1, parties):
        out += [(f"sieve-request/{step}", i, step) for i in range(step)]
        out += [(f"sieve-reply/{step}", step, i) for i in range(step)]
    out += [("modulus-reply", j, i) for i in range(parties) for j in range(i + 1, parties)]
    return out


def _ole_context(session: bytes, owner: int, which: int) -> bytes:
    """What an OLE key's gcd proof is bound to: the session, its owner and which key."""
    return session + owner.to_bytes(4, "big") + which.to_bytes(1, "big")


def _ole_proved(key: PublicKey, proof: object, context: bytes, sender: int) -> None:
    """Refuse an OLE key without a valid proof of gcd(N, phi(N)) = 1 (``keyproof``): under such
    a key a reply can carry the responder's whole input (docs/crypto.md, "OLE keys")."""
    if not keyproof.verify(key.n, proof, context):
        raise CheatingDetected(
            "OLE key has a small factor or no proof of gcd(N, phi(N)) = 1", culprit=sender
        )


def _ole_public(value: object, bits: int, sender: int) -> PublicKey:
    if (
        not isinstance(value, int)
        or isinstance(value, bool)
        or value.bit_length() != bits
        or value % 2 == 0
    ):
        raise ProtocolViolation("malformed OLE public key", culprit=sender)
    return PublicKey(value)


class AdditiveBatch(_Batch):
    def __init__(self, ctx: DkgContext, batch: int, setup: AdditiveSetup) -> None:
        super().__init__(ctx, batch)
        self.setup = setup
        self.keys = setup.keys
        self.pinned = setup.ole  # the OLE keys seen in the first batch (shared across batches)
        self.publics: list[tuple[PublicKey, PublicKey]] = []
        self.additive: list[AdditiveCandidate] = []
        self.sent: list[dict[Message, list[int]]] = [{} for _ in range(self.size)]
        self.reached_test: set[int] = set()
        product_bits, key_bits = ole_key_bits(self.p)
        self.ct_bound = 1 << (2 * product_bits)
        self.key_ct_bound = 1 << (2 * key_bits)
        self.share_modulus = 1 << (self.p.bits + self.p.kappa + 8)
        self.key_modulus = 1 << (2 * self.p.bits + 2 * self.p.kappa + 12)

    # -- messages ----------------------------------------------------------------------------

    def _directed(
        self,
        stage: str,
        outgoing: dict[int, dict[int, list[int]]],
        senders: Sequence[int],
        width: int,
        bound: int,
    ) -> Generator[Step, Any, dict[int, dict[int, list[int]]]]:
        """Private round where only some pairs talk: ``outgoing[peer][k]`` is my row for
        candidate k; returns ``rows[sender][k]`` from each of ``senders``; everyone else must
        send nothing."""
        everyone = range(self.size)
        payload = {}
        for peer in range(self.m):
            if peer == self.me:
                continue
            mine = outgoing.get(peer, {})
            rows = [self._tamper(stage, k, peer, list(mine[k])) for k in everyone if k in mine]
            for k in mine:
                self.sent[k][(stage, self.me, peer)] = as_row(mine[k])
            payload[peer] = pack(rows, bound)
        reply = yield Step(tag=stage, private=payload)
        received: dict[int, dict[int, list[int]]] = {}
        for sender in range(self.m):
            if sender == self.me:
                continue
            count = self.size if sender in senders else 0
            rows = unpack(reply.private.get(sender), count, width, bound, sender, stage)
            received[sender] = dict(enumerate(rows))
            for k, row in received[sender].items():
                self.sent[k][(stage, sender, self.me)] = row
        return received

    def _public(
        self,
        stage: str,
        outputs: dict[int, list[int]],
        width: int,
        bound: int,
        *,
        committed: bool = False,
    ) -> Generator[Step, Any, dict[int, list[list[int]]]]:
        rows = yield from self._broadcast(
            stage, sorted(outputs), outputs, width, bound, committed=committed
        )
        for k, row in rows.items():
            for sender in range(self.m):
                self.sent[k][(stage, sender, None)] = row[sender]
        return rows

    def _guard(self, sender: int, stage: str, fn: Any, *args: Any) -> Any:
        """Run a step on a peer's message; a malformed ciphertext is that peer's fault."""
        try:
            return fn(*args)
        except (InvalidCiphertext, ValueError) as exc:
            raise ProtocolViolation(f"{stage}: {exc}", culprit=sender) from None

    # -- the program -------------------------------------------------------------------------

    def run(self) -> Generator[Step, Any, BatchOutcome]:
        started = time.perf_counter()
        p, session, m, me = self.p, self.ctx.session, self.m, self.me
        stats = BatchStats(candidates=self.size)
        mine = [seed_commitment(session, self.batch, me, k, s) for k, s in enumerate(self.seeds)]
        own = [k.n for k in self.keys.public]
        first = len(self.pinned) != m
        message: dict[str, Any] = {"seeds": mine, "ole": own}
        if first:
            rp = self.setup.rp
            context = ProofContext(session, _RP_LABEL, 0, me)
            message["rp"] = [rp.n, rp.s, rp.t]
            message["ole_proof"] = [
                keyproof.prove(key, _ole_context(session, me, which))
                for which, key in enumerate((self.keys.product, self.keys.key))
            ]
            message["rp_proof"] = codec.encode(
                range_params.prove_params(rp, self.setup.rp_secret, context)
            )
        reply = yield Step(tag="commit", broadcast=message)
        bits = ole_key_bits(p)
        for sender in range(m):
            value = reply.broadcast.get(sender)
            seeds = value.get("seeds") if isinstance(value, dict) else None
            ole = value.get("ole") if isinstance(value, dict) else None
            if (
                not isinstance(seeds, list)
                or len(seeds) != self.size
                or not all(isinstance(c, bytes) and len(c) == 32 for c in seeds)
                or not isinstance(ole, list)
                or len(ole) != 2
            ):
                raise ProtocolViolation("malformed commitment round", culprit=sender)
            keys = (_ole_public(ole[0], bits[0], sender), _ole_public(ole[1], bits[1], sender))
            if len(self.pinned) == m and self.pinned[sender] != keys:
                raise CheatingDetected("changed its OLE keys between batches", culprit=sender)
            self.commitments.append(seeds)
            self.publics.append(keys)
            if first:
                proofs = value.get("ole_proof")
                if not isinstance(proofs, list) or len(proofs) != 2:
                    raise ProtocolViolation("malformed OLE key proofs", culprit=sender)
                for which, key in enumerate(keys):
                    _ole_proved(key, proofs[which], _ole_context(session, sender, which), sender)
                self.setup.rps.append(self._peer_rp(value, sender))
            if p.insecure_allow_small:
                register_insecure_test_key(keys[1])  # the key-stage range proofs refuse it else
        if first:
            self.pinned[:] = self.publics
        self.additive = [AdditiveCandidate(p, me, s, self.keys, self.publics) for s in self.seeds]
        self.live = list(self.additive)
        everyone = range(self.size)
        cands = self.additive

        for step in range(1, m):
            out = {step: {k: cands[k].sieve_request(step) for k in everyone}} if me < step else {}
            holders = range(step) if me == step else range(0)
            got = yield from self._directed(f"sieve-request/{step}", out, holders, 2, self.ct_bound)
            out = {}
            if me == step:
                for holder in range(step):
                    out[holder] = {
                        k: self._guard(
                            holder, "sieve", cands[k].sieve_reply, step, holder, got[holder][k]
                        )
                        for k in everyone
                    }
                for c in cands:
                    c.sieve_close(step)
            got = yield from self._directed(
                f"sieve-reply/{step}", out, [step] if me < step else [], 2, self.ct_bound
            )
            if me < step:
                for k in everyone:
                    plain = self._guard(step, "sieve", cands[k].sieve_absorb, got[step][k])
                    self.sent[k][(f"sieve-reply/{step}", step, me)] = plain  # audit: plaintexts
        for c in cands:
            c.finish_sieve()

        n_rows = yield from self._public(
            "modulus-request",
            {k: c.modulus_request() for k, c in enumerate(cands)},
            2,
            self.ct_bound,
        )
        out = {
            holder: {
                k: [
                    self._guard(
                        holder, "modulus", cands[k].modulus_reply, holder, n_rows[k][holder]
                    )
                ]
                for k in everyone
            }
            for holder in range(me)
        }
        got = yield from self._directed("modulus-reply", out, range(me + 1, m), 1, self.ct_bound)
        own_public = self.keys.product.public
        for j in range(me + 1, m):
            for k in everyone:
                self._guard(j, "modulus", own_public.check_ciphertext, got[j][k][0])
        shares = {
            k: [cands[k].n_share({j: got[j][k][0] for j in range(me + 1, m)}) % self.share_modulus]
            for k in everyone
        }
        for k in everyone:  # the audit compares replies as the plaintexts decrypted
            for j, plain in cands[k].reply_plaintexts.items():
                self.sent[k][("modulus-reply", j, me)] = [plain]
        # committed: the audit coins hash every N, so no party may pick its share after
        # seeing the others' (it could re-draw the coins until its cheated candidates escape)
        rows = yield from self._public(
            "modulus-share", shares, 1, self.share_modulus, committed=True
        )
        self.moduli = {k: sum(r[0] for r in rows[k]) % self.share_modulus for k in everyone}
        survivors = self._sieved(list(everyone))
        self.reached_test = set(survivors)
        stats.survivors = len(survivors)

        return (yield from self.finish(survivors, stats, started))

    def _peer_rp(self, value: dict[str, Any], sender: int) -> RingPedersen:
        """A peer's ring-Pedersen parameters, after checking its proof that they hide."""
        if sender == self.me:
            return self.setup.rp
        raw = value.get("rp")
        if not isinstance(raw, list) or len(raw) != 3:
            raise ProtocolViolation("malformed ring-Pedersen parameters", culprit=sender)
        try:
            rp = RingPedersen(*raw)
            if self.p.insecure_allow_small:
                range_params.admit_insecure_modulus(rp)
            proof = codec.decode(ParamProof, value.get("rp_proof"), sender)
            context = ProofContext(self.ctx.session, _RP_LABEL, 0, sender)
            range_params.verify_params(rp, proof, context)
        except ProofRejected as exc:
            raise CheatingDetected(
                f"ring-Pedersen parameter proof rejected: {exc.check}", culprit=sender
            ) from None
        except (ValueError, TypeError):
            raise ProtocolViolation("bad ring-Pedersen parameters", culprit=sender) from None
        return rp

    def _key_requests(self, k: int, n: int) -> Generator[Step, Any, dict[int, list[int]]]:
        """Broadcast Enc_i(phi_i), Enc_i(beta_i) with one tight range proof per verifier;
        check the others' proofs under this party's own ring-Pedersen parameters."""
        c, me, m, session = self.additive[k], self.me, self.m, self.ctx.session
        cts = self._tamper("key-request", k, None, c.key_request(n))
        ranges = key_input_ranges(self.p, me, n)
        statements = [RangeStatement(ct, lo, hi) for ct, (lo, hi) in zip(cts, ranges, strict=True)]
        witnesses = [RangeWitness(v, r) for v, r in c.key_witnesses()]
        label = f"dkg-key-range/{self.batch}"
        own_key = self.keys.key.public
        proofs: list[Any] = [
            None
            if j == me
            else codec.encode(
                range_proof.prove(
                    own_key,
                    self.setup.rps[j],
                    statements,
                    witnesses,
                    ProofContext(session, label, k, me),
                )
            )
            for j in range(m)
        ]
        reply = yield Step(tag="key-request", broadcast={"cts": cts, "proofs": proofs})
        rows = {me: [int(x) for x in cts]}
        for sender in range(m):
            if sender == me:
                continue
            value = reply.broadcast.get(sender)
            public = self.publics[sender][1]
            try:
                if not isinstance(value, dict) or not isinstance(value.get("proofs"), list):
                    raise TypeError("not a key request")
                theirs = public.check_ciphertexts(value.get("cts"))
                if len(theirs) != 2 or len(value["proofs"]) != m:
                    raise TypeError("wrong shape")
                bounds = key_input_ranges(self.p, sender, n)
                claims = [
                    RangeStatement(ct, lo, hi) for ct, (lo, hi) in zip(theirs, bounds, strict=True)
                ]
                proof = codec.decode(RangeProof, value["proofs"][me], sender)
                context = ProofContext(session, label, k, sender)
                range_proof.verify(public, self.setup.rp, claims, proof, context)
            except ProofRejected as exc:
                raise CheatingDetected(
                    f"party {sender}'s key-stage range proof failed ({exc.check})", culprit=sender
                ) from None
            except (InvalidCiphertext, ValueError, TypeError):
                raise ProtocolViolation("malformed key-stage request", culprit=sender) from None
            rows[sender] = theirs
        return rows

    def _key(self, k: int) -> Generator[Step, Any, KeyShare | None]:
        n, c, me = self.moduli[k], self.additive[k], self.me
        requests = yield from self._key_requests(k, n)
        out = {
            holder: {k: [self._guard(holder, "key", c.key_reply, holder, requests[holder])]}
            for holder in range(me)
        }
        others = range(me + 1, self.m)
        got = yield from self._directed_one("key-reply", out, others, k)
        for j, value in got.items():
            self._guard(j, "key", self.keys.key.public.check_ciphertext, value)
        share = c.key_open_share(n, got) % self.key_modulus
        rows = yield from self._public("key-share", {k: [share]}, 1, self.key_modulus)
        opened = sum(r[0] for r in rows[k]) % self.key_modulus
        if not c.set_key_open(n, opened):
            return None
        return (yield from self._check_key(k, n, c))

    def _directed_one(
        self, stage: str, out: dict[int, dict[int, list[int]]], senders: Sequence[int], k: int
    ) -> Generator[Step, Any, dict[int, int]]:
        """A private round for the single accepted candidate ``k``."""
        payload = {}
        for peer in range(self.m):
            if peer != self.me:
                rows = [self._tamper(stage, k, peer, out[peer][k])] if peer in out else []
                payload[peer] = pack(rows, self.key_ct_bound)
        reply = yield Step(tag=stage, private=payload)
        got = {}
        for sender in range(self.m):
            if sender != self.me:
                count = 1 if sender in senders else 0
                rows = unpack(reply.private.get(sender), count, 1, self.key_ct_bound, sender, stage)
                if rows:
                    got[sender] = rows[0][0]
        return got

    # -- audit -------------------------------------------------------------------------------

    def _audit(self, accepted: int | None) -> Generator[Step, Any, int]:
        session = self.ctx.session
        chosen = self.audit_choice(accepted, self.reached_test)
        if not chosen:
            return 0
        mine = [m for m in private_messages(self.m) if m[2] == self.me]
        seeds = [self._tamper("audit-seed", k, None, [self.seeds[k]])[0] for k in chosen]
        claims = [[payload_digest(self.sent[k].get(msg, [])) for msg in mine] for k in chosen]
        reply = yield Step(tag="audit", broadcast={"seeds": seeds, "claims": claims})
        revealed = {
            j: self._check_reveal(reply.broadcast.get(j), len(chosen), j) for j in range(self.m)
        }
        for pos, k in enumerate(chosen):
            claimed: dict[Message, bytes] = {}
            for j in range(self.m):
                theirs = [msg for msg in private_messages(self.m) if msg[2] == j]
                claimed.update(zip(theirs, revealed[j]["claims"][pos], strict=True))
            bases: list[tuple[str, list[int]]] = []
            for stage, count in ((BIPRIME_FIRST, 1), (BIPRIME_FULL, self.p.biprimality_rounds)):
                if stage in self.records[k].broadcast:
                    n = self.moduli[k]
                    values = derive.biprimality_bases(session, self.batch, k, n, stage, count)
                    bases.append((stage, values))
            audit_additive(
                self.p,
                self.publics,
                [self.commitments[j][k] for j in range(self.m)],
                [revealed[j]["seeds"][pos] for j in range(self.m)],
                self._checker(k, claimed),
                session=session,
                batch=self.batch,
                index=k,
                n=self.moduli[k],
                biprimality=bases,
                tables=self.setup.tables,
            )
        return len(chosen)

    def _check_reveal(self, value: object, count: int, sender: int) -> dict[str, Any]:
        width = sum(1 for msg in private_messages(self.m) if msg[2] == sender)
        if (
            not audit_reveal_shape(value, count)
            or not isinstance(value, dict)
            or not all(
                len(c) == width and all(isinstance(x, bytes) for x in c) for c in value["claims"]
            )
        ):
            raise ProtocolViolation("malformed audit reveal", culprit=sender)
        return value

    def _checker(self, k: int, claimed: dict[Message, bytes]) -> Any:
        sent, me = self.sent[k], self.me

        def check(stage: str, sender: int, receiver: int | None, replayed: list[int]) -> None:
            if stage == "modulus-share":
                replayed = [v % self.share_modulus for v in replayed]
            if receiver is None or receiver == me:
                recorded = sent.get((stage, sender, receiver))
                if stage.startswith("biprime"):
                    recorded = self.records[k].broadcast.get(stage, {}).get(sender)
                if recorded != replayed:
                    raise blame(stage, sender)
                return
            if claimed.get((stage, sender, receiver)) == payload_digest(replayed):
                return
            if sender == me:  # my message is what my seed gives: the claim is false
                raise CheatingDetected(
                    f"audit: party {receiver} misstates the {stage} message it received",
                    culprit=receiver,
                )
            raise ProtocolAborted(
                f"audit: parties {sender} and {receiver} disagree about a {stage} message "
                "(a third party cannot tell which one lies)"
            )

        return check


def additive_batch_program(
    ctx: DkgContext, batch: int, setup: AdditiveSetup
) -> Generator[Step, Any, BatchOutcome]:
    return AdditiveBatch(ctx, batch, setup).run()
