"""Gadget 1 with two-sided random reduction: honest products pass, a wrong product is caught.

References are independent of the code under test: products in plaintext with numpy (object
dtype, exact integers), ciphertexts decrypted with the test key's CRT decryption. Default
tests use an INSECURE 512-bit key; ``test_production_size_catches_a_wrong_product`` runs the
production parameters (2048-bit N, 128-bit challenges on both sides) and is marked long, with
a 1024-bit INSECURE fast version that has the same 128-bit repetition parameters.
"""

from __future__ import annotations

import dataclasses

import cbor2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coopetition.protocols.paillier import ops
from coopetition.protocols.paillier.keys import insecure_test_keypair
from coopetition.protocols.zk import codec, gadgets, group, twosided
from coopetition.protocols.zk.errors import ProofRejected
from coopetition.protocols.zk.transcript import ProofContext
from coopetition.sims.benchkit import random_modulus

PK, SK = insecure_test_keypair(512)
CTX = ProofContext(b"helen", "input-prep", 0, 1)


def decrypt_matrix(e) -> np.ndarray:
    return np.array([[SK.raw_decrypt(x) for x in row] for row in e], dtype=object)


def instance(pk, r: int, k: int, c: int, seed: int = 0, bound: int = 2**40):
    rng = np.random.default_rng(seed)
    a = [[int(x) for x in row] for row in rng.integers(-bound, bound, (r, k))]
    b = [[int(x) for x in row] for row in rng.integers(-bound, bound, (k, c))]
    ea, ra = gadgets.encrypt_matrix(pk, a)
    eb, _ = gadgets.encrypt_matrix(pk, b)  # someone else's ciphertexts
    gammas = [[group.random_unit(pk) for _ in range(c)] for _ in range(r)]
    ec = gadgets.matmul_encrypted(pk, a, eb, gammas)
    return a, b, ea, ra, eb, ec, gammas


@settings(max_examples=8, deadline=None)
@given(st.integers(1, 4), st.integers(1, 4), st.integers(1, 4), st.integers(0, 2**32))
def test_honest_any_shape_and_the_product_is_right(r, k, c, seed):
    a, b, ea, ra, eb, ec, gammas = instance(PK, r, k, c, seed)
    proof = twosided.prove(PK, ea, eb, ec, a, ra, CTX, gammas)
    twosided.verify(PK, ea, eb, ec, proof, CTX)
    twosided.verify(PK, ea, eb, ec, proof, CTX, batch=False)
    expected = np.array(a, dtype=object) @ np.array(b, dtype=object) % PK.n
    assert (decrypt_matrix(ec) == expected).all()
    assert len(proof.multiplications) == k  # O(k) proofs, not r k


def test_bare_homomorphic_product_and_diagonal_with_unit_entries():
    """gammas None (C = A * Enc(B) exactly) and Enc(A) holding Enc(0; 1) = 1 off the diagonal."""
    a, _, ea, ra, eb, _, _ = instance(PK, 3, 3, 2, seed=4)
    ec = gadgets.matmul_encrypted(PK, a, eb)
    twosided.verify(PK, ea, eb, ec, twosided.prove(PK, ea, eb, ec, a, ra, CTX), CTX)
    diag = [[a[i][i] if i == j else 0 for j in range(3)] for i in range(3)]
    ed = [[ea[i][i] if i == j else 1 for j in range(3)] for i in range(3)]
    rd = [[ra[i][i] if i == j else 1 for j in range(3)] for i in range(3)]
    gammas = [[group.random_unit(PK) for _ in range(2)] for _ in range(3)]
    ec = gadgets.matmul_encrypted(PK, diag, eb, gammas)
    twosided.verify(PK, ed, eb, ec, twosided.prove(PK, ed, eb, ec, diag, rd, CTX, gammas), CTX)


