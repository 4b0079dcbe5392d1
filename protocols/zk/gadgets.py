"""Helen's Gadgets 1 and 2: proofs that an encrypted matrix is a product, in O(l^2) proofs.

Gadget 1 (plaintext–ciphertext): public Enc(A) (r x k, the prover's committed matrix), Enc(B)
(k x c, anyone's) and Enc(C) (r x c); the prover knows A (and the randomness of Enc(A)) and
claims Dec(Enc(C)) = A * Dec(Enc(B)), having computed Enc(C) homomorphically.
Gadget 2 (plaintext–plaintext): the prover knows A, B and C = A*B and all their randomness; the
proof adds a proof of plaintext knowledge for every entry of Enc(B) (knowledge of C follows).

Random-vector reduction (Helen, section IV-A). Proving each of the r*k*c scalar products costs
O(l^3) proofs. Instead, after the statement is fixed, a vector v of c challenges (128 bits each,
from the Fiat–Shamir transcript) reduces the claim to C v = A (B v). Both sides compute
Enc(B v) and Enc(C v) homomorphically (short exponents); the prover publishes
P_il = Enc(B v)_l ^ (a_il) * pi_il^N with a multiplication proof for each of the r*k entries
(which also proves knowledge of every a_il), and for each row i an equality proof that
Enc(C v)_i and prod_l P_il encrypt the same value: r*k + r proofs, O(l^2).

Soundness. If C != A B (mod N) in some entry, D = C - A B has a nonzero column entry d_ij and
(D v)_i = 0 mod N pins v_j to one residue modulo p or q (both > 2^128), so a wrong product
survives the reduction with probability at most 2^-128 per transcript query, and then a proof
of the reduced claim survives with probability 2^-128. The plaintexts are residues mod N:
whether they represent the intended integers (no wrap-around) is the business of the interval
proofs that Helen runs on the results.

All equations of a gadget are verified together in one batch (random 128-bit exponents, so a
false equation survives the batch with probability 2^-128, the level of the challenges); only if the batch fails are they checked one by one, to
name the entry at fault. Gadget 2's verifier always demands its k x c proofs of knowledge of B.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import gmpy2
from gmpy2 import mpz

from coopetition.protocols.paillier.encryptor import Encryptor
from coopetition.protocols.paillier.keys import PublicKey
from coopetition.protocols.zk import equality, group, multiplication, plaintext
from coopetition.protocols.zk.equality import EqualityProof
from coopetition.protocols.zk.group import Blame, Equation
from coopetition.protocols.zk.multiplication import MultiplicationProof
from coopetition.protocols.zk.plaintext import PlaintextProof
from coopetition.protocols.zk.transcript import ProofContext, Transcript

Matrix = Sequence[Sequence[int]]


@dataclass(frozen=True, slots=True)
class MatMulProof:
    """The reduced product C v = A (B v): r x k products with their proofs, r row equalities."""

    products: tuple[tuple[int, ...], ...]
    multiplications: tuple[tuple[MultiplicationProof, ...], ...]
    equalities: tuple[EqualityProof, ...]


@dataclass(frozen=True, slots=True)
class Gadget2Proof:
    product: MatMulProof
    knowledge: tuple[tuple[PlaintextProof, ...], ...]  # one per entry of Enc(B)


# -- helpers for provers -------------------------------------------------------------------------


def encrypt_matrix(
    pk: PublicKey, m: Matrix, encryptor: Encryptor | None = None
) -> tuple[list[list[int]], list[list[int]]]:
    """Encrypt entry by entry; returns (ciphertexts, randomness). Plaintexts are taken mod N."""
    m = _rows(m)
    pairs = [[group.encrypt_fresh(pk, x, encryptor) for x in row] for row in m]
    return [[c for c, _ in row] for row in pairs], [[r for _, r in row] for row in pairs]


def matmul_encrypted(
    pk: PublicKey, a: Matrix, eb: Matrix, gammas: Matrix | None = None
) -> list[list[int]]:
    """Enc(A B) = A * Enc(B) homomorphically, entry (i, j) times gamma_ij^N if given.

    Signed entries are raised by inversion, Eb^a = (Eb^-1)^|a| for a < 0, as ``ops.matvec``
    does: an exponent of |a| bits instead of the |N|-bit a mod N (docs/crypto.md, "Signed
    scalars by inversion").
    """
    n, n2 = pk.n, pk.n_square
    a, eb, gammas = _rows(a), _rows(eb), _rows(gammas)
    rows, inner, cols = len(a), len(eb), len(eb[0]) if eb else 0
    out = []
    for i in range(rows):
        row = []
        for j in range(cols):
            acc = mpz(1)
            for h in range(inner):
                acc = acc * signed_power(pk, eb[h][j], a[i][h]) % n2
            if gammas is not None and gammas[i][j] != 1:
                acc = acc * group.powmod(gammas[i][j], n, n2) % n2
            row.append(int(acc))
        out.append(row)
    return out


def signed_power(pk: PublicKey, c: int | mpz, a: int) -> mpz:
    """c^a mod N^2 for a signed a: a negative exponent inverts c (short exponents stay short)."""
    n2 = pk.n_square
    if a < 0:
        return group.powmod(gmpy2.invert(c, n2), -a, n2)
    return group.powmod(c, a, n2)


# -- shared machinery ----------------------------------------------------------------------------


def _rows(m: Any) -> Any:
    """numpy arrays (int64 or object) as nested lists of Python ints; anything else unchanged."""
    return m.tolist() if hasattr(m, "tolist") else m


def _shape(m: object, what: str, blame: Blame) -> tuple[int, int]:
    if not isinstance(m, (list, tuple)) or not m or not isinstance(m[0], (list, tuple)):
        raise blame.reject(f"{what} is not a non-empty matrix")
    cols = len(m[0])
    if cols == 0 or any(not isinstance(row, (list, tuple)) or len(row) != cols for row in m):
        raise blame.reject(f"{what} is not a rectangular matrix")
    return len(m), cols


def _shapes(ea: Matrix, eb: Matrix, ec: Matrix, blame: Blame) -> tuple[int, int, int]:
    r, k = _shape(ea, "Enc(A)", blame)
    k2, c = _shape(eb, "Enc(B)", blame)
    r2, c2 = _shape(ec, "Enc(C)", blame)
    if k2 != k or r2 != r or c2 != c:
        raise blame.reject(f"shapes {r}x{k} * {k2}x{c} -> {r2}x{c2} do not chain")
    return r, k, c


def statement_elements(
    pk: PublicKey, ea: Matrix, eb: Matrix, ec: Matrix, blame: Blame
) -> tuple[tuple[int, int, int], tuple[list[list[mpz]], ...]]:
    """The shapes (r, k, c) and every entry of Enc(A), Enc(B), Enc(C) checked as a unit."""
    shapes = _shapes(ea, eb, ec, blame)
    parsed = tuple(
        [
            [group.element(pk, x, f"Enc({name})[{i}][{j}]", blame) for j, x in enumerate(row)]
            for i, row in enumerate(m)
        ]
        for name, m in (("A", ea), ("B", eb), ("C", ec))
    )
    return shapes, parsed


def _statement_transcript(
    kind: str, pk: PublicKey, ctx: ProofContext, ea: Matrix, eb: Matrix, ec: Matrix
) -> tuple[Transcript, list[int]]:
    t = group.start_transcript(kind, pk, ctx)
    t.absorb([list(row) for row in ea], [list(row) for row in eb], [list(row) for row in ec])
    return t, t.challenge_ints(len(eb[0]), group.CHALLENGE_BITS, "vector")


def _reduce(pk: PublicKey, m: Sequence[Sequence[mpz | int]], v: list[int]) -> list[mpz]:
    """Enc(M v) = (prod_j M_ij^(v_j))_i: r*c short exponentiations."""
    return [
        group.multi_pow([(mpz(x), mpz(vj)) for x, vj in zip(row, v, strict=True)], pk.n_square)
        for row in m
    ]


def _row_products(pk: PublicKey, products: Sequence[Sequence[mpz | int]]) -> list[mpz]:
    n2 = pk.n_square
    out = []
    for row in products:
        acc = mpz(1)
        for x in row:
            acc = acc * x % n2
        out.append(acc)
    return out


RowRoots = Callable[[list[int], list[list[int]]], list[int]]


def _prove_product(
    kind: str,
    pk: PublicKey,
    ea: Matrix,
    eb: Matrix,
    ec: Matrix,
    a: Matrix,
    ra: Matrix,
    ctx: ProofContext,
    row_roots: RowRoots,
    knowledge: tuple[Matrix, Matrix] | None,
    check: bool,
    encryptor: Encryptor | None,
) -> tuple[MatMulProof, tuple[tuple[PlaintextProof, ...], ...]]:
    """The prover of the reduced claim; ``knowledge`` = (B, rB) adds Gadget 2's PoPKs."""
    group.check_key(pk)
    n = pk.n
    r, k, c = _shapes(ea, eb, ec, group.blame_for(kind, ctx))
    t, v = _statement_transcript(kind, pk, ctx, ea, eb, ec)
    ebv = _reduce(pk, eb, v)
    fresh = [[group.encrypt_fresh(pk, 0, encryptor) for _ in range(k)] for _ in range(r)]
    pis = [[pi for _, pi in row] for row in fresh]
    products = [
        [int(signed_power(pk, ebv[h], a[i][h]) * fresh[i][h][0] % pk.n_square) for h in range(k)]
        for i in range(r)
    ]
    roots = row_roots(v, pis)
    # A multiplication proof speaks of Eb^(a mod N) gamma^N; for a < 0 the product above is
    # Eb^a pi^N = Eb^(a mod N) (pi Eb^-1)^N, since x^N mod N^2 depends only on x mod N.
    mult_gammas = [
        [
            pis[i][h] * gmpy2.invert(ebv[h] % n, n) % n if a[i][h] < 0 else pis[i][h]
            for h in range(k)
        ]
        for i in range(r)
    ]
    ecv = _reduce(pk, ec, v)
    rowprod = _row_products(pk, products)
    if check:
        for i in range(r):
            if rowprod[i] * group.powmod(roots[i], n, pk.n_square) % pk.n_square != ecv[i]:
                raise ValueError("the witness does not match the claimed product")
    mult_nonces = [
        [multiplication.commit(pk, int(ebv[h]), encryptor) for h in range(k)] for i in range(r)
    ]
    eq_nonces = [equality.commit(pk, encryptor) for _ in range(r)]
    popk_nonces = (
        [[plaintext.commit(pk, encryptor) for _ in range(c)] for _ in range(k)] if knowledge else []
    )
    t.absorb(
        products,
        [[(x.commit_a, x.commit_b) for x in row] for row in mult_nonces],
        [x.commitment for x in eq_nonces],
        [[x.commitment for x in row] for row in popk_nonces],
    )
    es = iter(t.challenge_ints(r * k + r + len(popk_nonces) * c, group.CHALLENGE_BITS))
    mults = tuple(
        tuple(
            multiplication.respond(
                pk, mult_nonces[i][h], int(ebv[h]), a[i][h], ra[i][h], mult_gammas[i][h], next(es)
            )
            for h in range(k)
        )
        for i in range(r)
    )
    eqs = tuple(equality.respond(pk, eq_nonces[i], roots[i], next(es)) for i in range(r))
    popks: tuple[tuple[PlaintextProof, ...], ...] = ()
    if knowledge:
        b, rb = knowledge
        popks = tuple(
            tuple(
                plaintext.respond(pk, popk_nonces[h][j], b[h][j], rb[h][j], next(es))
                for j in range(c)
            )
            for h in range(k)
        )
    proof = MatMulProof(tuple(tuple(row) for row in products), mults, eqs)
    return proof, popks


def _product_equations(
    kind: str,
    pk: PublicKey,
    ea: Matrix,
    eb: Matrix,
    ec: Matrix,
    proof: object,
    knowledge: object,
    ctx: ProofContext,
    *,
    with_knowledge: bool,
) -> list[Equation]:
    """The gadget's equations; ``with_knowledge`` demands Gadget 2's k x c proofs of knowledge.

    Whether they are required is the caller's (the gadget's) decision, never the proof's: a
    Gadget 2 proof without them would be a Gadget 1 proof that never showed knowledge of B.
    """
    blame = group.blame_for(kind, ctx)
    ea, eb, ec = _rows(ea), _rows(eb), _rows(ec)
    if not isinstance(proof, MatMulProof):
        raise blame.reject("product proof is not a MatMulProof")
    (r, k, c), (ea_, eb_, ec_) = statement_elements(pk, ea, eb, ec, blame)
    products = [
        [
            group.element(pk, x, f"product P[{i}][{h}]", blame)
            for h, x in enumerate(group.sequence(row, k, f"products row {i}", blame))
        ]
        for i, row in enumerate(group.sequence(proof.products, r, "products", blame))
    ]
    mult_rows = group.sequence(proof.multiplications, r, "multiplication proofs", blame)
    mults = [
        group.sequence(row, k, f"multiplication proofs row {i}", blame)
        for i, row in enumerate(mult_rows)
    ]
    eqs = group.sequence(proof.equalities, r, "equality proofs", blame)
    popk_rows: list[Sequence[object]] = []
    if with_knowledge:
        rows = group.sequence(knowledge, k, "knowledge proofs", blame)
        popk_rows = [
            group.sequence(row, c, f"knowledge proofs row {h}", blame) for h, row in enumerate(rows)
        ]

    t, v = _statement_transcript(kind, pk, ctx, ea, eb, ec)
    ebv = _reduce(pk, eb_, v)
    ecv = _reduce(pk, ec_, v)
    rowprod = _row_products(pk, products)
    parsed_mults = [
        [
            multiplication.parse(
                pk,
                multiplication.Statement(int(ea_[i][h]), int(ebv[h]), int(products[i][h])),
                mults[i][h],
                blame,
                f"multiplication proof for A[{i}][{h}]",
            )
            for h in range(k)
        ]
        for i in range(r)
    ]
    parsed_eqs = [
        equality.parse(pk, int(ecv[i]), int(rowprod[i]), eqs[i], blame, f"row {i} equality")
        for i in range(r)
    ]
    parsed_popks = [
        [
            plaintext.parse(pk, int(eb_[h][j]), popk_rows[h][j], blame, f"knowledge of B[{h}][{j}]")
            for j in range(c)
        ]
        for h in range(len(popk_rows))
    ]
    t.absorb(
        [[int(x) for x in row] for row in products],
        [[(int(x.commit_a), int(x.commit_b)) for x in row] for row in parsed_mults],
        [int(x.commitment) for x in parsed_eqs],
        [[int(x.commitment) for x in row] for row in parsed_popks],
    )
    es = iter(t.challenge_ints(r * k + r + len(parsed_popks) * c, group.CHALLENGE_BITS))
    out: list[Equation] = []
    for row in parsed_mults:
        for pm in row:
            out += pm.equations(next(es))
    out += [pe.equation(next(es)) for pe in parsed_eqs]
    for popk_row in parsed_popks:
        out += [pp.equation(next(es)) for pp in popk_row]
    return out


# -- Gadget 1 --------------------------------------------------------------------------------------


def prove_gadget1(
    pk: PublicKey,
    ea: Matrix,
    eb: Matrix,
    ec: Matrix,
    a: Matrix,
    ra: Matrix,
    ctx: ProofContext,
    gammas: Matrix | None = None,
    *,
    encryptor: Encryptor | None = None,
    _check: bool = True,
) -> MatMulProof:
    """Prove Dec(ec) = A Dec(eb) and knowledge of A = Dec(ea).

    ``ea[i][l] = Enc(a[i][l]; ra[i][l])`` and ``ec = matmul_encrypted(pk, a, eb, gammas)``.
    Matrices are nested lists of ints or numpy arrays.
    """
    n = pk.n
    ea, eb, ec, a, ra, gammas = (_rows(x) for x in (ea, eb, ec, a, ra, gammas))

    def row_roots(v: list[int], pis: list[list[int]]) -> list[int]:
        # Enc(Cv)_i / prod_l P_il = (prod_j gamma_ij^(v_j) / prod_l pi_il)^N exactly.
        roots = []
        for i, pi_row in enumerate(pis):
            num = mpz(1)
            if gammas is not None:
                for gij, vj in zip(gammas[i], v, strict=True):
                    num = num * group.powmod(gij % n, vj, n) % n
            den = mpz(1)
            for x in pi_row:
                den = den * x % n
            roots.append(int(num * gmpy2.invert(den, n) % n))
        return roots

    proof, _ = _prove_product(
        "gadget1", pk, ea, eb, ec, a, ra, ctx, row_roots, None, _check, encryptor
    )
    return proof


def verify_gadget1(
    pk: PublicKey,
    ea: Matrix,
    eb: Matrix,
    ec: Matrix,
    proof: MatMulProof,
    ctx: ProofContext,
    *,
    batch: bool = True,
) -> None:
    """Raise ProofRejected unless Dec(ec) = Dec(ea) Dec(eb) and the prover knows Dec(ea)."""
    eqs = _product_equations("gadget1", pk, ea, eb, ec, proof, None, ctx, with_knowledge=False)
    group.require(pk, eqs, batch=batch)


def _signed_root_power(r: mpz, a: int, n: int) -> mpz:
    """r^a mod N for a signed a (the randomness of Enc(x)^a under ``signed_power``)."""
    return group.powmod(gmpy2.invert(r, n), -a, n) if a < 0 else group.powmod(r, a, n)


# -- Gadget 2 --------------------------------------------------------------------------------------


def prove_gadget2(
    pk: PublicKey,
    ea: Matrix,
    eb: Matrix,
    ec: Matrix,
    a: Matrix,
    ra: Matrix,
    b: Matrix,
    rb: Matrix,
    rc: Matrix,
    ctx: ProofContext,
    *,
    encryptor: Encryptor | None = None,
    _check: bool = True,
) -> Gadget2Proof:
    """Prove knowledge of A, B with ea, eb their encryptions and Dec(ec) = A B.

    ``ea, eb, ec`` are fresh encryptions (``encrypt_matrix``) of A, B and C = A B mod N with
    randomness ``ra, rb, rc``.
    """
    n = pk.n
    ea, eb, ec, a, ra, b, rb, rc = (_rows(x) for x in (ea, eb, ec, a, ra, b, rb, rc))

    def row_roots(v: list[int], pis: list[list[int]]) -> list[int]:
        # randomness of Enc(Bv)_l and Enc(Cv)_i, then
        # Enc(Cv)_i / prod_l P_il = (R_C,i / prod_l R_B,l^(a_il) pi_il)^N.
        rbv = []
        for row in rb:
            acc = mpz(1)
            for x, vj in zip(row, v, strict=True):
                acc = acc * group.powmod(x, vj, n) % n
            rbv.append(acc)
        roots = []
        for i, pi_row in enumerate(pis):
            num = mpz(1)
            for x, vj in zip(rc[i], v, strict=True):
                num = num * group.powmod(x, vj, n) % n
            den = mpz(1)
            for h, x in enumerate(pi_row):
                den = den * _signed_root_power(rbv[h], a[i][h], n) % n * x % n
            roots.append(int(num * gmpy2.invert(den, n) % n))
        return roots

    product, knowledge = _prove_product(
        "gadget2", pk, ea, eb, ec, a, ra, ctx, row_roots, (b, rb), _check, encryptor
    )
    return Gadget2Proof(product, knowledge)


def verify_gadget2(
    pk: PublicKey,
    ea: Matrix,
    eb: Matrix,
    ec: Matrix,
    proof: Gadget2Proof,
    ctx: ProofContext,
    *,
    batch: bool = True,
) -> None:
    """Raise ProofRejected unless the prover knows A, B behind ea, eb and Dec(ec) = A B."""
    blame = group.blame_for("gadget2", ctx)
    if not isinstance(proof, Gadget2Proof):
        raise blame.reject("proof is not a Gadget2Proof")
    eqs = _product_equations(
        "gadget2", pk, ea, eb, ec, proof.product, proof.knowledge, ctx, with_knowledge=True
    )
    group.require(pk, eqs, batch=batch)
