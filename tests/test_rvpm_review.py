"""Review of beda982 (paillier-masks): Helen's statistical masks r'' from the threshold-Paillier
offline phase instead of MASCOT's bits. One test (or parametrisation) per cheating strategy
that matters for the change, plus the consistency of the two preparation paths.

INSECURE parameters for speed: the 1280-bit test key of ``spdz.testing`` (512-bit N~).
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_paillier_masks import EDGES, SHIFT, K, stores_with_paillier_masks
from test_spdz_range_gadgets import OutOfRange

from coopetition.engine.errors import CheatingDetected
from coopetition.protocols.admm.objective import Objective
from coopetition.protocols.helen import budget, local_prep, local_run
from coopetition.protocols.helen import coordinate_phase as coord
from coopetition.protocols.helen import preprocess_phase as pre
from coopetition.protocols.helen.config import HelenConfig
from coopetition.protocols.spdz import field as F
from coopetition.protocols.spdz.conversion import PaillierParty
from coopetition.protocols.spdz.errors import MacCheckFailed
from coopetition.protocols.spdz.harness import run_local
from coopetition.protocols.spdz.offline import OfflineParty
from coopetition.protocols.spdz.online import DEFAULT_KAPPA, MASK_HEADROOM_BITS, SpdzParty
from coopetition.protocols.spdz.ranges import RANGE_PROOF
from coopetition.protocols.spdz.shares import Share
from coopetition.protocols.spdz.testing import dealer, paillier_parties

WIDTH = K + DEFAULT_KAPPA - SHIFT  # the r'' width those operations draw
#: a small plan shaped like Helen's: dual masks of the way back and two statistical widths
#: (kappa + 1 for the LTZ of the soft threshold, a wide TruncPr/floor width)
SMALL = pre.PreprocessingPlan(triples=0, bits=0, bounded=((41, 2), (87, 2)), dual=(83, 2))


# -- a cheater's contribution outside [0, 2^w) in the statistical-mask batch ---------------------


class StatOutOfRange(OutOfRange):
    """Honest everywhere except in the batch of ``phase`` (a statistical width): there it
    replaces its first contribution by ``value`` and proves it anyway (the range prover's
    unchecked path, best forged squares: ``test_spdz_range_gadgets.OutOfRange``)."""

    phase = ""
    value = 0

    def prove_bounded(self, groups, phase, rnd):
        if phase == self.phase:
            groups = [(k, [self.value, *vals[1:]], high) for k, vals, high in groups]
        return super().prove_bounded(groups, phase, rnd)


def stat_cheater(bits: int, value: int) -> type[PaillierParty]:
    return type(
        f"StatOutOfRange_{bits}", (StatOutOfRange,), {"phase": f"bounded-{bits}", "value": value}
    )


#: just past the top (v = 2^w), and below the bottom (v = -1, i.e. N - 1 modulo N)
VALUES = {"one-past-2^w": lambda w: 1 << w, "minus-one": lambda w: -1}


@pytest.mark.parametrize("how", sorted(VALUES))
def test_statistical_mask_contribution_outside_its_range_is_named_per_party_path(how):
    """The per-party path (``paillier_offline_program``, as ``helen-offline`` runs it): party 2
    cheats only in the 87-bit statistical batch, after the dual masks and the 41-bit batch were
    made honestly; every honest party aborts naming it."""
    m, width = 3, 87
    ps = paillier_parties(m, b"rv-stat-range-" + how.encode(), cheat={2: stat_cheater(width, 0)})
    ps[2].value = VALUES[how](width)
    tags: list[str] = []

    def record(sender, receiver, tag, payload):
        tags.append(tag.split("/")[0])
        return payload

    with pytest.raises(CheatingDetected) as err:
        run_local([pre.paillier_offline_program(p, SMALL) for p in ps], tamper=record)
    assert err.value.culprit == 2, err.value
    # the statistical batch was reached: the dual masks and the 41-bit masks went through
    assert {"spdz-bounded-83-auth", "spdz-bounded-41-auth", "spdz-bounded-87"} <= set(tags)
    assert "spdz-bounded-87-auth" not in tags  # nothing authenticated after the bad proof


def test_statistical_mask_contribution_past_2w_is_named_in_process_path():
    """The in-process path (``local_prep.make_preprocessing``): the same cheat in the 41-bit
    statistical masks (LTZ's kappa + 1) stops the preparation before MASCOT, naming party 1."""
    ps = paillier_parties(2, b"rv-stat-range-local", cheat={1: stat_cheater(41, 1 << 41)})
    plan = local_prep.Plan(
        dual_masks=(83, 2), triples=0, bits=0, bounded=((41, 2),), preprocessing="mascot"
    )
    with pytest.raises(CheatingDetected) as err:
        local_prep.make_preprocessing(ps, plan, b"rv-stat-range-local/mascot", workers=1)
    assert err.value.culprit == 1
    assert "mascot setup" not in plan.stages  # aborted in the offline phase, before MASCOT


# -- a contribution correlated with an honest one (copy of its ciphertext and proofs) -----------


def test_copied_contribution_in_the_statistical_batch_is_named():
    """R = 2 v_0 + v_1 would leak v_0's parity into every opened c (hiding lost). Party 2
    replays party 0's ciphertexts and per-verifier range proofs (party 0's proof for verifier 1
    is valid under verifier 1's N~); the prover id in the proof context makes verifier 1 reject
    it, naming party 2."""
    m, width = 3, 87
    ps = paillier_parties(m, b"rv-stat-copy")
    seen: dict[str, dict] = {}
    tag_prefix = f"spdz-bounded-{width}/"

    def tamper(sender, receiver, tag, payload):
        if not tag.startswith(tag_prefix):
            return payload
        if sender == 0:
            seen[tag] = payload
        if sender == 2 and tag in seen:  # receiver 1 (after party 0's payload was routed)
            return {"v": list(seen[tag]["v"]), RANGE_PROOF: list(seen[tag][RANGE_PROOF])}
        return payload

    with pytest.raises(CheatingDetected) as err:
        run_local([pre.paillier_offline_program(p, SMALL) for p in ps], tamper=tamper)
    assert err.value.culprit == 2
    assert seen, "the copy was attempted"


# -- in-range extremes: exactness and no wrap with the largest and smallest R ------------------


class Extreme(OfflineParty):
    """In range but extreme: every mask contribution 2^w - 1 (``top``) or 0."""

    top = True

    def _sample(self, bits):
        return (1 << bits) - 1 if self.top else 0


def _stores(m, session, cheat):
    return stores_with_paillier_masks(m, session, cheat)[0]


def _floor_trunc(store, session, check=True):
    p = SpdzParty(store, session=session)
    x = yield from p.input(0, len(EDGES), F.vec(EDGES) if p.party == 0 else None)
    fl = yield from p.floor_pow2(x, K, SHIFT)
    tr = yield from p.trunc_pr(x, K, SHIFT)
    both = Share.concat([fl, tr])
    # output() MAC-checks every opening first; open() alone does not (the control below)
    return (yield from (p.output(both) if check else p.open(both)))


@pytest.mark.parametrize("top", [True, False], ids=["all-max", "all-zero"])
def test_extreme_in_range_contributions_keep_floor_and_truncation_exact(top):
    """Two of three parties push every contribution to 2^w - 1 (R near its largest, (m-1) 2^w
    + v_h) or to 0: the opened c stays below P and floor / TruncPr stay exact at the edges."""
    m = 3
    cls = type("ExtremeT" if top else "ExtremeZ", (Extreme,), {"top": top})
    session = b"rv-extreme-" + (b"max" if top else b"zero")
    stores = _stores(m, session, {1: cls, 2: cls})
    # the cheat happened: every R = Dec(Enc(R)) is at least 2 (2^w - 1) (or below 2^w)
    sk = dealer(m).dealer_private_key
    slot = next(s for s in stores[0]._slots if s.batch.kind == "bounded")
    rs = [sk.decrypt(c) for c in slot.batch.ciphertexts]
    if top:
        assert all(2 * ((1 << WIDTH) - 1) <= r < m << WIDTH for r in rs)
        # the worst opened c the argument bounds: below 2^(K + kappa + 8) <= 2^255 < P
        worst = (1 << K) + (max(rs) << SHIFT) + (1 << SHIFT)
        assert worst < 1 << (K + DEFAULT_KAPPA + MASK_HEADROOM_BITS) < F.P
    else:
        assert all(0 <= r < 1 << WIDTH for r in rs)
    for result in run_local([_floor_trunc(s, session) for s in stores]):
        values = [int(v) for v in F.signed(result)]
        floors, truncs = values[: len(EDGES)], values[len(EDGES) :]
        assert floors == [x >> SHIFT for x in EDGES]
        assert all(t - (x >> SHIFT) in (0, 1) for t, x in zip(truncs, EDGES, strict=True))


# -- a tampered share of a Paillier-made statistical mask ----------------------------------------


@pytest.mark.parametrize("shift", ["one", "inverse-2^m"])
def test_tampered_share_of_a_paillier_mask_fails_the_mac_check(shift):
    """Party 1 adds e to its share of every r'' (not to the MAC share). e = 1 moves only c's
    high part (2^m e), so the results stay right but the opening is forged; e = 2^-m mod P moves
    c by exactly 1, which corrupts c mod 2^m and with it the floor. Either way the MAC check
    of the openings aborts (anonymously) before anything is returned."""
    m = 2
    session = b"rv-tamper-" + shift.encode()
    stores = _stores(m, session, {})
    e = 1 if shift == "one" else F.inv(1 << SHIFT)
    slot = next(s for s in stores[1]._slots if s.batch.kind == "bounded")
    (share,) = slot.batch.parts
    slot.batch.parts = (Share(F.add(share.value, F.vec([e] * len(share))), share.mac),)
    with pytest.raises(MacCheckFailed):
        run_local([_floor_trunc(s, session) for s in stores])


def test_tampered_share_with_inverse_shift_really_corrupts_the_unchecked_floor():
    """Control for the test above: without the MAC check the 2^-m shift does change floors,
    so the MAC check is what protects exactness against a forged mask share."""
    m = 2
    session = b"rv-tamper-control"
    stores = _stores(m, session, {})
    slot = next(s for s in stores[1]._slots if s.batch.kind == "bounded")
    (share,) = slot.batch.parts
    e = F.inv(1 << SHIFT)
    slot.batch.parts = (Share(F.add(share.value, F.vec([e] * len(share))), share.mac),)
    result = run_local([_floor_trunc(s, session, check=False) for s in stores])[0]
    floors = [int(v) for v in F.signed(result)][: len(EDGES)]
    assert floors != [x >> SHIFT for x in EDGES]


# -- widths: statistical masks and the way back's masks never share a width --------------------

objectives = st.sampled_from(
    [Objective("lasso", lam=1.0), Objective("lasso", lam=2000.0), Objective("ridge", lam=1.0)]
)


@settings(max_examples=60, deadline=None)
@given(
    objectives,
    st.integers(2, 12),
    st.integers(1, 120),
    st.sampled_from([10, 1000, 100_000, 10**7]),
    st.integers(1, 5),
)
def test_way_back_width_never_collides_with_a_statistical_width_and_paths_agree(
    objective, m, d, rows, iterations
):
    """Both kinds now carry ciphertexts, so ``dual=True`` no longer tells them apart in the
    store; only the width does. For any shape the way back's width is not a statistical one,
    both paths plan the same masks, and the offline budget counts every mask."""
    config = HelenConfig(objective=objective, iterations=iterations)
    rows = max(rows, d)
    scales = config.scales(d, rows, m)
    work = pre.plan(config, scales)
    local = local_run.preprocessing_plan(config, m, d, rows)
    back = coord.back_bits(scales, objective) + DEFAULT_KAPPA
    assert work.dual[0] == back == local.dual_masks[0]
    assert back not in {b for b, _ in work.bounded}
    assert dict(work.bounded) == {b: c for b, c in local.paillier_masks if c}
    assert work.dual == local.dual_masks
    masks = work.dual[1] + sum(c for _, c in work.bounded)
    assert budget._paillier_masks(work) == masks
    # every width keeps the SPDZ headroom the no-wrap argument needs
    assert all(b + MASK_HEADROOM_BITS < F.P_BITS for b, _ in (*work.bounded, work.dual))


# -- the two preparation paths make the same items ---------------------------------------------


def _inventory(store):
    out: dict[tuple[str, int, bool], int] = {}
    for s in store._slots:
        key = (s.batch.kind, s.batch.bits, s.batch.ciphertexts is not None)
        out[key] = out.get(key, 0) + len(s.batch)
    return out


def test_both_preparation_paths_make_the_same_masks():
    """Per-party program (``paillier_offline_program``) and in-process preparation
    (``make_preprocessing``, MASCOT with no triples or bits) give the same masks: same widths,
    counts, every one with its ciphertext, and the ciphertexts decrypt to the shared values."""
    m = 2
    bus = run_local(
        [pre.paillier_offline_program(p, SMALL) for p in paillier_parties(m, b"rv-paths-bus")]
    )
    plan = local_prep.Plan(
        dual_masks=SMALL.dual, triples=0, bits=0, bounded=SMALL.bounded, preprocessing="mascot"
    )
    _, local = local_prep.make_preprocessing(
        paillier_parties(m, b"rv-paths-local"), plan, b"rv-paths-local/mascot", workers=1
    )
    expected = {("bounded", b, True): c for b, c in (SMALL.dual, *SMALL.bounded)}
    for stores in (bus, local):
        assert all(_inventory(s) == expected for s in stores)
        sk = dealer(m).dealer_private_key
        for bits, count in SMALL.bounded:
            drawn = [s.take("bounded", count, bits=bits) for s in stores]
            values = sum(d.parts[0].value for d in drawn) % F.P
            assert [sk.decrypt(c) for c in drawn[0].ciphertexts] == [int(v) for v in values]
            assert all(0 <= int(v) < m << bits for v in values)


# -- the run record's provenance ----------------------------------------------------------------


def test_in_process_provenance_says_where_the_masks_come_from(monkeypatch):
    config = HelenConfig(objective=Objective("ridge", lam=1.0), iterations=1)

    def fake(paillier, plan, session, **kw):
        assert plan.paillier_masks == plan.bounded  # the masks really go to the offline phase
        return paillier, []

    monkeypatch.setattr(local_prep, "make_preprocessing", fake)
    monkeypatch.setattr(local_run, "dealer_key", lambda m, cfg, w=1: dealer(m))
    _, _, provenance = local_run.prepare_parties(config, 2, 2, 30, b"rv-prov", workers=1)
    text = provenance["preprocessing"]
    mascot_part, _, paillier_part = text.partition("threshold-Paillier")
    assert "masks" not in mascot_part.replace("dual masks", "")
    assert "masks" in paillier_part.replace("dual masks", "")
