"""Paillier ciphertexts -> authenticated SPDZ shares: the shared core of the offline phase and
of Helen's Gadget 3.

Every party holds a key share of an m-out-of-m threshold Paillier key and its share alpha_j of
the SPDZ MAC key, published once as Enc(alpha_j) with a tight range proof of 0 <= alpha_j < P
(alpha = sum alpha_j is an integer in [0, m P), and alpha mod P is the SPDZ key). To
authenticate public
ciphertexts Enc(x_1..x_n) of integers with |x| < 2**B:

round 1, each party j broadcasts
  * Enc(alpha_j * x_t) = Enc(x_t)**alpha_j * Enc(0; gamma) with a plaintext-ciphertext
    multiplication proof (Cramer-Damgard-Nielsen) against its published Enc(alpha_j);
  * masks Enc(r_jt) with r_jt uniform in [0, 2**(B+kappa)) and Enc(s_jt) with s_jt uniform in
    [0, 2**(B_mac+kappa)), each with a proof: a tight range proof of exactly that interval
    (Gadget 3, ``mode="bounded"``; the paper's interval proofs, Helen VI-D, without the slack;
    see ``ranges``) or a proof of plaintext knowledge (offline phase, see below);
round 2, each party broadcasts its decryption shares (with proofs) of
  Enc(x_t + sum_j r_jt) and Enc(alpha x_t + sum_j s_jt); everybody combines them to b_t, b'_t.
  With tight range proofs these are packed several to a plaintext first (``open_bounded``,
  ``packing``: every slot's interval is proved, so no slot overflows into the next).
Shares: party 0 takes b_t - r_0t mod P, party j > 0 takes -r_jt mod P (likewise for MACs).

Why masks need only proofs of knowledge in the offline phase: an honest party's mask is 2**kappa
times wider than the value, so the revealed b is within 2**-kappa of independent of x whatever
the others add; the proof of knowledge stops a party from making its mask depend on another
party's (e.g. Enc(-r_h)). A cheater whose mask makes x + sum r wrap modulo N only shifts the
resulting sharing by a multiple of N that it cannot match in the MAC without knowing alpha,
and whether the wrap happens is 2**-kappa-close to independent of x; the sacrifice and the MAC
check catch it. In Gadget 3 (``mode="bounded"``) the masks are range-proved, as in the paper
but exactly (slack 0; docs/crypto.md, "Gadget 3 and Gadget 4 with tight range proofs"): then
every party's shares are exactly the plaintexts of public ciphertexts, and the conversion is a
correct authentication of x under the Paillier alpha by construction, which is why Gadget 3
publishes no per-value shares (docs/crypto.md, "Gadget 3 without published shares").
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import gmpy2

from coopetition.engine.errors import LocalFailure, ProtocolViolation
from coopetition.protocols.paillier import ops
from coopetition.protocols.paillier.encryptor import Encryptor
from coopetition.protocols.paillier.keys import PublicKey, is_insecure_test_key
from coopetition.protocols.paillier.threshold import (
    KeyShare,
    ThresholdPublicKey,
    combine,
    partial_decrypt,
)
from coopetition.protocols.zk import interval, multiplication, plaintext
from coopetition.protocols.zk.errors import ProofRejected
from coopetition.protocols.zk.group import multi_pow, multiply
from coopetition.protocols.zk.range_params import RingPedersen, RingPedersenSecret
from coopetition.protocols.zk.transcript import ProofContext, Transcript

from . import field as F
from .online import DEFAULT_KAPPA, Exchange, Program
from .packing import Packing, capacity_bits, pack_slots
from .ranges import Group, GroupSpec, RangeContributions
from .shares import Share
from .wire import (
    ciphertexts_from_wire,
    proof_from_wire,
    proof_to_wire,
    rejected,
    share_from_wire,
    share_to_wire,
)

#: Interval-proof slack (bits): a verified value is below 2**(bits + slack) in absolute value.
SLACK_BITS = interval.DEFAULT_SLACK_BITS
#: How bounded contributions are proved: the tight range proof (default) or, as the
#: benchmark's reference point, the binary-challenge interval proof (2**80 slack).
RANGE = "range"
INTERVAL = "interval"
#: ``Conversion.direction`` of Helen's Gadget 3 records (``gadgets``).
FORWARD = "forward"
BACK = "back"
#: Bits of the random coefficients that batch a party's MAC multiplication proofs.
MAC_BATCH_BITS = 128
#: Bits of an alpha_j bound: 0 <= alpha_j < P < 2**256 (range-proved exactly; with interval
#: proofs the verifier only knows |alpha_j| < 2**(256 + slack)).
ALPHA_BITS = F.P_BITS


# -- the per-party conversion engine -----------------------------------------------------------


@dataclass
class PaillierParty(RangeContributions):
    """A party's Paillier side: threshold key share, MAC key share and its public encryptions.

    ``range_kind`` says how contributions with a range (MAC-key share, Gadget 3/4 masks,
    published shares, bounded masks) are proved: ``"range"`` (tight, slack 0, per-verifier
    ring-Pedersen parameters set up in :meth:`setup`; ``ranges``) or ``"interval"`` (2**80
    slack; kept only as the benchmark's before-figure). The bit budgets follow ``slack_bits``.
    """

    key_share: KeyShare
    session: bytes
    kappa: int = DEFAULT_KAPPA
    interval_repetitions: int = interval.DEFAULT_REPETITIONS
    encryptor: Encryptor | None = None
    range_kind: str = RANGE
    ring: RingPedersen | None = None
    ring_secret: RingPedersenSecret | None = None
    rings: dict[int, RingPedersen] = field(default_factory=dict)
    #: the trusted dealer's one (N~, s, t) for every verifier (``ranges``); None: per verifier
    common_ring: RingPedersen | None = None
    alpha_share: int = 0
    alpha_randomness: int = 0
    enc_alpha_shares: list[int] = field(default_factory=list)
    enc_alpha: int = 0
    #: Set at the end of the run (``gadgets.verify_conversions``): the SPDZ party is retired and
    #: nothing more is authenticated under this key. (alpha itself is never released.)
    mac_key_retired: bool = False
    _round: int = 0

    def __post_init__(self) -> None:
        if self.encryptor is None:
            self.encryptor = Encryptor(self.pk)
        if self.range_kind not in (RANGE, INTERVAL):
            raise ValueError(f"range_kind must be {RANGE!r} or {INTERVAL!r}")

    @property
    def slack_bits(self) -> int:
        """Bits beyond its bound that a verifier of a bounded contribution is not sure of.

        0 for the tight range proof (0 <= x <= high exactly); the interval proof's 80 (the
        verifier only learns |x| < 2**(bits + 80), either sign).
        """
        return 0 if self.range_kind == RANGE else SLACK_BITS

    @property
    def tpk(self) -> ThresholdPublicKey:
        return self.key_share.threshold_public

    @property
    def pk(self) -> PublicKey:
        return self.key_share.threshold_public.public

    @property
    def party(self) -> int:
        return self.key_share.party

    @property
    def parties(self) -> int:
        return self.key_share.threshold_public.parties

    def next_round(self) -> int:
        self._round += 1
        return self._round

    def ctx(self, phase: str, rnd: int, prover: int | None = None) -> ProofContext:
        return ProofContext(
            self.session, f"spdz/{phase}", rnd, self.party if prover is None else prover
        )

    def interval_params(self, bits: int) -> interval.IntervalParams:
        # fewer than interval.MIN_REPETITIONS only with a key made through the insecure test option
        weak = is_insecure_test_key(self.pk)
        return interval.IntervalParams(
            bits=bits, repetitions=self.interval_repetitions, insecure_allow_weak=weak
        )

    def encrypt(self, m: int) -> tuple[int, int]:
        assert self.encryptor is not None
        return self.encryptor.encrypt_with_randomness(m)

    # -- proofs of what a party contributes ----------------------------------------------------

    def prove_bounded(
        self, groups: Sequence[Group], phase: str, rnd: int
    ) -> tuple[dict[str, Any], dict[str, list[int]]]:
        """Encrypt each group's values (each in [0, high]) with range proofs (``range_kind``).

        Returns the payload entries and the encryption randomness per key. The tight proof
        covers all groups in one proof per verifier; interval proofs go one per value.
        """
        if self.range_kind == RANGE:
            return self.prove_groups(groups, phase, rnd)
        payload: dict[str, Any] = {}
        rands: dict[str, list[int]] = {}
        for key, values, high in groups:
            cts, proofs, rs = self.prove_values(values, INTERVAL, high.bit_length(), phase, rnd)
            payload[key], payload[key + "_proof"], rands[key] = cts, proofs, rs
        return payload, rands

    def verify_bounded(
        self,
        replies: dict[int, dict[str, Any]],
        groups: Sequence[GroupSpec],
        phase: str,
        rnd: int,
        *,
        senders: Sequence[int] | None = None,
    ) -> dict[str, dict[int, list[int]]]:
        """Every sender's ciphertexts per key, each checked to lie in [0, high] (+ slack)."""
        if self.range_kind == RANGE:
            return self.verify_groups(replies, groups, phase, rnd, senders=senders)
        return {
            key: self.verify_values(
                replies, key, count, INTERVAL, high.bit_length(), phase, rnd, senders=senders
            )
            for key, count, high in groups
        }

    def prove_values(
        self, values: Sequence[int], mode: str, bits: int, phase: str, rnd: int
    ) -> tuple[list[int], list[list[Any]], list[int]]:
        """Encrypt own values and prove each (interval proof for [0, 2**bits) or knowledge).

        Returns the ciphertexts, the proofs (wire form) and the encryption randomness.
        """
        cts, proofs, rands = [], [], []
        ctx = self.ctx(phase, rnd)
        for v in values:
            c, r = self.encrypt(int(v))
            if mode == "interval":
                proofs.append(
                    proof_to_wire(
                        interval.prove(
                            self.pk,
                            c,
                            int(v),
                            r,
                            ctx,
                            self.interval_params(bits),
                            encryptor=self.encryptor,
                        )
                    )
                )
            else:
                proofs.append(
                    proof_to_wire(
                        plaintext.prove(self.pk, c, int(v), r, ctx, encryptor=self.encryptor)
                    )
                )
            cts.append(c)
            rands.append(r)
        return cts, proofs, rands

    def verify_values(
        self,
        replies: dict[int, dict[str, Any]],
        key: str,
        n: int,
        mode: str,
        bits: int,
        phase: str,
        rnd: int,
        *,
        senders: Sequence[int] | None = None,
    ) -> dict[int, list[int]]:
        """Check every other party's encrypted contributions and their proofs (batched)."""
        out: dict[int, list[int]] = {}
        items: list[tuple[int, Any, ProofContext]] = []
        for j in senders if senders is not None else range(self.parties):
            payload = replies[j]
            cts = ciphertexts_from_wire(self.pk, payload.get(key), n, j, key)
            out[j] = cts
            if j == self.party:
                continue
            raw = payload.get(key + "_proof")
            if not isinstance(raw, list) or len(raw) != n:
                raise ProtocolViolation(f"{key}: expected {n} proofs", culprit=j)
            cls = interval.IntervalProof if mode == "interval" else plaintext.PlaintextProof
            ctx = self.ctx(phase, rnd, j)
            items += [
                (c, proof_from_wire(cls, p, j, mode), ctx) for c, p in zip(cts, raw, strict=True)
            ]
        try:
            if items and mode == "interval":
                interval.verify_batch(self.pk, items, self.interval_params(bits))
            elif items:
                plaintext.verify_batch(self.pk, items)
        except ProofRejected as exc:
            raise rejected(exc) from exc
        return out

    # -- setup: the MAC key ---------------------------------------------------------------------

    def setup(self) -> Program[None]:
        """Ring-Pedersen parameters (tight range proofs only), then the MAC key.

        Choose alpha_j in [0, P), publish Enc(alpha_j) with a range proof of exactly that
        interval; Enc(alpha) = product, so 0 <= alpha < m P whatever a cheater does.
        """
        if self.range_kind == RANGE:
            yield from self.setup_rings()
        rnd = self.next_round()
        self.alpha_share = secrets.randbelow(F.P)
        payload, rands = self.prove_bounded([("a", [self.alpha_share], F.P - 1)], "mac-key", rnd)
        self.alpha_randomness = rands["a"][0]
        replies = yield Exchange(f"spdz-mac-key/{rnd}", payload)
        got = self.verify_bounded(replies, [("a", 1, F.P - 1)], "mac-key", rnd)["a"]
        self.enc_alpha_shares = [got[j][0] for j in range(self.parties)]
        self.enc_alpha = ops.sum_ct(self.pk, self.enc_alpha_shares)
        return None

    @property
    def alpha_bits(self) -> int:
        """Bound on |alpha| as an integer: m contributions, each below 2**(256 + slack)."""
        return ALPHA_BITS + self.slack_bits + self.parties.bit_length()

    # -- decryption -----------------------------------------------------------------------------

    def joint_decrypt(self, cts: list[int], phase: str) -> Program[list[int]]:
        """Threshold-decrypt public ciphertexts; every share's proof is checked (culprit named)."""
        rnd = self.next_round()
        ctx = self.ctx(phase, rnd)
        mine = partial_decrypt(self.key_share, cts, ctx)
        replies = yield Exchange(f"spdz-decrypt/{phase}/{rnd}", {"d": share_to_wire(mine)})
        shares = {
            j: mine
            if j == self.party
            else share_from_wire(self.pk, replies[j].get("d"), len(cts), j)
            for j in range(self.parties)
        }
        return combine(self.tpk, shares, cts, ctx, own=self.party)

    def open_bounded(
        self, cts: list[int], bounds: Sequence[tuple[int, int]], phase: str
    ) -> Program[list[int]]:
        """Joint decryption of ciphertexts whose plaintexts lie in *proved* intervals [lo, hi],
        packed several to a plaintext (``packing``). Only with exact range proofs (slack 0):
        with interval proofs a bound is not proved, so each ciphertext is decrypted alone."""
        if self.range_kind != RANGE:
            return (yield from self.joint_decrypt(cts, phase))
        layout = Packing.plan(bounds, capacity_bits(self.pk))
        opened = yield from self.joint_decrypt(layout.pack(self.pk, cts), phase)
        return layout.unpack(self.pk, opened)

    # -- authentication: ciphertexts -> shares with MACs ---------------------------------------

    def authenticate(
        self,
        cts: Sequence[int],
        value_bits: int | Sequence[int],
        *,
        mode: str = "knowledge",
        phase: str = "auth",
    ) -> Program[Conversion]:
        """Authenticated shares of the plaintexts of public ``cts`` (|x_t| < 2**value_bits[_t]).

        ``value_bits`` is one bound for all values or one per value (the packed offline path
        then gives each value a slot of its own width).
        """
        per_value = (
            [int(value_bits)] * len(cts)
            if isinstance(value_bits, int)
            else [int(b) for b in value_bits]
        )
        if len(per_value) != len(cts):
            raise ValueError("one bit bound per ciphertext")
        value_bits = max(per_value, default=1)
        if not self.enc_alpha_shares:
            raise RuntimeError("run setup() first")
        if self.mac_key_retired:
            raise LocalFailure(
                "the MAC key was retired (end of the run); nothing more can be authenticated"
            )
        pk, n = self.pk, len(cts)
        mac_bits = value_bits + self.alpha_bits
        mask_bits = value_bits + self.kappa
        mac_mask_bits = mac_bits + self.kappa
        # |alpha x + sum_j s_j| < 2**(mac_mask_bits + slack + lm + 1) must stay below N/2
        # (gadgets.gadget3_key_bits states the same bound).
        need = mac_mask_bits + self.parties.bit_length() + self.slack_bits + 3
        if need > pk.bits:
            raise ValueError(
                f"{pk.bits}-bit Paillier key too small for {value_bits}-bit values with MACs "
                f"(needs {need} bits)"
            )
        rnd = self.next_round()
        ctx = self.ctx(phase, rnd)
        # MAC ciphertexts Enc(alpha_j x_t) with multiplication proofs.
        # One multiplication proof covers all of them (the multiplier alpha_j is the same):
        # see ``_mac_batch``.
        macs, gammas = [], []
        for c in cts:
            rerand, gamma = self.encrypt(0)
            macs.append(int(multiply(pk, c, self.alpha_share) * rerand % pk.n_square))
            gammas.append(gamma)
        rhos = self._mac_batch(self.party, cts, macs, phase, rnd)
        st = multiplication.Statement(
            self.enc_alpha_shares[self.party],
            _combine(pk, cts, rhos, pk.n_square),
            _combine(pk, macs, rhos, pk.n_square),
        )
        gamma_all = _combine(pk, gammas, rhos, pk.n)
        mac_proofs = [
            proof_to_wire(
                multiplication.prove(
                    pk,
                    st,
                    self.alpha_share,
                    self.alpha_randomness,
                    gamma_all,
                    ctx,
                    encryptor=self.encryptor,
                )
            )
        ]
        if mode == "knowledge":
            return (yield from self._open_packed(cts, macs, mac_proofs, per_value, phase, rnd))
        if mode != "bounded":
            raise ValueError("authenticate mode is 'knowledge' (packed) or 'bounded' (Gadget 3)")
        r_mine = [self.mask(mask_bits) for _ in range(n)]
        s_mine = [self.mask(mac_mask_bits) for _ in range(n)]
        groups = [("r", n, (1 << mask_bits) - 1), ("s", n, (1 << mac_mask_bits) - 1)]
        masks, _ = self.prove_bounded(
            [("r", r_mine, groups[0][2]), ("s", s_mine, groups[1][2])], phase, rnd
        )
        payload = {"mac": macs, "mac_proof": mac_proofs, **masks}
        replies = yield Exchange(f"spdz-{phase}/{rnd}", payload)
        replies[self.party] = payload
        enc_mac = self._check_macs(cts, replies, phase, rnd)
        got = self.verify_bounded(replies, groups, phase, rnd)
        r_all, s_all = got["r"], got["s"]
        masked_x = [
            ops.sum_ct(pk, [int(cts[t])] + [r_all[j][t] for j in range(self.parties)])
            for t in range(n)
        ]
        masked_m = [
            ops.sum_ct(pk, [enc_mac[t]] + [s_all[j][t] for j in range(self.parties)])
            for t in range(n)
        ]
        m = self.parties
        bounds = [(1 - (1 << value_bits), (1 << value_bits) - 1 + m * ((1 << mask_bits) - 1))] * n
        bounds += [(1 - (1 << mac_bits), (1 << mac_bits) - 1 + m * ((1 << mac_mask_bits) - 1))] * n
        opened = yield from self.open_bounded(masked_x + masked_m, bounds, phase + "-open")
        share = self.local_shares(opened[:n], opened[n:], r_mine, s_mine)
        return Conversion(share=share, ciphertexts=[int(c) for c in cts], value_bits=value_bits)

    def mask(self, bits: int) -> int:
        """An honest mask, uniform in [0, 2**bits) (a seam: tests override it to cheat)."""
        return secrets.randbits(bits)

    def _mac_batch(
        self, prover: int, cts: Sequence[int], macs: Sequence[int], phase: str, rnd: int
    ) -> list[int]:
        """Fiat-Shamir coefficients rho_t for proving all of a party's MACs at once.

        Party j shows Dec(prod Ec_t^rho_t) = alpha_j * Dec(prod Eb_t^rho_t) with one
        multiplication proof. If some Ec_t is off by e_t != 0 (mod N), the combination is off by
        sum rho_t e_t, which vanishes modulo N for at most one rho_t modulo each prime factor of
        N (> 2**128) given the others; the rho_t are drawn after every Ec_t is fixed, so a
        wrong MAC ciphertext passes with probability about 2**-MAC_BATCH_BITS per attempt.
        """
        t = Transcript("coopetition/spdz/mac-batch/v1")
        self.ctx(phase, rnd, prover).absorb_into(t)
        t.absorb(
            self.pk.n, self.enc_alpha_shares[prover], [int(c) for c in cts], [int(c) for c in macs]
        )
        return t.challenge_ints(len(cts), MAC_BATCH_BITS)

    def _check_macs(
        self, cts: Sequence[int], replies: dict[int, dict[str, Any]], phase: str, rnd: int
    ) -> list[int]:
        """Verify every party's MAC ciphertexts (batched multiplication proofs); Enc(alpha x)."""
        pk, n = self.pk, len(cts)
        all_macs: dict[int, list[int]] = {}
        items = []
        for j in range(self.parties):
            all_macs[j] = ciphertexts_from_wire(pk, replies[j].get("mac"), n, j, "mac")
            if j == self.party:
                continue
            raw = replies[j].get("mac_proof")
            if not isinstance(raw, list) or len(raw) != 1:
                raise ProtocolViolation("mac: expected one batched multiplication proof", culprit=j)
            rhos = self._mac_batch(j, cts, all_macs[j], phase, rnd)
            st = multiplication.Statement(
                self.enc_alpha_shares[j],
                _combine(pk, cts, rhos, pk.n_square),
                _combine(pk, all_macs[j], rhos, pk.n_square),
            )
            proof = proof_from_wire(multiplication.MultiplicationProof, raw[0], j, "multiplication")
            items.append((st, proof, self.ctx(phase, rnd, j)))
        try:
            if items:
                multiplication.verify_batch(pk, items)
        except ProofRejected as exc:
            raise rejected(exc) from exc
        return [ops.sum_ct(pk, [all_macs[j][t] for j in range(self.parties)]) for t in range(n)]

    def _open_packed(
        self,
        cts: Sequence[int],
        macs: list[int],
        mac_proofs: list[Any],
        value_bits: list[int],
        phase: str,
        rnd: int,
    ) -> Program[Conversion]:
        """Mask and open values and MACs packed into as few plaintexts as fit.

        Slot t holds x_t + 2**B + sum_j r_jt (non-negative, below 2**W) at a bit offset of its
        plaintext; one masked ciphertext per plaintext is decrypted instead of one per value
        and one per MAC, and each party encrypts and proves one packed mask per plaintext.
        Packing costs public exponentiations by powers of two, far cheaper than the threshold
        decryptions it saves. A cheater's packed mask may overflow a slot into the next; that
        is an additive error the MAC check catches, as any other wrong mask.
        """
        pk, n, m = self.pk, len(cts), self.parties
        pad = self.kappa + 2 + m.bit_length()
        slots = []  # (index t, is_mac, bound bits, width)
        for t in range(n):
            mac_bits = value_bits[t] + self.alpha_bits
            slots.append((t, False, value_bits[t], value_bits[t] + pad))
            slots.append((t, True, mac_bits, mac_bits + pad))
        groups = pack_slots([w for *_, w in slots], pk.bits - 2)
        mine: list[int] = [secrets.randbits(slots[i][2] + self.kappa) for i in range(len(slots))]
        own_packed = [sum(mine[i] << off for i, off in group) for group in groups]
        r_cts, r_proofs, _ = self.prove_values(own_packed, "knowledge", 0, phase, rnd)
        payload = {"mac": macs, "mac_proof": mac_proofs, "r": r_cts, "r_proof": r_proofs}
        replies = yield Exchange(f"spdz-{phase}/{rnd}", payload)
        replies[self.party] = payload
        enc_mac = self._check_macs(cts, replies, phase, rnd)
        r_all = self.verify_values(replies, "r", len(groups), "knowledge", 0, phase, rnd)
        # Slot i holds x_t + 2**bound (lower bound -2**bound); Horner's rule packs a group in
        # one squaring per bit of its last offset, not one per bit of every offset.
        layout = Packing(
            groups, [-(1 << bound) for _, _, bound, _ in slots], [w for *_, w in slots]
        )
        packed = layout.pack(
            pk, [enc_mac[t] if is_mac else int(cts[t]) for t, is_mac, _, _ in slots]
        )
        masked = [
            ops.sum_ct(pk, [packed[g]] + [r_all[j][g] for j in range(m)])
            for g in range(len(groups))
        ]
        opened = yield from self.joint_decrypt(masked, phase + "-open")
        b, bm = [0] * n, [0] * n
        for g, group in enumerate(groups):
            for i, off in group:
                t, is_mac, bound, width = slots[i]
                content = ((opened[g] % pk.n) >> off) & ((1 << width) - 1)
                (bm if is_mac else b)[t] = content - (1 << bound)
        r = [mine[2 * t] for t in range(n)]
        s = [mine[2 * t + 1] for t in range(n)]
        share = self.local_shares(b, bm, r, s)
        return Conversion(
            share=share, ciphertexts=[int(c) for c in cts], value_bits=max(value_bits, default=1)
        )

    def local_shares(self, b: list[int], bm: list[int], r: list[int], s: list[int]) -> Share:
        """Party 0: opened minus own mask; everyone else: minus own mask (values and MACs)."""
        n = len(b)
        if self.party == 0:
            return Share(
                F.vec([b[t] - r[t] for t in range(n)]), F.vec([bm[t] - s[t] for t in range(n)])
            )
        return Share(F.vec([-x for x in r]), F.vec([-x for x in s]))


def _combine(pk: PublicKey, values: Sequence[int], exponents: Sequence[int], modulus: int) -> int:
    """prod values_t ** exponents_t mod modulus for the 128-bit batching coefficients.

    One multi-exponentiation (Pippenger's buckets share the squarings): 3-5x less CPU than a
    power per value for 33-512 values at |N^2| = 4096 bits (docs/benchmarks.md).
    """
    pairs = [(gmpy2.mpz(v), int(e)) for v, e in zip(values, exponents, strict=True)]
    return int(multi_pow(pairs, gmpy2.mpz(modulus)))


@dataclass
class Conversion:
    """The result of converting ciphertexts: this party's shares and the public transcript."""

    share: Share
    ciphertexts: list[int]
    value_bits: int
    #: FORWARD (Gadget 3: ciphertexts -> shares), BACK (shares -> ciphertexts) or OFFLINE
    #: (preprocessing items; never in Helen's ledger).
    direction: str = "offline"
    #: BACK only: the opening that built the ciphertexts was MAC-checked first.
    mac_checked: bool = False

    def __len__(self) -> int:
        return len(self.ciphertexts)
