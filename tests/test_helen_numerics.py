"""Helen's fixed-point arithmetic against plaintext ADMM, and the scale budgets.

The done-when of the numerics: on wine-quality red and white, the gas-sensor subset and the MSD
subset (the project's offline copies under ../shared/data beside the repository, skipped where absent) split over
3 and 4 parties, Helen's integer model is within 1e-3 relative L2 of plaintext ADMM with the same
(quantised) rho, objective and 10 iterations, for lasso, ridge, least squares and elastic net.
The reference is ``protocols.admm`` (float64, its own local step and consensus), and its result
is checked against scikit-learn's closed form for ridge so the reference itself is anchored.
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from threadpoolctl import threadpool_limits

from coopetition.protocols.admm.objective import Objective
from coopetition.protocols.fixedpoint import (
    SPDZ_KAPPA,
    SPDZ_MASK_HEADROOM_BITS,
    SPDZ_PRIME_BITS,
    HelenScales,
)
from coopetition.protocols.helen import numerics as H
from coopetition.protocols.spdz import field, online

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
ITERATIONS = 10
OBJECTIVES = ("lasso", "ridge", "least_squares", "elastic_net")


def _load(name: str) -> tuple[np.ndarray, np.ndarray]:
    if name.startswith("wine"):
        path = DATA / f"wine_student/winequality-{name.split('-')[1]}.csv"
        if not path.exists():
            pytest.skip(f"{path} not available")
        table = np.loadtxt(path, delimiter=",", skiprows=1)
        X, y = table[:, :-1], table[:, -1]
    elif name == "gas":
        path = DATA / "gas_dynamic_filtered/ethylene_methane_filtered_norm_349rows.txt"
        if not path.exists():
            pytest.skip(f"{path} not available")
        table = np.loadtxt(path, comments="#")
        X, y = table[:, 3:], table[:, 1]
    else:
        path = DATA / "msd_subset/YearPredictionMSD_rows_subset_AbdelilahJbr_test.csv"
        if not path.exists():
            pytest.skip(f"{path} not available")
        table = np.loadtxt(path, delimiter=",")
        X, y = table[:, 1:], table[:, 0]
    std = X.std(axis=0)
    std[std == 0] = 1.0
    return (X - X.mean(axis=0)) / std, y - y.mean()


def _setup(name: str, parties: int):
    X, y = _load(name)
    order = np.random.default_rng(0).permutation(len(y))
    parts = [(X[i], y[i]) for i in np.array_split(order, parties)]
    scales = HelenScales(
        features=X.shape[1],
        rows=max(len(p[1]) for p in parts),
        parties=parties,
        rho=0.1 * len(y),
        x_bound=float(np.ceil(np.abs(X).max())),
        y_bound=float(np.ceil(np.abs(y).max())),
    )
    return X, y, parts, scales


@pytest.fixture(autouse=True)
def _one_blas_thread():
    # multi-threaded BLAS on a loaded 2-core machine makes a 400 x 90 SVD take seconds
    with threadpool_limits(1):
        yield


@pytest.mark.parametrize("parties", [3, 4])
@pytest.mark.parametrize("dataset", ["wine-red", "wine-white", "gas", "msd"])
def test_fixed_point_helen_matches_plaintext_admm(dataset, parties):
    _X, y, parts, scales = _setup(dataset, parties)
    scales.check()
    prepared = [H.prepare_input(Xi, yi, scales) for Xi, yi in parts]
    rows = len(y)
    for kind in OBJECTIVES:
        objective = Objective(kind, lam=0.0 if kind == "least_squares" else 0.02 * rows)
        run = H.run_fixed_point(parts, objective, scales, ITERATIONS, prepared=prepared)
        reference = H.run_plaintext(parts, objective, scales.rho_quantised, ITERATIONS)
        assert H.relative_l2(run.model, reference) <= 1e-3, (dataset, parties, kind)
        assert len(run.z_trace) == ITERATIONS


def test_plaintext_reference_converges_to_the_ridge_closed_form():
    """Anchor the reference: ridge ADMM after many rounds equals (X^T X + 2 lam I)^-1 X^T y."""
    X, y, parts, scales = _setup("wine-red", 3)
    lam = 0.02 * len(y)
    z = H.run_plaintext(parts, Objective("ridge", lam=lam), scales.rho_quantised, 300)
    closed = np.linalg.solve(X.T @ X + 2 * lam * np.eye(X.shape[1]), X.T @ y)
    assert H.relative_l2(z, closed) < 1e-6


def test_prepared_integers_against_an_independent_float_computation():
    _X, _y, parts, scales = _setup("gas", 3)
    Xi, yi = parts[0]
    prep = H.prepare_input(Xi, yi, scales)
    H.check_prepared(prep, scales)
    rho = scales.rho_quantised
    A = np.linalg.inv(Xi.T @ Xi + rho * np.eye(Xi.shape[1]))
    a = np.array([[int(v) for v in row] for row in prep.A], dtype=float) / 2.0**scales.a_bits
    b = np.array([int(v) for v in prep.b], dtype=float) / 2.0**scales.b_bits
    assert np.max(np.abs(a - A)) <= 1e-5 * np.max(np.abs(A))
    assert np.max(np.abs(b - Xi.T @ yi)) <= 1e-5 * np.max(np.abs(Xi.T @ yi))
    # statements 3 and 4 hold with margin, so the range proofs have room
    assert H._max_abs(prep.vtv_residue) <= scales.vtv_bound
    assert H._max_abs(prep.theta_residue) <= scales.theta_bound


def test_scale_constants_match_spdz():
    assert SPDZ_PRIME_BITS == field.P_BITS
    assert SPDZ_KAPPA == online.DEFAULT_KAPPA
    assert SPDZ_MASK_HEADROOM_BITS == online.MASK_HEADROOM_BITS


def test_song_workload_fits_and_overflow_is_named():
    song = HelenScales(
        features=90, rows=100_000, parties=4, rho=40_000.0, x_bound=30.0, y_bound=90.0
    )
    song.check()
    assert min(song.headroom().values()) >= 8
    too_big = HelenScales(
        features=90,
        rows=100_000,
        parties=4,
        rho=40_000.0,
        x_bound=30.0,
        y_bound=90.0,
        w_bound=2.0**80,  # with 8 bits of mask headroom (tight range proofs) 2^40 now fits
        precision=40,
    )
    with pytest.raises(ValueError, match=r"spdz\.truncate_w"):
        too_big.check()


def test_bad_scale_parameters_are_refused():
    with pytest.raises(ValueError):
        HelenScales(features=10, rows=5, parties=3, rho=1.0, x_bound=1.0, y_bound=1.0)
    with pytest.raises(ValueError, match="rho"):
        HelenScales(features=2, rows=5, parties=3, rho=0.0, x_bound=1.0, y_bound=1.0)


def test_data_beyond_the_agreed_bound_is_refused():
    _X, _y, parts, scales = _setup("gas", 3)
    Xi, yi = parts[0]
    with pytest.raises(H.BoundExceeded):
        H.prepare_input(Xi * (2 * scales.x_bound), yi, scales)


@given(st.integers(min_value=-(1 << 100), max_value=1 << 100), st.integers(1, 80))
@settings(max_examples=200, deadline=None)
def test_round_shift_residue_is_within_half(value, shift):
    arr = np.array([value], dtype=object)
    rounded = int(H.round_shift(arr, shift)[0])
    residue = rounded * (1 << shift) - value
    assert -(1 << (shift - 1)) < residue <= 1 << (shift - 1)


@given(st.integers(min_value=-(1 << 90), max_value=1 << 90), st.integers(1, 64))
@settings(max_examples=200, deadline=None)
def test_probabilistic_truncation_is_floor_or_ceiling(value, shift):
    out = int(H.trunc_pr(np.array([value], dtype=object), shift, random.Random(value))[0])
    assert out in (value >> shift, (value >> shift) + 1)
    if value % (1 << shift) == 0:
        assert out == value >> shift


def test_coordinate_refuses_contributions_beyond_the_agreed_bound():
    scales = HelenScales(features=2, rows=10, parties=2, rho=1.0, x_bound=1.0, y_bound=1.0)
    huge = np.array([scales.w_int_bound + 1, 0], dtype=object) << scales.w_shift
    zero = np.zeros(2, dtype=object)
    with pytest.raises(H.BoundExceeded, match="w_bound"):
        H.coordinate(
            [huge, zero], [zero, zero], scales, Objective("ridge", lam=1.0), random.Random(0)
        )
