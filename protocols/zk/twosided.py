"""Gadget 1 with random reduction on both sides: Dec(Enc(C)) = A Dec(Enc(B)) in O(k) proofs.

Statement: public Enc(A) (r x k, the prover's committed matrix), Enc(B) (k x c, anyone's) and
Enc(C) (r x c) with C = A * Enc(B) re-randomised (``gadgets.matmul_encrypted`` with gammas);
the prover knows A, the randomness of Enc(A) and the gammas. Claim: C = A B (mod N).

After Enc(A), Enc(B), Enc(C) are absorbed, the Fiat–Shamir transcript yields s in [0, 2^128)^r
and v in [0, 2^128)^c (a side of length 1 uses the constant 1: it has nothing to reduce), and
the claim becomes the scalar identity s^T C v = (s^T A)(B v) = sum_h a'_h (B v)_h. Everyone
computes homomorphically, with 128-bit exponents only,

    Enc(a')_h = prod_i Enc(A)_ih^(s_i),  Enc(Bv)_h = prod_j Enc(B)_hj^(v_j),
    Enc(s^T C v) = prod_i (prod_j Enc(C)_ij^(v_j))^(s_i);

the prover publishes P_h = Enc(Bv)_h^(a'_h) pi_h^N with a multiplication proof for each h
(Ea = Enc(a')_h, Eb = Enc(Bv)_h, Ec = P_h) and one equality proof that Enc(s^T C v) and
prod_h P_h hide the same value: k + 1 proofs instead of Gadget 1's r k + r. Verifier and
prover each add r k + k c + r c + r short exponentiations (multi-exponentiations).

Soundness (docs/crypto.md, "Two-sided random reduction"): every unit of Z_{N^2} has one
plaintext, so A, B, C are fixed by the absorbed ciphertexts. If C != A B mod N, D = C - A B is
nonzero modulo a prime p in {p, q}; over F_p, Pr_v[D v = 0] <= 2^-128 and, when D v != 0,
Pr_s[s^T D v = 0] <= 2^-128 (each coordinate of s and v takes 2^128 distinct residues mod p,
p > 2^128): a wrong product survives the reduction with probability <= 2^-127 per transcript
query (2^-128 when one side is trivial). The k + 1 proofs of the reduced claim are sound up to
2^-128 and the batched check adds 2^-128. The proof shows knowledge of s^T A only, not of every
a_ih: where knowledge of A matters (Helen), the range proofs on the committed entries give it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import gmpy2
from gmpy2 import mpz

from coopetition.protocols.paillier.encryptor import Encryptor
from coopetition.protocols.paillier.keys import PublicKey
from coopetition.protocols.zk import codec, equality, group, multiplication
from coopetition.protocols.zk.equality import EqualityProof
from coopetition.protocols.zk.gadgets import (
    Matrix,
    _rows,
    _shapes,
    signed_power,
    statement_elements,
)
from coopetition.protocols.zk.gil import holding_gil
from coopetition.protocols.zk.group import Equation
from coopetition.protocols.zk.multiplication import MultiplicationProof
from coopetition.protocols.zk.transcript import ProofContext, Transcript

KIND = "gadget1-two-sided"


@dataclass(frozen=True, slots=True)
class TwoSidedProof:
    """The reduced claim s^T C v = sum_h a'_h (Bv)_h: k products, their proofs, one equality."""

    products: tuple[int, ...]
    multiplications: tuple[MultiplicationProof, ...]
    equality: EqualityProof


# registered here (same layer as the codec, which cannot import this module without a cycle)
codec.SCHEMAS[TwoSidedProof] = (("seq", codec.INT), ("seq", MultiplicationProof), EqualityProof)
codec.KINDS[TwoSidedProof] = KIND


def _challenges(
    pk: PublicKey, ctx: ProofContext, ea: Matrix, eb: Matrix, ec: Matrix, r: int, c: int
) -> tuple[Transcript, list[int], list[int]]:
    """The transcript over the statement, and s (length r) and v (length c)."""
    t = group.start_transcript(KIND, pk, ctx)
    t.absorb([list(row) for row in ea], [list(row) for row in eb], [list(row) for row in ec])
    s = [1] if r == 1 else t.challenge_ints(r, group.CHALLENGE_BITS, "left")
    v = [1] if c == 1 else t.challenge_ints(c, group.CHALLENGE_BITS, "right")
    return t, s, v


