"""Helen on the real datasets over 3 and 4 parties (``sims.helen_matrix``): the issue's matrix.

``long``: at full d these take minutes to hours each (MSD has d = 90), with the minimum
(INSECURE) key the code allows. Each dataset runs its preset (lambda, rho, iterations);
``HELEN_MATRIX_ITERATIONS`` overrides the iterations. The presets themselves are checked in
plaintext in the default set (no cryptography, well under a second).

Checked: Helen's model within 1e-3 relative L2 of plaintext ADMM with the same parameters and
iterations; its test error within the paper's Table III precision of scikit-learn's wherever
plaintext ADMM's own is (on the gas subset it is not: see the module's docstring), and never
further from sklearn's than ADMM's plus that precision.
"""

from __future__ import annotations

import os

import pytest

from coopetition.sims import helen_matrix as M

ITERATIONS = (
    int(os.environ["HELEN_MATRIX_ITERATIONS"]) if "HELEN_MATRIX_ITERATIONS" in os.environ else None
)


@pytest.mark.long
@pytest.mark.parametrize("parties", [3, 4])
@pytest.mark.parametrize("dataset", M.DATASETS)
def test_helen_matches_admm_and_sklearn(dataset, parties):
    if not M.DATA.exists():
        pytest.skip(f"{M.DATA} not available")
    cell = M.run_cell(dataset, parties, iterations=ITERATIONS, key_bits=M.MATRIX_KEY_BITS)
    assert cell["outcome"] == "completed", cell
    assert cell["rel_l2_vs_admm"] <= M.REL_L2_LIMIT, cell
    assert abs(cell["test_error_gap"] - cell["admm_test_error_gap"]) <= M.TABLE_III_GAP, cell
    if cell["admm_test_error_gap"] <= M.TABLE_III_GAP / 2:
        assert cell["table_iii_ok"], cell


def test_datasets_load_and_split_without_losing_rows():
    if not M.DATA.exists():
        pytest.skip(f"{M.DATA} not available")
    for name in M.DATASETS:
        X, y = M.load_shared(name)
        parts, _X_test, y_test = M.split(X, y, 4, seed=0)
        assert sum(len(p[1]) for p in parts) + len(y_test) == len(y)
        assert abs(float(X.mean())) < 1e-9 and abs(float(y.mean())) < 1e-6 * max(1, abs(y).max())
    with pytest.raises(M.ConfigError):
        M.load_shared("iris")


@pytest.mark.parametrize("parties", [3, 4])
@pytest.mark.parametrize("dataset", M.DATASETS)
def test_presets_bring_plaintext_admm_within_table_three_of_sklearn(dataset, parties):
    """Plaintext ADMM with a dataset's preset (Helen's quantised rho) lands within the Table
    III gap of scikit-learn's test error, and stays there for three more iterations, so a
    Helen cell within 1e-3 of ADMM can meet the precision at all."""
    if not M.DATA.exists():
        pytest.skip(f"{M.DATA} not available")
    cell = M.make_cell(dataset, parties, iterations=None, key_bits=M.MATRIX_KEY_BITS)
    reference = cell.sklearn_error()
    iterations = cell.config.iterations
    for extra in range(4):
        admm = M.numerics.run_plaintext(
            cell.parts, cell.objective, cell.rho_quantised, iterations + extra
        )
        gap = abs(cell.test_error(admm) - reference) / reference
        assert gap <= M.TABLE_III_GAP, (dataset, parties, iterations + extra, gap)
