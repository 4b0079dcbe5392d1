"""Σ-protocols for Paillier: plaintext knowledge, multiplication, equality of plaintexts.

Each proof must verify when honest and be rejected when any public value, any response, the
context or the challenge is altered, and when the prover lies about the statement. Plaintext
relations are checked against textbook Paillier decryption from the factors (the test key's
CRT decryption), not against the proof code.
"""

from __future__ import annotations

import dataclasses
import secrets

import gmpy2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coopetition.protocols.paillier.keys import (
    PublicKey,
    insecure_test_keypair,
    register_insecure_test_key,
)
from coopetition.protocols.zk import equality, group, multiplication, plaintext
from coopetition.protocols.zk.errors import ProofRejected
from coopetition.protocols.zk.transcript import ProofContext

PK, SK = insecure_test_keypair(512)
CTX = ProofContext(b"session-1", "input-prep", 3, 2)
OTHER_CONTEXTS = [
    dataclasses.replace(CTX, session=b"session-2"),
    dataclasses.replace(CTX, phase="coordinate"),
    dataclasses.replace(CTX, round=4),
    dataclasses.replace(CTX, prover=1),
]


def textbook_decrypt(c: int, p: int = SK.p, q: int = SK.q) -> int:
    """m = L(c^lambda mod N^2) * lambda^-1 mod N with L(x) = (x-1)/N (Paillier 1999, g = N+1)."""
    n = p * q
    lam = (p - 1) * (q - 1) // gmpy2.gcd(p - 1, q - 1)
    return int((pow(c, lam, n * n) - 1) // n * gmpy2.invert(lam, n) % n)


def enc(m: int) -> tuple[int, int]:
    r = group.random_unit(PK)
    return PK.raw_encrypt(m, r), r


def bump(value: int, modulus: int) -> int:
    """A different valid-looking value: +1, wrapped, skipping non-units."""
    v = value
    while True:
        v = v % (modulus - 1) + 1
        if gmpy2.gcd(v, PK.n) == 1:
            return v


# -- proof of plaintext knowledge ------------------------------------------------------------


def test_plaintext_honest_verifies_and_reference_decrypts():
    c, r = enc(424242)
    assert textbook_decrypt(c) == 424242
    proof = plaintext.prove(PK, c, 424242, r, CTX)
    plaintext.verify(PK, c, proof, CTX)


@pytest.mark.parametrize("field", ["commitment", "z", "w"])
def test_plaintext_rejects_altered_response(field):
    c, r = enc(7)
    proof = plaintext.prove(PK, c, 7, r, CTX)
    modulus = PK.n_square if field == "commitment" else PK.n
    bad = dataclasses.replace(proof, **{field: bump(getattr(proof, field), modulus)})
    with pytest.raises(ProofRejected) as info:
        plaintext.verify(PK, c, bad, CTX)
    assert info.value.kind == "plaintext" and info.value.prover == CTX.prover


def test_plaintext_rejects_altered_statement_and_context():
    c, r = enc(7)
    proof = plaintext.prove(PK, c, 7, r, CTX)
    with pytest.raises(ProofRejected):
        plaintext.verify(PK, c * PK.raw_encrypt(1, 1) % PK.n_square, proof, CTX)
    for ctx in OTHER_CONTEXTS:
        with pytest.raises(ProofRejected) as info:
            plaintext.verify(PK, c, proof, ctx)
        assert info.value.prover == ctx.prover
    other_key = PublicKey(PK.n + 2) if gmpy2.gcd(PK.n + 2, 6) == 1 else PublicKey(PK.n + 4)
    register_insecure_test_key(other_key)  # a small key the verifier was told to accept
    with pytest.raises(ProofRejected):
        plaintext.verify(other_key, c, proof, CTX)


def test_plaintext_rejects_response_to_another_challenge():
    c, r = enc(99)
    nonce = plaintext.commit(PK)
    e = plaintext.challenge(PK, c, nonce.commitment, CTX)
    forged = plaintext.respond(PK, nonce, 99, r, e ^ 1)
    with pytest.raises(ProofRejected, match="a c\\^e"):
        plaintext.verify(PK, c, forged, CTX)


def test_plaintext_false_statement_rejected():
    """A prover that does not know the plaintext (uses a wrong one) is caught."""
    c, r = enc(5)
    proof = plaintext.prove(PK, c, 6, r, CTX)
    with pytest.raises(ProofRejected):
        plaintext.verify(PK, c, proof, CTX)
    wrong_r = plaintext.prove(PK, c, 5, group.random_unit(PK), CTX)
    with pytest.raises(ProofRejected):
        plaintext.verify(PK, c, wrong_r, CTX)


@pytest.mark.parametrize(
    ("field", "value", "named"),
    [
        ("commitment", 0, "commitment"),
        ("commitment", "12", "commitment"),
        ("z", -1, "response z"),
        ("z", None, "response z"),
        ("w", 0, "response w"),
        ("w", True, "response w"),
    ],
)
def test_plaintext_malformed_value_named(field, value, named):
    c, r = enc(5)
    proof = plaintext.prove(PK, c, 5, r, CTX)
    bad = dataclasses.replace(proof, **{field: value})
    with pytest.raises(ProofRejected) as info:
        plaintext.verify(PK, c, bad, CTX)
    assert named in str(info.value) and "party 2" in str(info.value)


def test_plaintext_non_unit_is_rejected():
    c, r = enc(5)
    proof = plaintext.prove(PK, c, 5, r, CTX)
    bad = dataclasses.replace(proof, w=SK.p)  # shares a factor with N
    with pytest.raises(ProofRejected, match="response w is not a unit"):
        plaintext.verify(PK, c, bad, CTX)
    with pytest.raises(ProofRejected, match="ciphertext is outside"):
        plaintext.verify(PK, PK.n_square, proof, CTX)


def test_plaintext_batch_names_the_cheater():
    items = []
    for i in range(6):
        c, r = enc(i * 1000 + 1)
        ctx = dataclasses.replace(CTX, prover=i)
        items.append((c, plaintext.prove(PK, c, i * 1000 + 1, r, ctx), ctx))
    plaintext.verify_batch(PK, items)
    c, proof, ctx = items[4]
    items[4] = (c, dataclasses.replace(proof, z=(proof.z + 1) % PK.n), ctx)
    with pytest.raises(ProofRejected) as info:
        plaintext.verify_batch(PK, items)
    assert info.value.prover == 4 and info.value.index == 4


def test_batch_rejects_a_shifted_plaintext_relation_every_time():
    """One equation off by a plaintext shift: the 64-bit batch exponents never let it pass."""
    c, r = enc(11)
    proof = plaintext.prove(PK, c, 11, r, CTX)
    # commitment * (1+N): shifts the plaintext of the first message by one.
    shifted = dataclasses.replace(proof, commitment=proof.commitment * (1 + PK.n) % PK.n_square)
    for _ in range(20):
        with pytest.raises(ProofRejected) as info:
            plaintext.verify_batch(PK, [(c, proof, CTX), (c, shifted, CTX)])
        assert info.value.index == 1


def test_individual_verify_rejects_a_sign_flip():
    """w -> N - w multiplies one side by -1 = (-1)^N, an N-th power: plaintexts are unchanged,
    and the squared checks would accept it, but responses must be canonical (at most N/2)."""
    c, r = enc(11)
    proof = plaintext.prove(PK, c, 11, r, CTX)
    with pytest.raises(ProofRejected):
        plaintext.verify(PK, c, dataclasses.replace(proof, w=PK.n - proof.w), CTX)


@settings(max_examples=15, deadline=None)
@given(st.integers(min_value=-(2**200), max_value=2**200))
def test_plaintext_property_any_plaintext(m):
    c, r = enc(m)
    assert textbook_decrypt(c) == m % PK.n
    plaintext.verify(PK, c, plaintext.prove(PK, c, m, r, CTX), CTX)


# -- multiplication ------------------------------------------------------------------------------


def mult_instance(a: int, b: int, gamma: int | None = None):
    ea, ra = enc(a)
    eb, _ = enc(b)
    gamma = group.random_unit(PK) if gamma is None else gamma
    ec = group.multiply(PK, eb, a, gamma)
    return multiplication.Statement(ea, eb, ec), ra, gamma


@settings(max_examples=12, deadline=None)
@given(
    st.integers(min_value=-(2**100), max_value=2**100),
    st.integers(min_value=-(2**100), max_value=2**100),
    st.booleans(),
)
def test_multiplication_honest_matches_textbook_product(a, b, bare):
    st_, ra, gamma = mult_instance(a, b, 1 if bare else None)
    assert textbook_decrypt(st_.ec) == (a * b) % PK.n
    proof = multiplication.prove(PK, st_, a, ra, gamma, CTX)
    multiplication.verify(PK, st_, proof, CTX)


@pytest.mark.parametrize("field", ["commit_a", "commit_b", "z", "z1", "z2"])
def test_multiplication_rejects_altered_response(field):
    st_, ra, gamma = mult_instance(12, 34)
    proof = multiplication.prove(PK, st_, 12, ra, gamma, CTX)
    modulus = PK.n_square if field.startswith("commit") else PK.n
    bad = dataclasses.replace(proof, **{field: bump(getattr(proof, field), modulus)})
    with pytest.raises(ProofRejected) as info:
        multiplication.verify(PK, st_, bad, CTX)
    assert info.value.kind == "multiplication"


@pytest.mark.parametrize("which", ["ea", "eb", "ec"])
def test_multiplication_rejects_altered_public_value(which):
    st_, ra, gamma = mult_instance(12, 34)
    proof = multiplication.prove(PK, st_, 12, ra, gamma, CTX)
    moved = dataclasses.replace(
        st_, **{which: getattr(st_, which) * PK.raw_encrypt(0, 3) % PK.n_square}
    )
    with pytest.raises(ProofRejected):
        multiplication.verify(PK, moved, proof, CTX)


def test_multiplication_rejects_other_context_and_challenge():
    st_, ra, gamma = mult_instance(12, 34)
    proof = multiplication.prove(PK, st_, 12, ra, gamma, CTX)
    for ctx in OTHER_CONTEXTS:
        with pytest.raises(ProofRejected):
            multiplication.verify(PK, st_, proof, ctx)
    nonce = multiplication.commit(PK, st_.eb)
    first = multiplication.MultiplicationProof(nonce.commit_a, nonce.commit_b, 0, 1, 1)
    e = multiplication.challenge(PK, st_, first, CTX)
    forged = multiplication.respond(PK, nonce, st_.eb, 12, ra, gamma, e + 1)
    with pytest.raises(ProofRejected):
        multiplication.verify(PK, st_, forged, CTX)


def test_multiplication_false_statement_rejected():
    """Ec encrypts a*b + 1: the prover's honest algorithm cannot make it verify."""
    st_, ra, gamma = mult_instance(12, 34)
    lie = dataclasses.replace(st_, ec=st_.ec * (1 + PK.n) % PK.n_square)
    assert textbook_decrypt(lie.ec) == 12 * 34 + 1
    proof = multiplication.prove(PK, lie, 12, ra, gamma, CTX)
    with pytest.raises(ProofRejected, match="Eb\\^z z2\\^N = B Ec\\^e"):
        multiplication.verify(PK, lie, proof, CTX)
    # Knowledge part: Ea does not encrypt the a used for the product.
    ea13, ra13 = enc(13)
    lie2 = dataclasses.replace(st_, ea=ea13)
    proof2 = multiplication.prove(PK, lie2, 12, ra13, gamma, CTX)
    with pytest.raises(ProofRejected, match="A Ea\\^e"):
        multiplication.verify(PK, lie2, proof2, CTX)


def test_multiplication_batch_names_index_and_prover():
    items = []
    for i in range(5):
        st_, ra, gamma = mult_instance(i + 2, 100 + i)
        ctx = dataclasses.replace(CTX, prover=10 + i)
        items.append((st_, multiplication.prove(PK, st_, i + 2, ra, gamma, ctx), ctx))
    multiplication.verify_batch(PK, items)
    st_, proof, ctx = items[2]
    items[2] = (dataclasses.replace(st_, ec=st_.ec * (1 + PK.n) % PK.n_square), proof, ctx)
    with pytest.raises(ProofRejected) as info:
        multiplication.verify_batch(PK, items)
    assert (info.value.prover, info.value.index) == (12, 2)


# -- equality of plaintexts --------------------------------------------------------------------


def eq_instance(m: int):
    e2, _ = enc(m)
    rho = group.random_unit(PK)
    return e2 * pow(rho, PK.n, PK.n_square) % PK.n_square, e2, rho


def test_equality_honest_and_reference():
    e1, e2, rho = eq_instance(31337)
    assert textbook_decrypt(e1) == textbook_decrypt(e2) == 31337
    equality.verify(PK, e1, e2, equality.prove(PK, e1, e2, rho, CTX), CTX)


def test_equality_rejections():
    e1, e2, rho = eq_instance(5)
    proof = equality.prove(PK, e1, e2, rho, CTX)
    for field, modulus in (("commitment", PK.n_square), ("z", PK.n)):
        bad = dataclasses.replace(proof, **{field: bump(getattr(proof, field), modulus)})
        with pytest.raises(ProofRejected):
            equality.verify(PK, e1, e2, bad, CTX)
    for ctx in OTHER_CONTEXTS:
        with pytest.raises(ProofRejected):
            equality.verify(PK, e1, e2, proof, ctx)
    with pytest.raises(ProofRejected):
        equality.verify(PK, e2, e1, proof, CTX)
    same_plaintext = PK.raw_encrypt(0, 7)  # multiplying by it keeps both plaintexts
    with pytest.raises(ProofRejected):
        equality.verify(PK, e1 * same_plaintext % PK.n_square, e2, proof, CTX)
    with pytest.raises(ProofRejected):
        equality.verify(PK, e1, e2 * same_plaintext % PK.n_square, proof, CTX)
    nonce = equality.commit(PK)
    e = equality.challenge(PK, e1, e2, nonce.commitment, CTX)
    with pytest.raises(ProofRejected):
        equality.verify(PK, e1, e2, equality.respond(PK, nonce, rho, e + 1), CTX)


def test_equality_false_statement_rejected():
    e1, e2, rho = eq_instance(5)
    lie = e1 * (1 + PK.n) % PK.n_square  # encrypts 6
    proof = equality.prove(PK, lie, e2, rho, CTX)
    with pytest.raises(ProofRejected, match="party 2"):
        equality.verify(PK, lie, e2, proof, CTX)
    items = [(e1, e2, equality.prove(PK, e1, e2, rho, CTX), CTX), (lie, e2, proof, CTX)]
    with pytest.raises(ProofRejected) as info:
        equality.verify_batch(PK, items)
    assert info.value.index == 1


def test_small_keys_refused():
    tiny = PublicKey(int(gmpy2.next_prime(2**200)) * int(gmpy2.next_prime(2**201)))
    with pytest.raises(ValueError, match="at least 512 bits"):
        plaintext.prove(tiny, tiny.raw_encrypt(1, 1), 1, 1, CTX)


def test_error_messages_carry_no_secret():
    m, r = 987654321987654321, group.random_unit(PK)
    c = PK.raw_encrypt(m, r)
    proof = plaintext.prove(PK, c, m + 1, r, CTX)
    with pytest.raises(ProofRejected) as info:
        plaintext.verify(PK, c, proof, CTX)
    text = str(info.value)
    for secret in (m, r, SK.p, SK.q):
        assert str(secret) not in text


def test_djn_nonces_verify_and_still_catch_lies():
    from coopetition.protocols.paillier.encryptor import Encryptor

    encryptor = Encryptor(PK)
    c, r = enc(77)
    plaintext.verify(PK, c, plaintext.prove(PK, c, 77, r, CTX, encryptor=encryptor), CTX)
    with pytest.raises(ProofRejected):
        plaintext.verify(PK, c, plaintext.prove(PK, c, 78, r, CTX, encryptor=encryptor), CTX)
    st_, ra, gamma = mult_instance(5, 9)
    multiplication.verify(
        PK, st_, multiplication.prove(PK, st_, 5, ra, gamma, CTX, encryptor=encryptor), CTX
    )
    lie = dataclasses.replace(st_, ec=st_.ec * (1 + PK.n) % PK.n_square)
    with pytest.raises(ProofRejected):
        multiplication.verify(
            PK, lie, multiplication.prove(PK, lie, 5, ra, gamma, CTX, encryptor=encryptor), CTX
        )
    e1, e2, rho = eq_instance(3)
    equality.verify(PK, e1, e2, equality.prove(PK, e1, e2, rho, CTX, encryptor=encryptor), CTX)
    with pytest.raises(ValueError, match="another key"):
        plaintext.prove(PK, c, 77, r, CTX, encryptor=Encryptor(PublicKey(PK.n + 2)))


def test_djn_nonces_take_both_jacobi_symbols():
    """Uniform units have Jacobi symbol +1 or -1 equally often; DJN nonces alone only +1."""
    from coopetition.protocols.paillier.encryptor import Encryptor

    encryptor = Encryptor(PK)
    symbols = set()
    for _ in range(40):
        c, r = group.encrypt_fresh(PK, 5, encryptor)
        assert PK.raw_encrypt(5, r) == c
        symbols.add(gmpy2.jacobi(r, PK.n))
    assert symbols == {1, -1}


# -- regressions from the review of issue 5 ------------------------------------------------------

FLIP_RUNS = 24  # a verifier that accepted with probability 1/2 passes all runs w.p. 2^-24


def test_sign_flipped_responses_rejected_by_individual_and_batched_verifiers_alike():
    """Defect 2: w -> N - w multiplies an equation by (-1)^N = -1. Batches used to accept it
    whenever the verifier's secret exponent was even, so honest verifiers disagreed."""
    items = []
    for i in range(3):
        c, r = enc(7 + i)
        items.append((c, plaintext.prove(PK, c, 7 + i, r, CTX), CTX))
    c, p, ctx = items[1]
    flipped = list(items)
    flipped[1] = (c, dataclasses.replace(p, w=PK.n - p.w), ctx)
    st_, ra, gamma = mult_instance(3, 4)
    mproof = multiplication.prove(PK, st_, 3, ra, gamma, CTX)
    mitems = [(st_, mproof, CTX), *[(st_, mproof, CTX)] * 2]
    e1, e2, rho = eq_instance(5)
    eproof = equality.prove(PK, e1, e2, rho, CTX)
    eflip = dataclasses.replace(eproof, z=PK.n - eproof.z)
    for _ in range(FLIP_RUNS):
        plaintext.verify_batch(PK, items)
        with pytest.raises(ProofRejected, match="canonical") as info:
            plaintext.verify_batch(PK, flipped)
        assert info.value.prover == CTX.prover
        with pytest.raises(ProofRejected, match="canonical"):
            plaintext.verify(PK, *flipped[1])
        for field in ("z1", "z2"):
            bad = dataclasses.replace(mproof, **{field: PK.n - getattr(mproof, field)})
            with pytest.raises(ProofRejected, match="canonical"):
                multiplication.verify(PK, st_, bad, CTX)
            with pytest.raises(ProofRejected, match="canonical"):
                multiplication.verify_batch(PK, [*mitems[:2], (st_, bad, CTX)])
        with pytest.raises(ProofRejected, match="canonical"):
            equality.verify(PK, e1, e2, eflip, CTX)
        with pytest.raises(ProofRejected, match="canonical"):
            equality.verify_batch(PK, [(e1, e2, eproof, CTX), (e1, e2, eflip, CTX)])
    multiplication.verify_batch(PK, mitems)


def test_honest_responses_are_canonical():
    for m in range(20):
        c, r = enc(m)
        proof = plaintext.prove(PK, c, m, r, CTX)
        assert 0 < proof.w <= PK.n // 2


def _unregistered_key(bits: int) -> PublicKey:
    """N = p q of about ``bits`` bits built by hand: not through the insecure test option."""
    half = bits // 2
    p = int(gmpy2.next_prime(secrets.randbits(half) | (1 << (half - 1))))
    q = int(gmpy2.next_prime(secrets.randbits(half) | (1 << (half - 1))))
    return PublicKey(p * q)


def test_every_verifier_refuses_a_small_key_not_made_as_an_insecure_test_key():
    """Defect 7: verifiers never called check_key. A 1024-bit N made by hand is refused by
    provers and verifiers; the same check passes the registered test key PK."""
    small = _unregistered_key(1024)
    assert 1000 < small.bits < 2048
    c, r = enc(3)
    proof = plaintext.prove(PK, c, 3, r, CTX)
    st_, ra, gamma = mult_instance(3, 4)
    mproof = multiplication.prove(PK, st_, 3, ra, gamma, CTX)
    e1, e2, rho = eq_instance(5)
    eproof = equality.prove(PK, e1, e2, rho, CTX)
    calls = [
        lambda k: plaintext.verify(k, c, proof, CTX),
        lambda k: plaintext.verify_batch(k, [(c, proof, CTX)] * 2),
        lambda k: multiplication.verify(k, st_, mproof, CTX),
        lambda k: multiplication.verify_batch(k, [(st_, mproof, CTX)] * 2),
        lambda k: equality.verify(k, e1, e2, eproof, CTX),
        lambda k: equality.verify_batch(k, [(e1, e2, eproof, CTX)] * 2),
        lambda k: plaintext.prove(k, c, 3, r, CTX),
    ]
    for call in calls:
        with pytest.raises(ValueError, match="insecure test option"):
            call(small)
    for call in calls[:-1]:
        call(PK)  # the registered test key of the same checks still verifies


def test_registered_test_keys_below_the_floor_are_still_refused():
    tiny, _ = insecure_test_keypair(256)  # made through the insecure option, but too small
    c = tiny.raw_encrypt(1, 2)
    with pytest.raises(ValueError, match="at least 512 bits"):
        plaintext.verify(tiny, c, plaintext.PlaintextProof(c, 1, 1), CTX)
