"""MASCOT MAC key binding: each party's COPE key share must be the alpha_i in its Enc(alpha_i).

Parties hold INSECURE 1280-bit threshold Paillier keys with 16 interval-proof repetitions
(``spdz.testing``), as the Gadget tests do. The reference for "the items are under the
Paillier alpha" is the plaintext alpha = sum of the Paillier parties' alpha_i and the identity
sum of MAC shares = alpha * sum of value shares, checked with Python integers.
"""

from __future__ import annotations

import pytest

from coopetition.protocols.spdz import field as F
from coopetition.protocols.spdz.conversion import PaillierParty
from coopetition.protocols.spdz.errors import MacCheckFailed
from coopetition.protocols.spdz.harness import run_local
from coopetition.protocols.spdz.mascot import MascotParty
from coopetition.protocols.spdz.mascot_keybind import PHASE, binding_rounds
from coopetition.protocols.spdz.mascot_local import LocalMascot
from coopetition.protocols.spdz.testing import paillier_parties


def _paillier(m: int, session: bytes, **kw) -> list[PaillierParty]:  # type: ignore[no-untyped-def]
    ps = paillier_parties(m, session, **kw)
    run_local([p.setup() for p in ps])
    return ps


def test_honest_key_shares_bind_and_items_are_under_the_paillier_alpha():
    ps = _paillier(2, b"keybind-honest")
    gen = LocalMascot(2, paillier=ps, session=b"keybind-honest", batch=4).triples(4)
    alpha = sum(p.alpha_share for p in ps) % F.P
    drawn = [st.take("triple", 4) for st in gen.stores]
    for k in range(3):  # a, b, c
        for t in range(4):
            value = sum(int(d.parts[k].value[t]) for d in drawn) % F.P
            mac = sum(int(d.parts[k].mac[t]) for d in drawn) % F.P
            assert mac == alpha * value % F.P


@pytest.mark.parametrize("offset", [1, F.P - 1, 2**200])
def test_a_party_whose_cope_key_differs_from_its_enc_alpha_share_aborts(offset):
    """Party 1 runs all of MASCOT (COPE and its own MAC checks) with alpha_1 + offset, so
    MASCOT alone is consistent, but its Enc(alpha_1) holds alpha_1: the binding aborts."""
    session = b"keybind-cheat-key"
    ps = _paillier(2, session)
    honest = MascotParty(0, 2, session, alpha_share=ps[0].alpha_share)
    cheater = MascotParty(1, 2, session, alpha_share=(ps[1].alpha_share + offset) % F.P)
    run_local([honest.setup(), cheater.setup()])
    run_local([honest.triples(2), cheater.triples(2)])  # MASCOT alone does not notice
    with pytest.raises(MacCheckFailed):
        run_local([honest.bind_key(ps[0]), binding_rounds(cheater, ps[1])])
    with pytest.raises(Exception, match="aborted earlier"):  # no retry on the same links
        run_local([honest.triples(1), cheater.triples(1)])


class _WrongShare(PaillierParty):
    """Publishes Enc(r_i + 1) in the binding step instead of its MASCOT share r_i."""

    def prove_values(self, values, mode, bits, phase, rnd):  # type: ignore[no-untyped-def]
        if phase == PHASE:
            values = [(int(v) + 1) % F.P for v in values]
        return super().prove_values(values, mode, bits, phase, rnd)


def test_a_party_that_publishes_another_share_than_its_mascot_share_aborts():
    session = b"keybind-cheat-share"
    ps = _paillier(2, session, cheat={1: _WrongShare})
    with pytest.raises(MacCheckFailed):
        LocalMascot(2, paillier=ps, session=session)


def test_mismatched_local_key_shares_are_refused_before_anything_is_sent():
    ps = _paillier(2, b"keybind-local")
    party = MascotParty(0, 2, b"keybind-local", alpha_share=(ps[0].alpha_share + 1) % F.P)
    with pytest.raises(ValueError, match="differ"):
        next(party.bind_key(ps[0]))
