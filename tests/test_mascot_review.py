"""Adversarial review of MASCOT and its OT layer: one regression test per defect found.

Each test plays a malicious party (through the harness's tamper hook or a subclass) or checks
arithmetic against Python integers, independently of the code under test.
"""

from __future__ import annotations

import pytest

from coopetition.protocols.ot.errors import MalformedOtMessage
from coopetition.protocols.spdz.harness import run_local
from coopetition.protocols.spdz.mascot import MascotParty

# -- malformed OT messages name their sender -------------------------------------------------


@pytest.mark.parametrize(
    ("prefix", "junk"),
    [
        ("mascot-base-1/", None),
        ("mascot-base-2/", [1, 2]),
        ("mascot-ot-u/", 7),
        ("mascot-ot-seed/", b"x" * 16),
        ("mascot-ot-check/", [b"c"]),
    ],
)
def test_an_ot_message_that_is_not_a_map_is_a_typed_abort_naming_the_sender(prefix, junk):
    """A peer sending a list or a number instead of a map used to crash with AttributeError."""
    parties = [MascotParty(i, 2, b"review-junk") for i in range(2)]
    hit = {"done": False}

    def tamper(i, j, tag, payload):  # type: ignore[no-untyped-def]
        if i == 1 and j == 0 and tag.startswith(prefix) and not hit["done"]:
            hit["done"] = True
            return junk
        return payload

    with pytest.raises(MalformedOtMessage) as exc:
        run_local([p.setup() for p in parties], tamper=tamper)
    assert hit["done"] and exc.value.culprit == 1
