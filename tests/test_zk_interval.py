"""Interval proof of plaintext knowledge (binary challenges, slack 2^s, k repetitions).

Checks the documented guarantee: honest plaintexts in [0, 2^l) always verify; anything the
verifier accepts decrypts to x mod N with |x| < 2^(l+s); tampering, wrong context, wrong
parameters or answering another challenge are rejected, naming the prover and the repetition.
"""

from __future__ import annotations

import dataclasses
import secrets

import gmpy2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coopetition.protocols.paillier.keys import PublicKey, insecure_test_keypair
from coopetition.protocols.zk import group, interval
from coopetition.protocols.zk.errors import ProofRejected
from coopetition.protocols.zk.interval import IntervalParams, IntervalProof
from coopetition.protocols.zk.transcript import ProofContext

PK, SK = insecure_test_keypair(512)
CTX = ProofContext(b"sess", "share-convert", 7, 3)
PARAMS = IntervalParams(bits=64)
#: Gadget 3's mask: r in [0, 2^(|p| + kappa)) with a 256-bit SPDZ prime and kappa = 40.
GADGET3 = IntervalParams(bits=256 + 40)


def enc(m: int) -> tuple[int, int]:
    r = group.random_unit(PK)
    return PK.raw_encrypt(m, r), r


def centred(x: int) -> int:
    return x - PK.n if x > PK.n // 2 else x


def honest(m: int, params: IntervalParams = PARAMS, ctx: ProofContext = CTX):
    c, r = enc(m)
    return c, interval.prove(PK, c, m, r, ctx, params)


@pytest.mark.parametrize("m", [0, 1, 2**63, 2**64 - 1])
def test_honest_boundaries_verify_both_ways(m):
    c, proof = honest(m)
    assert SK.raw_decrypt(c) == m
    interval.verify(PK, c, proof, CTX, PARAMS)
    interval.verify(PK, c, proof, CTX, PARAMS, batch=False)


@settings(max_examples=10, deadline=None)
@given(st.integers(min_value=0, max_value=2**296 - 1))
def test_gadget3_mask_range_verifies(m):
    c, proof = honest(m, GADGET3)
    interval.verify(PK, c, proof, CTX, GADGET3)
    assert GADGET3.bound == 2**376 and 2 * GADGET3.bound < PK.n


def test_prover_refuses_out_of_range_plaintext():
    c, r = enc(2**64)
    with pytest.raises(ValueError, match="outside the interval"):
        interval.prove(PK, c, 2**64, r, CTX, PARAMS)
    with pytest.raises(ValueError, match="outside the interval"):
        interval.prove(PK, c, -1, r, CTX, PARAMS)


def cheat(m: int, r: int, c: int, params: IntervalParams, wrap: bool) -> IntervalProof:
    """The honest algorithm run on an out-of-range m, without retrying on overflow."""
    k, bound = params.repetitions, params.bound
    alphas = [secrets.randbelow(bound) for _ in range(k)]
    rhos = [group.random_unit(PK) for _ in range(k)]
    commitments = [PK.raw_encrypt(a, rho) for a, rho in zip(alphas, rhos, strict=True)]
    bits = interval.challenge_bits(PK, c, commitments, CTX, params)
    z = [a + e * m for a, e in zip(alphas, bits, strict=True)]
    if wrap:
        z = [zj % bound for zj in z]
    w = [group.canonical(PK, rho * pow(r, e, PK.n)) for rho, e in zip(rhos, bits, strict=True)]
    return IntervalProof(tuple(commitments), tuple(z), tuple(w))


@pytest.mark.parametrize("m_offset", [0, 1, 2**70])
@pytest.mark.parametrize("wrap", [False, True])
def test_false_statement_out_of_range_rejected(m_offset, wrap):
    m = PARAMS.bound + m_offset
    c, r = enc(m)
    proof = cheat(m, r, c, PARAMS, wrap)
    with pytest.raises(ProofRejected) as info:
        interval.verify(PK, c, proof, CTX, PARAMS)
    assert info.value.kind == "interval" and info.value.prover == 3
    assert ("A c^e" if wrap else "outside its range") in info.value.check


def test_huge_plaintext_mod_n_rejected():
    m = PK.n - 2**100  # -2^100: far outside |x| < 2^144
    c, r = enc(m)
    with pytest.raises(ProofRejected):
        interval.verify(PK, c, cheat(m, r, c, PARAMS, wrap=True), CTX, PARAMS)


