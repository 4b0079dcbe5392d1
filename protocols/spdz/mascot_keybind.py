"""Bind each party's MASCOT MAC key share to the alpha_i inside its published Enc(alpha_i).

Helen authenticates Gadget-3 conversions with multiplication proofs against the published
Enc(alpha_i) (:mod:`.conversion`), while MASCOT authenticates with the key share each party
feeds its COPE instances (:mod:`.mascot_links`); nothing in COPE ties the two. A party that
used alpha_i' != alpha_i in COPE would make every MASCOT MAC one under
alpha' = alpha + (alpha_i' - alpha_i). This check, run once after MASCOT's setup, catches it:

1. MASCOT makes one random authenticated value [[r]] (MACs under the COPE keys: alpha').
2. Every party publishes Enc(r_i) of its share with an interval proof (r_i in [0, P) up to the
   proof's slack), so Enc(r) = prod Enc(r_i) is an encryption of sum r_i.
3. ``PaillierParty.authenticate`` (Gadget 3's forward conversion, with the offline phase's
   knowledge-proved masks) turns Enc(r) into a second sharing [[r]]' of the same value whose
   MACs are made with multiplication proofs against the published Enc(alpha_i), i.e. under
   alpha. Range-proved masks are not needed: a cheater's mask that wraps modulo N only makes
   [[r]]' differ from [[r]] (d != 0 or a MAC failure, so an abort), and whether it wraps is
   2^-kappa-close to independent of r. (Knowledge mode is also the one mode every branch of
   ``authenticate`` keeps; the tight-range-proof branch drops ``mode="interval"``.)
4. [[r]] - [[r]]' is opened, must be 0, and the MAC check runs over it.

The difference's MAC shares add up to alpha'·r - alpha·(r + e) = (alpha_i' - alpha_i)·r - alpha·e,
where e is whatever a cheater added to its published share. The cheater's own contribution to
the MAC check is free, but it would have to hit (alpha_i' - alpha_i)·r - alpha·e - alpha_H·d
with r and alpha secret (r contains an honest party's uniform share, alpha an honest alpha_j),
so a key mismatch, a wrong published share or a non-zero opening passes with probability at
most 2/P (MacCheckFailed, no culprit: a MAC sum cannot say who). r itself is never opened; the
published Enc(r_i) are semantically secure and Gadget 3 hides r behind its masks. Cost: one
MASCOT random value, one interval proof per party, one Gadget-3 conversion of one value, one
opening and one MAC check, once per session. alpha is never released.
"""

from __future__ import annotations

from coopetition.engine.errors import LocalFailure
from coopetition.protocols.paillier import ops

from . import field as F
from .conversion import SLACK_BITS, PaillierParty
from .errors import MacCheckFailed
from .gadgets import SHARE_BITS
from .mascot import MascotParty
from .online import Exchange
from .pairwise import MixedProgram as Program

PHASE = "mascot-key-binding"
#: the reason's prefix when the binding fails (no culprit: see the module docstring)
FAILED = (
    "MASCOT MAC key binding failed (some party's MASCOT key share is not the alpha_i of its "
    "Enc(alpha_i), or it published another share than its MASCOT one)"
)


def bind_mac_key(mascot: MascotParty, paillier: PaillierParty) -> Program[None]:
    """Check that every party's MASCOT key share is the alpha_i of its Enc(alpha_i).

    Run by all parties after both setups (MASCOT's and ``paillier.setup()``); raises
    ``MacCheckFailed`` if some party's keys differ or it published a wrong share, after which
    ``mascot`` refuses every further step.
    """
    if not paillier.enc_alpha_shares:
        raise RuntimeError("run the Paillier setup (Enc(alpha_i)) before binding the MAC key")
    if paillier.mac_key_retired:
        raise LocalFailure("the MAC key was retired (end of the run); there is nothing to bind")
    if mascot.alpha_share % F.P != paillier.alpha_share % F.P:
        raise ValueError("this party's MASCOT and Paillier MAC key shares differ")
    return (yield from binding_rounds(mascot, paillier))


def binding_rounds(mascot: MascotParty, paillier: PaillierParty) -> Program[None]:
    """The protocol of :func:`bind_mac_key` without the local guard (tests run it as a cheater
    whose MASCOT key share differs from its Paillier one). A failure retires the MASCOT party:
    its correlations must not be used again."""
    try:
        yield from _rounds(mascot, paillier)
    except BaseException:
        mascot.mark_aborted()
        raise


def _rounds(mascot: MascotParty, paillier: PaillierParty) -> Program[None]:
    (r,) = (yield from mascot.randoms(1)).parts
    rnd = paillier.next_round()
    cts, proofs, _ = paillier.prove_values([int(r.value[0])], "interval", SHARE_BITS, PHASE, rnd)
    payload = {"r": cts, "r_proof": proofs}
    replies = yield Exchange(f"spdz-{PHASE}/{rnd}", payload)
    replies[paillier.party] = payload
    got = paillier.verify_values(replies, "r", 1, "interval", SHARE_BITS, PHASE, rnd)
    enc_r = ops.sum_ct(paillier.pk, [got[j][0] for j in range(paillier.parties)])
    bound = SHARE_BITS + SLACK_BITS + paillier.parties.bit_length()  # |sum r_j| < 2**bound
    conv = yield from paillier.authenticate([enc_r], bound, mode="knowledge", phase=PHASE)
    spdz = mascot.online()
    diff = yield from spdz.open(r - conv.share)
    try:
        yield from spdz.mac_check()
    except MacCheckFailed as exc:  # say which check failed: the abort names nobody either way
        raise MacCheckFailed(f"{FAILED}: {exc.reason}") from exc
    if int(diff[0]) % F.P != 0:  # unreachable unless the MAC check was forged (2/P)
        raise MacCheckFailed(f"{FAILED}: the two sharings of r differ")
