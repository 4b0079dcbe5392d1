"""MASCOT over the engine: signed point-to-point OT rounds and broadcast checks on memory transports."""

from __future__ import annotations

import pytest

from coopetition.engine.local import local_configs, run_parties
from coopetition.engine.party import Deadlines
from coopetition.protocols.spdz import field as F
from coopetition.protocols.spdz.mascot import MascotParty
from coopetition.protocols.spdz.mascot_machine import mascot_run
from coopetition.transports.memory import MemoryNetwork

FAST = Deadlines(phase=60, heartbeat_interval=1, heartbeat_timeout=30, finish=10, abort_send=2)


def _filler(member):
    return lambda: member.fill(triples=3, bits=2, input_masks={1: 2})


def _runs(m, session, cls=None):
    ids = tuple(range(m))
    cls = cls or {}
    members = [cls.get(i, MascotParty)(i, m, session) for i in ids]
    return [mascot_run(i, ids, _filler(p)) for i, p in zip(ids, members, strict=True)]


async def test_mascot_fill_over_the_engine(autojump_clock):
    m = 3
    ids = list(range(m))
    run = await run_parties(
        local_configs(ids, deadlines=FAST), MemoryNetwork(ids).transports(), _runs(m, b"eng")
    )
    assert run.completed, run.errors
    stores = [run.results[i] for i in ids]
    alpha = sum(s.alpha_share for s in stores) % F.P
    t = [s.take("triple", 3).parts for s in stores]
    a, b, c = (sum(x[k].value for x in t) % F.P for k in range(3))
    assert all((int(x) * int(y) - int(z)) % F.P == 0 for x, y, z in zip(a, b, c, strict=True))
    for k in range(3):
        value = sum(x[k].value for x in t) % F.P
        mac = sum(x[k].mac for x in t) % F.P
        assert all((alpha * int(v) - int(g)) % F.P == 0 for v, g in zip(value, mac, strict=True))
    bits = sum(s.take("bit", 2).parts[0].value for s in stores) % F.P
    assert set(map(int, bits)) <= {0, 1}


class _BadBaseOt(MascotParty):
    def setup(self):  # type: ignore[no-untyped-def]
        prog = super().setup()
        request = next(prog)
        for payload in request.payloads.values():
            payload["A"] = b"\xff" * 32
        reply = yield request
        while True:
            try:
                request = prog.send(reply)
            except StopIteration as stop:
                return stop.value
            reply = yield request


@pytest.mark.parametrize("m", [2])
async def test_bad_base_ot_message_aborts_every_honest_party(autojump_clock, m):
    ids = list(range(m))
    run = await run_parties(
        local_configs(ids, deadlines=FAST),
        MemoryNetwork(ids).transports(),
        _runs(m, b"eng-bad", cls={1: _BadBaseOt}),
    )
    assert not run.completed
    err = run.errors[0]
    assert err.culprit == 1 or err.claimed_culprit == 1, err


async def test_mascot_over_the_wan_simulator_reports_virtual_time(autojump_clock):
    """us-west-east (35 ms between regions), reliable layer over the simulated WAN."""
    from coopetition.sims.runner import run_parties as simulate

    m = 2
    runs = _runs(m, b"wan")
    result = await simulate(
        lambda pid, ids: runs[pid], list(range(m)), network="us-west-east", deadlines=FAST
    )
    outcomes = result.parties
    assert result.outcome == "completed", (result.abort_code, result.abort_reason)
    stores = [outcomes[i].result for i in range(m)]
    t = [s.take("triple", 3).parts for s in stores]
    a, b, c = (sum(x[k].value for x in t) % F.P for k in range(3))
    assert all((int(x) * int(y) - int(z)) % F.P == 0 for x, y, z in zip(a, b, c, strict=True))
    assert result.virtual_seconds > 0.035 * 10  # dozens of rounds, each >= one 35 ms crossing


