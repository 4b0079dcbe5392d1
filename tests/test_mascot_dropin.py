"""Drop-in: the existing online-phase and Gadget 3/4 tests, run on MASCOT preprocessing.

The test modules are imported and their preprocessing source is swapped for the real MASCOT
protocol (``LocalMascot``, same interface as the insecure dealer); the test bodies, inputs
and reference checks are theirs, unchanged. The fast test runs by default; the full set
(about a thousand bits and triples) is marked ``long``.
"""

from __future__ import annotations

import pytest
import test_spdz_gadgets
import test_spdz_online

from coopetition.protocols.spdz.mascot_local import LocalMascot


def mascot_for(m, *, triples=0, bits=0, bounded=(), masks=None):  # type: ignore[no-untyped-def]
    gen = LocalMascot(m, session=b"drop-in")
    if triples:
        gen.triples(triples)
    if bits:
        gen.bits(bits)
    for width, count in bounded:
        gen.bounded(count, width)
    for owner, n in (masks or {}).items():
        gen.input_masks(owner, n)
    return gen


@pytest.fixture
def on_mascot(monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setattr(test_spdz_online, "dealer_for", mascot_for)
    monkeypatch.setattr(test_spdz_gadgets, "InsecureDealerPreprocessing", LocalMascot)


def test_online_input_add_mul_output_on_mascot(on_mascot):  # type: ignore[no-untyped-def]
    test_spdz_online.test_input_add_mul_output_matches_plaintext()


@pytest.mark.long
@pytest.mark.parametrize("m", [2, 4])
def test_online_soft_threshold_on_mascot(on_mascot, m):  # type: ignore[no-untyped-def]
    test_spdz_online.test_soft_threshold_equals_plaintext(m)


@pytest.mark.long
def test_online_truncation_and_helens_z_update_on_mascot(on_mascot):  # type: ignore[no-untyped-def]
    test_spdz_online.test_fixed_point_product_with_probabilistic_truncation()
    test_spdz_online.test_average_then_soft_threshold_like_helens_z_update()
    test_spdz_online.test_honest_run_passes_then_tampered_share_is_caught()


@pytest.mark.long
def test_gadgets_3_and_4_on_mascot(on_mascot):  # type: ignore[no-untyped-def]
    test_spdz_gadgets.test_gadget3_soft_threshold_and_back_then_gadget4_accepts()
