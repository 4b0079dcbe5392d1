"""Helen's statistical masks from the threshold-Paillier offline phase (docs/crypto.md,
"Statistical masks from the threshold-Paillier offline phase").

The r'' masks of the coordination's truncations and comparisons now come from range-proved
contributions (values in [0, m 2^w), not [0, 2^w)); the exact floor and TruncPr only read
c mod 2^m and r', so their results must not change. Checked here against integer arithmetic at
the edges of the argument range, with the masks made by ``OfflineParty`` and the bits and
triples dealt under the same MAC key (INSECURE small keys: ``spdz.testing``).
"""

from __future__ import annotations

from coopetition.protocols.admm.objective import Objective
from coopetition.protocols.helen import budget, local_prep
from coopetition.protocols.helen import preprocess_phase as pre
from coopetition.protocols.helen.config import HelenConfig
from coopetition.protocols.helen.local_run import preprocessing_plan
from coopetition.protocols.spdz import field as F
from coopetition.protocols.spdz.harness import run_local
from coopetition.protocols.spdz.online import DEFAULT_KAPPA, SpdzParty
from coopetition.protocols.spdz.preprocessing import InsecureDealerPreprocessing
from coopetition.protocols.spdz.shares import Share
from coopetition.protocols.spdz.testing import offline_parties

K, SHIFT = 12, 5  # floor / TruncPr of 12-bit values by 2^5
EDGES = [-(1 << (K - 1)), -(1 << (K - 1)) + 1, -33, -32, -31, -1, 0, 1, 31, 32, (1 << (K - 1)) - 1]


def stores_with_paillier_masks(m: int, session: bytes, cheat: dict | None = None):
    """Each party's store: Paillier-made masks of K + kappa - SHIFT bits (``cheat``: offline
    parties playing a cheater), dealt bits/triples."""
    n = len(EDGES)
    width = K + DEFAULT_KAPPA - SHIFT
    offline = offline_parties(m, session, cheat=cheat)
    stores = run_local([o.fill(bounded=((width, 2 * n),)) for o in offline])
    dealt = InsecureDealerPreprocessing(m, alpha_shares=[s.alpha_share for s in stores])
    dealt.bits(2 * n * SHIFT)
    dealt.triples(n * SHIFT)
    for i in range(m):
        dealt.input_masks(i, n)
    dealt.transfer_to(stores)
    return stores, width


def test_floor_and_truncation_on_paillier_masks_match_integer_arithmetic():
    m = 3
    stores, width = stores_with_paillier_masks(m, b"paillier-masks-online")
    # the masks really are the offline phase's: sums of m contributions, with ciphertexts
    assert all(s.available("bounded", bits=width, dual=True) == 2 * len(EDGES) for s in stores)

    def prog(store):
        p = SpdzParty(store, session=b"paillier-masks-online")
        x = yield from p.input(0, len(EDGES), F.vec(EDGES) if p.party == 0 else None)
        fl = yield from p.floor_pow2(x, K, SHIFT)
        tr = yield from p.trunc_pr(x, K, SHIFT)
        out = yield from p.output(Share.concat([fl, tr]))
        yield from p.mac_check()
        return out

    for result in run_local([prog(s) for s in stores]):
        values = [int(v) for v in F.signed(result)]
        floors, truncs = values[: len(EDGES)], values[len(EDGES) :]
        assert floors == [x >> SHIFT for x in EDGES]  # exact, Python's >> floors
        assert all(t - (x >> SHIFT) in (0, 1) for t, x in zip(truncs, EDGES, strict=True))


def test_helen_plan_takes_its_masks_from_the_offline_phase():
    """Both preparations (in-process and per party over the bus) route every statistical mask
    to the offline phase; MASCOT makes only triples and bits."""
    config = HelenConfig(objective=Objective("lasso", lam=1.0), iterations=2)
    plan = preprocessing_plan(config, 3, 4, 50)
    assert plan.bounded and plan.paillier_masks == plan.bounded
    assert plan.mascot_items == plan.triples + plan.bits
    scales = config.scales(4, 50, 3)
    work = pre.plan(config, scales)
    assert work.bounded == tuple((b, c) for b, c in plan.bounded if c)
    assert budget._mascot_items(work) == work.triples + work.bits
    assert budget._paillier_masks(work) == work.dual[1] + sum(c for _, c in work.bounded)
    dealt = local_prep.Plan(
        dual_masks=plan.dual_masks,
        triples=plan.triples,
        bits=plan.bits,
        bounded=plan.bounded,
        preprocessing="insecure-dealer",
    )
    assert dealt.paillier_masks == () and dealt.mascot_items == 0
