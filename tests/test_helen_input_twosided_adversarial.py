"""Helen input preparation against a cheater who re-proves everything around a wrong product.

The tests in ``test_helen_input_proof.py`` tamper with a finished proof, so any of its checks
may be the one that fires. Here the cheater runs the whole prover with one product off by one
(in each of the four products in turn) and lets every other proof follow from it: the range
proofs and multiplication proofs are then valid for the wrong product, and only the two-sided
product proof (production parameters: 128-bit s, v, challenges and batch exponents) stands in
the way. It must reject, naming the cheater, with the two-sided proof's kind.
"""

from __future__ import annotations

import functools

import pytest
import test_helen_input_proof as base

from coopetition.protocols.helen import input_proof as ip
from coopetition.protocols.helen import numerics as H
from coopetition.protocols.paillier.tracked import Tracked
from coopetition.protocols.zk import group, twosided

scales = base.scales  # the module's fixtures, shared
ring = base.ring

PARTS = ("theta-vt", "a-full", "vtv", "b-full")  # the order of ``input_proof.prove``'s products


@pytest.mark.parametrize("part", PARTS)
def test_wrong_product_with_everything_else_reproved_is_named(monkeypatch, scales, ring, part):
    pk = base.PK
    honest_product = ip._product
    calls: list[int] = []

    def wrong_product(pk_, a, eb, encryptor):
        out = honest_product(pk_, a, eb, encryptor)
        calls.append(1)
        if len(calls) == PARTS.index(part) + 1:
            t = out[0][0]
            shifted = int(t.ciphertext * group.g_power(pk, 1) % pk.n_square)
            out[0][0] = Tracked(shifted, t.plaintext + 1, t.randomness)
            assert out[0][0].holds(pk)
        return out

    monkeypatch.setattr(ip, "_product", wrong_product)
    monkeypatch.setattr(twosided, "prove", functools.partial(twosided.prove, _check=False))
    prep = H.prepare_input(*base._data(), scales)
    com, proof, _ = ip.prove(pk, prep, scales, base.CTX, {base.VERIFIER: ring}, _unchecked=True)
    monkeypatch.undo()
    assert len(calls) == len(PARTS)
    err = base.assert_rejected(scales, ring, com, proof)
    assert err.kind == twosided.KIND, err
    # and it is the only guard: with the product proofs skipped, everything else accepts
    monkeypatch.setattr(twosided, "verify", lambda *args, **kwargs: None)
    ip.verify(pk, com, proof, scales, base.CTX, base.VERIFIER, ring)
