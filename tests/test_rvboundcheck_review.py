"""Adversarial review of the window bound check (issue 15): zero test, widths, plan.

Items come from the INSECURE dealer (it knows the MAC key; tests only) and Paillier keys are
the INSECURE small test keys of ``spdz.testing``; kappa and the field are production ones.
"""

from __future__ import annotations

import hashlib
from typing import ClassVar

import numpy as np
import pytest

from coopetition.engine.program import Program
from coopetition.protocols.admm.objective import Objective
from coopetition.protocols.fixedpoint import HelenScales
from coopetition.protocols.helen import coordinate_phase as cp
from coopetition.protocols.spdz import field as F
from coopetition.protocols.spdz.errors import MacCheckFailed
from coopetition.protocols.spdz.harness import run_local
from coopetition.protocols.spdz.online import DEFAULT_KAPPA, SpdzParty, needs_zero_test
from coopetition.protocols.spdz.preprocessing import InsecureDealerPreprocessing
from coopetition.protocols.spdz.shares import Share
from coopetition.protocols.spdz.trunc_summed import carry_range, centre

# -- 1. a forged opening must not let the zero test's opened value depend on a guess ---------


class ProbingParty(SpdzParty):
    """Party 1 guesses t = sum rho_i x_i and shifts its share of e = t - a by -guess (value
    only: it cannot fix the MAC). Then v = (t - guess) b' is 0 iff the guess was right; it
    records v if v is ever opened."""

    guess_of: ClassVar[list[int]] = []
    seen_v: ClassVar[list[int]] = []

    def _joint_coin(self, label: str, domain: bytes, n: int) -> Program[np.ndarray]:
        rho = yield from super()._joint_coin(label, domain, n)
        if label == "zero-test":
            self._probe = int(np.sum(F.mul(F.vec(self.guess_of), rho[: len(self.guess_of)])) % F.P)
        return rho

    def open(self, x: Share, ids: tuple[tuple[bytes, int, int], ...] = ()) -> Program[np.ndarray]:
        probe = getattr(self, "_probe", None)
        if probe is not None and ids:  # e = t - a (it draws a triple)
            x = Share(F.vec([(int(x.value[0]) - probe) % F.P]), x.mac)
            self._probe = None
            self._armed = True
            return (yield from super().open(x, ids))
        out = yield from super().open(x, ids)
        if getattr(self, "_armed", False):  # v = c + e b'
            self.seen_v.append(int(out[0]))
            self._armed = False
        return out


def test_a_forged_e_cannot_turn_the_opened_zero_test_value_into_a_probe_of_t():
    """Review finding (low): before the fix, e was not MAC-checked before v = c + e b' was
    opened, so a cheater that shifts e by -guess saw v = (t - guess) b', i.e. 0 iff t = guess
    (here: iff x = (1, 0, 0)), before the MAC check aborted. crypto.md claims the opened value
    shows only the verdict; after the fix e is checked before v is opened."""
    values = [1, 0, 0]
    need = needs_zero_test()
    d = InsecureDealerPreprocessing(3)
    d.triples(need.triples)
    ProbingParty.guess_of, ProbingParty.seen_v = values, []
    ps = [
        (ProbingParty if i == 1 else SpdzParty)(s, session=b"rv-probe")
        for i, s in enumerate(d.stores)
    ]

    def prog(p: SpdzParty):  # type: ignore[no-untyped-def]
        return (yield from p.zero_test(p.public(F.vec(values))))

    with pytest.raises(MacCheckFailed):
        run_local([prog(p) for p in ps])
    assert ProbingParty.seen_v == [], "v was opened after a forged e: it is 0 iff t = guess"


def test_the_probe_would_work_if_e_were_unchecked():
    """The probe is real: with the guess right, (t - guess) b' = 0 whatever b' is. Computed in
    the clear from the same coin derivation the zero test uses (independent of its code)."""
    seeds = [bytes([i]) * 32 for i in range(3)]
    h = hashlib.sha3_256(b"coopetition/spdz/zero-test/v1" + b"s")
    for s in seeds:
        h.update(s)
    rho = int.from_bytes(hashlib.shake_256(h.digest()).digest(40)[:40], "big") % F.P
    t, guess, b = rho * 1 % F.P, rho, 123456789
    assert (t - guess) * b % F.P == 0 and (t - guess + 1) * b % F.P != 0


# -- 2. every width holds a cheater's values, across shapes and extreme settings -------------

SHAPES = {
    "demo": dict(features=6, rows=500, x_bound=4.0, y_bound=4.0, rho=1.0),
    "bench": dict(features=20, rows=100000, rho=1e4, x_bound=2.0**12, y_bound=2.0**12),
    "song": dict(features=90, rows=100000, rho=1e4, x_bound=2.0**12, y_bound=2.0**12),
}
OBJECTIVES = [Objective("least_squares"), Objective("lasso", lam=2000), Objective("ridge", lam=2)]