async def test_mascot_over_loopback_tcp():
    """Real sockets: signed frames over TCP between two in-process parties."""
    import os

    import trio
    from nacl.signing import SigningKey

    from coopetition.engine.identity import Identity
    from coopetition.engine.party import Party, PartyConfig
    from coopetition.sims.benchkit import free_ports as _free_ports
    from coopetition.transports.tcp import PeerAddress, TcpTransport

    m = 2
    ids = list(range(m))
    keys = {p: SigningKey.generate() for p in ids}
    ports = dict(zip(ids, _free_ports(m), strict=True))
    roster = {p: keys[p].verify_key for p in ids}
    session = os.urandom(16)
    runs = _runs(m, b"tcp")
    results: dict[int, object] = {}

    async def party(pid: int) -> None:
        tcp = TcpTransport(
            pid,
            keys[pid],
            ("127.0.0.1", ports[pid]),
            {q: PeerAddress("127.0.0.1", ports[q], roster[q]) for q in ids if q != pid},
            connect_timeout=20,
        )
        async with tcp:
            config = PartyConfig(Identity(pid, keys[pid]), roster, session, FAST)
            results[pid] = await Party(config, tcp).run(runs[pid])

    with trio.fail_after(300):
        async with trio.open_nursery() as nursery:
            for pid in ids:
                nursery.start_soon(party, pid)
    stores = [results[i] for i in ids]
    t = [s.take("triple", 3).parts for s in stores]  # type: ignore[attr-defined]
    a, b, c = (sum(x[k].value for x in t) % F.P for k in range(3))
    assert all((int(x) * int(y) - int(z)) % F.P == 0 for x, y, z in zip(a, b, c, strict=True))


async def test_a_long_mascot_phase_does_not_hold_its_ot_messages(autojump_clock, monkeypatch):
    """MASCOT streams its OT extension through one engine round; each party's bus lets every
    point-to-point message go once consumed, so what it holds stays near one batch's messages
    however many batches the phase makes (the song workload's MASCOT is ~100 GB per party)."""
    from coopetition.engine.bus import Bus

    peak = [0]
    store = Bus._store

    def watched(self, key, frame, envelope, *, own=False):  # type: ignore[no-untyped-def]
        store(self, key, frame, envelope, own=own)
        peak[0] = max(peak[0], self.held_bytes())

    monkeypatch.setattr(Bus, "_store", watched)
    m, ids = 2, [0, 1]
    members = [MascotParty(i, m, b"mem") for i in ids]
    fills = [lambda p=p: p.fill(triples=12, batch=2) for p in members]
    run = await run_parties(
        local_configs(ids, deadlines=FAST),
        MemoryNetwork(ids).transports(),
        [mascot_run(i, tuple(ids), fill) for i, fill in zip(ids, fills, strict=True)],
    )
    assert run.completed, run.errors
    received = sum(s["bytes_received"] for s in run.parties[0].stats.as_dict().values())
    assert received > 0
    # six batches of two triples: without spend the bus would hold about all of them
    assert peak[0] < received / 3, (peak[0], received)


async def test_ot_messages_disguised_as_broadcasts_are_refused(autojump_clock):
    """A receiver keeps broadcast frames as evidence until the round ends, so a sender that
    signs its OT messages as broadcasts would make the receiver hold its whole OT stream
    (``Bus.spend`` lets only point-to-point frames go). The receiver refuses such a frame and
    names its signer."""
    import dataclasses

    from test_party_adversarial import Wrap

    from coopetition.engine.errors import ProtocolViolation
    from coopetition.engine.wire import BROADCAST, open_frame, peek_header, seal

    ids = [0, 1]
    configs = local_configs(ids, deadlines=FAST)
    key = configs[1].identity.signing_key

    class Disguise(Wrap):
        async def send(self, peer, data):
            header = peek_header(data)
            if header.phase == "mascot" and header.receiver == peer:
                envelope = open_frame(data, {1: key.verify_key})
                header = dataclasses.replace(envelope.header, receiver=BROADCAST)
                data = seal(header, envelope.payload, key)
            await self.inner.send(peer, data)

    transports = MemoryNetwork(ids).transports()
    transports[1] = Disguise(transports[1])
    run = await run_parties(configs, transports, _runs(2, b"disguise"))
    error = run.errors[0]
    assert isinstance(error, ProtocolViolation) and error.culprit == 1, error
    assert "broadcast" in str(error)
