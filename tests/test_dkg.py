"""Distributed threshold Paillier key generation: correctness, secrecy of the factors, cheaters.

Keys here are 512 bits (INSECURE, named so: ``insecure_allow_small``) so that a whole DKG over
the engine takes seconds; the 2048-bit run is the benchmark (`coopetition bench dkg`) and the
``long`` test below.
"""

from __future__ import annotations

import secrets
from typing import Any, ClassVar

import gmpy2
import pytest
import trio

from coopetition.engine.errors import (
    CheatingDetected,
    DeadlineExceeded,
    Equivocation,
    ProtocolAborted,
)
from coopetition.engine.local import local_configs, run_parties
from coopetition.engine.machine import Done, Gather, PhaseMachine, Received, Started
from coopetition.engine.party import Deadlines
from coopetition.protocols.paillier.dkg import DistributedKeyGeneration, DkgParams, DkgRun
from coopetition.protocols.paillier.dkg.replay import BIPRIME_FIRST, SIEVE_DEAL
from coopetition.protocols.paillier.threshold import combine, partial_decrypt, threshold_decrypt
from coopetition.protocols.zk.transcript import ProofContext
from coopetition.transports.memory import MemoryNetwork

FAST = Deadlines(phase=120, heartbeat_interval=1, heartbeat_timeout=30, finish=10, abort_send=2)
BITS = 512  # INSECURE test size


def _params(m: int, batch: int = 48, multiplier: str = "shamir") -> DkgParams:
    return DkgParams(
        BITS,
        m,
        batch=batch,
        insecure_allow_small=True,
        biprimality_rounds=32,
        multiplier=multiplier,
    )


async def _run(
    m: int,
    *,
    batch: int = 48,
    audit_fraction: float = 1.0,
    options=None,
    max_batches=10_000,
    multiplier: str = "shamir",
    **kw: Any,
):
    ids = list(range(m))
    params = _params(m, batch, multiplier)
    session = secrets.token_bytes(16)
    runs = []
    for i in ids:
        extra = options(i) if options else {}
        runs.append(
            DkgRun(
                i,
                tuple(ids),
                params,
                session=session,
                audit_fraction=audit_fraction,
                max_batches=max_batches,
                **extra,
            )
        )
    return await run_parties(
        local_configs(ids, deadlines=FAST), MemoryNetwork(ids).transports(), runs, **kw
    )


def _check_key_decrypts(run) -> None:
    results = [run.results[i] for i in range(3)]
    tpk = results[0].threshold_public
    assert all(r.threshold_public == tpk for r in results)
    assert tpk.public.bits == BITS
    shares = [DistributedKeyGeneration(r).key_share(r.key_share.party) for r in results]
    plaintexts = [0, 1, -1, 123456789, -(2**200), tpk.public.half_n]
    ciphertexts = [tpk.public.encrypt(x) for x in plaintexts]
    ctx = ProofContext(b"test", "decrypt", 0, 0)
    assert threshold_decrypt(shares, ciphertexts, ctx) == plaintexts
    # a share computed with a wrong exponent is caught by the proofs and names its party
    bad = partial_decrypt(shares[1], ciphertexts, ProofContext(b"test", "decrypt", 0, 1))
    forged = type(bad)(1, tuple(v * v % tpk.public.n_square for v in bad.values), bad.proof)
    by_party = {
        0: partial_decrypt(shares[0], ciphertexts, ProofContext(b"test", "decrypt", 0, 0)),
        1: forged,
        2: partial_decrypt(shares[2], ciphertexts, ProofContext(b"test", "decrypt", 0, 2)),
    }
    with pytest.raises(CheatingDetected) as err:
        combine(tpk, by_party, ciphertexts, ctx)
    assert err.value.culprit == 1


