"""engine.chunked: payloads over several frames, under a public bound; hostile senders named.

Whole parties over memory transports (signed frames, consistency echo) on trio's virtual clock.
The honest parties run ``exchange_large``; a hostile one runs a hand-written program that
breaks one rule (declares too much, sends a chunk it did not declare, sends bytes that do not
decode) and must end in an abort naming it at every honest party.
"""

from __future__ import annotations

import pytest

from coopetition.engine.chunked import chunk_count, exchange_large
from coopetition.engine.codec import SignedIntVector, encode_payload
from coopetition.engine.errors import LocalFailure, ProtocolViolation
from coopetition.engine.local import local_configs, run_parties
from coopetition.engine.program import Exchange, Program, ProgramRun, program_machine
from coopetition.transports.memory import MemoryNetwork

IDS = (0, 1, 2)
CHEATER = 2
CHUNK = 1000
BOUND = 20_000
Machine = program_machine("chunked")


def _payload(party: int, size: int = 5000) -> dict[str, object]:
    return {"party": party, "blob": bytes([party]) * size}


def _honest(party: int, size: int = 5000) -> Program[dict[int, object]]:
    got = yield from exchange_large(
        _payload(party, size), max_bytes=BOUND, chunk_bytes=CHUNK, phase="chunked", me=party
    )
    return got


async def _run(programs, *, max_frame: int = 8 * CHUNK):
    network = MemoryNetwork(list(IDS), max_frame=max_frame)
    runs = [ProgramRun(p, IDS, programs[p], machine=Machine) for p in IDS]
    return await run_parties(local_configs(list(IDS)), network.transports(), runs)


def test_chunk_count():
    assert [chunk_count(s, 10) for s in (0, 1, 10, 11, 20, 21)] == [1, 1, 1, 2, 2, 3]


async def test_payloads_over_several_frames_arrive_whole(autojump_clock):
    sizes = {0: 5000, 1: 300, 2: 12_000}  # 12 rounds of chunks; party 1 is done after one
    run = await _run({p: (lambda p=p: _honest(p, sizes[p])) for p in IDS})
    assert run.completed, run.errors
    for p in IDS:
        assert run.results[p] == {q: _payload(q, sizes[q]) for q in IDS}
    # every frame stayed below the 8 kB limit: a single 12 kB frame would not have passed
    assert len(encode_payload(_payload(2, 12_000))) > 8 * CHUNK


async def test_one_frame_over_the_limit_fails_without_chunks(autojump_clock):
    """The same payloads as one chunk each: the transport refuses the frame (before this
    module, every large payload did that)."""

    def one_chunk(p: int) -> Program[dict[int, object]]:
        got = yield from exchange_large(_payload(p, 12_000), max_bytes=BOUND, chunk_bytes=BOUND)
        return got

    run = await _run({p: (lambda p=p: one_chunk(p)) for p in IDS})
    assert not run.results
    assert any(isinstance(e, LocalFailure) and "limit" in str(e) for e in run.errors.values())


def _assert_cheater_named(run, words: str) -> None:
    for honest in IDS:
        if honest == CHEATER:
            continue
        error = run.errors.get(honest)
        assert isinstance(error, ProtocolViolation), run.errors
        assert error.culprit == CHEATER and error.phase == "chunked", error
        assert words in str(error), error
    assert not run.results


async def test_declaring_more_than_the_bound_is_named(autojump_clock):
    def hostile() -> Program[None]:
        yield Exchange(payload=BOUND + 1, label="large-size")  # would need 21 chunks

    programs = {p: (lambda p=p: _honest(p)) for p in IDS}
    programs[CHEATER] = hostile
    _assert_cheater_named(await _run(programs), f"bound is {BOUND}")


@pytest.mark.parametrize("declared", [-1, True, "5000"])
async def test_malformed_declarations_are_named(autojump_clock, declared):
    def hostile() -> Program[None]:
        yield Exchange(payload=declared, label="large-size")

    programs = {p: (lambda p=p: _honest(p)) for p in IDS}
    programs[CHEATER] = hostile
    _assert_cheater_named(await _run(programs), "declared")


async def test_chunks_beyond_the_declared_size_are_named(autojump_clock):
    """The cheater declares 100 bytes, then keeps sending full chunks while the others'
    payloads still need rounds: more data than its declaration allows is refused."""

    def hostile() -> Program[None]:
        yield Exchange(payload=100, label="large-size")
        yield Exchange(payload=b"x" * 100, label="large")
        yield Exchange(payload=b"x" * CHUNK, label="large")

    programs = {p: (lambda p=p: _honest(p)) for p in IDS}
    programs[CHEATER] = hostile
    _assert_cheater_named(await _run(programs), "chunk 1")


async def test_an_oversized_chunk_is_named(autojump_clock):
    def hostile() -> Program[None]:
        yield Exchange(payload=3 * CHUNK, label="large-size")
        yield Exchange(payload=b"x" * (2 * CHUNK), label="large")

    programs = {p: (lambda p=p: _honest(p)) for p in IDS}
    programs[CHEATER] = hostile
    _assert_cheater_named(await _run(programs), "chunk 0")


async def test_a_payload_that_does_not_decode_is_named(autojump_clock):
    def hostile() -> Program[None]:
        junk = b"\xff" * 1500  # a CBOR "break" byte: never a valid item
        yield Exchange(payload=len(junk), label="large-size")
        for start in range(0, 10 * CHUNK, CHUNK):  # more rounds than the honest payloads need
            yield Exchange(payload=junk[start : start + CHUNK], label="large")

    programs = {p: (lambda p=p: _honest(p)) for p in IDS}
    programs[CHEATER] = hostile
    _assert_cheater_named(await _run(programs), "does not decode")


async def test_own_payload_over_the_bound_is_a_local_failure(autojump_clock):
    programs = {p: (lambda p=p: _honest(p)) for p in IDS}
    programs[0] = lambda: _honest(0, BOUND)
    run = await _run(programs)
    assert isinstance(run.errors.get(0), LocalFailure), run.errors
    assert not run.results


async def test_a_payload_of_too_many_packed_integers_is_named(autojump_clock):
    """Within the byte bound, but 3 000 one-byte integers where the shape allows 1 000."""

    def bounded(p: int, payload: object, values: int = 1000) -> Program[dict[int, object]]:
        got = yield from exchange_large(
            payload, max_bytes=BOUND, chunk_bytes=CHUNK, phase="chunked", me=p, max_values=values
        )
        return got

    programs = {p: (lambda p=p: bounded(p, SignedIntVector.of(range(p, p + 100)))) for p in IDS}
    flood = [SignedIntVector.of([1] * 1000) for _ in range(3)]
    # the cheater ignores the agreed bound (its own check would stop it with LocalFailure)
    programs[CHEATER] = lambda: bounded(CHEATER, flood, values=10**6)
    _assert_cheater_named(await _run(programs), "more than 1000 packed integers")
