"""The maliciously secure SPDZ offline phase, generated with threshold Paillier and proofs.

Helen only estimated this cost; here it is produced for real. Every item comes out of
:meth:`PaillierParty.authenticate` (see :mod:`.conversion`): public ciphertexts become
authenticated additive shares. What differs per kind is where the ciphertexts come from:

* **random**: each party encrypts v_j uniform in [0, 2**(256+kappa)) with a proof of plaintext
  knowledge; Enc(v) = prod Enc(v_j). One honest v_j is 2**kappa times wider than P, so v mod P
  is within 2**-kappa of uniform whatever the others contribute (wrap-arounds modulo N
  included, since any interval of 2**kappa * P integers is near-uniform modulo P).
* **triple**: a and b as for random values; each party publishes Enc(a * b_j) =
  Enc(a)**b_j * Enc(0) with a multiplication proof against its own Enc(b_j); Enc(c) = prod.
  Contributions are not range-proved, so a cheater could make a*b wrap modulo N; instead 2n
  triples are generated and half are *sacrificed* (Damgard et al., CRYPTO 2012, SPDZ
  "triple check"): with a jointly random t, open rho = t*a - f, sigma = b - g and require
  t*c - h - sigma*f - rho*g - sigma*rho = 0, then MAC-check. A bad triple passes with
  probability 2/P. This trades one extra triple for the 2 interval proofs per party that range
  proofs on a_j, b_j would cost (an interval proof costs 128 encryptions).
* **bounded** (statistical masks of truncation and comparison, and the dual-form randoms of
  the SPDZ -> Paillier conversion): each party contributes v_j in [0, 2**bits) with a tight
  range proof (verified exactly, ``ranges``); the value is sum v_j, in [0, m * 2**bits)
  whatever a cheater does, so with m < 128 masked openings keep ``MASK_HEADROOM_BITS`` = 8
  bits below P and cannot wrap. Its public ciphertext is kept. (Interval proofs would show
  only |v_j| < 2**(bits+80) and need 88 bits of headroom: refused here.)
* **input_mask**: only the owner contributes (with a proof of knowledge) and keeps the value.
* **bit**: from a random a and a triple: open a**2, b = (a / sqrt(a**2) + 1) / 2 (P = 3 mod 4),
  then MAC-check (Damgard et al. 2012).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from coopetition.engine.errors import LocalFailure, ProtocolViolation
from coopetition.protocols.paillier import ops
from coopetition.protocols.zk import multiplication
from coopetition.protocols.zk.errors import ProofRejected
from coopetition.protocols.zk.group import multiply

from . import bitproof
from . import field as F
from .conversion import (
    INTERVAL,
    Conversion,
    PaillierParty,
    ciphertexts_from_wire,
    proof_from_wire,
    proof_to_wire,
    rejected,
)
from .errors import SacrificeFailed
from .online import MASK_HEADROOM_BITS, Exchange, Program, SpdzParty
from .preprocessing import Batch, PreprocessingStore
from .shares import Share


@dataclass
class OfflineParty:
    """One party's offline phase: owns its Paillier side and the store it fills."""

    paillier: PaillierParty
    store: PreprocessingStore | None = None
    _batches: int = 0
    _scratch: list[PreprocessingStore] = field(default_factory=list)
    _run_nonce: bytes = b""
    _transcript: Any = field(
        default_factory=lambda: hashlib.sha3_256(b"coopetition/spdz/offline-transcript/v1")
    )

    @property
    def party(self) -> int:
        return self.paillier.party

    @property
    def parties(self) -> int:
        return self.paillier.parties

    @property
    def kappa(self) -> int:
        return self.paillier.kappa

    @property
    def random_bits(self) -> int:
        """Width of an honest random contribution: P times 2**kappa."""
        return F.P_BITS + self.kappa

    def setup(self) -> Program[PreprocessingStore]:
        """Generate the MAC key (each alpha_j interval-proved) and an empty store."""
        yield from self.paillier.setup()
        self.store = PreprocessingStore(self.party, self.parties, self.paillier.alpha_share % F.P)
        # A per-run nonce from a committed coin toss: fresh if one party is honest, so batch
        # ids of two runs differ even under the same session name.
        seeds = yield from self._spdz("run-nonce")._commit_open(
            "run-nonce", secrets.token_bytes(32)
        )
        h = hashlib.sha3_256(b"coopetition/spdz/run-nonce/v1")
        for j in range(self.parties):
            h.update(seeds[j])
        self._run_nonce = h.digest()
        self._transcript.update(self._run_nonce)
        return self.store

    def _auth(
        self, cts: list[int], value_bits: int | list[int], *, phase: str
    ) -> Program[Conversion]:
        """``authenticate``, with the public ciphertexts absorbed into the batch-id transcript."""
        for c in cts:
            b = int(c).to_bytes((int(c).bit_length() + 7) // 8 or 1, "big")
            self._transcript.update(len(b).to_bytes(4, "big") + b)
        return (yield from self.paillier.authenticate(cts, value_bits, phase=phase))

    def _batch_id(self, kind: str) -> bytes:
        """Id of the next batch: the run nonce, kind, counter and every public ciphertext so far.

        All parties compute the same id (the inputs are public and agreed); two runs, or two
        batches of one run, get different ids, so the online phase's id cross-check tells
        their items apart.
        """
        if not self._run_nonce:
            raise RuntimeError("run setup() first")
        self._batches += 1
        h = hashlib.sha256(
            b"coopetition/spdz/batch/v2" + self.paillier.session + b"/" + kind.encode()
        )
        h.update(self._batches.to_bytes(8, "big"))
        h.update(self._transcript.digest())
        return h.digest()[:16]

    def _spdz(self, tag: str) -> SpdzParty:
        assert self.store is not None
        scratch = PreprocessingStore(self.party, self.parties, self.store.alpha_share)
        self._scratch.append(scratch)
        return SpdzParty(scratch, session=self.paillier.session + b"/" + tag.encode())

    def _sample(self, bits: int) -> int:
        """An honest contribution: uniform in [0, 2**bits). (Tests override it to cheat.)"""
        return secrets.randbits(bits)

    def _contribute(
        self, n: int, bits: int, mode: str, phase: str, *, owner: int | None = None
    ) -> Program[tuple[list[int], list[int], dict[int, list[int]]]]:
        """Every party (or only ``owner``) encrypts n values in [0, 2**bits) with proofs."""
        p = self.paillier
        rnd = p.next_round()
        mine: list[int] = []
        rands: list[int] = []
        payload: dict[str, object] = {}
        if owner is None or owner == self.party:
            mine = [self._sample(bits) for _ in range(n)]
            cts, proofs, rands = p.prove_values(mine, mode, bits, phase, rnd)
            payload = {"v": cts, "v_proof": proofs}
        replies = yield Exchange(f"spdz-{phase}/{rnd}", payload)
        replies[self.party] = payload
        senders = None if owner is None else [owner]
        got = p.verify_values(replies, "v", n, mode, bits, phase, rnd, senders=senders)
        return mine, rands, got

    # -- kinds -----------------------------------------------------------------------------------

    def randoms(self, n: int) -> Program[Batch]:
        p = self.paillier
        _, _, got = yield from self._contribute(n, self.random_bits, "knowledge", "random")
        enc = [ops.sum_ct(p.pk, [got[j][t] for j in range(self.parties)]) for t in range(n)]
        conv = yield from self._auth(
            enc, self.random_bits + self.parties.bit_length(), phase="random-auth"
        )
        return Batch("random", self._batch_id("random"), (conv.share,))

    def input_masks(self, owner: int, n: int) -> Program[Batch]:
        mine, _, got = yield from self._contribute(
            n, self.random_bits, "knowledge", "input-mask", owner=owner
        )
        conv = yield from self._auth(got[owner], self.random_bits, phase="input-mask-auth")
        clear = F.vec(mine) if self.party == owner else None
        return Batch(
            "input_mask",
            self._batch_id(f"input_mask/{owner}"),
            (conv.share,),
            owner=owner,
            clear=clear,
        )

    def bounded(self, n: int, bits: int) -> Program[Batch]:
        """n masks in [0, m * 2**bits): range-proved contributions, with their ciphertexts."""
        p = self.paillier
        if p.range_kind == INTERVAL:
            raise ValueError("bounded masks need tight range proofs (interval slack would wrap P)")
        if self.parties.bit_length() > MASK_HEADROOM_BITS - 1:
            raise ValueError(f"bounded masks keep {MASK_HEADROOM_BITS} bits: at most 127 parties")
        phase = f"bounded-{bits}"
        high = (1 << bits) - 1
        rnd = p.next_round()
        mine = [self._sample(bits) for _ in range(n)]
        payload, _ = p.prove_bounded([("v", mine, high)], phase, rnd)
        replies = yield Exchange(f"spdz-{phase}/{rnd}", payload)
        replies[self.party] = payload
        got = p.verify_bounded(replies, [("v", n, high)], phase, rnd)["v"]
        enc = [ops.sum_ct(p.pk, [got[j][t] for j in range(self.parties)]) for t in range(n)]
        value_bits = bits + self.parties.bit_length()
        conv = yield from self._auth(enc, value_bits, phase=f"bounded-{bits}-auth")
        return Batch(
            "bounded", self._batch_id(f"bounded/{bits}"), (conv.share,), bits=bits, ciphertexts=enc
        )

    def raw_triples(self, n: int) -> Program[tuple[Share, Share, Share]]:
        """Triples from contributions with proofs of knowledge and multiplication proofs."""
        p = self.paillier
        pk = p.pk
        mine, rands, got = yield from self._contribute(
            2 * n, self.random_bits, "knowledge", "triple-ab"
        )
        m = self.parties
        enc_a = [ops.sum_ct(pk, [got[j][t] for j in range(m)]) for t in range(n)]
        enc_b_own = {j: got[j][n:] for j in range(m)}
        enc_b = [ops.sum_ct(pk, [got[j][n + t] for j in range(m)]) for t in range(n)]
        # Enc(a * b_j) with a proof that the multiplier is the plaintext of our Enc(b_j).
        rnd = p.next_round()
        ctx = p.ctx("triple-c", rnd)
        prods, proofs = [], []
        for t in range(n):
            b_j, r_b = mine[n + t], rands[n + t]
            rerand, gamma = p.encrypt(0)
            ec = int(multiply(pk, enc_a[t], b_j) * rerand % pk.n_square)
            st = multiplication.Statement(enc_b_own[self.party][t], enc_a[t], ec)
            prods.append(ec)
            proofs.append(
                proof_to_wire(
                    multiplication.prove(pk, st, b_j, r_b, gamma, ctx, encryptor=p.encryptor)
                )
            )
        payload = {"c": prods, "c_proof": proofs}
        replies = yield Exchange(f"spdz-triple-c/{rnd}", payload)
        replies[self.party] = payload
        all_c: dict[int, list[int]] = {}
        items = []
        for j in range(m):
            all_c[j] = ciphertexts_from_wire(pk, replies[j].get("c"), n, j, "triple product")
            if j == self.party:
                continue
            raw = replies[j].get("c_proof")
            if not isinstance(raw, list) or len(raw) != n:
                raise ProtocolViolation("triple product: wrong number of proofs", culprit=j)
            ctx_j = p.ctx("triple-c", rnd, j)
            for t in range(n):
                st = multiplication.Statement(enc_b_own[j][t], enc_a[t], all_c[j][t])
                items.append(
                    (
                        st,
                        proof_from_wire(
                            multiplication.MultiplicationProof, raw[t], j, "multiplication"
                        ),
                        ctx_j,
                    )
                )
        try:
            if items:
                multiplication.verify_batch(pk, items)
        except ProofRejected as exc:
            raise rejected(exc) from exc
        enc_c = [ops.sum_ct(pk, [all_c[j][t] for j in range(m)]) for t in range(n)]
        factor_bits = self.random_bits + m.bit_length()
        bounds = [factor_bits] * (2 * n) + [2 * factor_bits] * n
        conv = yield from self._auth(enc_a + enc_b + enc_c, bounds, phase="triple-auth")
        s = conv.share
        return s[:n], s[n : 2 * n], s[2 * n :]

    def triples(self, n: int) -> Program[Batch]:
        """n checked triples: 2n are generated and every kept one is checked against another."""
        a, b, c = yield from self.raw_triples(2 * n)
        spdz = self._spdz("sacrifice")
        seeds = yield from spdz._commit_open("sacrifice-coin", secrets.token_bytes(32))
        h = hashlib.sha3_256(b"coopetition/spdz/sacrifice/v1")
        for j in range(self.parties):
            h.update(seeds[j])
        t = int.from_bytes(hashlib.shake_256(h.digest()).digest(40), "big") % F.P
        a1, b1, c1 = a[:n], b[:n], c[:n]
        f, g, hh = a[n:], b[n:], c[n:]
        opened = yield from spdz.open(Share.concat([a1.scale(t) - f, b1 - g]))
        rho, sigma = opened[:n], opened[n:]
        z = c1.scale(t) - hh - f.scale(sigma) - g.scale(rho)
        z = z.add_public(F.neg(F.mul(sigma, rho)), self.party, spdz.alpha_share)
        zero = yield from spdz.open(z)
        yield from spdz.mac_check()
        if any(int(v) != 0 for v in zero):
            raise SacrificeFailed("a generated triple failed the sacrifice check")
        return Batch("triple", self._batch_id("triple"), (a1, b1, c1))

    def bits(self, n: int) -> Program[Batch]:
        """n random shared bits: the XOR of one proved bit per party, then authenticated.

        Each party encrypts a random bit with a proof that it is 0 or 1 (:mod:`.bitproof`).
        In turn, party j (j = 1..m-1) replaces the running Enc(x) by
        Enc(x)^(1-2 b_j) * Enc(0) with a multiplication proof against Enc(1 - 2 b_j), which
        anyone derives from Enc(b_j) as (1+N) * Enc(b_j)^-2; adding Enc(b_j) gives
        Enc(x XOR b_j) = Enc(x (1 - 2 b_j) + b_j). The result is uniform if one party is honest
        (its bit is hidden and the others' are fixed by their proofs before it matters), and it
        is exactly 0 or 1 by the proofs, so no sacrifice is needed. Costs m-1 sequential rounds
        per batch and about a fifth of the square-root method's exponentiations.
        """
        p = self.paillier
        pk, m = p.pk, self.parties
        n2 = pk.n_square
        rnd = p.next_round()
        ctx = p.ctx("bit-contrib", rnd)
        mine = [self._sample(1) for _ in range(n)]
        cts, proofs, rands = [], [], []
        for b in mine:
            c, r = p.encrypt(b)
            cts.append(c)
            rands.append(r)
            proofs.append(proof_to_wire(bitproof.prove(pk, c, b, r, ctx, p.encryptor)))
        payload = {"v": cts, "v_proof": proofs}
        replies = yield Exchange(f"spdz-bit-contrib/{rnd}", payload)
        replies[self.party] = payload
        got: dict[int, list[int]] = {}
        items = []
        for j in range(m):
            got[j] = ciphertexts_from_wire(pk, replies[j].get("v"), n, j, "bit")
            if j == self.party:
                continue
            raw = replies[j].get("v_proof")
            if not isinstance(raw, list) or len(raw) != n:
                raise ProtocolViolation("bit: wrong number of proofs", culprit=j)
            ctx_j = p.ctx("bit-contrib", rnd, j)
            items += [
                (got[j][t], proof_from_wire(bitproof.BitProof, raw[t], j, "bit"), ctx_j)
                for t in range(n)
            ]
        try:
            if items:
                bitproof.verify_batch(pk, items)
        except ProofRejected as exc:
            raise rejected(exc) from exc

        def flip_ciphertext(c: int) -> int:  # Enc(1 - 2b) from Enc(b)
            return ops.add_plain(pk, int(pow(c, -2, n2)), 1)

        x = list(got[0])
        for j in range(1, m):
            rnd_j = p.next_round()
            ctx_j = p.ctx("bit-xor", rnd_j, j)
            payload = {}
            if self.party == j:
                ecs, prs = [], []
                for t in range(n):
                    rerand, gamma = p.encrypt(0)
                    if mine[t] == 0:
                        ec, witness_gamma = x[t] * rerand % n2, gamma
                    else:
                        # Eb^(N-1) gamma^N = Eb^-1 (gamma * Eb)^N: one inversion, no |N|-bit power.
                        ec = int(pow(x[t], -1, n2) * rerand % n2)
                        witness_gamma = gamma * int(pow(x[t] % pk.n, -1, pk.n)) % pk.n
                    ra = int(pow(rands[t], -2, pk.n))
                    st = multiplication.Statement(flip_ciphertext(cts[t]), x[t], int(ec))
                    ecs.append(int(ec))
                    prs.append(
                        proof_to_wire(
                            multiplication.prove(
                                pk,
                                st,
                                1 - 2 * mine[t],
                                ra,
                                witness_gamma,
                                ctx_j,
                                encryptor=p.encryptor,
                            )
                        )
                    )
                payload = {"c": ecs, "c_proof": prs}
            replies = yield Exchange(f"spdz-bit-xor/{rnd_j}", payload)
            replies[self.party] = payload
            ecs = ciphertexts_from_wire(pk, replies[j].get("c"), n, j, "bit xor")
            if self.party != j:
                raw = replies[j].get("c_proof")
                if not isinstance(raw, list) or len(raw) != n:
                    raise ProtocolViolation("bit xor: wrong number of proofs", culprit=j)
                checks = [
                    (
                        multiplication.Statement(flip_ciphertext(got[j][t]), x[t], ecs[t]),
                        proof_from_wire(
                            multiplication.MultiplicationProof, raw[t], j, "multiplication"
                        ),
                        ctx_j,
                    )
                    for t in range(n)
                ]
                try:
                    multiplication.verify_batch(pk, checks)
                except ProofRejected as exc:
                    raise rejected(exc) from exc
            x = [ops.add(pk, ecs[t], got[j][t]) for t in range(n)]
        conv = yield from self._auth(x, 1, phase="bit-auth")
        return Batch("bit", self._batch_id("bit"), (conv.share,))

    def bits_from_squares(self, n: int) -> Program[Batch]:
        """n random shared bits from n random values and n triples (square-root trick).

        The textbook SPDZ method, kept as the benchmark's reference point for :meth:`bits`.
        """
        spdz = self._spdz("bits")
        rand = yield from self.randoms(n)
        trip = yield from self.triples(n)
        spdz.store.add(rand)
        spdz.store.add(trip)
        a = spdz.store.take("random", n).parts[0]
        sq = yield from spdz.mul(a, a)
        opened = yield from spdz.open(sq)
        yield from spdz.mac_check()
        bits = bits_from_opened_squares(a, opened, self.party, spdz.alpha_share)
        return Batch("bit", self._batch_id("bit"), (bits,))

    # -- planning ------------------------------------------------------------------------------

    def fill(
        self,
        *,
        triples: int = 0,
        bits: int = 0,
        randoms: int = 0,
        bounded: tuple[tuple[int, int], ...] = (),
        input_masks: dict[int, int] | None = None,
    ) -> Program[PreprocessingStore]:
        """Generate the requested material into this party's store (all parties call alike)."""
        if self.store is None:
            yield from self.setup()
        assert self.store is not None
        if triples:
            self.store.add((yield from self.triples(triples)))
        if bits:
            self.store.add((yield from self.bits(bits)))
        if randoms:
            self.store.add((yield from self.randoms(randoms)))
        for width, count in bounded:
            if count:
                self.store.add((yield from self.bounded(count, width)))
        for owner, count in sorted((input_masks or {}).items()):
            if count:
                self.store.add((yield from self.input_masks(owner, count)))
        return self.store


def bits_from_opened_squares(r: Share, squares: np.ndarray, party: int, alpha_share: int) -> Share:
    """[[(r / sqrt(r^2) + 1) / 2]]: a shared bit from [[r]] and its opened, MAC-checked square.

    sqrt picks the root in the lower half of the square roots' pair (P = 3 mod 4), so
    r / sqrt(r^2) is +1 or -1 with probability 1/2 each, unknown to everyone.
    """
    if any(int(v) == 0 for v in squares):
        raise LocalFailure("a random value was zero (probability 2^-256); rerun the batch")
    signs = r.scale(F.inv_vec(F.sqrt_vec(squares)))  # +-1
    return signs.add_public(1, party, alpha_share).scale(F.inv(2))
