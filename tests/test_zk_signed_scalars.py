"""Signed scalars by inversion in the gadgets (issue 15's lever): a negative entry costs an
exponent of its own length, not the |N|-bit a mod N, and proofs over such products verify."""

from __future__ import annotations

import numpy as np

from coopetition.protocols.paillier.keys import insecure_test_keypair
from coopetition.protocols.zk import gadgets, group
from coopetition.protocols.zk.transcript import ProofContext

PK, SK = insecure_test_keypair(512)
CTX = ProofContext(b"signed", "input-prep", 0, 1)


def _full_exponentiations(a: list[list[int]], eb: list[list[int]]) -> int:
    with group.counting() as counts:
        gadgets.matmul_encrypted(PK, a, eb)
    return counts.get("full", 0)


def test_negative_entries_cost_no_full_exponentiation():
    rng = np.random.default_rng(3)
    a = [[int(x) for x in row] for row in rng.integers(-(2**40), 2**40, (3, 3))]
    eb, _ = gadgets.encrypt_matrix(PK, [[5, -6], [7, 8], [-9, 10]])
    assert any(x < 0 for row in a for x in row)
    assert _full_exponentiations(a, eb) == 0
    ec = gadgets.matmul_encrypted(PK, a, eb)
    expected = np.array(a, dtype=object) @ np.array([[5, -6], [7, 8], [-9, 10]], dtype=object)
    got = [[PK.decode(SK.raw_decrypt(x)) for x in row] for row in ec]
    assert got == expected.tolist()


def test_gadgets_prove_and_verify_with_negative_entries_at_unsigned_cost():
    rng = np.random.default_rng(4)
    a = [[int(x) for x in row] for row in rng.integers(-(2**40), 2**40, (3, 3))]
    b = [[int(x) for x in row] for row in rng.integers(-(2**40), 2**40, (3, 2))]
    ea, ra = gadgets.encrypt_matrix(PK, a)
    eb, rb = gadgets.encrypt_matrix(PK, b)
    gammas = [[group.random_unit(PK) for _ in range(2)] for _ in range(3)]
    ec = gadgets.matmul_encrypted(PK, a, eb, gammas)
    with group.counting() as signed:
        proof = gadgets.prove_gadget1(PK, ea, eb, ec, a, ra, CTX, gammas)
    gadgets.verify_gadget1(PK, ea, eb, ec, proof, CTX)
    absolute = [[abs(x) for x in row] for row in a]
    ea2, ra2 = gadgets.encrypt_matrix(PK, absolute)
    ec2 = gadgets.matmul_encrypted(PK, absolute, eb, gammas)
    with group.counting() as unsigned:
        gadgets.prove_gadget1(PK, ea2, eb, ec2, absolute, ra2, CTX, gammas)
    assert signed.get("full", 0) == unsigned.get("full", 0)
    prod = (np.array(a, dtype=object) @ np.array(b, dtype=object)).tolist()
    ecp, rc = gadgets.encrypt_matrix(PK, prod)
    proof2 = gadgets.prove_gadget2(PK, ea, eb, ecp, a, ra, b, rb, rc, CTX)
    gadgets.verify_gadget2(PK, ea, eb, ecp, proof2, CTX)
