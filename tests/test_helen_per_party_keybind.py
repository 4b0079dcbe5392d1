"""The MASCOT MAC-key binding on Helen's per-party path (``helen-mascot``, issue 10).

Each party makes its own preprocessing over the bus (``per_party=True``: the path of
``coopetition party`` over TCP). Party 1 cheats by keying MASCOT's COPE with
alpha_1 + offset while its published Enc(alpha_1) holds alpha_1: MASCOT alone stays
consistent (every MASCOT check is under alpha' = alpha + offset), so only the binding can
notice. The run must stop in ``helen-mascot`` before the input phase, at every honest party,
with the binding's ``MacCheckFailed``. That abort is anonymous by design (docs/crypto.md,
"MAC key binding"): no honest party is named or accused.

INSECURE parameters (named so, as in ``test_helen_per_party``): a 1280-bit trusted-dealer test
key, 512-bit ring-Pedersen moduli, 16 interval-proof repetitions, 3 parties, d = 2.
"""

from __future__ import annotations

import pytest
from test_helen_per_party import FEATURES, SLOW_MACHINE, per_party_config
from test_helen_run import PARTIES, wine_parts

from coopetition.engine.errors import ProtocolAborted
from coopetition.protocols.helen import preprocess_phase as pre
from coopetition.protocols.helen.local_run import train_locally
from coopetition.protocols.helen.session import HelenRun
from coopetition.protocols.spdz import field as F
from coopetition.protocols.spdz.conversion import PaillierParty
from coopetition.protocols.spdz.errors import MacCheckFailed
from coopetition.protocols.spdz.mascot_keybind import FAILED, binding_rounds

CHEATER = 1
HONEST = tuple(i for i in range(PARTIES) if i != CHEATER)


class OtherMascotKey(HelenRun):
    """Feeds MASCOT alpha_1 + 1 (its Enc(alpha_1) holds alpha_1) and skips the local guard
    of ``bind_mac_key``, as a real cheater would; runs the binding's rounds otherwise."""

    offset = 1
    bind_mac_key = staticmethod(binding_rounds)

    def mascot_key_share(self, paillier: PaillierParty) -> int:
        return (paillier.alpha_share + self.offset) % F.P


def assert_binding_abort(run) -> None:  # type: ignore[no-untyped-def]
    """Every honest party stopped in helen-mascot with the binding's anonymous abort."""
    assert not run.results, "a party finished although a MASCOT key was not bound"
    for honest in HONEST:
        error = run.errors.get(honest)
        assert isinstance(error, MacCheckFailed), run.errors
        assert error.phase == pre.MASCOT_PHASE, error
        assert error.culprit is None and error.claimed_culprit not in HONEST, error
    # at least one honest party found it itself (the others may have its report first)
    assert any(FAILED in str(run.errors[h]) for h in HONEST), run.errors
    assert isinstance(run.errors.get(CHEATER), ProtocolAborted), run.errors


class FarMascotKey(OtherMascotKey):
    offset = F.P - (1 << 200)  # a large shift the other way (alpha_1 - 2**200 mod P)


@pytest.mark.parametrize(
    "cheater",
    [OtherMascotKey, pytest.param(FarMascotKey, marks=pytest.mark.long)],
    ids=["plus-one", "minus-2^200"],
)
async def test_a_party_whose_mascot_key_differs_from_its_enc_alpha_aborts_per_party(cheater):
    parts = wine_parts(FEATURES)
    run = await train_locally(
        parts,
        per_party_config(),
        session=b"helen-per-party-keybind/" + cheater.__name__.encode(),
        deadlines=SLOW_MACHINE,
        per_party=True,
        run_class={CHEATER: cheater},
    )
    assert_binding_abort(run)