def _cheat(pk, shape, entry, seed=1, delta=1):
    """A prover who shifts one entry of Enc(C) by delta and proves it anyway (no self-check)."""
    a, _, ea, ra, eb, ec, gammas = instance(pk, *shape, seed=seed)
    i, j = entry
    ec = [list(row) for row in ec]
    ec[i][j] = ops.add_plain(pk, ec[i][j], delta)
    with pytest.raises(ValueError):
        twosided.prove(pk, ea, eb, ec, a, ra, CTX, gammas)
    proof = twosided.prove(pk, ea, eb, ec, a, ra, CTX, gammas, _check=False)
    return ea, eb, ec, proof


@pytest.mark.parametrize(
    "shape,entry",
    [((3, 2, 4), (0, 0)), ((3, 2, 4), (2, 3)), ((4, 3, 1), (1, 0)), ((1, 3, 3), (0, 2))],
    ids=["both-sides-first", "both-sides-last", "column", "row"],
)
def test_wrong_product_in_one_entry_is_rejected_naming_the_prover(shape, entry):
    ea, eb, ec, proof = _cheat(PK, shape, entry)
    for batch in (True, False):
        with pytest.raises(ProofRejected) as info:
            twosided.verify(PK, ea, eb, ec, proof, CTX, batch=batch)
        assert info.value.prover == CTX.prover and info.value.kind == twosided.KIND


def test_wrong_product_by_a_multiple_of_a_prime_factor_is_rejected():
    """D = C - AB a multiple of q: zero mod q, nonzero mod p; the reduction works mod p."""
    p, q = SK.p, SK.q
    ea, eb, ec, proof = _cheat(PK, (3, 3, 3), (1, 2), delta=int(q))
    assert int(q) % int(p) != 0
    with pytest.raises(ProofRejected):
        twosided.verify(PK, ea, eb, ec, proof, CTX)


def test_proof_for_other_matrices_or_context_is_rejected():
    a, _, ea, ra, eb, ec, gammas = instance(PK, 3, 3, 2, seed=7)
    proof = twosided.prove(PK, ea, eb, ec, a, ra, CTX, gammas)
    other_a, _, other_ea, *_ = instance(PK, 3, 3, 2, seed=8)
    for ctx in (dataclasses.replace(CTX, round=1), dataclasses.replace(CTX, prover=2)):
        with pytest.raises(ProofRejected):
            twosided.verify(PK, ea, eb, ec, proof, ctx)
    with pytest.raises(ProofRejected):
        twosided.verify(PK, other_ea, eb, ec, proof, CTX)
    # a product from another A than the committed one, proved with the committed randomness
    ec2 = gadgets.matmul_encrypted(PK, other_a, eb, gammas)
    forged = twosided.prove(PK, ea, eb, ec2, other_a, ra, CTX, gammas, _check=False)
    with pytest.raises(ProofRejected):
        twosided.verify(PK, ea, eb, ec2, forged, CTX)
    # tampered responses and a proof of Gadget 1's type
    bad = dataclasses.replace(
        proof, equality=dataclasses.replace(proof.equality, z=proof.equality.z + 1)
    )
    with pytest.raises(ProofRejected):
        twosided.verify(PK, ea, eb, ec, bad, CTX)
    with pytest.raises(ProofRejected, match="TwoSidedProof"):
        twosided.verify(
            PK, ea, eb, ec, gadgets.prove_gadget1(PK, ea, eb, ec, a, ra, CTX, gammas), CTX
        )
    with pytest.raises(ProofRejected, match="products"):
        twosided.verify(
            PK, ea, eb, ec, dataclasses.replace(proof, products=proof.products[:-1]), CTX
        )


def test_proof_survives_the_wire_and_malformed_wire_is_named():
    a, _, ea, ra, eb, ec, gammas = instance(PK, 2, 3, 2, seed=9)
    proof = twosided.prove(PK, ea, eb, ec, a, ra, CTX, gammas)
    wire = cbor2.loads(cbor2.dumps(codec.encode(proof)))
    back = codec.decode(twosided.TwoSidedProof, wire, prover=1)
    assert back == proof
    twosided.verify(PK, ea, eb, ec, back, CTX)
    with pytest.raises(ProofRejected):
        codec.decode(twosided.TwoSidedProof, wire[:-1], prover=1)


