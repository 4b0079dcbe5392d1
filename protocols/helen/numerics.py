"""Helen's exact integer arithmetic, in plaintext: what the phases will compute under encryption.

Every value here is a Python int at a scale from ``fixedpoint.HelenScales``; every step is the
integer operation the protocol performs on ciphertexts or SPDZ shares, so this module is the
reference for the phases (their decrypted intermediates must equal these integers, up to the
random rounding of SPDZ's truncation, which is simulated with a seeded generator):

* input preparation (section V): SVD in float64 by the party, then V, Sigma, y* rounded; Theta
  from the *rounded* Sigma by exact integer division; A = V Theta V^T and b = V Sigma y*
  computed exactly (Gadgets 1/2) and published rounded by a power of two (the rounding
  residues are range-proved); the residues of statements 3 and 4 (V^T V - I,
  (Sigma^2 + rho I) Theta - I) that the range proofs bound;
* local optimisation: w_full = A (b + rho (z - u)) (plaintext matrix times encrypted vector);
* coordination in SPDZ: probabilistic truncation of w_full to z's scale, the soft threshold on
  the sum of contributions, one truncated multiplication by rho / (rho m + 2 lam2), and the u
  update, all on integers.

``run_fixed_point`` runs all of it for m parties; ``run_plaintext`` runs plaintext ADMM
(``protocols.admm``) with the same quantised rho, objective and iterations, for comparison.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from coopetition.protocols.admm.local import local_step as admm_local_step
from coopetition.protocols.admm.local import summarise
from coopetition.protocols.admm.objective import Objective
from coopetition.protocols.fixedpoint import HelenScales, decode, encode
from coopetition.protocols.spdz import trunc_summed


def _ints(a: np.ndarray) -> np.ndarray:
    """An object array of Python ints (exact arithmetic, any size)."""
    out = np.empty(a.shape, dtype=object)
    out.reshape(-1)[:] = [int(v) for v in a.reshape(-1)]
    return out


def round_shift(values: np.ndarray, shift: int) -> np.ndarray:
    """floor((v + 2^(shift-1)) / 2^shift): the published rounding, residue in (-2^(s-1), 2^(s-1)]."""
    if shift == 0:
        return values.copy()
    half = 1 << (shift - 1)
    return np.vectorize(lambda v: (int(v) + half) >> shift, otypes=[object])(values)


def _max_abs(a: np.ndarray) -> int:
    return max((abs(int(v)) for v in a.reshape(-1)), default=0)


@dataclass(frozen=True)
class PreparedInput:
    """One party's encrypted summaries (section V) as integers, and the residues it proves."""

    V: np.ndarray  # d x d at v_bits
    sigma: np.ndarray  # d at sigma_bits
    theta: np.ndarray  # d at theta_bits
    ystar: np.ndarray  # d at ystar_bits
    A_full: np.ndarray  # V Theta V^T at 2 v_bits + theta_bits
    A: np.ndarray  # published, a_bits
    b_full: np.ndarray  # V Sigma y* at v + sigma + ystar bits
    b: np.ndarray  # published, b_bits
    vtv_residue: np.ndarray  # V^T V - 2^(2v) I
    theta_residue: np.ndarray  # (sigma^2 + rho) theta - 2^(2 sigma + theta)
    a_residue: np.ndarray  # 2^a_shift A - A_full, in (-2^(s-1), 2^(s-1)]
    b_residue: np.ndarray  # 2^b_shift b - b_full


class BoundExceeded(ValueError):
    """An honest party's own value breaks an agreed bound (it would fail its range proof)."""


