"""Malicious and broken peers against the party runtime: every run ends, at every honest party,
with a typed error that blames the party at fault and never an innocent one."""

import dataclasses

import numpy as np
import pytest
import trio

from coopetition.engine.errors import (
    CheatingDetected,
    DeadlineExceeded,
    Equivocation,
    LocalFailure,
    PeerUnreachable,
    ProtocolViolation,
)
from coopetition.engine.local import local_configs, run_parties
from coopetition.engine.party import Deadlines, Party
from coopetition.engine.wire import BROADCAST, EnvelopeHeader, open_frame, peek_header, seal
from coopetition.protocols.admm import AdmmConfig, AdmmRun, Objective
from coopetition.sims.data import load
from coopetition.transports.base import Transport
from coopetition.transports.memory import MemoryNetwork

WINE = load("wine-red")
N = WINE.X.shape[0]
FAST = Deadlines(phase=30, heartbeat_interval=1, heartbeat_timeout=10, finish=10, abort_send=2)
PATIENT = Deadlines(phase=1e6, heartbeat_interval=1, heartbeat_timeout=1e6, finish=1e6)


def _protocols(ids, iterations=5):
    config = AdmmConfig(Objective("lasso", lam=0.02 * N), rho=0.1 * N, iterations=iterations)
    parts = WINE.split(len(ids))
    return [AdmmRun(config, *parts[i], party=p, parties=tuple(ids)) for i, p in enumerate(ids)]


class Wrap(Transport):
    def __init__(self, inner):
        self.inner = inner
        self.local_id, self.peers, self.max_frame = inner.local_id, inner.peers, inner.max_frame

    async def connect(self):
        await self.inner.connect()

    async def send(self, peer, data):
        await self.inner.send(peer, data)

    async def receive(self):
        return await self.inner.receive()

    async def aclose(self):
        await self.inner.aclose()


class CloseOwnSide(Wrap):
    """Closes its own transport after 20 sends: this party's fault, nobody else's."""

    sent = 0

    async def send(self, peer, data):
        self.sent += 1
        if self.sent == 20:
            await self.inner.aclose()
        await self.inner.send(peer, data)


def _control(config, tag, payload, seq=10_000):
    header = EnvelopeHeader(
        config.session, "admm", "_control", 0, tag, config.party_id, BROADCAST, seq
    )
    return seal(header, payload, config.identity.signing_key)


async def _run(ids, transports=None, configs=None, hooks=None):
    configs = configs or local_configs(ids, deadlines=FAST)
    transports = transports or MemoryNetwork(ids).transports()
    hooks = hooks or {}
    return await run_parties(
        configs,
        transports,
        _protocols(ids),
        party_options=lambda p: {"payload_hook": hooks[p]} if p in hooks else {},
    )


async def test_withheld_message_names_the_withholder(autojump_clock):
    class Withhold(Wrap):
        async def send(self, peer, data):
            header = peek_header(data)
            if not (header.phase == "coordinate" and header.round == 2):
                await self.inner.send(peer, data)  # heartbeats keep flowing

    ids = [0, 1, 2]
    transports = MemoryNetwork(ids).transports()
    transports[2] = Withhold(transports[2])
    run = await _run(ids, transports)
    for honest in (0, 1):
        error = run.errors[honest]
        assert isinstance(error, DeadlineExceeded) and error.culprit == 2, error


async def test_evidence_replayed_from_an_earlier_session_blames_nobody_innocent(autojump_clock):
    key = ("coordinate", 1, "w_plus_u", 0)
    ids = [0, 1, 2]
    configs = local_configs(ids, deadlines=FAST)
    kept: list[bytes] = []

    class Recorder(Wrap):
        async def receive(self):
            frame = await self.inner.receive()
            if peek_header(frame.data).key == key:
                kept.append(frame.data)
            return frame

    transports = MemoryNetwork(ids).transports()
    transports[2] = Recorder(transports[2])
    assert (await run_parties(configs, transports, _protocols(ids))).completed and kept

    second = [dataclasses.replace(c, session=b"second-session") for c in configs]

    class Accuser(Wrap):
        async def send(self, peer, data):
            if peek_header(data).key[:3] == key[:3]:
                await trio.sleep(1)
                message = {
                    "code": "protocol_violation",
                    "reason": "see evidence",
                    "culprit": -1,
                    "evidence": [kept[0]],
                    "phase": "",
                    "round": -1,
                }
                for p in sorted(self.peers):
                    await self.inner.send(p, _control(second[2], "abort", message))
                await trio.sleep_forever()
            await self.inner.send(peer, data)

    transports = MemoryNetwork(ids).transports()
    transports[2] = Accuser(transports[2])
    run = await run_parties(second, transports, _protocols(ids))
    for honest in (0, 1):
        error = run.errors[honest]
        assert not isinstance(error, Equivocation), error
        assert error.culprit in (None, 2)


