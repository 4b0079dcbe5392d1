"""Interval proof of plaintext knowledge: "I know m, r with c = Enc(m; r) and m is small".

Why binary challenges. Range proofs with large challenges (Boudot, Lipmaa, CGG21's Π^enc)
need an auxiliary group of unknown order and the strong RSA assumption. Paillier's plaintext
group Z_N alone cannot carry them: a prover who encrypts m = y/2 mod N answers every even
challenge as if m were y, so a big challenge buys at most one bit per round. With challenges
in {0, 1} the protocol needs no assumption at all beyond the random oracle:

    per repetition j: alpha_j uniform in [0, 2^(l+s)), rho_j in Z*_N, A_j = Enc(alpha_j; rho_j);
    challenge bit e_j; answer z_j = alpha_j + e_j*m (over the integers), w_j = rho_j r^(e_j)
    mod N; verifier checks 0 <= z_j < 2^(l+s) and (1+N)^(z_j) w_j^N = A_j c^(e_j) (mod N^2).

Guarantee (l = ``bits``, s = ``slack_bits``, k = ``repetitions``). Soundness: unless the
prover guessed all k challenge bits (probability 2^-k per random-oracle query), some A_j has
accepting answers for e = 0 and e = 1, which gives Dec(c) = z_j(1) - z_j(0) mod N; so the
verifier is convinced that Dec(c) = x mod N with -2^(l+s) < x < 2^(l+s) (slack factor 2^s,
and the interval is two-sided: add 2^(l+s) homomorphically to use it as a non-negative bound).
It is also a proof of knowledge of x (the extractor above). Completeness: an honest m in
[0, 2^l) makes z_j overflow with probability <= 2^-s per repetition; the prover then starts
over. Zero knowledge (honest verifier, statistical): each z_j is within statistical distance
2^-s of uniform on [0, 2^(l+s)) and each w_j is uniform, so the whole proof is within k*2^-s
of a simulation. Defaults: s = 80, k = 128 (soundness 2^-128, ZK distance 2^-73).

Verification multiplies the k equations together with random 128-bit exponents (see
``group``), costing one N-th power instead of k; 128-bit exponents (now every batch's
default), so that the batch (error 2^-128) does not cap the soundness 2^-k of k = 128.

Floors. ``IntervalParams.check`` refuses k < 128 and s < 80. Made non-interactive by
Fiat–Shamir, binary challenges let a cheater grind: each fresh set of commitments is a new
2^-k chance, so k is the security level in hash evaluations and must match the 128 bits of the
other proofs' challenges; s >= 80 keeps the zero-knowledge distance k*2^-s at 2^-73 for the
default k. Smaller values exist for tests only, behind ``insecure_allow_weak=True``.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from gmpy2 import mpz

from coopetition.protocols.paillier.encryptor import Encryptor
from coopetition.protocols.paillier.keys import PublicKey
from coopetition.protocols.zk import group
from coopetition.protocols.zk.group import Equation
from coopetition.protocols.zk.transcript import ProofContext

KIND = "interval"
DEFAULT_SLACK_BITS = 80
DEFAULT_REPETITIONS = 128
#: Smallest repetitions accepted without ``insecure_allow_weak`` (soundness 2^-128).
MIN_REPETITIONS = 128
#: Smallest slack accepted without ``insecure_allow_weak`` (statistical ZK k*2^-80).
MIN_SLACK_BITS = 80


@dataclass(frozen=True, slots=True)
class IntervalParams:
    """Public parameters: honest plaintexts lie in [0, 2^bits).

    ``insecure_allow_weak=True`` lifts the floors on ``repetitions`` and ``slack_bits``: for
    tests only (a proof with k repetitions is forged with about 2^k hash evaluations).
    """

    bits: int
    slack_bits: int = DEFAULT_SLACK_BITS
    repetitions: int = DEFAULT_REPETITIONS
    insecure_allow_weak: bool = False

    @property
    def bound(self) -> int:
        """The verifier is convinced that |Dec(c)| < bound (centred representative mod N)."""
        return 1 << (self.bits + self.slack_bits)

    def check(self, pk: PublicKey) -> None:
        if self.bits < 1 or self.slack_bits < 1 or self.repetitions < 1:
            raise ValueError("interval parameters must be positive")
        if not self.insecure_allow_weak and (
            self.repetitions < MIN_REPETITIONS or self.slack_bits < MIN_SLACK_BITS
        ):
            raise ValueError(
                f"interval proofs need at least {MIN_REPETITIONS} repetitions and "
                f"{MIN_SLACK_BITS} slack bits; fewer only with insecure_allow_weak=True (tests)"
            )
        if self.bits + self.slack_bits + 2 > pk.bits:
            raise ValueError("interval bound 2^(bits+slack) must stay below N/2")


@dataclass(frozen=True, slots=True)
class IntervalProof:
    commitments: tuple[int, ...]
    z: tuple[int, ...]
    w: tuple[int, ...]


def challenge_bits(
    pk: PublicKey, c: int, commitments: Sequence[int], ctx: ProofContext, params: IntervalParams
) -> list[int]:
    t = group.start_transcript(KIND, pk, ctx)
    t.absorb(params.bits, params.slack_bits, params.repetitions, c, list(commitments))
    return t.challenge_ints(params.repetitions, 1)


def prove(
    pk: PublicKey,
    c: int,
    m: int,
    r: int,
    ctx: ProofContext,
    params: IntervalParams,
    *,
    encryptor: Encryptor | None = None,
) -> IntervalProof:
    """Prove c = Enc(m; r) with 0 <= m < 2^params.bits.

    With ``encryptor`` (a DJN ``Encryptor`` for ``pk``) the k commitments use short-exponent
    randomness from its fixed-base table instead of k full N-th powers: an order of magnitude
    faster, with zero knowledge then resting on the DJN assumption (see docs/crypto.md).
    The proof and its verification are unchanged.
    """
    if not 0 <= m < (1 << params.bits):
        raise ValueError("plaintext is outside the interval the proof is for")
    return _prove_unchecked(pk, c, m, r, ctx, params, encryptor)


def _prove_unchecked(
    pk: PublicKey,
    c: int,
    m: int,
    r: int,
    ctx: ProofContext,
    params: IntervalParams,
    encryptor: Encryptor | None = None,
) -> IntervalProof:
    """The prover's algorithm without the range check (tests use it to play a cheater)."""
    group.check_key(pk)
    params.check(pk)
    n, bound, k = pk.n, params.bound, params.repetitions
    while True:
        alphas = [secrets.randbelow(bound) for _ in range(k)]
        pairs = [group.encrypt_fresh(pk, a, encryptor) for a in alphas]
        commitments = [a for a, _ in pairs]
        rhos = [rho for _, rho in pairs]
        bits = challenge_bits(pk, c, commitments, ctx, params)
        z = [a + e * m for a, e in zip(alphas, bits, strict=True)]
        if all(0 <= zj < bound for zj in z):
            break
    w = [group.canonical(pk, rho * r % n if e else rho) for rho, e in zip(rhos, bits, strict=True)]
    return IntervalProof(tuple(commitments), tuple(z), tuple(w))


