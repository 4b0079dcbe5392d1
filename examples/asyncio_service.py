"""An asyncio service that is one party of a joint training session.

The service keeps running its own asyncio work (here: a ticker standing in for request
handling) while its party trains with two peers over authenticated TCP on loopback. The peers
run in another thread with plain ``trio.run``, as they would on other hosts.

    python examples/asyncio_service.py
"""

from __future__ import annotations

import asyncio
import threading

import numpy as np
import trio

from coopetition.engine.embed import start_in_asyncio
from coopetition.engine.identity import Identity
from coopetition.engine.party import Party, PartyConfig
from coopetition.protocols.admm import AdmmConfig, AdmmRun, Objective
from coopetition.protocols.admm.reference import reference_fit
from coopetition.sims.data import load
from coopetition.transports.tcp import PeerAddress, TcpTransport


def build_session(parties: int, ports: list[int]):
    """Identities, configs and TCP transports as each host would build them from its config."""
    identities = [Identity.generate(pid) for pid in range(parties)]
    roster = {i.party_id: i.verify_key for i in identities}
    session = b"embedding-example"
    configs, transports = [], []
    for ident in identities:
        peers = {
            other.party_id: PeerAddress("127.0.0.1", ports[other.party_id], other.verify_key)
            for other in identities
            if other.party_id != ident.party_id
        }
        configs.append(PartyConfig(ident, roster, session))
        transports.append(
            TcpTransport(
                ident.party_id, ident.signing_key, ("127.0.0.1", ports[ident.party_id]), peers
            )
        )
    return configs, transports


async def run_one(config, transport, protocol):
    async with transport:
        return await Party(config, transport).run(protocol)


def peers_in_thread(configs, transports, protocols, results):
    async def main():
        async with trio.open_nursery() as nursery:
            for c, t, p in zip(configs, transports, protocols, strict=True):

                async def one(c=c, t=t, p=p):
                    results[c.party_id] = await run_one(c, t, p)

                nursery.start_soon(one)

    thread = threading.Thread(target=trio.run, args=(main,), daemon=True)
    thread.start()
    return thread


async def service(ports: list[int], iterations: int = 20) -> tuple[np.ndarray, int, np.ndarray]:
    data = load("wine-red")
    n = data.X.shape[0]
    config = AdmmConfig(Objective("ridge", lam=0.05 * n), rho=0.1 * n, iterations=iterations)
    parts = data.split(3)
    configs, transports = build_session(3, ports)
    protocols = [AdmmRun(config, *parts[p], party=p, parties=(0, 1, 2)) for p in range(3)]
    peer_results: dict[int, object] = {}
    thread = peers_in_thread(configs[1:], transports[1:], protocols[1:], peer_results)

    ticks = 0
    run = start_in_asyncio(run_one, configs[0], transports[0], protocols[0])
    while not run.result.done():  # the service's own asyncio work goes on meanwhile
        ticks += 1
        await asyncio.sleep(0.005)
    result = await run.result
    await run.finished
    await asyncio.to_thread(thread.join, 30)
    return result.model, ticks, reference_fit(data.X, data.y, config.objective)


def free_ports(count: int) -> list[int]:
    import socket

    socks = [socket.socket() for _ in range(count)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


if __name__ == "__main__":
    model, ticks, reference = asyncio.run(service(free_ports(3)))
    print("model:", np.round(model, 5))
    print(
        f"asyncio ticks while training: {ticks}; max |diff| to scikit-learn: "
        f"{np.abs(model - reference).max():.2e}"
    )
