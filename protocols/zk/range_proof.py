"""Tight range proof for Paillier plaintexts: "c_j = Enc(x_j) with lo_j <= x_j <= hi_j, exactly".

The binary-challenge interval proof (``interval``) costs 128 encryptions per value and only
shows |x| < 2^(l+80). This proof has no slack at all and costs a few exponentiations modulo a
2048-bit N~ per value, amortised over a batch. It combines three Σ-protocols with one
128-bit challenge e, over ring-Pedersen integer commitments (``range_params``), made
non-interactive by Fiat–Shamir:

1. **Commit over the integers.** For each value: S_j = s^(x_j) t^(mu_j), and for the
   four-square decomposition B_j^2 - x'_j^2 = y_1^2 + ... + y_4^2 of the centred value
   x'_j = 2 x_j - lo_j - hi_j with B_j = hi_j - lo_j, C_ji = s^(y_i) t^(r_i). Then 128-bit
   combiners eps_j are hashed from all of this.
2. **Openings** (per value, five equations): s^(u) t^(v) = D S_j^e and = D_i C_ji^e: the
   prover knows integer openings (Damgård–Fujisaki: the strong RSA assumption makes e divide
   the differences in the extractor).
3. **The square relation, amortised** (one equation per batch):
   prod_j [S'_j^(2u_j0 - e(lo_j+hi_j)) prod_i C_ji^(u_ji)]^(eps_j) t^w = E s^(e sum eps_j B_j^2)
   with S'_j = S_j^2 s^-(lo_j+hi_j), a commitment to x'_j. Binding turns this into
   sum_j eps_j (B_j^2 - x'_j^2 - sum_i y_ji^2) = 0 over the integers, so every term is 0
   except with probability 2^-128 (eps_j is chosen after the commitments), and then
   |x'_j| <= B_j, i.e. lo_j <= x_j <= hi_j with no slack.
4. **The Paillier link, amortised** (two equations per batch):
   (1+N)^z1 z2^N = A (prod c_j^(eps_j))^e mod N^2 and s^z1 t^z3 = C_L (prod S_j^(eps_j))^e:
   Dec(c_j) = x_j mod N for every j, again except with probability 2^-128.

Guarantee, assumptions, statistical distance and costs: docs/crypto.md, "Tight range proofs".
Verification multiplies all equations modulo N~ with random 128-bit weights (sound at 2^-128
because N~ is the verifier's own product of safe primes; squares are compared so elements of
order 2 cannot split honest verifiers) and falls back to single equations to name the index.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field

import gmpy2
from gmpy2 import mpz

from coopetition.protocols.paillier.encryptor import Encryptor
from coopetition.protocols.paillier.keys import PublicKey
from coopetition.protocols.zk import group
from coopetition.protocols.zk.gil import holding_gil
from coopetition.protocols.zk.range_params import RingPedersen, power_s, power_t
from coopetition.protocols.zk.range_squares import four_squares
from coopetition.protocols.zk.transcript import ProofContext, Transcript

KIND = "range"
#: Bits of the challenge e, of the combiners eps_j and of the batch weights.
CHALLENGE_BITS = 128
#: Statistical zero-knowledge parameter: every masked integer hides its secret within 2^-80.
STAT_BITS = 80
#: Squares per value (Lagrange).
SQUARES = 4
#: Responses longer than |N~| + (bits of the largest bound) + (bits of the batch size) + this
#: many bits are refused unparsed (bounds verifier work). The honest w, the longest response,
#: has at most |N~| + |B| + log2(n) + 3 * 128 + 2 * 80 + 6 bits, so this leaves ample room
#: while a fixed cap of |N~| + 2048 refused honest proofs for intervals wider than ~2^1600.
_RESPONSE_EXTRA_BITS = 2048


@dataclass(frozen=True, slots=True)
class RangeStatement:
    """Public: a ciphertext and the closed interval [low, high] its plaintext lies in."""

    ciphertext: int
    low: int
    high: int


@dataclass(frozen=True, slots=True)
class RangeWitness:
    """Secret: the signed plaintext and the randomness r with c = Enc(value mod N; r).

    Never printed (a failing assertion or a log line would otherwise show the plaintext).
    """

    value: int = field(repr=False)
    randomness: int = field(repr=False)


@dataclass(frozen=True, slots=True)
class RangeProof:
    commitments: tuple[int, ...]
    squares: tuple[tuple[int, ...], ...]
    link_ciphertext: int
    link_commitment: int
    openings: tuple[tuple[int, ...], ...]
    relation: int
    z1: int
    z2: int
    z3: int
    u: tuple[tuple[int, ...], ...]
    v: tuple[tuple[int, ...], ...]
    w: int


def _check_statements(pk: PublicKey, statements: Sequence[RangeStatement]) -> None:
    if not statements:
        raise ValueError("a range proof needs at least one statement")
    half = pk.n // 2
    for j, st in enumerate(statements):
        if not isinstance(st, RangeStatement):
            raise TypeError(f"statement {j} is not a RangeStatement")
        if st.low > st.high:
            raise ValueError(f"statement {j}: empty interval [{st.low}, {st.high}]")
        if max(abs(st.low), abs(st.high)) >= half:
            raise ValueError(f"statement {j}: interval does not fit in (-N/2, N/2)")


def _start(
    pk: PublicKey, rp: RingPedersen, statements: Sequence[RangeStatement], ctx: ProofContext
) -> Transcript:
    t = group.start_transcript(KIND, pk, ctx)
    t.absorb(rp.n, rp.s, rp.t, [(st.ciphertext, st.low, st.high) for st in statements])
    return t


def _sizes(statements: Sequence[RangeStatement]) -> tuple[int, int]:
    """(bits of the largest |x|, bits of the batch size): the masks' lengths depend on them."""
    value_bits = max(max(abs(st.low), abs(st.high)).bit_length() for st in statements) + 1
    return value_bits, len(statements).bit_length()


