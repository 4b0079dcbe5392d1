"""Adversarial review of secure SGD: bad configuration is refused before anything runs."""

from __future__ import annotations

import numpy as np
import pytest

from coopetition.engine.errors import ConfigError
from coopetition.protocols.sgd_spdz import SgdConfig
from coopetition.protocols.sgd_spdz.local_run import train_sgd_spdz
from coopetition.protocols.sgd_spdz.session import SgdSpdzRun


@pytest.mark.parametrize("field", ["data_bound", "model_bound"])
@pytest.mark.parametrize("value", [float("nan"), float("inf"), 0.0, -1.0])
def test_bounds_that_are_not_positive_numbers_are_refused(field: str, value: float) -> None:
    """A NaN data_bound used to pass every range check, letting any data wrap the field."""
    with pytest.raises(ConfigError, match=field):
        SgdConfig(**{field: value})  # type: ignore[arg-type]


async def test_nan_bound_no_longer_lets_huge_data_through() -> None:
    rng = np.random.default_rng(1)
    parts = [(rng.normal(size=(2, 2)) * 1e9, rng.normal(size=2)) for _ in range(2)]
    with pytest.raises(ConfigError):
        await train_sgd_spdz(
            parts, SgdConfig(data_bound=float("nan")), preprocessing="insecure-dealer"
        )


def test_a_party_outside_the_plan_is_a_config_error() -> None:
    """The party-range check compared range(m) with itself; party 5 of 2 raised IndexError."""
    X, y = np.ones((2, 2)), np.ones(2)
    with pytest.raises(ConfigError, match="party"):
        SgdSpdzRun(SgdConfig(), X, y, party=5, rows=(2, 2), source=None)  # type: ignore[arg-type]


def test_out_of_range_input_from_a_cheater_aborts_instead_of_releasing_garbage() -> None:
    """A party skipping its own range check (x * 1e12) used to open a model of about 1e44."""
    from coopetition.engine.errors import ProtocolAborted
    from coopetition.protocols.sgd_spdz import SgdPlan
    from coopetition.protocols.sgd_spdz.program import sgd_program
    from coopetition.protocols.sgd_spdz.sources import deal
    from coopetition.protocols.spdz.harness import run_local
    from coopetition.protocols.spdz.online import SpdzParty

    rng = np.random.default_rng(2)
    parts = [(rng.normal(size=(4, 2)), rng.normal(size=4)) for _ in range(2)]
    parts[1] = (parts[1][0] * 1e12, parts[1][1])
    config = SgdConfig(learning_rate=0.1)
    plan = SgdPlan((4, 4), 2, config)
    dealt = deal(*plan.needs(), 2)
    programs = [
        sgd_program(SpdzParty(dealt.stores[i], session=b"t"), plan, X, y)
        for i, (X, y) in enumerate(parts)
    ]
    with pytest.raises(ProtocolAborted, match="model_bound"):
        run_local(programs)
