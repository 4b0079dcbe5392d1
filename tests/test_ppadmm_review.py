"""Adversarial review of PPADMM: malformed or malicious messages end in typed, attributed aborts."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from coopetition.engine.errors import ConfigError, ProtocolViolation
from coopetition.protocols.admm import AdmmConfig, Objective
from coopetition.protocols.ppadmm import PpadmmConfig
from coopetition.protocols.ppadmm.local_run import train_ppadmm

ITERATIONS = 4


def _data(m: int = 3, n: int = 30, d: int = 4) -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(5)
    true = 3 * rng.normal(size=d)
    blocks = [rng.normal(size=(n, d)) for _ in range(m)]
    return [(X, X @ true + rng.normal(size=n)) for X in blocks]


def _config() -> PpadmmConfig:
    return PpadmmConfig(AdmmConfig(Objective("lasso", lam=2.0), rho=5.0, iterations=ITERATIONS))


def _rewrite(target: int, tag: str, change: Any, rnd: int | None = None):  # type: ignore[no-untyped-def]
    def options(pid: int) -> dict[str, Any]:
        if pid != target:
            return {}

        def hook(header, payload, destination):  # type: ignore[no-untyped-def]
            if header.tag == tag and (rnd is None or header.round == rnd):
                return change(payload)
            return payload

        return {"payload_hook": hook}

    return options


async def test_s2_confirmation_of_the_wrong_type_is_blamed_on_s2() -> None:
    """S2's "confirmed" as an array used to crash every party with an untyped ValueError."""
    s2 = 4
    run = await train_ppadmm(
        _data(), _config(), party_options=_rewrite(s2, "confirmed", lambda p: np.array(p))
    )
    assert not run.completed
    for pid, error in run.errors.items():
        if pid != s2:
            assert isinstance(error, ProtocolViolation), (pid, error)
            assert error.culprit == s2, (pid, error)


async def test_low_order_x25519_key_is_blamed_on_its_announcer_not_on_s2() -> None:
    """A participant announcing the zero point used to make honest S2 fail and be blamed."""
    cheat = 1
    run = await train_ppadmm(
        _data(),
        _config(),
        party_options=_rewrite(cheat, "parameters", lambda p: {**p, "x25519": bytes(32)}),
    )
    assert not run.completed
    for pid, error in run.errors.items():
        if pid != cheat:
            assert isinstance(error, ProtocolViolation), (pid, error)
            assert error.culprit == cheat, (pid, error)
            assert error.phase == "setup"


async def test_corrupt_upload_in_the_last_round_aborts_instead_of_releasing_garbage() -> None:
    """A participant's random upload used to yield a released model of about 1e28, silently."""
    last = ITERATIONS - 1
    run = await train_ppadmm(
        _data(),
        _config(),
        party_options=_rewrite(1, "masked", lambda p: bytes(reversed(p)), rnd=last),
    )
    assert not run.completed
    s1_error = run.errors[3]
    assert isinstance(s1_error, ProtocolViolation) and s1_error.round == last
    assert "range" in s1_error.reason


async def test_corrupt_mask_sum_aborts_instead_of_releasing_garbage() -> None:
    run = await train_ppadmm(
        _data(),
        _config(),
        party_options=_rewrite(4, "mask_sum", lambda p: bytes(reversed(p)), rnd=ITERATIONS - 1),
    )
    assert not run.completed
    assert isinstance(run.errors[3], ProtocolViolation)


async def test_z_beyond_the_agreed_bound_is_blamed_on_s1() -> None:
    s1 = 3
    run = await train_ppadmm(
        _data(), _config(), party_options=_rewrite(s1, "z", lambda p: p + 1e20, rnd=0)
    )
    assert not run.completed
    for pid in (0, 1, 2, 4):
        error = run.errors[pid]
        assert isinstance(error, ProtocolViolation) and error.culprit == s1, (pid, error)


@pytest.mark.parametrize(
    "option", [{"tolerance": 1e-3}, {"adaptive_rho": True}, {"scaling": "standardize"}]
)
def test_admm_options_ppadmm_does_not_run_are_refused(option: dict[str, Any]) -> None:
    """PPADMM used to announce these in its parameters and silently run plain fixed-rho ADMM."""
    admm = AdmmConfig(Objective("lasso", lam=2.0), rho=5.0, iterations=3, **option)
    with pytest.raises(ConfigError, match="PPADMM"):
        PpadmmConfig(admm)