def _combine(terms: Sequence[tuple[mpz | int, int]], modulus: mpz | int) -> mpz:
    """prod base^exp for non-negative short exponents; bases equal to 1 are skipped."""
    return group.multi_pow([(mpz(b), mpz(e)) for b, e in terms if b != 1 and e], modulus)


def _rows_times(m: Sequence[Sequence[mpz | int]], v: list[int], modulus: mpz | int) -> list[mpz]:
    """(prod_j m_ij^(v_j))_i."""
    return [_combine(list(zip(row, v, strict=True)), modulus) for row in m]


def _cols_times(s: list[int], m: Sequence[Sequence[mpz | int]], modulus: mpz | int) -> list[mpz]:
    """(prod_i m_ih^(s_i))_h."""
    cols = len(m[0])
    return [
        _combine([(row[h], si) for row, si in zip(m, s, strict=True)], modulus) for h in range(cols)
    ]


def signed_power_mod(x: mpz, e: int, modulus: int) -> mpz:
    """x^e mod ``modulus`` for a signed e (inversion for e < 0)."""
    return (
        group.powmod(gmpy2.invert(x, modulus), -e, modulus)
        if e < 0
        else group.powmod(x, e, modulus)
    )


def reduced_statement(
    pk: PublicKey, ea: Matrix, eb: Matrix, ec: Matrix, s: list[int], v: list[int]
) -> tuple[list[mpz], list[mpz], mpz]:
    """Enc(s^T A), Enc(B v) and Enc(s^T C v), the same for prover and every verifier."""
    n2 = pk.n_square
    ea_s = _cols_times(s, ea, n2)
    eb_v = _rows_times(eb, v, n2)
    ec_sv = _combine(list(zip(_rows_times(ec, v, n2), s, strict=True)), n2)
    return ea_s, eb_v, ec_sv