def prove(
    pk: PublicKey,
    rp: RingPedersen,
    statements: Sequence[RangeStatement],
    witnesses: Sequence[RangeWitness],
    ctx: ProofContext,
    *,
    encryptor: Encryptor | None = None,
    squares: Sequence[tuple[int, ...]] | None = None,
) -> RangeProof:
    """Prove every statement at once; ValueError if a value lies outside its interval.

    ``squares`` (from :func:`decompose`) lets a prover that proves the same values to several
    verifiers decompose them once; they are checked here, so a wrong one is a ValueError.
    """
    if len(witnesses) != len(statements):
        raise ValueError("one witness per statement")
    for j, (st, wit) in enumerate(zip(statements, witnesses, strict=True)):
        if not st.low <= wit.value <= st.high:
            raise ValueError(f"value {j} lies outside the interval its proof is for")
    if squares is not None:
        if len(squares) != len(statements):
            raise ValueError("one four-square decomposition per statement")
        for j, (st, wit, ys) in enumerate(zip(statements, witnesses, squares, strict=True)):
            if len(ys) != SQUARES or sum(y * y for y in ys) != _gap(st, wit):
                raise ValueError(f"squares {j} do not decompose B^2 - x'^2")
    return _prove_unchecked(pk, rp, statements, witnesses, ctx, encryptor, squares)


def _gap(st: RangeStatement, wit: RangeWitness) -> int:
    """B^2 - x'^2 >= 0 for x in [low, high] (x' = 2x - low - high, B = high - low)."""
    centred = 2 * wit.value - st.low - st.high
    return (st.high - st.low) ** 2 - centred * centred


def decompose(
    statements: Sequence[RangeStatement], witnesses: Sequence[RangeWitness]
) -> list[tuple[int, int, int, int]]:
    """Four squares of B^2 - x'^2 per statement (the prover's most expensive local step).

    ValueError, as :func:`prove` says it, for a value outside its interval."""
    out = []
    for j, (st, wit) in enumerate(zip(statements, witnesses, strict=True)):
        if not st.low <= wit.value <= st.high:
            raise ValueError(f"value {j} lies outside the interval its proof is for")
        out.append(four_squares(_gap(st, wit)))
    return out


