"""Setup refuses a ring-Pedersen N~ of any size but the agreed one, larger ones too.

An oversized N~ (up to ``range_params.MAX_BITS`` passed before) would make every honest
prover's range proofs to its owner dearer and widen wire bounds derived from it. The hostile
party here makes a genuine, correctly proved 768-bit N~ against an agreed 512 (INSECURE test
sizes), so only the size check can stop it, and every honest party names it.
"""

from __future__ import annotations

from unittest import mock

import pytest

from coopetition.engine.errors import CheatingDetected
from coopetition.protocols.helen import setup_phase
from coopetition.protocols.spdz.harness import run_local
from coopetition.protocols.spdz.testing import paillier_parties
from coopetition.protocols.zk import range_params as rpm

AGREED = 512
HOSTILE = 2


def _programs(m: int) -> list:
    params = {"objective": "lasso", "rows": 50}
    parties = tuple(range(m))
    return [
        setup_phase.setup_program(i, parties, params, 40, b"ring-size", AGREED, True)
        for i in parties
    ]


def test_agreed_size_is_accepted() -> None:
    results = run_local(_programs(3))
    assert all(r.ring[j].bits == AGREED for r in results for j in range(3))


@pytest.mark.parametrize("hostile_bits", [AGREED + 128, AGREED + 256])
def test_other_size_names_its_owner(hostile_bits: int) -> None:
    real = rpm.generate
    calls = {"n": 0}

    def generate(bits: int, **kw: object):  # party order: 0, 1, 2 call in turn
        calls["n"] += 1
        return real(hostile_bits if calls["n"] == HOSTILE + 1 else bits, **kw)

    with (
        mock.patch.object(setup_phase.rpm, "generate", generate),
        pytest.raises(CheatingDetected) as caught,
    ):
        run_local(_programs(3))
    assert caught.value.culprit == HOSTILE
    assert f"N~ of {hostile_bits} bits" in str(caught.value)


def test_conversion_rings_refuse_a_larger_modulus() -> None:
    """The same rule where the Paillier side makes its own rings (``spdz.ranges``)."""
    parties = paillier_parties(3, b"ring-size-spdz")
    agreed = parties[0].ring_bits
    for i, p in enumerate(parties):
        bits = agreed + 256 if i == HOSTILE else agreed
        p.ring, p.ring_secret = rpm.generate(bits, insecure_allow_small=True)
    with pytest.raises(CheatingDetected) as caught:
        run_local([p.setup_rings() for p in parties])
    assert caught.value.culprit == HOSTILE