def prepare_input(X: np.ndarray, y: np.ndarray, scales: HelenScales) -> PreparedInput:
    """Section V for one party: SVD in floats, then the integers it encrypts and proves."""
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    n, d = X.shape
    if d != scales.features or n > scales.rows or n < d:
        raise ValueError(f"data of shape {X.shape} does not match d={scales.features}, n_i<=rows")
    if np.abs(X).max() > scales.x_bound or np.abs(y).max() > scales.y_bound:
        raise BoundExceeded("data exceeds the agreed value bounds")
    U, s, Vt = np.linalg.svd(X, full_matrices=False)
    V = _ints(encode(Vt.T, scales.v_bits))
    sigma = _ints(encode(s, scales.sigma_bits))
    ystar = _ints(encode(U.T @ y, scales.ystar_bits))
    top = 1 << (2 * scales.sigma_bits + scales.theta_bits)
    p = np.array([int(v) * int(v) + scales.rho_theta_int for v in sigma], dtype=object)
    theta = np.array([(2 * top + q) // (2 * q) for q in p], dtype=object)  # round(top / P)
    VT = V.T
    A_full = np.dot(V * theta[np.newaxis, :], VT)
    b_full = np.dot(V, sigma * ystar)
    A = round_shift(A_full, scales.a_shift)
    b = round_shift(b_full, scales.b_shift)
    eye = np.zeros((d, d), dtype=object)
    for i in range(d):
        eye[i, i] = 1 << (2 * scales.v_bits)
    return PreparedInput(
        V=V,
        sigma=sigma,
        theta=theta,
        ystar=ystar,
        A_full=A_full,
        A=A,
        b_full=b_full,
        b=b,
        vtv_residue=np.dot(VT, V) - eye,
        theta_residue=p * theta - top,
        a_residue=A * (1 << scales.a_shift) - A_full,
        b_residue=b * (1 << scales.b_shift) - b_full,
    )


def check_prepared(prep: PreparedInput, scales: HelenScales) -> None:
    """The bounds statements 1-4 prove, checked on the integers (BoundExceeded if not)."""
    checks = [
        ("V^T V - I", prep.vtv_residue, scales.vtv_bound),
        ("(Sigma^2 + rho) Theta - I", prep.theta_residue, scales.theta_bound),
        ("A", prep.A, scales.a_bound),
        ("b", prep.b, scales.b_bound),
        ("A rounding", prep.a_residue, 1 << max(scales.a_shift - 1, 0)),
        ("b rounding", prep.b_residue, 1 << max(scales.b_shift - 1, 0)),
    ]
    for name, values, bound in checks:
        if _max_abs(values) > bound:
            raise BoundExceeded(f"{name} exceeds its bound 2^{bound.bit_length()}")


def local_product(
    prep: PreparedInput, z: np.ndarray, u: np.ndarray, scales: HelenScales
) -> np.ndarray:
    """w_full = A (b + rho (z - u)) at scale a_bits + b_bits (z, u at z_bits)."""
    v = prep.b + scales.rho_int * (z - u)
    w = np.dot(prep.A, v)
    if _max_abs(w) > scales.w_full_int_bound:
        raise BoundExceeded("w_i exceeds the agreed bound w_bound")
    return w


def trunc_pr(values: np.ndarray, shift: int, rng: random.Random) -> np.ndarray:
    """SPDZ's probabilistic truncation: floor(x / 2^m) + 1 with probability frac(x / 2^m)."""
    mask = (1 << shift) - 1

    def one(v: int) -> int:
        x = int(v)
        return (x >> shift) + (1 if rng.getrandbits(shift) < (x & mask) else 0)

    return np.vectorize(one, otypes=[object])(values)


def trunc_pr_summed(values: np.ndarray, shift: int, parties: int, rng: random.Random) -> np.ndarray:
    """The truncation with a summed low mask (``spdz.trunc_summed``), honest contributions:
    floor((x - C + R') / 2^m), R' the sum of ``parties`` draws below 2^m, C its centre."""
    c = trunc_summed.centre(parties, shift)

    def one(v: int) -> int:
        low = sum(rng.getrandbits(shift) for _ in range(parties))
        return (int(v) - c + low) >> shift

    return np.vectorize(one, otypes=[object])(values)


def soft_threshold_int(values: np.ndarray, kappa: int) -> np.ndarray:
    def one(v: int) -> int:
        x = int(v)
        return x - kappa if x > kappa else x + kappa if x < -kappa else 0

    return np.vectorize(one, otypes=[object])(values)


def coordinate(
    w_full: Sequence[np.ndarray],
    u: Sequence[np.ndarray],
    scales: HelenScales,
    objective: Objective,
    rng: random.Random,
) -> tuple[np.ndarray, list[np.ndarray]]:
    """The SPDZ step: truncate each w_i, z = trunc(S(sum(w_i + u_i)) c), u_i += w_i - z."""
    w = [trunc_pr_summed(wi, scales.w_shift, scales.parties, rng) for wi in w_full]
    # the bound SPDZ must enforce (one comparison per entry) so that k_w holds for any party
    if max(_max_abs(x) for x in [*w, *u]) > scales.w_int_bound:
        raise BoundExceeded("a truncated w_i or u_i exceeds w_bound (SPDZ's range check aborts)")
    total = sum((wi + ui for wi, ui in zip(w, u, strict=True)), np.zeros_like(w[0]))
    if objective.lam1 > 0:
        total = soft_threshold_int(total, scales.threshold_int(objective.lam1))
    z = trunc_pr(total * scales.consensus_int(objective.lam2), scales.coef_bits, rng)
    if _max_abs(z) > scales.w_int_bound:
        raise BoundExceeded("z exceeds the agreed bound w_bound")
    return z, [ui + wi - z for ui, wi in zip(u, w, strict=True)]


@dataclass
class FixedPointRun:
    model: np.ndarray
    prepared: list[PreparedInput]
    z_trace: list[np.ndarray] = field(default_factory=list)


def run_fixed_point(
    parts: Sequence[tuple[np.ndarray, np.ndarray]],
    objective: Objective,
    scales: HelenScales,
    iterations: int,
    *,
    seed: int = 0,
    prepared: Sequence[PreparedInput] | None = None,
) -> FixedPointRun:
    """Helen's whole arithmetic (input preparation and ``iterations`` rounds) on integers.

    ``prepared`` reuses the parties' input preparation (it depends on the data and scales only).
    """
    scales.check()
    if prepared is None:
        prepared = [prepare_input(X, y, scales) for X, y in parts]
    for prep in prepared:
        check_prepared(prep, scales)
    rng = random.Random(seed)
    d = scales.features
    z = np.zeros(d, dtype=object)
    u = [np.zeros(d, dtype=object) for _ in parts]
    trace = []
    for _ in range(iterations):
        w_full = [local_product(prep, z, ui, scales) for prep, ui in zip(prepared, u, strict=True)]
        z, u = coordinate(w_full, u, scales, objective, rng)
        trace.append(z)
    return FixedPointRun(
        decode(z, scales.z_bits), list(prepared), [decode(t, scales.z_bits) for t in trace]
    )


def run_plaintext(
    parts: Sequence[tuple[np.ndarray, np.ndarray]],
    objective: Objective,
    rho: float,
    iterations: int,
) -> np.ndarray:
    """Plaintext ADMM (``protocols.admm``'s local step and consensus), same order of updates."""
    summaries = [summarise(X, y, rho) for X, y in parts]
    d = summaries[0].features
    z = np.zeros(d)
    u = [np.zeros(d) for _ in parts]
    for _ in range(iterations):
        w = [admm_local_step(s, z, ui, rho) for s, ui in zip(summaries, u, strict=True)]
        v = np.mean([wi + ui for wi, ui in zip(w, u, strict=True)], axis=0)
        z = objective.consensus(v, len(parts), rho)
        u = [ui + wi - z for ui, wi in zip(u, w, strict=True)]
    return z


def relative_l2(a: np.ndarray, b: np.ndarray) -> float:
    """||a - b|| / ||b|| (0 when both vanish)."""
    nb = float(np.linalg.norm(b))
    diff = float(np.linalg.norm(np.asarray(a, dtype=float) - b))
    return diff / nb if nb > 0 else diff