@holding_gil
def _prove_unchecked(
    pk: PublicKey,
    rp: RingPedersen,
    statements: Sequence[RangeStatement],
    witnesses: Sequence[RangeWitness],
    ctx: ProofContext,
    encryptor: Encryptor | None = None,
    squares: Sequence[tuple[int, ...]] | None = None,
) -> RangeProof:
    """The prover's algorithm without the range check (tests play cheaters through it).

    ``squares`` overrides the four-square decompositions (a cheater's forged y's).
    """
    group.check_key(pk)
    rp.check()
    _check_statements(pk, statements)
    k_bits, kappa, sigma = rp.bits, CHALLENGE_BITS, STAT_BITS
    value_bits, log_n = _sizes(statements)
    rand_bits = k_bits + sigma
    xs = [wit.value for wit in witnesses]
    centred = [2 * x - st.low - st.high for x, st in zip(xs, statements, strict=True)]
    widths = [st.high - st.low for st in statements]
    ys = (
        [tuple(q) for q in squares]
        if squares is not None
        else [four_squares(b * b - xc * xc) for b, xc in zip(widths, centred, strict=True)]
    )
    mus = [secrets.randbits(rand_bits) for _ in xs]
    rs = [[secrets.randbits(rand_bits) for _ in range(SQUARES)] for _ in xs]
    commitments = [int(rp.commit(x, mu)) for x, mu in zip(xs, mus, strict=True)]
    square_commitments = [
        tuple(int(rp.commit(y, r)) for y, r in zip(yj, rj, strict=True))
        for yj, rj in zip(ys, rs, strict=True)
    ]
    transcript = _start(pk, rp, statements, ctx).absorb(commitments, square_commitments)
    eps = transcript.challenge_ints(len(xs), CHALLENGE_BITS, "combine")

    # first messages
    alpha_l = secrets.randbits(value_bits + CHALLENGE_BITS + log_n + kappa + sigma)
    link_ct, r_l = group.encrypt_fresh(pk, alpha_l, encryptor)
    gamma_l = secrets.randbits(rand_bits + CHALLENGE_BITS + log_n + kappa + sigma)
    link_commitment = int(rp.commit(alpha_l, gamma_l))
    alphas: list[list[int]] = []
    betas: list[list[int]] = []
    s_exp, t_exp = 0, 0
    rhos: list[int] = []
    for j, (xc, b, yj, rj, mu) in enumerate(zip(centred, widths, ys, rs, mus, strict=True)):
        a = [secrets.randbits(value_bits + kappa + sigma)]
        a += [secrets.randbits(b.bit_length() + kappa + sigma) for _ in range(SQUARES)]
        be = [secrets.randbits(rand_bits + kappa + sigma) for _ in range(SQUARES + 1)]
        alphas.append(a)
        betas.append(be)
        rho = -(2 * mu * xc + sum(y * r for y, r in zip(yj, rj, strict=True)))
        rhos.append(rho)
        # E's exponents, from the prover's openings: S'^(2 a_x) = s^(2 a_x x') t^(4 mu a_x)
        s_exp += eps[j] * (2 * a[0] * xc + sum(y * ai for y, ai in zip(yj, a[1:], strict=True)))
        t_exp += eps[j] * (4 * mu * a[0] + sum(r * ai for r, ai in zip(rj, a[1:], strict=True)))
    openings = [
        tuple(int(rp.commit(ai, bi)) for ai, bi in zip(a, be, strict=True))
        for a, be in zip(alphas, betas, strict=True)
    ]
    # a public bound on |rho_j| (its actual length would leak through the size of w)
    rho_bits = rand_bits + max(b.bit_length() for b in widths) + 4
    gamma = secrets.randbits(rho_bits + CHALLENGE_BITS + log_n + kappa + sigma)
    relation = int(power_s(rp, s_exp) * power_t(rp, gamma + t_exp) % rp.n)
    transcript.absorb(link_ct, link_commitment, openings, relation)
    e = transcript.challenge_int(CHALLENGE_BITS)

    n = pk.n
    combined_r = mpz(1)
    for wit, ej in zip(witnesses, eps, strict=True):
        combined_r = combined_r * gmpy2.powmod(wit.randomness, ej, n) % n
    z2 = group.canonical(pk, r_l * gmpy2.powmod(combined_r, e, n) % n)
    z1 = alpha_l + e * sum(ej * x for ej, x in zip(eps, xs, strict=True))
    z3 = gamma_l + e * sum(ej * mu for ej, mu in zip(eps, mus, strict=True))
    u = tuple(
        tuple(ai + e * sec for ai, sec in zip(a, (x, *yj), strict=True))
        for a, x, yj in zip(alphas, xs, ys, strict=True)
    )
    v = tuple(
        tuple(bi + e * sec for bi, sec in zip(be, (mu, *rj), strict=True))
        for be, mu, rj in zip(betas, mus, rs, strict=True)
    )
    w = gamma + e * sum(ej * rho for ej, rho in zip(eps, rhos, strict=True))
    return RangeProof(
        commitments=tuple(commitments),
        squares=tuple(square_commitments),
        link_ciphertext=link_ct,
        link_commitment=link_commitment,
        openings=tuple(openings),
        relation=relation,
        z1=z1,
        z2=z2,
        z3=z3,
        u=u,
        v=v,
        w=w,
    )


