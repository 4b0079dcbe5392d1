"""COPML's MPC baselines with one degree reduction per element product (the paper's Appendix C):
the same model as the inner-product mode and as a numpy reference, the traffic a textbook count
predicts, bad input refused."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from test_copml import dataset, numpy_gd

from coopetition.engine.errors import ConfigError
from coopetition.protocols.copml import CopmlParams
from coopetition.protocols.copml.baseline import BaselineSetup, baseline_T, groups_of
from coopetition.sims.copml_work import BaselineWorkload, split_rows
from coopetition.sims.runner import run_parties

N = 10  # T = 1, groups of 4, 3, 3 members (2T+1 = 3)
PARAMS = CopmlParams(N=N, K=2, T=1, iterations=3, lx=8, lw=12, lc=6, eta_exp=5)
FIELD_BYTES = 8  # int64 elements of a 61-bit field on the wire
#: per frame: header, signature, CBOR array framing (a few hundred bytes; generous bound)
FRAMING = 600


async def _train(mode: str, reduction: str, X: np.ndarray, y: np.ndarray):
    work = BaselineWorkload(mode, PARAMS, split_rows(X, y, N), dealer_seed=1, reduction=reduction)
    result = await run_parties(work.factory, range(N), network="lan", seed=1)
    assert result.outcome == "completed", result.abort_reason
    models = list(result.results.values())
    assert all((m == models[0]).all() for m in models)
    return models[0], result


def _textbook_gradient_bytes(mode: str, reduction: str, parts: list) -> tuple[int, int]:
    """Bytes and frames of the gradient phase over all iterations, counted from the protocol's
    description: per group of size G holding r rows, BGW has 2T+1 members reshare each value to
    the G-1 others, BH08 has all G members send their masked value to the G-1 others; the
    products are r*d (z) and r*d (g) per-product, r (z) and d (g) inner-product. Then the first
    T+1 members of each group reshare the d-vector sub-gradient to the N-1 other parties."""
    T, d = baseline_T(N), parts[0][0].shape[1]
    payload, frames = 0, 0
    for members in groups_of(N):
        G, r = len(members), sum(len(parts[m][1]) for m in members)
        senders = 2 * T + 1 if mode == "bgw" else G
        values = 2 * r * d if reduction == "per-product" else r + d
        payload += senders * (G - 1) * values * FIELD_BYTES
        frames += 2 * senders * (G - 1)
    payload += 3 * (T + 1) * (N - 1) * d * FIELD_BYTES
    frames += 3 * (T + 1) * (N - 1)
    return payload * PARAMS.iterations, frames * PARAMS.iterations


@pytest.mark.parametrize("mode", ["bgw", "bh08"])
async def test_per_product_releases_the_same_model_as_inner_product(autojump_clock, mode):
    """Same dealer seed: both reductions open the same masked values, so the released models are
    equal bit for bit, and both follow textbook gradient descent within fixed-point error."""
    X, y = dataset()
    inner, _ = await _train(mode, "inner-product", X, y)
    per, _ = await _train(mode, "per-product", X, y)
    assert (inner == per).all()
    assert np.max(np.abs(per - numpy_gd(X, y, PARAMS))) < 0.02


@pytest.mark.parametrize("mode", ["bgw", "bh08"])
async def test_per_product_moves_the_textbook_number_of_bytes(autojump_clock, mode):
    X, y = dataset()
    parts = split_rows(X, y, N)
    sent = {}
    for reduction in ("per-product", "inner-product"):
        _, result = await _train(mode, reduction, X, y)
        sent[reduction] = result.per_phase()["mpc-gradient"]["bytes_sent"]
        payload, frames = _textbook_gradient_bytes(mode, reduction, parts)
        assert payload <= sent[reduction] <= payload + FRAMING * frames, (reduction, sent, frames)
    # per-product: 2 r d values per group where inner-product moves r + d (d = 6 here); measured
    # (the textbook counts alone would compare the formula with itself)
    assert sent["per-product"] > 4 * sent["inner-product"], sent


def test_an_unknown_reduction_is_refused_in_one_line():
    with pytest.raises(ConfigError, match="reduction is inner-product or per-product") as info:
        BaselineSetup("bgw", PARAMS, (12,) * N, 6, "per-element")
    assert "\n" not in str(info.value)


async def test_bh08_pairs_are_made_once_taken_once_per_member_and_dropped(autojump_clock):
    """Review check of the dealer change: every (tag, group, iteration) pair is drawn once, each
    group member takes its share of it exactly once, and none is left after the run."""
    X, y = dataset()
    work = BaselineWorkload(
        "bh08", PARAMS, split_rows(X, y, N), dealer_seed=1, reduction="per-product"
    )
    dealer, made, taken = work.dealer, Counter(), Counter()
    per_position, double = dealer._per_position, dealer.double

    def counting_per_position(key, make):
        if key not in dealer._cache:
            made[key] += 1
        return per_position(key, make)

    def counting_double(pos, t, size, tag):
        taken[(tag, t, pos)] += 1
        return double(pos, t, size, tag)

    dealer._per_position, dealer.double = counting_per_position, counting_double
    result = await run_parties(work.factory, range(N), network="lan", seed=1)
    assert result.outcome == "completed", result.abort_reason
    pair_keys = [k for k in made if "/" in k[0]]
    assert len(pair_keys) == 2 * 3 * PARAMS.iterations  # z and g, 3 groups, every iteration
    assert all(made[k] == 1 for k in pair_keys)
    assert set(taken.values()) == {1} and len(taken) == 2 * N * PARAMS.iterations
    assert not [k for k in dealer._cache if "/" in k[0]]
