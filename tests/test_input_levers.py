"""The input profile's levers (issue 15): GIL kept in proofs, squares once, wider Pippenger windows.

Each test fails on the code before the lever: the proofs ran with the caller's
``allow_release_gil`` (True in ``ThreadCompute`` workers), the prover decomposed every value once
per verifier, and Pippenger's window stopped at 6 bits however many bases. INSECURE 512-bit
Paillier and ring-Pedersen moduli, d = 2.
"""

from __future__ import annotations

import math
import secrets

import gmpy2
import numpy as np
import pytest
from gmpy2 import mpz

from coopetition.protocols.fixedpoint import HelenScales
from coopetition.protocols.helen import input_proof as ip
from coopetition.protocols.helen import numerics as H
from coopetition.protocols.helen.input_statements import range_context, statements
from coopetition.protocols.paillier.keys import insecure_test_keypair
from coopetition.protocols.zk import gil, group
from coopetition.protocols.zk import range_params as rpm
from coopetition.protocols.zk import range_proof as rproof
from coopetition.protocols.zk.errors import ProofRejected
from coopetition.protocols.zk.range_proof import RangeStatement, RangeWitness
from coopetition.protocols.zk.transcript import ProofContext

PK, _SK = insecure_test_keypair(512)
PROVER = 0
CTX = ProofContext(b"levers", "input-prep", 0, PROVER)
D = 2


@pytest.fixture(scope="module")
def scales() -> HelenScales:
    return HelenScales(features=D, rows=20, parties=3, rho=4.0, x_bound=5.0, y_bound=20.0)


@pytest.fixture(scope="module")
def rings() -> dict[int, rpm.RingPedersen]:
    return {j: rpm.generate(512, insecure_allow_small=True)[0] for j in (1, 2)}


@pytest.fixture(scope="module")
def prep(scales):
    rng = np.random.default_rng(5)
    X = rng.normal(size=(20, D))
    return H.prepare_input(X, X @ np.array([1.0, -0.5]) + 0.1 * rng.normal(size=20), scales)


def _releasing():
    """The gmpy2 context ``engine.compute.ThreadCompute`` gives its workers."""
    context = gmpy2.get_context().copy()
    context.allow_release_gil = True
    return context


