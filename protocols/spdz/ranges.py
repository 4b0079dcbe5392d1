"""Tight range proofs for a Paillier party's own contributions (masks, shares, MAC-key share).

Why: Gadget 3, Gadget 4 and the offline phase's bounded masks need every party's contribution
to lie in a public interval, and the budgets of Paillier's plaintext space and of SPDZ's field
are sized from the interval the *verifier* is convinced of. The binary-challenge interval proof
(``zk.interval``) convinces it only of |x| < 2^(bits+80) and costs about 11 E per value; the
tight range proof (``zk.range_proof``) convinces it of 0 <= x <= high exactly and costs about
1 E per value and verifier to prove, 0.3 E to verify, batched.

How (as Helen's input proofs do): each party owns ring-Pedersen parameters (N~, s, t) and
publishes them once, with the proof that s lies in <t>, in :meth:`RangeContributions.setup_rings`;
everybody checks everybody else's parameter proof (a failure names the owner) before committing
under them. A prover then makes, per exchange, ONE batched range proof per verifier, under that
verifier's parameters, covering every value it contributes in the round (all groups, e.g. the
value masks and the MAC masks of a conversion); an honest verifier checks only the proof made
for it, with its own parameters (binding rests on the strong RSA assumption modulo its own
N~, whose factorisation only it knows). Wire form: ``payload[RANGE_PROOF]`` is a list of m
entries, entry v the encoded proof for verifier v (``[]`` at the prover's own index).

With a **common modulus** (``common_ring``: one (N~, s, t) made by the trusted dealer that also
made the threshold key, factorisation erased) nobody publishes parameters: a prover makes ONE
proof per exchange under the common parameters, ``payload[RANGE_PROOF]`` is a list of exactly
one entry, and every verifier checks that same proof (it travels in the exchange's consistent
broadcast). Proving costs 1/(m - 1) of the per-verifier form; binding then rests on the dealer
having erased N~'s factorisation, as the threshold key's privacy rests on it having erased p
and q (docs/crypto.md, "A common ring-Pedersen modulus from the trusted dealer").

Guarantee per accepted round and prover: every listed ciphertext decrypts to an integer in
[0, high] of its group, exactly, with soundness error 4 * 2^-128 (docs/crypto.md, "Tight range
proofs"), under strong RSA modulo the verifier's own N~ (or the dealer's common N~). A
rejection is ``CheatingDetected`` naming the prover.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from coopetition.engine.errors import ConfigMismatch, ProtocolViolation
from coopetition.protocols.paillier.keys import DEFAULT_MODULUS_BITS, is_insecure_test_key
from coopetition.protocols.zk import codec, range_proof
from coopetition.protocols.zk import range_params as rpm
from coopetition.protocols.zk.errors import ProofRejected
from coopetition.protocols.zk.range_proof import RangeProof, RangeStatement, RangeWitness
from coopetition.protocols.zk.transcript import ProofContext

from .online import Exchange, Program
from .wire import ciphertexts_from_wire, rejected

if TYPE_CHECKING:
    from coopetition.protocols.paillier.keys import PublicKey

#: Payload key of the per-verifier range proofs of an exchange.
RANGE_PROOF = "range_proof"
#: Ring-Pedersen modulus with an INSECURE test Paillier key (tests and demos only).
INSECURE_RING_BITS = rpm.MIN_TEST_BITS

#: A group of contributions: (payload key, values or count, high); each value lies in [0, high].
Group = tuple[str, Sequence[int], int]
GroupSpec = tuple[str, int, int]


class RangeContributions:
    """Mixin of ``PaillierParty``: ring-Pedersen setup and tight range proofs of contributions.

    The host provides ``pk``, ``party``, ``parties``, ``encrypt``, ``encryptor``, ``ctx``,
    ``next_round`` and the attributes ``ring``, ``ring_secret``, ``rings``.
    """

    ring: rpm.RingPedersen | None
    ring_secret: rpm.RingPedersenSecret | None
    rings: dict[int, rpm.RingPedersen]
    common_ring: rpm.RingPedersen | None

    if TYPE_CHECKING:  # provided by PaillierParty

        @property
        def pk(self) -> PublicKey: ...
        @property
        def party(self) -> int: ...
        @property
        def parties(self) -> int: ...
        def encrypt(self, m: int) -> tuple[int, int]: ...
        def ctx(self, phase: str, rnd: int, prover: int | None = None) -> ProofContext: ...
        def next_round(self) -> int: ...

        encryptor: Any

    @property
    def ring_bits(self) -> int:
        """2048-bit N~; 512 bits only next to an INSECURE test Paillier key."""
        return INSECURE_RING_BITS if is_insecure_test_key(self.pk) else DEFAULT_MODULUS_BITS

    def setup_rings(self) -> Program[None]:
        """Publish own (N~, s, t) with the proof s in <t>; check every other party's.

        Parameters may be given beforehand (``ring``, ``ring_secret``); otherwise they are
        generated here (two safe primes: seconds at 2048 bits). A party whose parameters are
        malformed, not exactly ``ring_bits`` long or whose proof fails is named (``CheatingDetected``).
        """
        weak = is_insecure_test_key(self.pk)
        if self.common_ring is not None:  # the dealer's: only its fingerprint is compared
            rpm.check_common(self.common_ring, self.ring_bits)
            rnd = self.next_round()  # numbered as in the per-verifier form
            printed = rpm.fingerprint(self.common_ring)
            replies = yield Exchange(f"spdz-ring-params/{rnd}", {"common": printed})
            held = {j: r.get("common") if isinstance(r, dict) else None for j, r in replies.items()}
            if any(v != printed for v in held.values()):
                # a miswired dealer or a party in the per-verifier form: nobody is blamed
                raise ConfigMismatch.between("ring", held)
            self.ring, self.ring_secret = self.common_ring, None
            self.rings = dict.fromkeys(range(self.parties), self.common_ring)
            return None
        if self.ring is None or self.ring_secret is None:
            self.ring, self.ring_secret = rpm.generate(self.ring_bits, insecure_allow_small=weak)
        rnd = self.next_round()
        proof = rpm.prove_params(self.ring, self.ring_secret, self.ctx("ring-params", rnd))
        mine = {"ring": [int(self.ring.n), int(self.ring.s), int(self.ring.t)]}
        mine["proof"] = codec.encode(proof)
        replies = yield Exchange(f"spdz-ring-params/{rnd}", mine)
        rings = {self.party: self.ring}
        commons = {j: r.get("common") for j, r in replies.items() if isinstance(r, dict)}
        if any(v is not None for v in commons.values()):  # some party holds a common modulus
            raise ConfigMismatch.between(
                "ring", {j: v or "per-verifier" for j, v in commons.items()}
            )
        for j in range(self.parties):
            if j == self.party:
                continue
            got = replies[j] if isinstance(replies[j], dict) else {}
            raw = got.get("ring")
            if not (
                isinstance(raw, list)
                and len(raw) == 3
                and all(isinstance(v, int) and not isinstance(v, bool) for v in raw)
            ):
                raise ProtocolViolation("ring-Pedersen parameters malformed", culprit=j)
            theirs = rpm.RingPedersen(*raw)
            try:
                if theirs.bits != self.ring_bits:  # exactly: see helen.setup_phase
                    raise ProofRejected(
                        "ring-pedersen-params",
                        j,
                        f"N~ of {theirs.bits} bits, expected {self.ring_bits}",
                    )
                decoded = codec.decode(rpm.ParamProof, got.get("proof"), prover=j)
                rpm.verify_params(theirs, decoded, self.ctx("ring-params", rnd, j))
            except ProofRejected as exc:
                raise rejected(exc) from exc
            rings[j] = theirs
        self.rings = rings
        return None

    @property
    def proofs_per_exchange(self) -> int:
        """Range proofs one prover's exchange carries: one under a common modulus, else one
        per other party (wire bounds count these)."""
        return 1 if self.common_ring is not None else self.parties - 1

    def _require_rings(self) -> None:
        if set(self.rings) != set(range(self.parties)):
            raise RuntimeError("run setup() first: no checked ring-Pedersen parameters")

    def prove_groups(
        self, groups: Sequence[Group], phase: str, rnd: int
    ) -> tuple[dict[str, Any], dict[str, list[int]]]:
        """Encrypt every group's values; one range proof per verifier covering all of them
        (one proof for all verifiers under a common modulus).

        Returns the payload entries (``key`` -> ciphertexts, ``RANGE_PROOF`` -> proofs) and the
        encryption randomness per key.
        """
        self._require_rings()
        payload: dict[str, Any] = {}
        rands: dict[str, list[int]] = {}
        statements: list[RangeStatement] = []
        witnesses: list[RangeWitness] = []
        for key, values, high in groups:
            cts, rs = [], []
            for v in values:
                c, r = self.encrypt(int(v))
                cts.append(c)
                rs.append(r)
                statements.append(RangeStatement(c, 0, high))
                witnesses.append(RangeWitness(int(v), r))
            payload[key], rands[key] = cts, rs
        ctx = self.ctx(phase, rnd)
        # decomposed once for all verifiers; each proof commits to the squares afresh
        squares = self.decompose(statements, witnesses) if statements else []
        proofs: list[Any] = []
        if self.common_ring is not None:
            if statements:
                made = self.range_proof(self.common_ring, statements, witnesses, ctx, squares)
                proofs.append(codec.encode(made))
            payload[RANGE_PROOF] = proofs
            return payload, rands
        for v in range(self.parties):
            if v == self.party or not statements:
                proofs.append([])
                continue
            rp = self.rings[v]
            proofs.append(codec.encode(self.range_proof(rp, statements, witnesses, ctx, squares)))
        payload[RANGE_PROOF] = proofs
        return payload, rands

    def decompose(
        self, statements: Sequence[RangeStatement], witnesses: Sequence[RangeWitness]
    ) -> Sequence[tuple[int, ...]]:
        """Four-square decompositions of the prover's values (a seam, like ``range_proof``)."""
        return range_proof.decompose(statements, witnesses)

    def range_proof(
        self,
        rp: rpm.RingPedersen,
        statements: Sequence[RangeStatement],
        witnesses: Sequence[RangeWitness],
        ctx: ProofContext,
        squares: Sequence[tuple[int, ...]],
    ) -> RangeProof:
        """The proof for one verifier (a seam: tests override it to play a cheating prover)."""
        return range_proof.prove(
            self.pk, rp, statements, witnesses, ctx, encryptor=self.encryptor, squares=squares
        )

    def verify_groups(
        self,
        replies: dict[int, dict[str, Any]],
        groups: Sequence[GroupSpec],
        phase: str,
        rnd: int,
        *,
        senders: Sequence[int] | None = None,
    ) -> dict[str, dict[int, list[int]]]:
        """Every sender's ciphertexts per key, after checking the range proof made for us.

        ``groups`` lists (key, count, high) in the prover's order. Our own ciphertexts are
        taken as they are; each other sender's proof is verified under our own parameters.
        """
        self._require_rings()
        out: dict[str, dict[int, list[int]]] = {key: {} for key, _, _ in groups}
        for j in senders if senders is not None else range(self.parties):
            payload = replies[j] if isinstance(replies[j], dict) else {}
            statements = []
            for key, count, high in groups:
                cts = ciphertexts_from_wire(self.pk, payload.get(key), count, j, key)
                out[key][j] = cts
                statements += [RangeStatement(c, 0, high) for c in cts]
            if j == self.party or not statements:
                continue
            raw = payload.get(RANGE_PROOF)
            expected, mine = (1, 0) if self.common_ring is not None else (self.parties, self.party)
            if not isinstance(raw, list) or len(raw) != expected:
                raise ProtocolViolation(
                    f"expected {expected} range proof(s)"
                    + (" (one for all verifiers)" if expected == 1 else " (one per verifier)"),
                    culprit=j,
                )
            params = self.common_ring if self.common_ring is not None else self.ring
            assert params is not None
            try:
                proof = codec.decode(RangeProof, raw[mine], prover=j)
                range_proof.verify(self.pk, params, statements, proof, self.ctx(phase, rnd, j))
            except ProofRejected as exc:
                raise rejected(exc) from exc
        return out