async def test_unproven_accusation_keeps_no_culprit(autojump_clock):
    ids = [0, 1, 2]
    configs = local_configs(ids, deadlines=FAST)

    class Accuse(Wrap):
        async def send(self, peer, data):
            if peek_header(data).phase == "coordinate":
                message = {
                    "code": "equivocation",
                    "reason": "party 0 equivocated",
                    "culprit": 0,
                    "evidence": [],
                    "phase": "coordinate",
                    "round": 0,
                }
                for p in sorted(self.peers):
                    await self.inner.send(p, _control(configs[2], "abort", message))
                await trio.sleep_forever()
            await self.inner.send(peer, data)

    transports = MemoryNetwork(ids).transports()
    transports[2] = Accuse(transports[2])
    run = await _run(ids, transports, configs)
    error = run.errors[1]
    assert isinstance(error, CheatingDetected) and error.reported_by == 2
    assert error.culprit is None and error.claimed_culprit == 0
    assert "without proof" in str(error)


async def test_arrays_where_values_are_compared_name_the_sender(autojump_clock):
    def confuse(header, payload, destination):
        if header.tag == "parameters":
            return {**payload, "objective": np.zeros(3)}
        if header.tag == "model_digest":
            return np.zeros(32, dtype=np.uint8)
        return payload

    for ids in ([0, 1, 2],):
        run = await _run(ids, hooks={2: confuse})
        for honest in (0, 1):
            error = run.errors[honest]
            assert isinstance(error, ProtocolViolation) and error.culprit == 2, error


# the cheater's own arithmetic on its poisoned copy overflows; that is its problem, not a finding
@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
async def test_huge_contribution_is_refused_and_its_sender_named(autojump_clock):
    def huge(header, payload, destination):
        if header.tag == "w_plus_u" and header.round == 0:
            return np.full_like(payload, 1.7e308)
        return payload

    run = await _run([0, 1, 2, 3], hooks={3: huge})
    for honest in (0, 1, 2):
        error = run.errors[honest]
        assert isinstance(error, ProtocolViolation) and error.culprit == 3, error


async def test_peer_that_stops_reading_is_named_and_nobody_hangs(autojump_clock):
    class NeverRead(Wrap):
        async def receive(self):
            await trio.sleep_forever()

    ids = [0, 1, 2]
    configs = local_configs(ids, deadlines=FAST)
    configs[1] = dataclasses.replace(configs[1], deadlines=PATIENT)
    transports = MemoryNetwork(ids, inbox_frames=16).transports()
    transports[1] = NeverRead(transports[1])
    outcomes = {}

    async def honest(pid):
        party = Party(configs[pid], transports[pid])
        try:
            await party.run(_protocols(ids)[pid])
        except Exception as exc:
            outcomes[pid] = exc

    with trio.fail_after(3 * FAST.phase):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(honest, 0)
            nursery.start_soon(honest, 2)
            nursery.start_soon(lambda: Party(configs[1], transports[1]).run(_protocols(ids)[1]))
            while not {0, 2} <= set(outcomes):
                await trio.sleep(1)
            nursery.cancel_scope.cancel()
    for pid in (0, 2):
        assert outcomes[pid].culprit in (1, None), outcomes[pid]
        assert outcomes[pid].culprit != 0 and outcomes[pid].culprit != 2
    assert any(outcomes[p].culprit == 1 for p in (0, 2))