def _worst_case_violations(s: HelenScales, obj: Objective) -> list[str]:
    """Textbook interval arithmetic for one iteration, from |z|, |u_j| in [-W_e, W_e - 1]
    (what the window test lets through for any low masks)."""
    bad = []
    window, m = s.w_enforced, s.parties
    w_full = s.features * s.a_bound * (s.b_bound + s.rho_int * (2 * window - 1))
    bad += ["k_w"] * (w_full >= 1 << (s.k_w - 1))
    lo, hi = carry_range(m, s.w_shift)  # the w_j truncation's carry (spdz.trunc_summed)
    w_max = max(-((-w_full) // 2**s.w_shift) - lo, w_full // 2**s.w_shift + hi)
    bad += ["w_trunc_bound"] * (w_max > s.w_trunc_bound)
    total = m * (w_max + window)
    kappa = s.threshold_int(obj.lam1) if obj.lam1 > 0 else 0
    # soft_threshold's precondition: |total|, kappa < 2^(k_sum - 1) (its LTZs run at k_sum + 1)
    bad += ["k_sum"] * (total >= 1 << (s.k_sum - 1))
    bad += ["soft_threshold kappa"] * (kappa >= 1 << (s.k_sum - 1))
    prod = total * s.consensus_int(obj.lam2)
    bad += ["k_consensus"] * (prod >= 1 << (s.k_consensus - 1))
    z_max = prod // 2**s.coef_bits + 1
    bad += ["z_trunc_bound"] * (z_max > s.z_trunc_bound)
    k, b = cp.check_bits(s), cp.window_bits(s)
    shift = s.w_window  # the check's argument is x + W
    lo, hi = -window - w_max - z_max + shift, (window - 1) + w_max + z_max + shift
    bad += ["check_bits"] * (lo < -(1 << (k - 1)) or hi >= 1 << (k - 1) or not 0 < b < k)
    bad += ["back_bits"] * (window >= 1 << (cp.back_bits(s, obj) - 1))
    for name, width in [("k_w", s.k_w), ("k_sum", s.k_sum + 1), ("k_consensus", s.k_consensus)]:
        bad += [f"field:{name}"] * (width + DEFAULT_KAPPA + 8 >= F.P_BITS)
    bad += ["field:check"] * (k + 1 + DEFAULT_KAPPA + 8 >= F.P_BITS)  # trunc_pr_summed's room
    return bad


@pytest.mark.parametrize("shape", sorted(SHAPES))
@pytest.mark.parametrize("precision", [8, 16, 24, 40])
@pytest.mark.parametrize("w_bound", [2.0**-20, 1.0, 2.0**16 - 2.0**-30, 2.0**16, 2.0**60])
def test_every_width_holds_a_cheaters_values_from_inside_the_window(shape, precision, w_bound):
    """The induction of crypto.md ("Exactness and the widths") at the demo, bench and song
    shapes and at extreme w_bound / precision, for 2..16 parties; settings ``check`` refuses
    are skipped (no run can start there)."""
    checked = 0
    for parties in (2, 3, 16):
        s = HelenScales(parties=parties, w_bound=w_bound, precision=precision, **SHAPES[shape])
        try:
            s.check()
        except ValueError:
            continue
        for obj in OBJECTIVES:
            assert _worst_case_violations(s, obj) == [], (parties, obj)
            checked += 1
    if not checked:
        pytest.skip("no party count fits the budgets at this setting")


# -- 3. end to end through coordinate_program: the plan, honest edges, a cheater's edge --------

SMALL = HelenScales(
    features=2, rows=4, parties=2, rho=1.0, x_bound=1.0, y_bound=1.0, w_bound=16.0, precision=8
)


def coordinate(
    objective: Objective, w_full_plain: dict[int, list[int]], session: bytes, monkeypatch
) -> list[int]:  # type: ignore[no-untyped-def]
    """One coordination of SMALL's two parties on the given plaintext w_full, with exactly the
    planned items (asserting that all were drawn); returns z, u_0, u_1 in the clear. The way
    back needs the offline phase's ciphertext-carrying masks, which the insecure dealer cannot
    make, so only that last step is replaced by an opening (it draws nothing from the plan).

    Every low mask of the w_j truncation is dealt as the centre C exactly (a sum of in-range
    contributions can be), so its carry on the exact multiples these tests send is 0 and the
    edges below stay exact (``spdz.trunc_summed``: e = floor((x mod 2^s - C + R') / 2^s))."""
    from coopetition.protocols.spdz.testing import dealer, paillier_parties

    m, d = SMALL.parties, SMALL.features
    ps = paillier_parties(m, session)
    run_local([p.setup() for p in ps])
    need = cp.needs_per_iteration(SMALL, objective)
    gen = InsecureDealerPreprocessing(m, alpha_shares=[p.alpha_share for p in ps])
    gen.triples(need.triples).bits(need.bits)
    for bits, count in need.bounded:
        if bits == SMALL.w_shift:
            gen._deal("bounded", [F.vec([centre(m, bits)] * count)], bits=bits)
        else:
            gen.bounded(count, bits)
    pk = dealer(m).threshold_public.public
    w_full = {j: [pk.encrypt(v) for v in vs] for j, vs in w_full_plain.items()}

    def way_back(paillier, spdz, x, k):  # type: ignore[no-untyped-def]
        opened = yield from spdz.output(x)
        return type("Back", (), {"ciphertexts": [int(v) for v in F.signed(opened)]})()

    monkeypatch.setattr(cp, "shares_to_ciphertext", way_back)

    def prog(p, store):  # type: ignore[no-untyped-def]
        spdz = SpdzParty(store, session=session)
        u = {j: cp.zero_shares(spdz, d) for j in range(m)}
        out = yield from cp.coordinate_program(
            p, spdz, tuple(range(m)), w_full, u, SMALL, objective
        )
        return out.enc_z + [v for j in range(m) for v in out.enc_u[j]]

    try:
        return run_local([prog(p, s) for p, s in zip(ps, gen.stores, strict=True)])[0]
    finally:
        for s in gen.stores:
            assert s.available("triple") == 0 and s.available("bit") == 0
            for bits, _ in need.bounded:
                assert s.available("bounded", bits=bits) == 0


@pytest.mark.parametrize("objective", [Objective("lasso", lam=0.5), Objective("ridge", lam=0.5)])
def test_an_honest_coordination_passes_and_draws_exactly_its_plan(objective, monkeypatch):
    """needs_per_iteration (soft threshold included) is exactly what coordinate_program takes
    up to and including the bound check, and honest values at w_bound pass the window."""
    wi = SMALL.w_int_bound
    edge = wi << SMALL.w_shift  # w_j = w_int exactly (TruncPr of a multiple is exact)
    got = coordinate(objective, {0: [edge, -edge], 1: [edge, 0]}, b"rv-plan", monkeypatch)
    # against a float reference: z = S(w_0 + w_1) rho / (rho m + 2 lam2), u_j = w_j - z
    w = np.array([[wi, -wi], [wi, 0]], dtype=float)
    kappa = objective.lam1 / SMALL.rho_quantised * 2.0**SMALL.z_bits
    total = w.sum(axis=0)
    total = np.sign(total) * np.maximum(np.abs(total) - kappa, 0.0)
    z = total * SMALL.consensus_int(objective.lam2) / 2.0**SMALL.coef_bits
    ref = np.concatenate([z, w[0] - z, w[1] - z])
    assert np.max(np.abs(np.array(got, dtype=float) - ref)) <= 2
    assert max(abs(v) for v in got) <= wi


@pytest.mark.parametrize("passes", [True, False])
def test_a_cheaters_u_exactly_at_the_window_edge_end_to_end(passes, monkeypatch):
    """Party 1 sends w_1 = X, party 0 w_0 = -X (exact multiples of 2^w_shift, and low masks at
    the centre, so the truncation is exact and z = 0 exactly): u_1 = X, u_0 = -X. X = W - 1
    must pass and X = W_e must abort, whatever the window test's own low masks: the window's
    edges hold end to end, not only for public test values."""
    from coopetition.protocols.helen.coordinate_phase import WeightBoundViolated

    big = SMALL.w_window - 1 if passes else SMALL.w_enforced
    full = big << SMALL.w_shift
    assert full < 1 << (SMALL.k_w - 1)  # inside what Gadget 3 and TruncPr accept
    plain = {0: [-full, 0], 1: [full, 0]}
    if passes:
        got = coordinate(Objective("least_squares"), plain, b"rv-edge", monkeypatch)
        assert got == [0, 0, -big, 0, big, 0]
    else:
        with pytest.raises(WeightBoundViolated):
            coordinate(Objective("least_squares"), plain, b"rv-edge", monkeypatch)


# -- 4. pre-existing, fixed at integration: a lasso threshold k_sum cannot hold is refused --------


def test_a_lasso_threshold_too_wide_for_k_sum_is_refused_at_setup():
    from coopetition.engine.errors import ConfigError
    from coopetition.protocols.helen.config import HelenConfig

    config = HelenConfig(
        objective=Objective("lasso", lam=2000.0),
        rho=159.2,
        x_bound=0.0344,
        y_bound=78.15,
        w_bound=0.00248,
        precision=8,
    )
    s = HelenScales(
        features=2,
        rows=20,
        parties=2,
        rho=159.2,
        x_bound=0.0344,
        y_bound=78.15,
        w_bound=0.00248,
        precision=8,
    )
    s.check()  # the budgets fit ...
    assert s.threshold_int(config.objective.lam1) >= 1 << (s.k_sum - 1)  # ... the threshold not
    spdz = SpdzParty(InsecureDealerPreprocessing(2).stores[0])
    with pytest.raises(ValueError, match="soft threshold needs"):  # where a run would fail
        next(spdz.soft_threshold(spdz.public(F.vec([0])), s.threshold_int(2000.0), s.k_sum))
    with pytest.raises(ConfigError):
        config.scales(features=2, rows=20, parties=2)