def _integers(value: Any, out: list[int], seen: set[int]) -> None:
    """Every integer reachable from ``value`` (containers, dataclasses, objects' attributes)."""
    if isinstance(value, bool) or id(value) in seen:
        return
    if isinstance(value, (int, type(gmpy2.mpz(0)))):
        out.append(int(value))
        return
    if isinstance(value, (bytes, str, float, type(None))) or callable(value):
        return
    seen.add(id(value))
    if isinstance(value, dict):
        for k, v in value.items():
            _integers(k, out, seen)
            _integers(v, out, seen)
    elif isinstance(value, (list, tuple, set, frozenset)):
        for v in value:
            _integers(v, out, seen)
    elif hasattr(value, "values") and type(value).__name__ == "BigIntVector":
        _integers(value.values, out, seen)
    else:
        attrs = getattr(value, "__dict__", None) or {
            s: getattr(value, s) for s in getattr(type(value), "__slots__", ()) if hasattr(value, s)
        }
        for v in attrs.values():
            _integers(v, out, seen)


async def test_dkg_key_works_and_no_party_holds_or_receives_a_factor():
    """Every integer a party received, and every integer in its state at the end of each batch
    (all candidates, including the accepted one), shares no factor with N and is not a multiple
    of lambda(N) (2^x = 1 mod N would reveal one: phi, lambda, d are such multiples)."""
    m = 3
    seen: dict[int, list[Any]] = {i: [] for i in range(m)}

    def options(i: int) -> dict[str, Any]:
        def observe(kind: str, value: Any) -> None:
            if kind == "received":
                seen[i].append(value)
            else:  # the batch state: keep only the accepted one's candidates (the last batch)
                seen[i].append(("state", value.live, value.seeds, value.records))

        return {"observe": observe}

    run = await _run(m, options=options, audit_fraction=0.0)
    assert run.completed, run.errors
    _check_key_decrypts(run)
    n = run.results[0].threshold_public.public.n
    last_state_only = []
    for i in range(m):
        # a rejected candidate's values are unrelated to the accepted N; the accepted batch's
        # state and every message ever received are what must not leak
        last_state_only.append(
            [v for v in seen[i] if not (isinstance(v, tuple) and v[0] == "state")]
        )
        last_state_only[i].append([v for v in seen[i] if isinstance(v, tuple)][-1])
    checked = 0
    for i in range(m):
        ints: list[int] = []
        _integers(last_state_only[i], ints, set())
        for x in ints:
            if x == 0 or x == 1:
                continue
            g = gmpy2.gcd(x, n)
            assert g in (1, n), f"party {i} holds an integer sharing a factor with N"
            assert gmpy2.powmod(2, abs(x), n) != 1, f"party {i} holds a multiple of lambda(N)"
            checked += 1
    assert checked > 1000


async def test_a_party_lying_in_the_biprimality_test_is_named():
    def options(i: int) -> dict[str, Any]:
        if i != 1:
            return {}

        def lie(stage: str, k: int, receiver: int | None, values: list[Any]) -> list[Any]:
            if stage == BIPRIME_FIRST:
                return [v * 4 for v in values]  # stays below N^... checked in range by _pack
            return values

        return {"tamper": lie}

    run = await _run(3, options=options, max_batches=1)
    assert set(run.errors) == {0, 1, 2}
    for i in (0, 2):
        assert isinstance(run.errors[i], CheatingDetected)
        assert run.errors[i].culprit == 1 or run.errors[i].claimed_culprit == 1


async def test_inconsistent_shares_to_different_parties_are_detected():
    def options(i: int) -> dict[str, Any]:
        if i != 1:
            return {}

        def split(stage: str, k: int, receiver: int | None, values: list[Any]) -> list[Any]:
            if stage == SIEVE_DEAL and receiver == 2:
                return [values[0] + 1, *values[1:]]
            return values

        return {"tamper": split}

    run = await _run(4, options=options, batch=6, max_batches=1)
    assert set(run.errors) == {0, 1, 2, 3}
    errors = [run.errors[i] for i in (0, 2, 3)]
    assert all(isinstance(e, CheatingDetected) for e in errors)
    # party 2 holds party 1's signed message and names it; the others cannot tell 1 from 2
    # unless they learn it from 2 (then as a claim)
    named = {e.culprit for e in errors} | {e.claimed_culprit for e in errors}
    assert 1 in named
    # only party 1 is ever named on checked evidence (the cheater itself may accuse party 2,
    # which honest parties record as an unproven claim)
    assert {e.culprit for e in errors} <= {1, None}