def _cheater_squares(
    statements: Sequence[RangeStatement], witnesses: Sequence[RangeWitness]
) -> list[tuple[int, int, int, int]]:
    """A cheater's best guess for out-of-range values: squares of max(B^2 - x'^2, 0) (tests)."""
    out = []
    for st, wit in zip(statements, witnesses, strict=True):
        xc = 2 * wit.value - st.low - st.high
        out.append(four_squares(max((st.high - st.low) ** 2 - xc * xc, 0)))
    return out


# -- verification ------------------------------------------------------------------------------


class _Parsed:
    """A received proof after every value passed its type and range check."""

    def __init__(
        self,
        pk: PublicKey,
        rp: RingPedersen,
        statements: Sequence[RangeStatement],
        proof: object,
        blame: group.Blame,
    ) -> None:
        if not isinstance(proof, RangeProof):
            raise blame.reject("proof is not a RangeProof")
        unit = _unit_checker(rp, blame)
        count = len(statements)
        value_bits, log_n = _sizes(statements)
        cap = rp.bits + value_bits + log_n + _RESPONSE_EXTRA_BITS
        self.S = [
            unit(x, f"commitment {j}")
            for j, x in enumerate(_seq(proof.commitments, count, "commitments", blame))
        ]
        self.C = [
            [
                unit(x, f"square commitment {j}.{i}")
                for i, x in enumerate(_seq(row, SQUARES, f"square commitments {j}", blame))
            ]
            for j, row in enumerate(_seq(proof.squares, count, "square commitments", blame))
        ]
        self.D = [
            [
                unit(x, f"opening commitment {j}.{i}")
                for i, x in enumerate(_seq(row, SQUARES + 1, f"openings {j}", blame))
            ]
            for j, row in enumerate(_seq(proof.openings, count, "openings", blame))
        ]
        self.u = [
            [
                _signed(x, cap, f"response u[{j}][{i}]", blame)
                for i, x in enumerate(_seq(row, SQUARES + 1, f"u {j}", blame))
            ]
            for j, row in enumerate(_seq(proof.u, count, "responses u", blame))
        ]
        self.v = [
            [
                _signed(x, cap, f"response v[{j}][{i}]", blame)
                for i, x in enumerate(_seq(row, SQUARES + 1, f"v {j}", blame))
            ]
            for j, row in enumerate(_seq(proof.v, count, "responses v", blame))
        ]
        self.CL = unit(proof.link_commitment, "link commitment")
        self.E = unit(proof.relation, "relation commitment")
        self.A = group.element(pk, proof.link_ciphertext, "link ciphertext", blame)
        self.z1 = _signed(proof.z1, cap, "response z1", blame)
        self.z2 = group.canonical_root(pk, proof.z2, "response z2", blame)
        self.z3 = _signed(proof.z3, cap, "response z3", blame)
        self.w = _signed(proof.w, cap, "response w", blame)


def _seq(value: object, length: int, what: str, blame: group.Blame) -> Sequence[object]:
    return group.sequence(value, length, what, blame)


def _signed(value: object, cap_bits: int, what: str, blame: group.Blame) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, type(mpz(0)))):
        raise blame.reject(f"{what} is not an integer")
    v = int(value)
    if abs(v).bit_length() > cap_bits:
        raise blame.reject(f"{what} is too long")
    return v


def _unit_checker(rp: RingPedersen, blame: group.Blame):  # type: ignore[no-untyped-def]
    def unit(value: object, what: str) -> int:
        if isinstance(value, bool) or not isinstance(value, (int, type(mpz(0)))):
            raise blame.reject(f"{what} is not an integer")
        v = int(value)
        if not 0 < v < rp.n or gmpy2.gcd(v, rp.n) != 1:
            raise blame.reject(f"{what} is not a unit modulo N~")
        return v

    return unit


#: One equation modulo N~: signed exponents per base (s and t kept apart), a label, an index.
_Eq = tuple[dict[int, int], int, int, str, object]


def _equations(
    rp: RingPedersen,
    statements: Sequence[RangeStatement],
    p: _Parsed,
    eps: list[int],
    e: int,
) -> list[_Eq]:
    """Every equation as prod(base^exp) * s^se * t^te == 1 mod N~."""
    eqs: list[_Eq] = []
    for j in range(len(statements)):
        bases = [p.S[j], *p.C[j]]
        for i in range(SQUARES + 1):
            eqs.append(
                (
                    _terms((p.D[j][i], 1), (bases[i], e)),
                    -p.u[j][i],
                    -p.v[j][i],
                    "s^u t^v = D X^e" if i else "s^u t^v = D S^e",
                    (j, i),
                )
            )
    link = _terms((p.CL, 1), *((p.S[j], e * eps[j]) for j in range(len(statements))))
    eqs.append((link, -p.z1, -p.z3, "s^z1 t^z3 = C_L (prod S^eps)^e", None))
    rel_terms: list[tuple[int, int]] = [(p.E, 1)]
    s_rel = e * sum(ej * (st.high - st.low) ** 2 for ej, st in zip(eps, statements, strict=True))
    for j, st in enumerate(statements):
        k = 2 * p.u[j][0] - e * (st.low + st.high)
        rel_terms.append((p.S[j], -2 * k * eps[j]))
        s_rel += (st.low + st.high) * k * eps[j]
        rel_terms += [(c, -eps[j] * p.u[j][i + 1]) for i, c in enumerate(p.C[j])]
    eqs.append((_terms(*rel_terms), s_rel, -p.w, "square relation", None))
    return eqs