def test_two_sided_guarantee_is_what_is_documented():
    """A cheater may prove a small *negative* value (|x| < 2^(l+s)): the guarantee is
    two-sided, which is why callers shift by 2^(l+s) when they need a non-negative value."""
    m = -1
    c, r = enc(m)
    proof = interval._prove_unchecked(PK, c, m, r, CTX, PARAMS)
    interval.verify(PK, c, proof, CTX, PARAMS)
    assert abs(centred(SK.raw_decrypt(c))) < PARAMS.bound


def tamper(proof: IntervalProof, field: str, j: int) -> IntervalProof:
    values = list(getattr(proof, field))
    modulus = PK.n_square if field == "commitments" else PK.n
    v = values[j] + 1
    while gmpy2.gcd(v, PK.n) != 1 or v >= modulus:
        v = (v + 1) % modulus
    values[j] = v
    return dataclasses.replace(proof, **{field: tuple(values)})


@pytest.mark.parametrize("field", ["commitments", "z", "w"])
@pytest.mark.parametrize("j", [0, 77, 127])
def test_altered_response_rejected_and_located(field, j):
    c, proof = honest(12345)
    bad = tamper(proof, field, j)
    for batch in (True, False):
        with pytest.raises(ProofRejected) as info:
            interval.verify(PK, c, bad, CTX, PARAMS, batch=batch)
        if field != "commitments":  # a new commitment changes every challenge bit
            assert info.value.index == j


def test_altered_statement_context_params_rejected():
    c, proof = honest(12345)
    with pytest.raises(ProofRejected):
        interval.verify(PK, c * (1 + PK.n) % PK.n_square, proof, CTX, PARAMS)
    for ctx in (
        dataclasses.replace(CTX, session=b"other"),
        dataclasses.replace(CTX, phase="coordinate"),
        dataclasses.replace(CTX, round=8),
        dataclasses.replace(CTX, prover=4),
    ):
        with pytest.raises(ProofRejected):
            interval.verify(PK, c, proof, ctx, PARAMS)
    for params in (
        IntervalParams(bits=63),
        IntervalParams(bits=64, slack_bits=81),
    ):
        with pytest.raises(ProofRejected):
            interval.verify(PK, c, proof, CTX, params)
    with pytest.raises(ProofRejected, match="sequence of 129"):
        interval.verify(PK, c, proof, CTX, IntervalParams(bits=64, repetitions=129))


def test_answer_to_other_challenge_rejected():
    m = 99
    c, r = enc(m)
    proof = interval.prove(PK, c, m, r, CTX, PARAMS)
    bits = interval.challenge_bits(PK, c, proof.commitments, CTX, PARAMS)
    # Re-derive z, w for challenge bits flipped at repetition 5 (requires alpha: recover it
    # from the honest answer, which is what a prover could have done).
    j = 5
    alpha = proof.z[j] - bits[j] * m
    rho = proof.w[j] * pow(pow(r, bits[j], PK.n), -1, PK.n) % PK.n
    flipped = 1 - bits[j]
    z = list(proof.z)
    w = list(proof.w)
    z[j] = alpha + flipped * m
    w[j] = group.canonical(PK, rho * pow(r, flipped, PK.n))
    bad = dataclasses.replace(proof, z=tuple(z), w=tuple(w))
    with pytest.raises(ProofRejected) as info:
        interval.verify(PK, c, bad, CTX, PARAMS, batch=False)
    assert info.value.index == j


@pytest.mark.parametrize(
    ("proof_change", "named"),
    [
        ({"z": (1, 2)}, "responses z"),
        ({"w": None}, "responses w"),
        ({"commitments": ()}, "commitments"),
    ],
)
def test_malformed_lengths_named(proof_change, named):
    c, proof = honest(5)
    with pytest.raises(ProofRejected, match=named):
        interval.verify(PK, c, dataclasses.replace(proof, **proof_change), CTX, PARAMS)


def test_batch_over_parties_names_the_cheater():
    items = []
    for party in range(4):
        ctx = dataclasses.replace(CTX, prover=party)
        c, proof = honest(1000 + party, ctx=ctx)
        items.append((c, proof, ctx))
    interval.verify_batch(PK, items, PARAMS)
    m = PARAMS.bound * 4
    c, r = enc(m)
    bad = cheat(m, r, c, PARAMS, wrap=True)
    items[2] = (c, bad, dataclasses.replace(CTX, prover=2))
    with pytest.raises(ProofRejected) as info:
        interval.verify_batch(PK, items, PARAMS)
    assert info.value.prover == 2 and info.value.index[0] == 2


def test_parameters_must_fit_the_modulus():
    with pytest.raises(ValueError, match="below N/2"):
        IntervalParams(bits=450, slack_bits=80).check(PK)
    small = PublicKey(PK.n)
    c, r = enc(1)
    with pytest.raises(ValueError):
        interval.prove(small, c, 1, r, CTX, IntervalParams(bits=0))


