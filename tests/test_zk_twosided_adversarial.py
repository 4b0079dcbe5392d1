"""Adversarial review of ``zk.twosided``: cheaters that aim at the reduction, not just a wrong C.

All at production challenge sizes (128-bit s, v, Σ-challenges and batch exponents; the proof
has no reduced-repetition mode) on a 1024-bit INSECURE key. The cheaters here know the
transcript function and use it: one forges the reduced claim after seeing s and v, one picks
an error in the kernel of the challenges it predicts, one replays a proof into another
context, one sends non-canonical encodings. Each must end in a rejection naming the prover;
where a cheater's attack would work against a weaker verifier, the test shows that too (so the
rejection is due to the check under test, not to an unrelated mistake of the cheater).
"""

from __future__ import annotations

import dataclasses
import re

import pytest
import test_zk_twosided as base
from gmpy2 import mpz

from coopetition.protocols.paillier.keys import insecure_test_keypair
from coopetition.protocols.zk import group, twosided
from coopetition.protocols.zk.errors import ProofRejected
from coopetition.protocols.zk.transcript import ProofContext

PK, SK = insecure_test_keypair(1024)
CTX = ProofContext(b"helen-session", "input-prep/a-full", 3, 1)


def _shifted(ec, i: int, j: int, delta: int, pk=PK):
    out = [list(row) for row in ec]
    out[i][j] = int(mpz(out[i][j]) * group.g_power(pk, delta % pk.n) % pk.n_square)
    return out


def _rejected_naming_the_prover(
    ea, eb, ec, proof, ctx=CTX, match=None, pk=PK
) -> list[ProofRejected]:
    """Both verifier modes reject ``proof`` and name its prover; the two rejections."""
    rejections = []
    for batch in (True, False):
        with pytest.raises(ProofRejected, match=match) as info:
            twosided.verify(pk, ea, eb, ec, proof, ctx, batch=batch)
        assert info.value.prover == ctx.prover and info.value.kind == twosided.KIND
        rejections.append(info.value)
    return rejections


@pytest.mark.parametrize(
    "delta,bits",
    [
        pytest.param("one", 1024, id="one-1024-insecure"),
        pytest.param("prime-factor", 1024, id="prime-factor-1024-insecure"),
        pytest.param("one", 2048, id="one-2048", marks=pytest.mark.long),
    ],
)
def test_reduced_sum_fixed_after_seeing_the_challenges_is_rejected(monkeypatch, delta, bits):
    """The cheater publishes a wrong C, reads s and v off the transcript, computes the error
    e = s^T (C - AB) v mod N and folds it into its first product P_0 = Enc(a'_0 (Bv)_0 + e):
    the equality proof then holds with the honest root (the prover's own self-check passes),
    so only the multiplication proof for h = 0 can catch it."""
    pk = PK if bits == 1024 else base.random_modulus(bits)
    a, _, ea, ra, eb, ec, gammas = base.instance(pk, 3, 3, 2, seed=21)
    step = 1 if delta == "one" else int(SK.q)  # zero mod q: the reduction must work mod p
    bad = _shifted(ec, 2, 1, step, pk)
    _, s, v = twosided._challenges(pk, CTX, ea, eb, bad, 3, 2)
    e = s[2] * step * v[1] % pk.n
    assert e != 0
    honest_power = twosided.signed_power
    calls = []

    def cheating_power(pk, base_ct, exponent):
        out = honest_power(pk, base_ct, exponent)
        calls.append(exponent)
        return out * group.g_power(pk, e) % pk.n_square if len(calls) == 1 else out

    monkeypatch.setattr(twosided, "signed_power", cheating_power)
    forged = twosided.prove(pk, ea, eb, bad, a, ra, CTX, gammas)  # self-check passes
    monkeypatch.undo()
    assert len(calls) == 3
    _rejected_naming_the_prover(ea, eb, bad, forged, pk=pk)
    with pytest.raises(ProofRejected, match=re.escape("multiplication proof for (s^T A)[0]")):
        twosided.verify(pk, ea, eb, bad, forged, CTX, batch=False)


def test_error_in_the_kernel_of_predicted_challenges_is_rejected(monkeypatch):
    """The cheater predicts s and v from the honest C and adds D != 0 with s^T D v = 0 mod N.
    Against a verifier whose challenges did not depend on Enc(C) this forgery passes (shown
    first, with the transcript frozen to the honest C); the real verifier absorbs Enc(C), so
    the published C' moves the challenges and the forgery is rejected."""
    a, _, ea, ra, eb, ec, gammas = base.instance(PK, 3, 3, 3, seed=22)
    _, s, v = twosided._challenges(PK, CTX, ea, eb, ec, 3, 3)
    # D[0][0] = s_1 v_1 and D[1][1] = -s_0 v_0: s^T D v = s0 s1 v0 v1 - s1 s0 v1 v0 = 0
    bad = _shifted(_shifted(ec, 0, 0, s[1] * v[1]), 1, 1, -s[0] * v[0])
    honest_challenges = twosided._challenges

    def frozen(pk, ctx, ea_, eb_, ec_, r, c):
        return honest_challenges(pk, ctx, ea_, eb_, ec, r, c)  # ignores the published C

    monkeypatch.setattr(twosided, "_challenges", frozen)
    forged = twosided.prove(PK, ea, eb, bad, a, ra, CTX, gammas)  # the reduced claim holds
    twosided.verify(PK, ea, eb, bad, forged, CTX)  # a verifier blind to C would accept
    monkeypatch.undo()
    _rejected_naming_the_prover(ea, eb, bad, forged)
    with pytest.raises(ValueError):  # and with the real challenges the witness does not fit
        twosided.prove(PK, ea, eb, bad, a, ra, CTX, gammas)


