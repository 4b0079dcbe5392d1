"""Helen's Gadgets 1 and 2: encrypted matrix products proved with the random-vector reduction.

References are independent: products are computed in plaintext with numpy (object dtype, exact
integers) and ciphertexts are decrypted with the test key's CRT decryption.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coopetition.protocols.paillier.keys import insecure_test_keypair
from coopetition.protocols.zk import gadgets, group
from coopetition.protocols.zk.errors import ProofRejected
from coopetition.protocols.zk.transcript import ProofContext

PK, SK = insecure_test_keypair(512)
CTX = ProofContext(b"helen", "input-prep", 0, 1)
N, N2 = PK.n, PK.n_square


def decrypt_matrix(e) -> np.ndarray:
    return np.array([[SK.raw_decrypt(x) for x in row] for row in e], dtype=object)


def rand_matrix(rng: np.random.Generator, rows: int, cols: int, bound: int = 2**40) -> list:
    return [[int(x) for x in row] for row in rng.integers(-bound, bound, (rows, cols))]


def gadget1_instance(r: int, k: int, c: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    a, b = rand_matrix(rng, r, k), rand_matrix(rng, k, c)
    ea, ra = gadgets.encrypt_matrix(PK, a)
    eb, _ = gadgets.encrypt_matrix(PK, b)  # someone else's ciphertexts
    gammas = [[group.random_unit(PK) for _ in range(c)] for _ in range(r)]
    ec = gadgets.matmul_encrypted(PK, a, eb, gammas)
    return a, b, ea, ra, eb, ec, gammas


def gadget2_instance(r: int, k: int, c: int, seed: int = 0, wrong: tuple | None = None):
    rng = np.random.default_rng(seed)
    a, b = rand_matrix(rng, r, k), rand_matrix(rng, k, c)
    prod = (np.array(a, dtype=object) @ np.array(b, dtype=object)).tolist()
    if wrong is not None:
        prod[wrong[0]][wrong[1]] += 1
    ea, ra = gadgets.encrypt_matrix(PK, a)
    eb, rb = gadgets.encrypt_matrix(PK, b)
    ec, rc = gadgets.encrypt_matrix(PK, prod)
    return a, b, ea, ra, eb, rb, ec, rc


# -- Gadget 1 -----------------------------------------------------------------------------------


@settings(max_examples=6, deadline=None)
@given(st.integers(1, 4), st.integers(1, 4), st.integers(1, 4), st.integers(0, 2**32))
def test_gadget1_honest_any_shape(r, k, c, seed):
    a, b, ea, ra, eb, ec, gammas = gadget1_instance(r, k, c, seed)
    expected = (np.array(a, dtype=object) @ np.array(b, dtype=object)) % N
    assert (decrypt_matrix(ec) == expected).all()
    proof = gadgets.prove_gadget1(PK, ea, eb, ec, a, ra, CTX, gammas)
    gadgets.verify_gadget1(PK, ea, eb, ec, proof, CTX)
    # O(l^2): r*k multiplication proofs and r equality proofs, not r*k*c.
    assert len(proof.multiplications) == r and all(len(row) == k for row in proof.multiplications)
    assert len(proof.equalities) == r


def test_gadget1_bare_homomorphic_product():
    rng = np.random.default_rng(5)
    a, b = rand_matrix(rng, 2, 3), rand_matrix(rng, 3, 2)
    ea, ra = gadgets.encrypt_matrix(PK, a)
    eb, _ = gadgets.encrypt_matrix(PK, b)
    ec = gadgets.matmul_encrypted(PK, a, eb)
    gadgets.verify_gadget1(PK, ea, eb, ec, gadgets.prove_gadget1(PK, ea, eb, ec, a, ra, CTX), CTX)


@pytest.mark.parametrize("entry", [(0, 0), (2, 1), (1, 2)])
def test_gadget1_rejects_product_wrong_in_one_entry(entry):
    a, b, ea, ra, eb, ec, gammas = gadget1_instance(3, 3, 3, seed=7)
    i, j = entry
    ec[i][j] = ec[i][j] * (1 + N) % N2  # off by one in entry (i, j)
    assert (
        decrypt_matrix(ec)[i, j]
        != (np.array(a, dtype=object) @ np.array(b, dtype=object) % N)[i, j]
    )
    with pytest.raises(ValueError, match="does not match"):
        gadgets.prove_gadget1(PK, ea, eb, ec, a, ra, CTX, gammas)
    proof = gadgets.prove_gadget1(PK, ea, eb, ec, a, ra, CTX, gammas, _check=False)
    with pytest.raises(ProofRejected) as info:
        gadgets.verify_gadget1(PK, ea, eb, ec, proof, CTX)
    assert info.value.kind == "gadget1" and info.value.prover == 1
    assert info.value.index == f"row {i} equality"


def test_gadget1_rejects_a_committed_matrix_other_than_the_one_used():
    """Enc(A) commits to A but the product used A' (one entry changed): the knowledge part
    of the multiplication proofs catches it."""
    a, _b, ea, ra, eb, ec, gammas = gadget1_instance(2, 2, 2, seed=3)
    ea[1][0] = PK.raw_encrypt(a[1][0] + 1, ra[1][0])
    proof = gadgets.prove_gadget1(PK, ea, eb, ec, a, ra, CTX, gammas, _check=False)
    with pytest.raises(ProofRejected) as info:
        gadgets.verify_gadget1(PK, ea, eb, ec, proof, CTX)
    assert info.value.index == "multiplication proof for A[1][0]"


def test_gadget1_tampering_and_context():
    a, _b, ea, ra, eb, ec, gammas = gadget1_instance(2, 3, 2, seed=11)
    proof = gadgets.prove_gadget1(PK, ea, eb, ec, a, ra, CTX, gammas)
    products = [list(row) for row in proof.products]
    products[1][2] = products[1][2] * (1 + N) % N2
    bad = dataclasses.replace(proof, products=tuple(tuple(r) for r in products))
    with pytest.raises(ProofRejected):
        gadgets.verify_gadget1(PK, ea, eb, ec, bad, CTX)
    mults = [list(row) for row in proof.multiplications]
    mults[0][1] = dataclasses.replace(mults[0][1], z=(mults[0][1].z + 1) % N)
    bad = dataclasses.replace(proof, multiplications=tuple(tuple(r) for r in mults))
    with pytest.raises(ProofRejected) as info:
        gadgets.verify_gadget1(PK, ea, eb, ec, bad, CTX, batch=False)
    assert info.value.index == "multiplication proof for A[0][1]"
    eqs = list(proof.equalities)
    eqs[1] = dataclasses.replace(eqs[1], z=eqs[1].z % (N - 1) + 1)
    with pytest.raises(ProofRejected):
        gadgets.verify_gadget1(
            PK, ea, eb, ec, dataclasses.replace(proof, equalities=tuple(eqs)), CTX
        )
    for ctx in (
        dataclasses.replace(CTX, session=b"x"),
        dataclasses.replace(CTX, phase="y"),
        dataclasses.replace(CTX, round=1),
        dataclasses.replace(CTX, prover=2),
    ):
        with pytest.raises(ProofRejected):
            gadgets.verify_gadget1(PK, ea, eb, ec, proof, ctx)
    eb2 = [list(row) for row in eb]
    eb2[0][0] = eb2[0][0] * PK.raw_encrypt(0, 5) % N2  # same plaintext, other ciphertext
    with pytest.raises(ProofRejected):
        gadgets.verify_gadget1(PK, ea, eb2, ec, proof, CTX)


def test_gadget1_malformed_inputs_named():
    a, _b, ea, ra, eb, ec, gammas = gadget1_instance(2, 2, 2, seed=13)
    proof = gadgets.prove_gadget1(PK, ea, eb, ec, a, ra, CTX, gammas)
    with pytest.raises(ProofRejected, match="do not chain"):
        gadgets.verify_gadget1(PK, ea, eb, [[*row, 1] for row in ec], proof, CTX)
    with pytest.raises(ProofRejected, match="products"):
        gadgets.verify_gadget1(PK, ea, eb, ec, dataclasses.replace(proof, products=()), CTX)
    bad_products = ((proof.products[0][0], 0), proof.products[1])
    with pytest.raises(ProofRejected, match=r"product P\[0\]\[1\] is outside"):
        gadgets.verify_gadget1(
            PK, ea, eb, ec, dataclasses.replace(proof, products=bad_products), CTX
        )
    with pytest.raises(ProofRejected, match="not a MatMulProof"):
        gadgets.verify_gadget1(PK, ea, eb, ec, "proof", CTX)


# -- Gadget 2 -----------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(1, 1, 1), (2, 3, 4), (3, 3, 3)])
def test_gadget2_honest(shape):
    a, b, ea, ra, eb, rb, ec, rc = gadget2_instance(*shape, seed=sum(shape))
    expected = (np.array(a, dtype=object) @ np.array(b, dtype=object)) % N
    assert (decrypt_matrix(ec) == expected).all()
    proof = gadgets.prove_gadget2(PK, ea, eb, ec, a, ra, b, rb, rc, CTX)
    gadgets.verify_gadget2(PK, ea, eb, ec, proof, CTX)
    gadgets.verify_gadget2(PK, ea, eb, ec, proof, CTX, batch=False)


@pytest.mark.parametrize("entry", [(0, 0), (1, 2), (2, 1)])
def test_gadget2_rejects_product_wrong_in_one_entry(entry):
    a, b, ea, ra, eb, rb, ec, rc = gadget2_instance(3, 2, 3, seed=1, wrong=entry)
    with pytest.raises(ValueError, match="does not match"):
        gadgets.prove_gadget2(PK, ea, eb, ec, a, ra, b, rb, rc, CTX)
    proof = gadgets.prove_gadget2(PK, ea, eb, ec, a, ra, b, rb, rc, CTX, _check=False)
    with pytest.raises(ProofRejected) as info:
        gadgets.verify_gadget2(PK, ea, eb, ec, proof, CTX)
    assert info.value.kind == "gadget2" and info.value.index == f"row {entry[0]} equality"


def test_gadget2_requires_knowledge_of_b():
    a, b, ea, ra, eb, rb, ec, rc = gadget2_instance(2, 2, 2, seed=2)
    proof = gadgets.prove_gadget2(PK, ea, eb, ec, a, ra, b, rb, rc, CTX)
    rows = [list(r) for r in proof.knowledge]
    rows[1][0] = dataclasses.replace(rows[1][0], z=(rows[1][0].z + 1) % N)
    bad = dataclasses.replace(proof, knowledge=tuple(tuple(r) for r in rows))
    with pytest.raises(ProofRejected) as info:
        gadgets.verify_gadget2(PK, ea, eb, ec, bad, CTX)
    assert info.value.index == "knowledge of B[1][0]"
    with pytest.raises(ProofRejected, match="knowledge proofs"):
        gadgets.verify_gadget2(PK, ea, eb, ec, dataclasses.replace(proof, knowledge=()), CTX)


def test_gadget_proof_does_not_transfer_between_gadgets():
    a, b, ea, ra, eb, rb, ec, rc = gadget2_instance(2, 2, 2, seed=4)
    proof = gadgets.prove_gadget2(PK, ea, eb, ec, a, ra, b, rb, rc, CTX)
    with pytest.raises(ProofRejected):
        gadgets.verify_gadget1(PK, ea, eb, ec, proof.product, CTX)


def test_gadgets_with_djn_nonces():
    from coopetition.protocols.paillier.encryptor import Encryptor

    encryptor = Encryptor(PK)
    a, b, ea, ra, eb, ec, gammas = gadget1_instance(2, 3, 2, seed=21)
    proof = gadgets.prove_gadget1(PK, ea, eb, ec, a, ra, CTX, gammas, encryptor=encryptor)
    gadgets.verify_gadget1(PK, ea, eb, ec, proof, CTX, batch=False)
    a, b, ea, ra, eb, rb, ec, rc = gadget2_instance(2, 2, 3, seed=22, wrong=(1, 2))
    lie = gadgets.prove_gadget2(
        PK, ea, eb, ec, a, ra, b, rb, rc, CTX, encryptor=encryptor, _check=False
    )
    with pytest.raises(ProofRejected, match="row 1 equality"):
        gadgets.verify_gadget2(PK, ea, eb, ec, lie, CTX)
    enc_a, rand_a = gadgets.encrypt_matrix(PK, a, encryptor)
    assert all(
        PK.raw_encrypt(x, r) == e
        for row_x, row_r, row_e in zip(a, rand_a, enc_a, strict=True)
        for x, r, e in zip(row_x, row_r, row_e, strict=True)
    )


def test_gadgets_accept_numpy_matrices():
    a = np.array([[3, -4], [5, 6]], dtype=np.int64)
    b = np.array([[2**62, 1], [-7, 0]], dtype=object)
    ea, ra = gadgets.encrypt_matrix(PK, a)
    eb, rb = gadgets.encrypt_matrix(PK, b)
    ec, rc = gadgets.encrypt_matrix(PK, a.astype(object) @ b)
    proof = gadgets.prove_gadget2(
        PK, np.array(ea, dtype=object), eb, ec, a, np.array(ra, dtype=object), b, rb, rc, CTX
    )
    gadgets.verify_gadget2(
        PK, np.array(ea, dtype=object), eb, np.array(ec, dtype=object), proof, CTX
    )
    assert (decrypt_matrix(ec) == (a.astype(object) @ b) % N).all()


def test_gadget2_without_knowledge_proofs_is_rejected():
    """Regression (review issue 5, defect 1): ``knowledge=None`` used to skip the PoPKs of B.

    The cheater never knows B (someone else's ciphertexts): it proves the product the Gadget 1
    way, under Gadget 2's domain, and leaves the knowledge proofs out.
    """
    a, _b, ea, ra, eb, ec, gammas = gadget1_instance(2, 2, 2, seed=9)

    def row_roots(v, pis):
        out = []
        for i, pi_row in enumerate(pis):
            num = 1
            for g, vj in zip(gammas[i], v, strict=True):
                num = num * pow(g, vj, N) % N
            den = 1
            for x in pi_row:
                den = den * x % N
            out.append(num * pow(den, -1, N) % N)
        return out

    product, _ = gadgets._prove_product(
        "gadget2", PK, ea, eb, ec, a, ra, CTX, row_roots, None, True, None
    )
    for knowledge in (None, ()):
        forged = gadgets.Gadget2Proof(product, knowledge)
        for batch in (True, False):
            with pytest.raises(ProofRejected, match="knowledge proofs") as info:
                gadgets.verify_gadget2(PK, ea, eb, ec, forged, CTX, batch=batch)
            assert info.value.kind == "gadget2" and info.value.prover == CTX.prover


def test_sign_flipped_gadget_response_rejected_by_every_verifier():
    """Regression (defect 2): a root z -> N - z used to pass the batch for even exponents."""
    a, _b, ea, ra, eb, ec, gammas = gadget1_instance(2, 2, 1, seed=10)
    proof = gadgets.prove_gadget1(PK, ea, eb, ec, a, ra, CTX, gammas)
    gadgets.verify_gadget1(PK, ea, eb, ec, proof, CTX)
    eq0 = proof.equalities[0]
    flipped = dataclasses.replace(
        proof, equalities=(dataclasses.replace(eq0, z=N - eq0.z), *proof.equalities[1:])
    )
    for _ in range(24):
        for batch in (True, False):
            with pytest.raises(ProofRejected, match="canonical"):
                gadgets.verify_gadget1(PK, ea, eb, ec, flipped, CTX, batch=batch)
