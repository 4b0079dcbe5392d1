"""The dishonest-majority DKG (``multiplier = "additive"``, the default) over the engine.

512-bit keys, INSECURE (``insecure_allow_small``), so a whole run takes seconds; the protocol is
the one that runs at 2048 bits (``coopetition bench dkg``).
"""

from __future__ import annotations

import itertools
import secrets
from typing import Any

import gmpy2
import pytest
from test_dkg import FAST, _integers

from coopetition.engine.errors import (
    CheatingDetected,
    ProtocolAborted,
    ProtocolViolation,
)
from coopetition.engine.local import local_configs, run_parties
from coopetition.protocols.paillier.dkg import DkgParams, DkgRun
from coopetition.protocols.paillier.dkg.replay import BIPRIME_FIRST
from coopetition.protocols.paillier.threshold import threshold_decrypt
from coopetition.protocols.zk.transcript import ProofContext
from coopetition.transports.memory import MemoryNetwork

BITS = 512  # INSECURE test size


def _params(m: int, batch: int) -> DkgParams:
    params = DkgParams(BITS, m, batch=batch, insecure_allow_small=True, biprimality_rounds=32)
    assert params.multiplier == "additive"  # the default
    return params


async def _run(
    m: int,
    *,
    batch: int = 48,
    audit_fraction: float = 1.0,
    max_batches: int = 10_000,
    options=None,
    **kw: Any,
):
    ids = list(range(m))
    session = secrets.token_bytes(16)
    runs = [
        DkgRun(
            i,
            tuple(ids),
            _params(m, batch),
            session=session,
            audit_fraction=audit_fraction,
            max_batches=max_batches,
            **(options(i) if options else {}),
        )
        for i in ids
    ]
    return await run_parties(
        local_configs(ids, deadlines=FAST), MemoryNetwork(ids).transports(), runs, **kw
    )


def _tamper(cheater: int, stage: str, change, receiver: int | None = None):
    def options(i: int) -> dict[str, Any]:
        if i != cheater:
            return {}

        def tamper(kind: str, k: int, to: int | None, values: list[Any]) -> list[Any]:
            if kind == stage and (receiver is None or to == receiver):
                return change(values)
            return values

        return {"tamper": tamper}

    return options


@pytest.mark.parametrize("m", [3, pytest.param(4, marks=pytest.mark.long)])
async def test_key_decrypts_and_no_coalition_of_m_minus_1_learns_a_factor(m):
    """Everything any m-1 parties received over the whole run and held at the end of every
    batch (all candidates; the accepted batch's state), pooled with their additive shares of
    p, q, phi and d: no integer shares a factor with N or is a multiple of lambda(N)."""
    seen: dict[int, list[Any]] = {i: [] for i in range(m)}
    states: dict[int, Any] = {}

    def options(i: int) -> dict[str, Any]:
        def observe(kind: str, value: Any) -> None:
            if kind == "received":
                seen[i].append(value)
            else:
                seen[i].append((value.additive, value.seeds, value.sent))
                states[i] = value

        return {"observe": observe}

    run = await _run(m, batch=32, audit_fraction=0.125, options=options)
    assert run.completed, run.errors
    shares = [run.results[i].key_share for i in range(m)]
    public = shares[0].threshold_public.public
    plain = [0, 1, -1, 2**100, -(2**200)]
    context = ProofContext(b"net-test", "decrypt", 0, 0)
    assert threshold_decrypt(shares, [public.encrypt(x) for x in plain], context) == plain
    n = public.n
    accepted = [
        next(
            c
            for k, c in enumerate(states[i].additive)
            if states[i].moduli.get(k) == n and c.decryption_exponent is not None
        )
        for i in range(m)
    ]
    p = sum(c.prime_share["p"] for c in accepted)
    q = sum(c.prime_share["q"] for c in accepted)
    assert p * q == n and gmpy2.is_prime(p) and gmpy2.is_prime(q)  # independent check
    lam = int(gmpy2.lcm(p - 1, q - 1))
    per_party = []
    for i in range(m):
        ints: list[int] = []
        _integers(seen[i], ints, set())
        per_party.append(set(ints))
    checked = 0
    for coalition in itertools.combinations(range(m), m - 1):
        members = [accepted[j] for j in coalition]
        union = set().union(*(per_party[j] for j in coalition))
        union.update(
            [
                sum(c.prime_share["p"] for c in members),
                sum(c.prime_share["q"] for c in members),
                sum(c.key_inputs["phi"] for c in members),
                sum(c.decryption_exponent for c in members),
            ]
        )
        for x in union:
            if x in (0, 1, -1):
                continue
            assert gmpy2.gcd(x, n) in (1, n), f"coalition {coalition} holds a factor of N"
            assert x % lam != 0, f"coalition {coalition} holds a multiple of lambda(N)"
            checked += 1
    assert checked > 1000


