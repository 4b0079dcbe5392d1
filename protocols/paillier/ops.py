"""Homomorphic operations on single ciphertexts, vectors and matrices.

With g = N + 1: Enc(a)*Enc(b) = Enc(a+b), Enc(a)**k = Enc(k*a), and adding a plaintext m needs
no exponentiation at all, since c*(1 + m*N) = c + N*(c*m mod N) (mod N**2).

Plaintext scalars are signed integers; an exponent is reduced to its signed representative
in (-N/2, N/2) so that small negative fixed-point weights cost a short exponentiation (and an
inversion) rather than an |N|-bit one. Scalars may be any integer (int, gmpy2.mpz, numpy
integer), since Enc(a)**k encrypts k*a mod N whatever representative k is; plaintexts added
with ``add_plain`` must be signed plaintexts in (-N/2, N/2) (``PublicKey.encode``). Anything
that is not an integer (bool, float, str, mpfr) raises ``TypeError``.

Every operation that exponentiates or inverts a ciphertext (``neg``, ``sub``, ``sub_vec``,
``mul_plain``, ``mul_plain_vec``, ``scale_vec``, ``dot_plain``, ``matvec``, ``matmul``,
``matmul_right``) first checks each ciphertext with ``PublicKey.check_ciphertext`` and raises
``InvalidCiphertext`` naming the bad index: a non-unit with a negative exponent would otherwise
make GMP abort the whole process. The check (one gcd) is small next to an exponentiation.
``add``, ``add_vec``, ``add_plain(_vec)`` and ``sum_ct`` multiply only and do not check, so
check received ciphertexts first (``PublicKey.check_ciphertexts`` or
``serialize.decode_ciphertexts``). Vectors and matrices are sequences (lists, tuples or numpy
object arrays) of ints; results are lists, or numpy object arrays when a numpy array came in.
Matrices must be rectangular with matching inner dimensions (``ValueError`` otherwise).

Matrix products go column by column through ``gmpy2.powmod_exp_list`` (one ciphertext, all
the scalars that multiply it), which releases the GIL, so the columns are spread over threads.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gmpy2
import numpy as np

from . import opcount, parallel
from .keys import PublicKey, as_int


def _scalar(pk: PublicKey, k: int) -> int:
    k = as_int(k, what="scalar")
    return pk.decode(k) if abs(k) > pk.half_n else k


def _checked(pk: PublicKey, cs: list[Any], what: str = "ciphertext") -> list[int]:
    return [pk.check_ciphertext(c, what=f"{what}[{i}]") for i, c in enumerate(cs)]


def add(pk: PublicKey, a: int, b: int) -> int:
    return int(gmpy2.mpz(a) * b % pk.n2_mpz)


def neg(pk: PublicKey, a: int) -> int:
    return int(gmpy2.invert(pk.check_ciphertext(a), pk.n2_mpz))


def sub(pk: PublicKey, a: int, b: int) -> int:
    pk.check_ciphertext(a, what="minuend")
    b = pk.check_ciphertext(b, what="subtrahend")
    return int(gmpy2.invert(b, pk.n2_mpz) * a % pk.n2_mpz)


def add_plain(pk: PublicKey, c: int, m: int) -> int:
    n = pk.n_mpz
    m = pk.encode(m)
    c = gmpy2.mpz(c)
    return int((c + n * (c * m % n)) % pk.n2_mpz)


def mul_plain(pk: PublicKey, c: int, k: int) -> int:
    c = pk.check_ciphertext(c)
    e = _scalar(pk, k)
    opcount.tally("powmod_short")
    return int(gmpy2.powmod(c, e, pk.n2_mpz))


def _wrap(result: list[Any], *inputs: object) -> Any:
    if any(isinstance(x, np.ndarray) for x in inputs):
        out = np.empty(len(result), dtype=object)
        out[:] = result
        return out
    return result


def _wrap_matrix(rows: list[list[int]], *inputs: object) -> Any:
    if any(isinstance(x, np.ndarray) for x in inputs):
        out = np.empty((len(rows), len(rows[0]) if rows else 0), dtype=object)
        for i, row in enumerate(rows):
            out[i, :] = row
        return out
    return rows


def _elementwise(fn: Any) -> Any:
    """Let a vector operation take numpy arrays of any shape (same shape in, same shape out)."""

    def wrapper(pk: PublicKey, *args: Any) -> Any:
        shapes = [a.shape for a in args if isinstance(a, np.ndarray) and a.ndim > 1]
        if not shapes:
            return fn(pk, *args)
        shape = shapes[0]
        flat = []
        for a in args:
            if isinstance(a, np.ndarray) and a.ndim > 0:
                if a.shape != shape:
                    raise ValueError(f"shape mismatch: {a.shape} and {shape}")
                flat.append(a.ravel())
            else:
                flat.append(a)
        out = np.empty(int(np.prod(shape)), dtype=object)
        out[:] = list(fn(pk, *flat))
        return out.reshape(shape)

    wrapper.__name__ = fn.__name__
    wrapper.__doc__ = fn.__doc__
    return wrapper


def _as_list(values: Any) -> list[Any]:
    if isinstance(values, np.ndarray):
        return values.tolist()
    return list(values)


def _same_length(a: Sequence[Any], b: Sequence[Any]) -> None:
    if len(a) != len(b):
        raise ValueError(f"length mismatch: {len(a)} and {len(b)}")


@_elementwise
def add_vec(pk: PublicKey, a: Sequence[int], b: Sequence[int]) -> Any:
    """Elementwise Enc(a_i + b_i)."""
    la, lb = _as_list(a), _as_list(b)
    _same_length(la, lb)
    n2 = pk.n2_mpz
    return _wrap([int(gmpy2.mpz(x) * y % n2) for x, y in zip(la, lb, strict=True)], a, b)


@_elementwise
def sub_vec(pk: PublicKey, a: Sequence[int], b: Sequence[int]) -> Any:
    la, lb = _as_list(a), _as_list(b)
    _same_length(la, lb)
    la, lb = _checked(pk, la, "minuend"), _checked(pk, lb, "subtrahend")
    n2 = pk.n2_mpz
    return _wrap([int(gmpy2.invert(y, n2) * x % n2) for x, y in zip(la, lb, strict=True)], a, b)


@_elementwise
def add_plain_vec(pk: PublicKey, cs: Sequence[int], ms: Sequence[int]) -> Any:
    """Elementwise Enc(a_i + m_i) for plaintexts m_i."""
    lc, lm = _as_list(cs), _as_list(ms)
    _same_length(lc, lm)
    return _wrap([add_plain(pk, c, m) for c, m in zip(lc, lm, strict=True)], cs, ms)


@_elementwise
def mul_plain_vec(pk: PublicKey, cs: Sequence[int], ks: Sequence[int]) -> Any:
    """Elementwise Enc(k_i * a_i)."""
    lc, lk = _as_list(cs), _as_list(ks)
    _same_length(lc, lk)
    lc = _checked(pk, lc)
    exps = [_scalar(pk, k) for k in lk]
    opcount.tally("powmod_short", len(lc))
    return _wrap([int(x) for x in parallel.powmod_pairs(lc, exps, pk.n2_mpz)], cs, ks)


@_elementwise
def scale_vec(pk: PublicKey, cs: Sequence[int], k: int) -> Any:
    """Enc(k * a_i) for one scalar k."""
    lc = _checked(pk, _as_list(cs))
    e = _scalar(pk, k)
    opcount.tally("powmod_short", len(lc))
    return _wrap([int(x) for x in parallel.powmod_base_list(lc, e, pk.n2_mpz)], cs)


def sum_ct(pk: PublicKey, cs: Sequence[int]) -> int:
    """Enc(sum a_i)."""
    n2 = pk.n2_mpz
    acc = gmpy2.mpz(1)
    for c in _as_list(cs):
        acc = acc * c % n2
    return int(acc)


def dot_plain(pk: PublicKey, cs: Sequence[int], ws: Sequence[int]) -> int:
    """Enc(sum w_i * a_i) for plaintext weights w."""
    return sum_ct(pk, mul_plain_vec(pk, cs, ws))


def _columns_times(
    pk: PublicKey, matrix: list[list[int]], cs: list[int], columns: range
) -> list[gmpy2.mpz]:
    """prod_{j in columns} cs[j]**matrix[i][j] for every row i."""
    n2 = pk.n2_mpz
    rows = len(matrix)
    acc = [gmpy2.mpz(1)] * rows
    for j in columns:
        powers = gmpy2.powmod_exp_list(cs[j], [matrix[i][j] for i in range(rows)], n2)
        acc = [a * p % n2 for a, p in zip(acc, powers, strict=True)]
    return acc


def _rows(matrix: Any, what: str) -> list[list[Any]]:
    """The rows of a rectangular matrix (``ValueError`` if ragged or not 2-dimensional)."""
    if isinstance(matrix, np.ndarray) and matrix.ndim != 2:
        raise ValueError(f"{what} must be 2-dimensional, got shape {matrix.shape}")
    rows = [_as_list(r) for r in _as_list(matrix)]
    for i, row in enumerate(rows):
        if len(row) != len(rows[0]):
            raise ValueError(
                f"{what} is ragged: row {i} has {len(row)} entries, row 0 has {len(rows[0])}"
            )
    return rows


def matvec(pk: PublicKey, matrix: Any, cs: Sequence[int]) -> Any:
    """Enc(A @ x) for a plaintext matrix A (rows x n) and an encrypted vector x (n)."""
    rows = [[_scalar(pk, k) for k in row] for row in _rows(matrix, "plaintext matrix")]
    lc = _checked(pk, _as_list(cs))
    if any(len(row) != len(lc) for row in rows):
        raise ValueError(f"matrix columns do not match vector length {len(lc)}")
    if rows and not lc:
        raise ValueError("matvec needs a non-empty vector")
    if not rows:
        return _wrap([], matrix, cs)
    opcount.tally("powmod_short", len(rows) * len(lc))
    workers = min(parallel.cores(), max(1, len(lc)))
    step = -(-len(lc) // workers)
    chunks = [range(s, min(s + step, len(lc))) for s in range(0, len(lc), step)]
    if len(chunks) == 1:
        partials = [_columns_times(pk, rows, lc, chunks[0])]
    else:
        ex = parallel._executor()
        partials = [
            f.result() for f in [ex.submit(_columns_times, pk, rows, lc, c) for c in chunks]
        ]
    n2 = pk.n2_mpz
    out = partials[0]
    for part in partials[1:]:
        out = [a * b % n2 for a, b in zip(out, part, strict=True)]
    return _wrap([int(x) for x in out], matrix, cs)


def matmul(pk: PublicKey, plain: Any, cipher: Any) -> Any:
    """Enc(A @ X) for a plaintext A (k x n) and an encrypted matrix X (n x l)."""
    x = _rows(cipher, "ciphertext matrix")
    a = _rows(plain, "plaintext matrix")
    if not x or not x[0] or not a:
        raise ValueError("matmul needs non-empty matrices")
    if len(a[0]) != len(x):
        raise ValueError(f"inner dimensions differ: {len(a[0])} columns and {len(x)} rows")
    columns = [matvec(pk, a, [row[j] for row in x]) for j in range(len(x[0]))]
    rows = [[int(col[i]) for col in columns] for i in range(len(a))]
    return _wrap_matrix(rows, plain, cipher)


def matmul_right(pk: PublicKey, cipher: Any, plain: Any) -> Any:
    """Enc(X @ B) for an encrypted matrix X (k x n) and a plaintext B (n x l)."""
    b = _rows(plain, "plaintext matrix")
    x = _rows(cipher, "ciphertext matrix")
    if not x or not b or not b[0]:
        raise ValueError("matmul_right needs non-empty matrices")
    if len(x[0]) != len(b):
        raise ValueError(f"inner dimensions differ: {len(x[0])} columns and {len(b)} rows")
    bt = [[row[j] for row in b] for j in range(len(b[0]))]
    rows = [[int(v) for v in matvec(pk, bt, xrow)] for xrow in x]
    return _wrap_matrix(rows, cipher, plain)