def test_far_fewer_full_exponentiations_than_gadget1():
    """The prover's full exponentiations grow with k, Gadget 1's with r k (same instance)."""
    a, _, ea, ra, eb, ec, gammas = instance(PK, 6, 6, 6, seed=3)
    with group.counting() as two:
        proof = twosided.prove(PK, ea, eb, ec, a, ra, CTX, gammas)
    with group.counting() as one:
        gadgets.prove_gadget1(PK, ea, eb, ec, a, ra, CTX, gammas)
    assert two["full"] * 4 < one["full"]
    twosided.verify(PK, ea, eb, ec, proof, CTX)


@pytest.mark.parametrize(
    "bits", [pytest.param(1024, id="1024-insecure"), pytest.param(2048, marks=pytest.mark.long)]
)
def test_production_size_catches_a_wrong_product(bits):
    """Production repetition parameters (128-bit s, v, challenges and batch exponents) at a
    1024-bit INSECURE and at a 2048-bit N: honest passes, one unit off in one entry fails."""
    pk = random_modulus(bits) if bits >= 2048 else insecure_test_keypair(bits)[0]
    a, _, ea, ra, eb, ec, gammas = instance(pk, 3, 3, 2, seed=5)
    twosided.verify(pk, ea, eb, ec, twosided.prove(pk, ea, eb, ec, a, ra, CTX, gammas), CTX)
    ea, eb, ec, proof = _cheat(pk, (3, 3, 2), (2, 1))
    with pytest.raises(ProofRejected):
        twosided.verify(pk, ea, eb, ec, proof, CTX)
    # input preparation's way: a fresh Enc(A B) one unit off in one entry
    a, ea, ra, eb, rb, ec, rc = fresh_instance(pk, 3, 3, 3, seed=6, wrong=(0, 2))
    forged = twosided.prove(pk, ea, eb, ec, a, ra, CTX, fresh=(rb, rc), _check=False)
    with pytest.raises(ProofRejected):
        twosided.verify(pk, ea, eb, ec, forged, CTX)


def fresh_instance(pk, r: int, k: int, c: int, seed: int = 0, wrong: tuple | None = None):
    """C = A B encrypted afresh from the integer product; the prover knows rb and rc."""
    rng = np.random.default_rng(seed)
    a = [[int(x) for x in row] for row in rng.integers(-(2**40), 2**40, (r, k))]
    b = [[int(x) for x in row] for row in rng.integers(-(2**40), 2**40, (k, c))]
    prod = (np.array(a, dtype=object) @ np.array(b, dtype=object)).tolist()
    if wrong is not None:
        prod[wrong[0]][wrong[1]] += 1
    ea, ra = gadgets.encrypt_matrix(pk, a)
    eb, rb = gadgets.encrypt_matrix(pk, b)
    ec, rc = gadgets.encrypt_matrix(pk, prod)
    return a, ea, ra, eb, rb, ec, rc


@pytest.mark.parametrize("shape", [(3, 2, 4), (4, 4, 1), (1, 3, 2), (3, 3, 3)])
def test_fresh_product_honest_and_one_unit_off_is_rejected(shape):
    a, ea, ra, eb, rb, ec, rc = fresh_instance(PK, *shape, seed=11)
    proof = twosided.prove(PK, ea, eb, ec, a, ra, CTX, fresh=(rb, rc))
    twosided.verify(PK, ea, eb, ec, proof, CTX)
    wrong = (shape[0] - 1, shape[2] - 1)
    a, ea, ra, eb, rb, ec, rc = fresh_instance(PK, *shape, seed=11, wrong=wrong)
    with pytest.raises(ValueError):
        twosided.prove(PK, ea, eb, ec, a, ra, CTX, fresh=(rb, rc))
    forged = twosided.prove(PK, ea, eb, ec, a, ra, CTX, fresh=(rb, rc), _check=False)
    with pytest.raises(ProofRejected):
        twosided.verify(PK, ea, eb, ec, forged, CTX)