async def test_finish_barrier_is_bounded(autojump_clock):
    class StopReadingLate(Wrap):
        stopped = False

        async def receive(self):
            if self.stopped:
                await trio.sleep_forever()
            return await self.inner.receive()

        async def send(self, peer, data):
            if peek_header(data).tag == "model_digest#echo" and not self.stopped:
                self.stopped = True
                await trio.sleep(8)
            await self.inner.send(peer, data)

    ids = [0, 1, 2]
    configs = local_configs(ids, deadlines=FAST)
    configs[2] = dataclasses.replace(configs[2], deadlines=PATIENT)
    transports = MemoryNetwork(ids, inbox_frames=16).transports()
    transports[2] = StopReadingLate(transports[2])
    ended = {}

    async def one(pid):
        try:
            ended[pid] = await Party(configs[pid], transports[pid]).run(_protocols(ids)[pid])
        except Exception as exc:
            ended[pid] = exc

    with trio.fail_after(10 * FAST.phase):
        async with trio.open_nursery() as nursery:
            for pid in ids:
                nursery.start_soon(one, pid)
            while not {0, 1} <= set(ended):
                await trio.sleep(1)
            nursery.cancel_scope.cancel()
    for pid in (0, 1):
        if isinstance(ended[pid], Exception):
            assert ended[pid].culprit in (2, None), ended[pid]


async def test_early_done_does_not_switch_off_failure_detection(autojump_clock):
    ids = [0, 1, 2]
    configs = local_configs(ids, deadlines=FAST)

    class EarlyDoneThenSilent(Wrap):
        sent = 0

        async def send(self, peer, data):
            if self.sent == 0:
                for p in sorted(self.peers):
                    await self.inner.send(p, _control(configs[2], "done", None, seq=1))
            self.sent += 1
            if self.sent <= 2:
                await self.inner.send(peer, data)

    transports = MemoryNetwork(ids).transports()
    transports[2] = EarlyDoneThenSilent(transports[2])
    started = trio.current_time()
    run = await _run(ids, transports, configs)
    assert trio.current_time() - started < FAST.phase
    for honest in (0, 1):
        error = run.errors[honest]
        assert isinstance(error, PeerUnreachable) and error.culprit == 2, error


async def test_own_failures_are_local_not_a_peers_fault(autojump_clock):
    ids = [0, 1, 2]
    transports = MemoryNetwork(ids).transports()
    transports[0] = CloseOwnSide(transports[0])
    run = await _run(ids, transports)
    assert isinstance(run.errors[0], LocalFailure) and run.errors[0].culprit is None

    tiny = MemoryNetwork(ids, max_frame=180).transports()
    run = await _run(ids, tiny)
    for pid in ids:
        assert isinstance(run.errors[pid], LocalFailure), run.errors[pid]


async def test_abort_too_large_for_a_frame_still_reaches_everyone(autojump_clock):
    def giant_equivocation(header, payload, destination):
        if header.tag == "w_plus_u" and header.round == 1 and destination == 0:
            return np.zeros(5_000_000)  # 40 MB: differs from what the others get
        return payload

    run = await _run([0, 1, 2], hooks={2: giant_equivocation})
    assert isinstance(run.errors[0], (Equivocation, ProtocolViolation))
    assert run.errors[0].culprit == 2
    assert run.errors[1].culprit in (2, None) and run.errors[1].reported_by in (0, 2, None)


async def test_a_peer_that_fails_on_its_own_is_named_by_the_others(autojump_clock):
    ids = [0, 1, 2]
    transports = MemoryNetwork(ids).transports()
    transports[0] = CloseOwnSide(transports[0])
    run = await _run(ids, transports)
    assert isinstance(run.errors[0], LocalFailure) and run.errors[0].culprit is None
    for other in (1, 2):
        assert run.errors[other].culprit == 0, run.errors[other]


async def test_a_broadcast_disguised_as_point_to_point_blames_its_signer(autojump_clock):
    """Party 2 re-signs its broadcast ``w_plus_u`` as a point-to-point frame for party 0 only.
    In the echo, a point-to-point frame proves nothing to party 1, which would blame party 0
    for a digest it cannot back; party 0 must refuse the frame itself, naming its signer."""
    ids = [0, 1, 2]
    configs = local_configs(ids, deadlines=FAST)
    key = configs[2].identity.signing_key

    class Disguise(Wrap):
        async def send(self, peer, data):
            header = peek_header(data)
            if peer == 0 and header.tag == "w_plus_u" and header.receiver == BROADCAST:
                envelope = open_frame(data, {2: key.verify_key})
                data = seal(dataclasses.replace(envelope.header, receiver=0), envelope.payload, key)
            await self.inner.send(peer, data)

    transports = MemoryNetwork(ids).transports()
    transports[2] = Disguise(transports[2])
    run = await _run(ids, transports, configs)
    error = run.errors[0]
    assert isinstance(error, ProtocolViolation) and error.culprit == 2, error
    assert "point-to-point" in str(error)
    assert run.errors[1].culprit in (None, 2), run.errors[1]