@pytest.fixture()
def gil_seen(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """allow_release_gil as the proofs' inner arithmetic sees it, at every call."""
    seen: list[bool] = []
    multi_pow, power_t = group.multi_pow, rpm.power_t

    def spy_multi(pairs, modulus):
        seen.append(gmpy2.get_context().allow_release_gil)
        return multi_pow(pairs, modulus)

    def spy_t(params, e):
        seen.append(gmpy2.get_context().allow_release_gil)
        return power_t(params, e)

    monkeypatch.setattr(group, "multi_pow", spy_multi)
    monkeypatch.setattr(rpm, "power_t", spy_t)
    monkeypatch.setattr(rproof, "power_t", spy_t)
    return seen


def test_input_proofs_keep_the_gil_inside_a_releasing_worker(scales, rings, prep, gil_seen):
    with _releasing():
        com, proof, _ = ip.prove(PK, prep, scales, CTX, {1: rings[1]})
        after_prove = gil_seen.copy()
        ip.verify(PK, com, proof, scales, CTX, 1, rings[1])
        # the caller's context is back after each call
        assert gmpy2.get_context().allow_release_gil is True
    assert after_prove and len(gil_seen) > len(after_prove)  # both stages were observed
    assert set(gil_seen) == {False}


def test_range_proof_alone_keeps_the_gil(rings, gil_seen):
    """The coordinate phase calls range proofs directly, not through input_proof."""
    x, r = 5, group.random_unit(PK)
    st = [RangeStatement(int(group.encrypt(PK, x, r)), 0, 9)]
    with _releasing():
        proof = rproof.prove(PK, rings[1], st, [RangeWitness(x, r)], CTX)
        rproof.verify(PK, rings[1], st, proof, CTX)
        assert gmpy2.get_context().allow_release_gil is True
    assert gil_seen and set(gil_seen) == {False}


def test_hold_flag_off_is_the_old_behaviour(rings, gil_seen, monkeypatch):
    """``HOLD_GIL = False`` (the threads tool's before-figure) leaves the caller's setting."""
    monkeypatch.setattr(gil, "HOLD_GIL", False)
    x, r = 3, group.random_unit(PK)
    st = [RangeStatement(int(group.encrypt(PK, x, r)), 0, 9)]
    with _releasing():
        rproof.verify(
            PK, rings[1], st, rproof.prove(PK, rings[1], st, [RangeWitness(x, r)], CTX), CTX
        )
    assert gil_seen and set(gil_seen) == {True}


def test_squares_are_decomposed_once_for_all_verifiers(scales, rings, prep, monkeypatch):
    calls = []
    four_squares = rproof.four_squares

    def counted(n):
        calls.append(n)
        return four_squares(n)

    monkeypatch.setattr(rproof, "four_squares", counted)
    com, proof, _ = ip.prove(PK, prep, scales, CTX, rings)
    values = len(statements(PK, com, proof, scales))
    assert values == 4 * D * D + 6 * D
    assert len(calls) == values  # was values x verifiers
    # the shared decompositions serve both verifiers' proofs, each checked by its verifier,
    # and the two proofs still use their own randomness (no commitment in common)
    for j, params in rings.items():
        ip.verify(PK, com, proof, scales, CTX, j, params)
    first, second = proof.range_proofs
    assert not set(first.commitments) & set(second.commitments)
    assert first.u != second.u


def test_decompose_refuses_an_out_of_range_value_as_prove_does():
    r = group.random_unit(PK)
    st = [RangeStatement(int(group.encrypt(PK, 10, r)), 0, 9)]
    with pytest.raises(ValueError, match="value 0 lies outside"):
        rproof.decompose(st, [RangeWitness(10, r)])
    # and a cheater that skips the check is still refused by the verifier
    ring = rpm.generate(512, insecure_allow_small=True)[0]
    forged = rproof._cheater_squares(st, [RangeWitness(10, r)])
    bad = rproof._prove_unchecked(
        PK, ring, st, [RangeWitness(10, r)], range_context(CTX, 1), None, forged
    )
    with pytest.raises(ProofRejected):
        rproof.verify(PK, ring, st, bad, range_context(CTX, 1))


@pytest.mark.parametrize(("n", "bits"), [(300, 128), (2_300, 528), (33_000, 528), (150_000, 900)])
def test_window_minimises_the_pass_count_model(n, bits):
    c = group.window_bits(n, bits)
    cost = lambda w: math.ceil(bits / w) * (n + 4 * 2**w)  # noqa: E731
    assert cost(c) == min(cost(w) for w in range(6, 17))
    if n >= 2_000:
        assert c > 6  # the old cap
        assert cost(c) < cost(6)


def test_small_batches_keep_their_windows():
    assert [group.window_bits(n, 128) for n in (4, 15, 16, 63, 64, 255)] == [3, 3, 4, 4, 5, 5]


@pytest.mark.parametrize("n", [255, 256, 3_000])
def test_multi_pow_matches_separate_powers_and_counts_base_visits(n):
    modulus = mpz(secrets.randbits(256) | (1 << 255) | 1)
    pairs = [
        (mpz(secrets.randbelow(modulus - 2) + 2), secrets.randbits(300) - (1 << 299))
        for _ in range(n)
    ]
    pairs = [(b, e) for b, e in pairs if gmpy2.gcd(b, modulus) == 1]
    expected = mpz(1)
    for b, e in pairs:
        expected = expected * gmpy2.powmod(b, e, modulus) % modulus
    with group.counting() as counts:
        assert group.multi_pow(pairs, modulus) == expected
    bits = max(abs(e).bit_length() for _, e in pairs)
    c = group.window_bits(len(pairs), bits)
    assert counts["multi_base_steps"] == len(pairs) * math.ceil(bits / c)
    if n == 3_000:  # fewer visits than the old 6-bit window would make
        assert counts["multi_base_steps"] < len(pairs) * math.ceil(bits / 6)
