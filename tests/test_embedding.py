"""A party embedded in an asyncio application through trio's guest mode."""

import asyncio
import contextlib
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from coopetition.engine.embed import start_in_asyncio
from coopetition.engine.errors import Equivocation, ProtocolAborted
from coopetition.engine.local import local_configs
from coopetition.engine.party import Party
from coopetition.protocols.admm import AdmmConfig, AdmmRun, Objective
from coopetition.protocols.admm.local_run import train_locally
from coopetition.protocols.admm.reference import reference_fit
from coopetition.sims.data import load
from coopetition.transports.memory import MemoryNetwork

WINE = load("wine-red")
N = WINE.X.shape[0]
CONFIG = AdmmConfig(Objective("lasso", lam=0.02 * N), rho=0.1 * N, iterations=40)


def test_training_inside_asyncio_keeps_the_loop_responsive():
    async def service():
        ticks = 0
        run = start_in_asyncio(train_locally, WINE.split(3), CONFIG)
        while not run.result.done():
            ticks += 1
            await asyncio.sleep(0)
        outcome = await run.result
        await run.finished
        return outcome, ticks

    outcome, ticks = asyncio.run(service())
    assert outcome.completed
    reference = reference_fit(WINE.X, WINE.y, CONFIG.objective)
    np.testing.assert_allclose(outcome.results[0].model, reference, atol=1e-4)
    assert ticks > 10  # asyncio ran its own work between trio steps


def test_typed_abort_reaches_the_asyncio_caller():
    async def trio_side():
        ids = [0, 1, 2]
        configs = local_configs(ids)
        transports = MemoryNetwork(ids).transports()
        parts = WINE.split(3)

        def lie(header, payload, destination):
            if header.tag == "w_plus_u" and destination == 0:
                return payload * 2
            return payload

        import trio

        async def one(pid, hook=None):
            party = Party(configs[pid], transports[pid], payload_hook=hook)
            async with transports[pid]:
                return await party.run(AdmmRun(CONFIG, *parts[pid], party=pid, parties=(0, 1, 2)))

        observed: dict[str, ProtocolAborted] = {}

        async def observe_party_0():
            try:
                await one(0)
            except ProtocolAborted as exc:
                observed["error"] = exc

        async with trio.open_nursery() as nursery:
            nursery.start_soon(observe_party_0)
            nursery.start_soon(lambda: _swallow(one(1)))
            nursery.start_soon(lambda: _swallow(one(2, lie)))
        raise observed["error"]  # what a service awaiting its own party would see

    async def _swallow(coro):
        with contextlib.suppress(ProtocolAborted):
            await coro

    async def service():
        run = start_in_asyncio(trio_side)
        try:
            return await run.result
        finally:
            await run.finished

    with pytest.raises(Equivocation) as info:
        asyncio.run(service())
    assert info.value.culprit == 2


def test_cancelling_from_asyncio_stops_trio_cleanly():
    long = AdmmConfig(Objective("ridge", lam=10.0), rho=0.1 * N, iterations=100_000)

    async def service():
        run = start_in_asyncio(train_locally, WINE.split(2), long)
        await asyncio.sleep(0.2)
        run.cancel()
        await asyncio.wait_for(asyncio.shield(run.finished), 30)
        with pytest.raises(asyncio.CancelledError):
            await run.result
        return True

    assert asyncio.run(service())


@pytest.mark.processes
def test_example_service_runs():
    example = Path(__file__).parent.parent / "examples" / "asyncio_service.py"
    out = subprocess.run(
        [sys.executable, str(example)], capture_output=True, text=True, timeout=120, check=True
    ).stdout
    ticks = int(out.split("asyncio ticks while training: ")[1].split(";")[0])
    diff = float(out.split("scikit-learn: ")[1])
    assert ticks > 0 and diff < 1e-3


def test_cancel_after_the_run_finished_is_harmless():
    async def service():
        run = start_in_asyncio(train_locally, WINE.split(2), AdmmConfig(rho=0.1 * N, iterations=2))
        outcome = await run.result
        await run.finished
        run.cancel()
        return outcome

    assert asyncio.run(service()).completed