async def test_a_party_lying_in_the_biprimality_test_is_named():
    run = await _run(
        3, max_batches=1, options=_tamper(1, BIPRIME_FIRST, lambda v: [x * 4 for x in v])
    )
    assert set(run.errors) == {0, 1, 2}
    for i in (0, 2):
        assert isinstance(run.errors[i], CheatingDetected)
        assert run.errors[i].culprit == 1 or run.errors[i].claimed_culprit == 1


async def test_an_inconsistent_ole_message_is_named_by_its_receiver():
    """Party 1 sends party 2 a sieve request that is a valid ciphertext of another value.
    Party 2 holds 1's signed message and names 1; party 0 sees only 2's digest and cannot
    tell which of 1 and 2 lies (abort without culprit, or 2's claim)."""
    run = await _run(
        3,
        batch=6,
        max_batches=1,
        options=_tamper(1, "sieve-request/2", lambda v: [v[0] + 1, *v[1:]], receiver=2),
    )
    assert set(run.errors) == {0, 1, 2}
    assert isinstance(run.errors[2], CheatingDetected) and run.errors[2].culprit == 1
    assert isinstance(run.errors[0], ProtocolAborted)
    assert run.errors[0].culprit in (1, None)


async def test_an_inconsistent_share_of_n_is_named_by_everyone():
    run = await _run(
        4, batch=6, max_batches=1, options=_tamper(3, "modulus-share", lambda v: [v[0] + 4])
    )
    for i in (0, 1, 2):
        err = run.errors[i]
        assert isinstance(err, CheatingDetected)
        assert err.culprit == 3 or err.claimed_culprit == 3


async def test_a_reply_that_is_no_ciphertext_is_a_protocol_violation():
    run = await _run(
        3,
        batch=6,
        max_batches=1,
        options=_tamper(2, "modulus-reply", lambda v: [0], receiver=0),
    )
    err = run.errors[0]
    assert isinstance(err, ProtocolViolation) and err.culprit == 2


async def test_opening_a_seed_that_does_not_match_its_commitment_is_named():
    run = await _run(
        3, batch=6, max_batches=1, options=_tamper(2, "audit-seed", lambda v: [bytes(32)])
    )
    for i in (0, 1):
        assert isinstance(run.errors[i], CheatingDetected)
        assert run.errors[i].culprit == 2 or run.errors[i].claimed_culprit == 2


async def test_a_key_stage_request_outside_its_range_proof_is_named():
    """The key stage is never audited, so its two encrypted inputs carry tight range proofs:
    a party that sends Enc(beta) where Enc(phi) belongs (beta is far outside phi's interval,
    the out-of-range input that would reveal a responder's secret) is named by every verifier."""
    run = await _run(3, batch=32, options=_tamper(2, "key-request", lambda v: [v[1], v[0]]))
    for i in (0, 1):
        err = run.errors[i]
        assert isinstance(err, CheatingDetected)
        assert err.culprit == 2 or err.claimed_culprit == 2