async def test_opening_a_seed_that_does_not_match_its_commitment_is_named():
    def options(i: int) -> dict[str, Any]:
        if i != 2:
            return {}

        def other_seed(stage: str, k: int, receiver: int | None, values: list[Any]) -> list[Any]:
            if stage == "audit-seed":
                return [bytes(32)]
            return values

        return {"tamper": other_seed}

    run = await _run(3, options=options, batch=6, max_batches=1)
    for i in (0, 1):
        assert isinstance(run.errors[i], CheatingDetected)
        assert run.errors[i].culprit == 2 or run.errors[i].claimed_culprit == 2


@pytest.mark.parametrize(
    ("multiplier", "tag"), [("shamir", "sieve-open/b"), ("additive", "modulus-share/b")]
)
async def test_equivocating_a_broadcast_is_named_by_the_engine(multiplier, tag):
    def hook(header, payload, destination):
        if header.sender == 0 and header.tag == tag and destination == 2:
            return type(payload)(tuple((v + 1) % 2**64 for v in payload.values), payload.width)
        return payload

    run = await _run(
        3,
        batch=6,
        max_batches=1,
        multiplier=multiplier,
        party_options=lambda i: {"payload_hook": hook} if i == 0 else {},
    )
    assert set(run.errors) == {0, 1, 2}
    for i in (1, 2):
        err = run.errors[i]
        assert isinstance(err, Equivocation) or err.culprit == 0 or err.claimed_culprit == 0


class _Silent(PhaseMachine):
    """Joins the session and then never says anything (a party that goes silent)."""

    phase = "dkg"
    import enum as _enum

    State = _enum.Enum("State", "START WAIT DONE ABORTED")
    TRANSITIONS: ClassVar[dict[Any, Any]] = {
        (State.START, Started): (State.WAIT, "on_started"),
        (State.WAIT, Received): (State.DONE, "on_never"),
    }

    def on_started(self, event: Started) -> list[Any]:
        return [Gather(tag="never", senders=self.peers)]

    def on_never(self, event: Received) -> list[Any]:
        return [Done(result=None)]


class _SilentRun:
    name = "dkg"

    def __init__(self, party: int, parties: tuple[int, ...]) -> None:
        self.party, self.parties = party, parties

    def phases(self):
        yield _Silent(self.party, self.parties)


@pytest.mark.parametrize("multiplier", ["shamir", "additive"])
async def test_a_silent_party_is_named_at_the_deadline(autojump_clock, multiplier):
    ids = [0, 1, 2]
    params = _params(3, multiplier=multiplier)
    session = secrets.token_bytes(16)
    runs = [
        _SilentRun(i, tuple(ids)) if i == 1 else DkgRun(i, tuple(ids), params, session=session)
        for i in ids
    ]
    deadlines = Deadlines(
        phase=30, heartbeat_interval=1, heartbeat_timeout=10, finish=5, abort_send=2
    )
    with trio.fail_after(120):
        run = await run_parties(
            local_configs(ids, deadlines=deadlines), MemoryNetwork(ids).transports(), runs
        )
    for i in (0, 2):
        err = run.errors[i]
        assert isinstance(err, ProtocolAborted)
        assert err.culprit == 1 or err.claimed_culprit == 1 or isinstance(err, DeadlineExceeded)


@pytest.mark.parametrize("multiplier", ["shamir", pytest.param("additive", marks=pytest.mark.long)])
def test_the_dkg_scenario_simulates_to_a_key(monkeypatch, multiplier):
    """The shipped scenario (additive, the default: minutes under load, so ``long``), and the
    same scenario on the Shamir path in the default run."""
    import functools
    from pathlib import Path

    from coopetition.sims import workloads

    monkeypatch.setattr(workloads, "DkgParams", functools.partial(DkgParams, multiplier=multiplier))

    from coopetition.sims import scenario as sc
    from coopetition.sims.execute import simulate_scenario, unmet_expectations

    path = Path(__file__).resolve().parent.parent / "sims" / "scenarios" / "dkg-keygen.toml"
    scenario = sc.load(path)
    result = simulate_scenario(scenario)
    assert not unmet_expectations(scenario, result), result.as_dict()
    keys = {r.threshold_public for r in result.results.values()}
    assert len(keys) == 1