@holding_gil
def prove(
    pk: PublicKey,
    ea: Matrix,
    eb: Matrix,
    ec: Matrix,
    a: Matrix,
    ra: Matrix,
    ctx: ProofContext,
    gammas: Matrix | None = None,
    *,
    fresh: tuple[Matrix, Matrix] | None = None,
    encryptor: Encryptor | None = None,
    _check: bool = True,
) -> TwoSidedProof:
    """Prove Dec(ec) = A Dec(eb), where ``ec = gadgets.matmul_encrypted(pk, a, eb, gammas)``.

    ``ea[i][h] = Enc(a[i][h]; ra[i][h])``; matrices are nested lists of ints or numpy arrays.
    ``fresh = (rb, rc)`` instead: ``eb = Enc(B; rb)`` and ``ec = Enc(A B; rc)`` freshly
    encrypted from the integer product (r c encryptions instead of r k c exponentiations; the
    verifier's statement is the same). ``_check`` (default on) refuses a witness that does not
    match, before anything is sent.
    """
    group.check_key(pk)
    n, n2 = pk.n, pk.n_square
    ea, eb, ec, a, ra, gammas = (_rows(x) for x in (ea, eb, ec, a, ra, gammas))
    r, k, c = _shapes(ea, eb, ec, group.blame_for(KIND, ctx))
    t, s, v = _challenges(pk, ctx, ea, eb, ec, r, c)
    ebv = _rows_times(eb, v, n2)
    a_s = [sum(si * int(a[i][h]) for i, si in enumerate(s)) for h in range(k)]
    ra_s = _cols_times(s, ra, n)
    masks = [group.encrypt_fresh(pk, 0, encryptor) for _ in range(k)]  # (pi_h^N, pi_h)
    pis = [pi for _, pi in masks]
    products = [int(signed_power(pk, ebv[h], a_s[h]) * masks[h][0] % n2) for h in range(k)]
    den = mpz(1)
    for pi in pis:
        den = den * pi % n
    if fresh is None:
        # Enc(s^T C v) / prod_h P_h = (prod_ij gamma_ij^(s_i v_j) / prod_h pi_h)^N exactly
        num = mpz(1)
        if gammas is not None:
            num = _combine(list(zip(_rows_times(gammas, v, n), s, strict=True)), n)
    else:
        # s^T C v = sum_h a'_h (Bv)_h over the integers, so the ratio is an N-th power of
        # prod_ij rc_ij^(s_i v_j) / prod_h (R_Bv,h^(a'_h) pi_h), R_Bv,h = prod_j rb_hj^(v_j)
        rb, rc = (_rows(x) for x in fresh)
        num = _combine(list(zip(_rows_times(rc, v, n), s, strict=True)), n)
        for h, rbv in enumerate(_rows_times(rb, v, n)):
            den = den * signed_power_mod(rbv, a_s[h], n) % n
    root = int(num * gmpy2.invert(den, n) % n)
    if _check:
        ec_sv = _combine(list(zip(_rows_times(ec, v, n2), s, strict=True)), n2)
        prod = mpz(1)
        for x in products:
            prod = prod * x % n2
        if prod * group.powmod(root, n, n2) % n2 != ec_sv:
            raise ValueError("the witness does not match the claimed product")
    # the multiplication proof speaks of a' mod N: with a' = (a' mod N) + tN (t = -1 for
    # -N < a' < 0, as in Gadget 1; t > 0 when A is given as residues in [0, N)) the product
    # is Eb^(a' mod N) (pi Eb^t)^N
    mult_gammas = [pis[h] * signed_power_mod(ebv[h] % n, a_s[h] // n, n) % n for h in range(k)]
    mult_nonces = [multiplication.commit(pk, int(ebv[h]), encryptor) for h in range(k)]
    eq_nonce = equality.commit(pk, encryptor)
    t.absorb(products, [(x.commit_a, x.commit_b) for x in mult_nonces], eq_nonce.commitment)
    es = t.challenge_ints(k + 1, group.CHALLENGE_BITS)
    mults = tuple(
        multiplication.respond(
            pk, mult_nonces[h], int(ebv[h]), a_s[h], int(ra_s[h]), int(mult_gammas[h]), es[h]
        )
        for h in range(k)
    )
    eq = equality.respond(pk, eq_nonce, root, es[k])
    return TwoSidedProof(tuple(products), mults, eq)


def equations(
    pk: PublicKey, ea: Matrix, eb: Matrix, ec: Matrix, proof: object, ctx: ProofContext
) -> list[Equation]:
    """The k multiplication proofs' and the equality proof's equations (for batching)."""
    blame = group.blame_for(KIND, ctx)
    ea, eb, ec = _rows(ea), _rows(eb), _rows(ec)
    if not isinstance(proof, TwoSidedProof):
        raise blame.reject("product proof is not a TwoSidedProof")
    (r, k, c), (ea_, eb_, ec_) = statement_elements(pk, ea, eb, ec, blame)
    products = [
        group.element(pk, x, f"product P[{h}]", blame)
        for h, x in enumerate(group.sequence(proof.products, k, "products", blame))
    ]
    mults = group.sequence(proof.multiplications, k, "multiplication proofs", blame)
    t, s, v = _challenges(pk, ctx, ea, eb, ec, r, c)
    ea_s, eb_v, ec_sv = reduced_statement(pk, ea_, eb_, ec_, s, v)
    prod = mpz(1)
    for x in products:
        prod = prod * x % pk.n_square
    parsed_mults = [
        multiplication.parse(
            pk,
            multiplication.Statement(int(ea_s[h]), int(eb_v[h]), int(products[h])),
            mults[h],
            blame,
            f"multiplication proof for (s^T A)[{h}]",
        )
        for h in range(k)
    ]
    parsed_eq = equality.parse(pk, int(ec_sv), int(prod), proof.equality, blame, "reduced equality")
    t.absorb(
        [int(x) for x in products],
        [(int(x.commit_a), int(x.commit_b)) for x in parsed_mults],
        int(parsed_eq.commitment),
    )
    es = t.challenge_ints(k + 1, group.CHALLENGE_BITS)
    out: list[Equation] = []
    for h, pm in enumerate(parsed_mults):
        out += pm.equations(es[h])
    out.append(parsed_eq.equation(es[k]))
    return out


@holding_gil
def verify(
    pk: PublicKey,
    ea: Matrix,
    eb: Matrix,
    ec: Matrix,
    proof: TwoSidedProof,
    ctx: ProofContext,
    *,
    batch: bool = True,
) -> None:
    """Raise ProofRejected (naming ctx.prover) unless Dec(ec) = Dec(ea) Dec(eb) mod N."""
    group.require(pk, equations(pk, ea, eb, ec, proof, ctx), batch=batch)