def test_djn_nonces_give_the_same_kind_of_proof():
    from coopetition.protocols.paillier.encryptor import Encryptor

    encryptor = Encryptor(PK)
    m = 2**64 - 5
    c, r = enc(m)
    proof = interval.prove(PK, c, m, r, CTX, PARAMS, encryptor=encryptor)
    interval.verify(PK, c, proof, CTX, PARAMS, batch=False)
    with pytest.raises(ProofRejected):
        interval.verify(PK, c, tamper(proof, "w", 3), CTX, PARAMS)
    other = Encryptor(PublicKey(PK.n + 2))
    with pytest.raises(ValueError, match="another key"):
        interval.prove(PK, c, m, r, CTX, PARAMS, encryptor=other)


# -- regressions from the review of issue 5 ------------------------------------------------------


def test_sign_flipped_interval_response_rejected_by_batched_and_exact_checks():
    """Defect 2: w[j] -> N - w[j] used to pass the default (batched) check half of the time."""
    c, proof = honest(12345)
    w = list(proof.w)
    w[5] = PK.n - w[5]
    flipped = dataclasses.replace(proof, w=tuple(w))
    for _ in range(24):
        for batch in (True, False):
            with pytest.raises(ProofRejected, match=r"w\[5\].*canonical"):
                interval.verify(PK, c, flipped, CTX, PARAMS, batch=batch)
        with pytest.raises(ProofRejected, match="canonical"):
            interval.verify_batch(PK, [(c, proof, CTX), (c, flipped, CTX)], PARAMS)


def test_interval_batches_use_128_bit_exponents(monkeypatch):
    """Defect 3: the batched check capped soundness at 2^-64 whatever k was. Every exponent of
    an interval batch (single proof or many) is now drawn below 2^128."""
    c, proof = honest(777)
    bounds: list[int] = []
    real = secrets.randbelow

    def spy(bound: int) -> int:
        bounds.append(bound)
        return real(bound)

    monkeypatch.setattr(group.secrets, "randbelow", spy)
    interval.verify(PK, c, proof, CTX, PARAMS)
    interval.verify_batch(PK, [(c, proof, CTX)] * 2, PARAMS)
    assert bounds == [(1 << 128) - 1] * (3 * PARAMS.repetitions)


def test_reviewers_half_plaintext_forgery_fails_the_default_check():
    """The reviewer's cheat with k = 2: c encrypts (N+1)/2 ("1/2"), the answers z = (0, 1) to
    the challenge (1, 1) make the two equations err by (1+N)^(-1/2) and (1+N)^(+1/2). A batch
    accepts only if beta_1 = beta_2; with 128-bit exponents that never happens here."""
    params = IntervalParams(bits=16, slack_bits=16, repetitions=2, insecure_allow_weak=True)
    m = (PK.n + 1) // 2
    c, r = enc(m)
    while True:
        rho = [group.random_unit(PK) for _ in range(2)]
        commitments = [PK.raw_encrypt(0, x) for x in rho]
        if interval.challenge_bits(PK, c, commitments, CTX, params) == [1, 1]:
            break
    w = tuple(group.canonical(PK, x * r) for x in rho)
    forged = IntervalProof(tuple(commitments), (0, 1), w)
    for _ in range(50):
        with pytest.raises(ProofRejected):
            interval.verify(PK, c, forged, CTX, params)


@pytest.mark.parametrize(
    "weak",
    [
        {"repetitions": 1, "slack_bits": 8},
        {"repetitions": 127},
        {"slack_bits": 79},
        {"repetitions": 16},
    ],
)
def test_weak_interval_parameters_need_the_insecure_option(weak):
    """Defect 6: check() had no floors, so repetitions=1 (soundness 1/2) was accepted."""
    params = IntervalParams(bits=32, **weak)
    with pytest.raises(ValueError, match="insecure_allow_weak"):
        params.check(PK)
    c, r = enc(5)
    with pytest.raises(ValueError, match="insecure_allow_weak"):
        interval.prove(PK, c, 5, r, CTX, params)
    proof = interval.prove(PK, c, 5, r, CTX, dataclasses.replace(params, insecure_allow_weak=True))
    with pytest.raises(ValueError, match="insecure_allow_weak"):
        interval.verify(PK, c, proof, CTX, params)
    interval.verify(PK, c, proof, CTX, dataclasses.replace(params, insecure_allow_weak=True))


def test_floors_are_the_documented_defaults():
    IntervalParams(bits=32).check(PK)
    assert interval.MIN_REPETITIONS == interval.DEFAULT_REPETITIONS == 128
    assert interval.MIN_SLACK_BITS == interval.DEFAULT_SLACK_BITS == 80