def _terms(*pairs: tuple[int, int]) -> dict[int, int]:
    out: dict[int, int] = {}
    for base, exp in pairs:
        out[base] = out.get(base, 0) + exp
    return out


def _holds(rp: RingPedersen, terms: dict[int, int], s_exp: int, t_exp: int) -> bool:
    """prod(base^exp) s^s_exp t^t_exp == 1 up to a factor of order 2 (squares compared)."""
    n = rp.n
    pos = [(mpz(b), mpz(x)) for b, x in terms.items() if x > 0]
    neg = [(mpz(b), mpz(-x)) for b, x in terms.items() if x < 0]
    lhs = group.multi_pow(pos, n) * power_s(rp, max(s_exp, 0)) * power_t(rp, max(t_exp, 0)) % n
    rhs = group.multi_pow(neg, n) * power_s(rp, max(-s_exp, 0)) * power_t(rp, max(-t_exp, 0)) % n
    return lhs * lhs % n == rhs * rhs % n


@holding_gil
def verify(
    pk: PublicKey,
    rp: RingPedersen,
    statements: Sequence[RangeStatement],
    proof: object,
    ctx: ProofContext,
    *,
    batch: bool = True,
) -> None:
    """Raise ProofRejected (naming ctx.prover) unless every lo_j <= Dec(c_j) <= hi_j exactly.

    ``rp`` must be parameters the verifier trusts to be binding: its own, or jointly generated
    ones (see ``range_params``). Soundness error 2^-128 per batch (docs/crypto.md).
    """
    _check_statements(pk, statements)
    rp.check()
    blame = group.blame_for(KIND, ctx)
    cts = [
        group.element(pk, st.ciphertext, f"ciphertext {j}", blame)
        for j, st in enumerate(statements)
    ]
    parsed = _Parsed(pk, rp, statements, proof, blame)
    transcript = _start(pk, rp, statements, ctx).absorb(parsed.S, parsed.C)
    eps = transcript.challenge_ints(len(statements), CHALLENGE_BITS, "combine")
    transcript.absorb(int(parsed.A), parsed.CL, parsed.D, parsed.E)
    e = transcript.challenge_int(CHALLENGE_BITS)

    # Paillier side of the link: (1+N)^z1 z2^N = A (prod c_j^eps_j)^e mod N^2
    n2 = pk.n_square
    combined = group.multi_pow(list(zip(cts, (mpz(x) for x in eps), strict=True)), n2)
    lhs = group.g_power(pk, parsed.z1) * group.powmod(parsed.z2, pk.n, n2) % n2
    rhs = parsed.A * group.powmod(combined, e, n2) % n2
    if lhs * lhs % n2 != rhs * rhs % n2:
        raise blame.reject("(1+N)^z1 z2^N = A (prod c^eps)^e")

    eqs = _equations(rp, statements, parsed, eps, e)
    if batch and _batch_holds(rp, eqs):
        return
    for terms, s_exp, t_exp, label, index in eqs:
        if not _holds(rp, terms, s_exp, t_exp):
            raise blame.reject(label, index)
    if batch:  # pragma: no cover - every equation holds but their random product did not
        raise RuntimeError("batch verification failed although every equation holds")


def _batch_holds(rp: RingPedersen, eqs: list[_Eq]) -> bool:
    """All equations raised to fresh random 128-bit weights and multiplied (error 2^-128)."""
    terms: dict[int, int] = {}
    s_total = t_total = 0
    for eq_terms, s_exp, t_exp, _, _ in eqs:
        weight = secrets.randbelow((1 << CHALLENGE_BITS) - 1) + 1
        for base, exp in eq_terms.items():
            terms[base] = terms.get(base, 0) + weight * exp
        s_total += weight * s_exp
        t_total += weight * t_exp
    return _holds(rp, terms, s_total, t_total)
