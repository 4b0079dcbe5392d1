"""Adversarial review of DSSGD: the default noise must not be predictable by the server."""

from __future__ import annotations

from typing import Any

import numpy as np

from coopetition.protocols.dssgd import DssgdConfig
from coopetition.protocols.dssgd.local_run import train_dssgd
from coopetition.protocols.dssgd.mechanism import noise_generator


def _parts(m: int = 2, n: int = 30, d: int = 3) -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(9)
    true = rng.normal(size=d)
    return [(X, X @ true) for X in (rng.normal(size=(n, d)) for _ in range(m))]


async def test_server_cannot_strip_the_noise_of_a_default_run() -> None:
    """With a default config the server must not be able to regenerate a participant's noise.

    It used to be seeded by the public default seed 0, so the server subtracted exactly the
    Laplace noise and was left with the clipped local model: no differential privacy at all.
    """
    config = DssgdConfig(epsilon=0.05, clip=1.0, iterations=2)
    d = 3
    uploads: list[tuple[int, int, np.ndarray]] = []

    def tap(pid: int) -> dict[str, Any]:
        def hook(header, payload, destination):  # type: ignore[no-untyped-def]
            if header.tag == "noisy_model":
                uploads.append((pid, header.round, payload))
            return payload

        return {"payload_hook": hook} if pid < 2 else {}

    run = await train_dssgd(_parts(d=d), config, party_options=tap)
    assert run.completed, run.errors
    assert len(uploads) == 4
    guesses = {0, *(() if config.seed is None else (config.seed,))}
    for pid, rnd, upload in uploads:
        for seed in guesses:
            noise = noise_generator(seed, pid, rnd).laplace(0.0, config.laplace_scale(d), size=d)
            stripped = upload - noise
            # the noise scale is 120 clip: a wrong guess leaves values far outside [-clip, clip]
            assert not np.all(np.abs(stripped) <= config.clip + 1e-9), (pid, rnd, seed)


async def test_two_default_runs_draw_different_noise() -> None:
    a = await train_dssgd(_parts(), DssgdConfig(iterations=2))
    b = await train_dssgd(_parts(), DssgdConfig(iterations=2))
    assert not np.array_equal(a.results[0].model, b.results[0].model)