@pytest.mark.parametrize(
    "field,value",
    [("session", b"other-session"), ("phase", "input-prep/vtv"), ("round", 4), ("prover", 2)],
)
def test_honest_proof_replayed_into_another_context_is_rejected(field, value):
    """Every field of the context (session, phase/part, round, prover) moves the challenges."""
    a, _, ea, ra, eb, ec, gammas = base.instance(PK, 3, 2, 2, seed=23)
    proof = twosided.prove(PK, ea, eb, ec, a, ra, CTX, gammas)
    twosided.verify(PK, ea, eb, ec, proof, CTX)
    other = dataclasses.replace(CTX, **{field: value})
    _rejected_naming_the_prover(ea, eb, ec, proof, ctx=other)


def test_witness_given_as_residues_mod_n_proves():
    """Completeness for a witness A given as residues in [0, N) (how decryption returns
    plaintexts; Gadget 1 accepts it): then a' = s^T A exceeds N and the multiplication proofs
    must carry the quotient of a' by N in their gamma. Before the fix the honest prover's own
    check passed and every verifier rejected its proof, naming an honest party. Both ways:
    the homomorphic product and input preparation's fresh product; one unit off still fails."""
    n = int(PK.n)
    a, _, ea, ra, eb, _, gammas = base.instance(PK, 3, 3, 2, seed=24)
    residues = [[x % n for x in row] for row in a]
    assert any(x < 0 for row in a for x in row)
    ec = base.gadgets.matmul_encrypted(PK, residues, eb, gammas)
    twosided.verify(PK, ea, eb, ec, twosided.prove(PK, ea, eb, ec, residues, ra, CTX, gammas), CTX)
    a, ea, ra, eb, rb, ec, rc = base.fresh_instance(PK, 3, 3, 2, seed=24)
    residues = [[x % n for x in row] for row in a]
    proof = twosided.prove(PK, ea, eb, ec, residues, ra, CTX, fresh=(rb, rc))
    twosided.verify(PK, ea, eb, ec, proof, CTX)
    bad = _shifted(ec, 0, 0, -1)
    forged = twosided.prove(PK, ea, eb, bad, residues, ra, CTX, fresh=(rb, rc), _check=False)
    _rejected_naming_the_prover(ea, eb, bad, forged)


@pytest.mark.parametrize(
    "where,value",
    [
        ("ec", "n2-plus"),
        ("ec", 0),
        ("ec", "n"),
        ("ec", -1),
        ("ec", "str"),
        ("product", "n2-plus"),
        ("product", "n"),
        ("product", 1.5),
    ],
)
def test_non_canonical_or_malformed_elements_are_rejected_not_crashing(where, value):
    """Ciphertexts outside [1, N^2), non-units and non-integers, in the statement or in the
    proof, end in ProofRejected naming the prover (never a TypeError or a silent reduction)."""
    a, _, ea, ra, eb, ec, gammas = base.instance(PK, 2, 2, 2, seed=25)
    proof = twosided.prove(PK, ea, eb, ec, a, ra, CTX, gammas)
    target = int(ec[1][1]) if where == "ec" else int(proof.products[0])
    bad_value = {"n2-plus": target + int(PK.n_square), "n": int(PK.n), "str": "7"}.get(
        value if isinstance(value, str) else "", value
    )
    if where == "ec":
        bad_ec = [list(row) for row in ec]
        bad_ec[1][1] = bad_value
        rejections = _rejected_naming_the_prover(ea, eb, bad_ec, proof)
    else:
        products = (bad_value, *proof.products[1:])
        bad = dataclasses.replace(proof, products=products)
        rejections = _rejected_naming_the_prover(ea, eb, ec, bad)
    assert len(rejections) == 2 and all(r.prover == CTX.prover for r in rejections)


def test_two_sided_error_bound_field_is_a_prime_factor_above_the_challenge_range():
    """The 2^-127 argument works over F_p for a prime p | N with p > 2^128: 2^128 challenge
    values must be distinct residues. The insecure test keys used for soundness tests satisfy
    it (balanced primes), and a proof's challenges really are 128-bit and independent of N."""
    for bits in (512, 1024):
        _, sk = insecure_test_keypair(bits)
        assert min(int(sk.p), int(sk.q)) > 2**group.CHALLENGE_BITS
    _, _, ea, _, eb, ec, _ = base.instance(PK, 4, 2, 4, seed=26)
    _, s, v = twosided._challenges(PK, CTX, ea, eb, ec, 4, 4)
    assert len(set(s + v)) == 8 and all(0 <= x < 2**128 for x in s + v)
    assert max(x.bit_length() for x in s + v) > 120  # full-size, not truncated
    assert mpz(max(s + v)) < min(SK.p, SK.q)