def equations(
    pk: PublicKey,
    c: object,
    proof: object,
    ctx: ProofContext,
    params: IntervalParams,
    index: object = None,
) -> list[Equation]:
    """Validate a received proof (naming the bad value) and return its k equations."""
    params.check(pk)
    blame = group.blame_for(KIND, ctx)
    if not isinstance(proof, IntervalProof):
        raise blame.reject("proof is not an IntervalProof", index)
    k = params.repetitions
    c_ = group.element(pk, c, "ciphertext", blame)
    commitments = [
        group.element(pk, a, f"commitment {j}", blame)
        for j, a in enumerate(group.sequence(proof.commitments, k, "commitments", blame))
    ]
    z = [
        group.residue(v, params.bound, f"response z[{j}]", blame)
        for j, v in enumerate(group.sequence(proof.z, k, "responses z", blame))
    ]
    w = [
        group.canonical_root(pk, v, f"response w[{j}]", blame)
        for j, v in enumerate(group.sequence(proof.w, k, "responses w", blame))
    ]
    bits = challenge_bits(pk, int(c_), [int(a) for a in commitments], ctx, params)
    out = []
    for j in range(k):
        right: list[tuple[mpz, mpz | int]] = [(commitments[j], 1)]
        if bits[j]:
            right.append((c_, 1))
        where = j if index is None else (index, j)
        out.append(
            Equation(
                f"(1+N)^z w^N = A c^e in repetition {j}",
                g=z[j],
                root=w[j],
                right=right,
                blame=blame,
                index=where,
            )
        )
    return out


def verify(
    pk: PublicKey,
    c: int,
    proof: IntervalProof,
    ctx: ProofContext,
    params: IntervalParams,
    *,
    batch: bool = True,
) -> None:
    """Raise ProofRejected unless Dec(c) = x mod N for some |x| < params.bound the prover knows.

    ``batch=False`` checks each repetition on its own (k N-th powers instead of one); both
    paths compare squares, so they tolerate the same order-2 factors and agree (see ``group``).
    """
    group.require(
        pk,
        equations(pk, c, proof, ctx, params),
        batch=batch,
        exponent_bits=group.WIDE_BATCH_EXPONENT_BITS,
    )


def verify_batch(
    pk: PublicKey,
    items: Sequence[tuple[int, IntervalProof, ProofContext]],
    params: IntervalParams,
) -> None:
    """Verify many interval proofs (same parameters) with one batched check."""
    eqs: list[Equation] = []
    for i, (c, proof, ctx) in enumerate(items):
        eqs += equations(pk, c, proof, ctx, params, i)
    group.require(pk, eqs, exponent_bits=group.WIDE_BATCH_EXPONENT_BITS)
