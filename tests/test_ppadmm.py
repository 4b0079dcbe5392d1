"""PPADMM: exactness against an independent fixed-point ADMM loop, the servers' views, bad input."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nacl.public import PrivateKey

from coopetition.engine.errors import ConfigError, ProtocolViolation
from coopetition.protocols.admm import AdmmConfig, Objective
from coopetition.protocols.admm.local_run import train_locally
from coopetition.protocols.fixedpoint import encode
from coopetition.protocols.ppadmm import KeyMismatch, PpadmmConfig, PpadmmRun
from coopetition.protocols.ppadmm import masking as M
from coopetition.protocols.ppadmm.local_run import train_ppadmm

RHO, LAM, ITERATIONS = 5.0, 2.0, 12


def _data(
    m: int = 3, n: int = 30, d: int = 4, seed: int = 7
) -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(seed)
    true = rng.normal(size=d) * 3
    out = []
    for _ in range(m):
        X = rng.normal(size=(n, d))
        out.append((X, X @ true + rng.normal(size=n)))
    return out


def _config(**kw: object) -> PpadmmConfig:
    admm = AdmmConfig(Objective("lasso", lam=LAM), rho=RHO, iterations=ITERATIONS)
    return PpadmmConfig(admm, **kw)  # type: ignore[arg-type]


def _numpy_fixed_point_lasso(
    parts: list[tuple[np.ndarray, np.ndarray]], frac_bits: int
) -> tuple[np.ndarray, list[list[int]]]:
    """Textbook consensus ADMM-LASSO (Boyd et al. 2011, section 8.2) written out in numpy.

    The only change: the sum of the contributions w_i + u_i is taken over their encodings
    round(x * 2^f) as Python integers, as a secure sum in a ring has to. Returns the model and
    the integer encodings of every contribution of every round.
    """
    m, d = len(parts), parts[0][0].shape[1]
    inverses = [np.linalg.inv(X.T @ X + RHO * np.eye(d)) for X, _ in parts]
    xty = [X.T @ y for X, y in parts]
    z, us, seen = np.zeros(d), [np.zeros(d) for _ in parts], []
    for _ in range(ITERATIONS):
        ws = [A @ (b + RHO * (z - u)) for A, b, u in zip(inverses, xty, us, strict=True)]
        ints = [
            [int(v) for v in np.rint((u + w) * 2.0**frac_bits)] for w, u in zip(ws, us, strict=True)
        ]
        seen.append(ints)
        sums = [sum(col) for col in zip(*ints, strict=True)]
        v = np.array([s / 2**frac_bits for s in sums]) / m
        kappa = LAM / (RHO * m)
        z = np.sign(v) * np.maximum(np.abs(v) - kappa, 0.0) * (RHO * m / (RHO * m + 0.0))
        us = [u + w - z for u, w in zip(us, ws, strict=True)]
    return z, seen


@pytest.mark.parametrize("precompute", [False, True])
async def test_released_model_is_fixed_point_admm_bit_for_bit(precompute: bool) -> None:
    parts = _data()
    config = _config(precompute_masks=precompute)
    run = await train_ppadmm(parts, config)
    assert run.completed, run.errors
    expected, _ = _numpy_fixed_point_lasso(parts, config.frac_bits)
    for pid, result in run.results.items():
        assert np.array_equal(result.model, expected), pid  # every party, every bit
        assert list(encode(result.model, config.frac_bits)) == list(
            encode(expected, config.frac_bits)
        )
    # and the quantisation costs nothing visible against float64 plaintext ADMM
    plain = await train_locally(parts, config.admm)
    assert np.max(np.abs(run.results[0].model - plain.results[0].model)) < 1e-8


async def test_s1_alone_sees_only_masked_values_and_the_sum_s1_with_s2_learns_everything() -> None:
    parts = _data(m=3, seed=11)
    config = _config()
    m = len(parts)
    s1, s2 = m, m + 1
    s2_key = PrivateKey.generate()
    to_s1: list[tuple[int, str, int, str, object]] = []

    def tap(pid: int):  # records every payload addressed to S1, changes nothing
        def hook(header, payload, destination):  # type: ignore[no-untyped-def]
            if destination == s1 and pid != s1:
                to_s1.append((pid, header.phase, header.round, header.tag, payload))
            return payload

        return {"payload_hook": hook}

    session = b"threat-model-test"
    run = await train_ppadmm(
        parts, config, session=session, auxiliary_key=s2_key, party_options=tap
    )
    assert run.completed, run.errors
    _, contributions = _numpy_fixed_point_lasso(parts, config.frac_bits)

    # 1. S1's view: setup parameters with public keys, echo digests, the masked uploads of each
    # participant, S2's mask sum, and z and model digests that S1 itself broadcast. Nothing else.
    protocol_tags = {(ph, tag) for _, ph, _, tag, _ in to_s1 if not tag.endswith("#echo")}
    assert protocol_tags == {
        ("setup", "parameters"),
        ("keys", "confirmed"),
        ("aggregate", "masked"),
        ("aggregate", "mask_sum"),
        ("release", "model_digest"),
    }
    uploads = {(p, r): M.unpack(v, 4, p, "x") for p, ph, r, t, v in to_s1 if t == "masked"}
    sums = {r: M.unpack(v, 4, p, "x") for p, ph, r, t, v in to_s1 if t == "mask_sum"}
    assert len(uploads) == m * ITERATIONS and len(sums) == ITERATIONS
    assert {p for p, _ in uploads} == set(range(m)) and all(
        p == s2 for p, *_ in to_s1 if _[2] == "mask_sum"
    )
    # No upload is its contribution's encoding; the upload words are spread over the whole ring
    # (a one-time pad: each of the 128 bits is set about half of the time, whatever the data).
    words = [w for (p, r), up in uploads.items() for w in up]
    for (p, r), up in uploads.items():
        assert [w % M.RING for w in contributions[r][p]] != up
    for bit in (0, 63, 126, 127):
        ones = sum((w >> bit) & 1 for w in words) / len(words)
        assert 0.3 < ones < 0.7
    # What S1 can compute alone: the exact sum of the encodings, per round, and nothing finer.
    for r in range(ITERATIONS):
        total = M.unmask_sum([uploads[(p, r)] for p in range(m)], sums[r])
        exact = [sum(col) % M.RING for col in zip(*contributions[r], strict=True)]
        assert total == exact
    # 2. S1 colluding with S2 (S2's X25519 secret and the public keys S1 saw in setup): every
    # participant's contribution of every round, exactly.
    announced = {p: v["x25519"] for p, ph, r, t, v in to_s1 if t == "parameters"}
    for p in range(m):
        key = M.agree_key(
            bytes(s2_key),
            announced[p],
            session=session,
            participant=p,
            participant_public=announced[p],
            auxiliary_public=bytes(s2_key.public_key),
        )
        for r in range(ITERATIONS):
            recovered = [
                (w - k) % M.RING for w, k in zip(uploads[(p, r)], M.mask(key, r, 4), strict=True)
            ]
            assert recovered == [c % M.RING for c in contributions[r][p]]


async def test_participant_with_a_stale_s2_key_is_named_before_training() -> None:
    parts = _data()
    phases_started: set[str] = set()

    def observe(pid: int):  # type: ignore[no-untyped-def]
        return {"observer": lambda party, phase, rnd, event: phases_started.add(phase)}

    stale = bytes(PrivateKey.generate().public_key)
    run = await train_ppadmm(parts, _config(), pinned_auxiliary={1: stale}, party_options=observe)
    assert not run.completed
    error = run.errors[len(parts) + 1]  # S2 detected it
    assert isinstance(error, KeyMismatch) and error.culprit == 1 and error.phase == "keys"
    # the others hear S2's accusation (a point-to-point confirmation is no evidence they can check)
    assert all(isinstance(e, KeyMismatch) for e in run.errors.values())
    assert all(e.claimed_culprit == 1 for p, e in run.errors.items() if p != len(parts) + 1)
    assert "aggregate" not in phases_started and "local_optimize" not in phases_started


def test_missing_or_merged_server_roles_are_config_errors() -> None:
    X, y = _data(m=1)[0]
    for primary, auxiliary, parties in [
        (None, 4, (0, 1, 2, 4)),
        (3, None, (0, 1, 2, 3)),
        (3, 3, (0, 1, 2, 3)),
        (3, 9, (0, 1, 2, 3)),
    ]:
        with pytest.raises(ConfigError, match=r"S1|S2"):
            PpadmmRun(
                _config(),
                party=0,
                parties=parties,
                primary=primary,
                auxiliary=auxiliary,
                session=b"s",
                X=X,
                y=y,
            )
    with pytest.raises(ConfigError, match="two participants"):
        PpadmmRun(
            _config(), party=0, parties=(0, 1, 2), primary=1, auxiliary=2, session=b"s", X=X, y=y
        )


def test_data_outside_the_fixed_point_range_is_refused_before_training() -> None:
    X, y = _data(m=1)[0]
    with pytest.raises(ConfigError, match="fixed-point range"):
        PpadmmRun(
            _config(),
            party=0,
            parties=(0, 1, 2, 3),
            primary=2,
            auxiliary=3,
            session=b"s",
            X=X,
            y=y * 1e13,
        )
    with pytest.raises(ConfigError, match="ring"):
        wide = AdmmConfig(Objective("lasso", lam=LAM), rho=RHO, contribution_bound=1e30)
        PpadmmRun(
            PpadmmConfig(wide, frac_bits=40),
            party=0,
            parties=(0, 1, 2, 3),
            primary=2,
            auxiliary=3,
            session=b"s",
            X=X,
            y=y,
        )


async def test_malformed_upload_is_blamed_on_its_participant() -> None:
    def options(pid: int):  # type: ignore[no-untyped-def]
        if pid != 1:
            return {}
        return {"payload_hook": lambda h, p, d: b"short" if h.tag == "masked" else p}

    run = await train_ppadmm(_data(), _config(), party_options=options)
    error = run.errors[3]  # S1
    assert isinstance(error, ProtocolViolation) and error.culprit == 1


async def test_malformed_model_from_s1_is_blamed_on_s1() -> None:
    def options(pid: int):  # type: ignore[no-untyped-def]
        if pid != 3:
            return {}
        return {"payload_hook": lambda h, p, d: np.zeros(2) if h.tag == "z" else p}

    run = await train_ppadmm(_data(), _config(), party_options=options)
    assert run.errors[0].culprit == 3


async def test_a_bound_the_data_cannot_meet_is_refused_before_any_message() -> None:
    parts = _data()
    config = PpadmmConfig(
        AdmmConfig(Objective("lasso", lam=LAM), rho=RHO, iterations=3, contribution_bound=1e-3),
        frac_bits=20,
    )
    with pytest.raises(ConfigError):  # the first local model already exceeds it: refused up front
        await train_ppadmm(parts, config)


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.lists(st.integers(-(2**80), 2**80), min_size=3, max_size=3), min_size=2, max_size=6
    ),
    st.integers(0, 10**6),
)
def test_masks_cancel_to_the_exact_sum(values: list[list[int]], iteration: int) -> None:
    keys = [hashlib.sha256(bytes([i])).digest() for i in range(len(values))]
    uploads = [M.masked(v, k, iteration) for v, k in zip(values, keys, strict=True)]
    total = M.unmask_sum(uploads, M.mask_sum(keys, iteration, 3))
    ring = M.FixedPointRing(0)
    assert list(ring.decode_sum(total)) == [float(sum(c)) for c in zip(*values, strict=True)]


async def test_runs_over_tcp_with_each_server_its_own_endpoint() -> None:
    """Participants, S1 and S2 as four TCP endpoints on loopback (authenticated, encrypted)."""
    from nacl.signing import SigningKey

    from coopetition.transports.tcp import PeerAddress, TcpTransport

    parts = _data(m=2, n=20, d=3)
    keys = {i: SigningKey.generate() for i in range(4)}
    transports = {
        i: TcpTransport(
            i,
            keys[i],
            ("127.0.0.1", 0),
            {j: PeerAddress("127.0.0.1", 0, keys[j].verify_key) for j in range(4) if j != i},
        )
        for i in range(4)
    }
    addresses = {i: await t.listen() for i, t in transports.items()}
    for t in transports.values():
        for j in t.peers:
            t.set_peer_address(j, *addresses[j])
    config = _config()
    run = await train_ppadmm(parts, config, transports=[transports[i] for i in range(4)])
    assert run.completed, run.errors
    expected, _ = _numpy_fixed_point_lasso(parts, config.frac_bits)
    assert all(np.array_equal(r.model, expected) for r in run.results.values())
