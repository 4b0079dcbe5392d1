"""Helen's Gadget 3 (Paillier <-> SPDZ, both directions) and what is left of Gadget 4.

Gadget 3, forward (section VI-D-1): public Enc(a) -> authenticated SPDZ shares of a mod P, by
:meth:`PaillierParty.authenticate` with range-proved masks. Every party's shares are fixed by
the public transcript (the opened a + sum_j r_j and alpha a + sum_j s_j) and its own mask
plaintexts, and the MAC ciphertexts Enc(alpha_j a) carry multiplication proofs against the
published Enc(alpha_j): the result is a correct SPDZ authentication of a under the Paillier
alpha, up to an additive deviation that only a cheater can add to its own shares and that
SPDZ's MAC check catches like any other (Damgard et al.). Nothing is published per value.

Gadget 3, back (section VI-D-3): shares of x -> Enc(x) *exactly* (not merely modulo P). The
paper sums encrypted shares, which gives a plaintext congruent to x modulo P but off by a
multiple of P, useless for further Paillier arithmetic on signed fixed-point values. Here a
dual-form random R (a ``bounded`` preprocessing item of K + kappa bits: SPDZ shares of R
*and* the public Enc(R), built from range-proved contributions in [0, 2**(K+kappa)), so that
0 <= R < m * 2**(K+kappa) whatever a cheater contributes) masks the value: open
c = x + 2**(K-1) + R in SPDZ, which stays below 2**255 < P (no wrap-around modulo P) because
the budget check enforces K + kappa + 8 < 256 (enough for m < 128 parties); then
Enc(x) = Enc(c - 2**(K-1)) / Enc(R), computed by everyone alike. R hides x statistically
(kappa bits). The opening c is MAC-checked (together with every earlier opening, e.g. the
Beaver openings that computed x) before the ciphertext is returned; R's SPDZ value is the
plaintext of Enc(R) (the offline phase authenticates that very ciphertext), so the check
makes Enc(x) encrypt the SPDZ value x itself.

Gadget 4 (section VI-E-1) tested a = sum_j b_j and alpha sum_j b_j = sum_j c_j on shares every
party published per value. Both tests are implied here (docs/crypto.md, "Gadget 3 without
published shares"): forward by construction, back by the MAC check of c. What remains is the
end of the run, :func:`verify_conversions`: it checks that the ledger holds only conversions
whose guarantee is in place (every way back MAC-checked before its ciphertext was built),
runs the SPDZ MAC check on every pending opening, retires the SPDZ party and its store, and
closes the Paillier party's MAC key (nothing is authenticated under it afterwards). alpha is
never released.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from coopetition.engine.errors import LocalFailure
from coopetition.protocols.paillier import ops

from . import field as F
from .conversion import BACK, FORWARD, Conversion, PaillierParty
from .online import Program, SpdzParty
from .shares import Share

#: Bits of an SPDZ share in [0, P) (the key binding publishes one, ``mascot_keybind``).
SHARE_BITS = F.P_BITS
#: Bits of Gadget 4's former combining coefficients and the largest record count its budget
#: covered; ``gadget4_budget`` keeps them (the budget is still Helen's key floor, see there).
COMBINER_BITS = 128
COUNT_BITS = 32
#: The tight range proof of the two masks encrypts its link mask alpha_L of
#: (mask bits + 1) + 2 * 128 + 80 + 2 bits (``range_proof._prove_unchecked``), below N.
MASK_PROOF_EXTRA_BITS = 1 + 2 * 128 + 80 + 2 + 1


@dataclass(frozen=True)
class Gadget4Budget:
    """Mask widths of the former Gadget 4 and the smallest Paillier modulus that held its tests.

    No protocol step uses these widths any more (docs/crypto.md, "Gadget 3 without published
    shares"); the budget is kept because ``fixedpoint.gadget4_key_bits`` mirrors it as Helen's
    key floor (``config.MIN_KEY_BITS``, ``paillier.gadget4``), a conservative floor until that
    is revised in a change of its own. What follows describes the tests it was sized for.

    With m parties (m < 2**lm), sigma bits of proof slack (0 for the tight range proof) and
    statistical parameter kappa: published shares satisfy |sum_j b_j| < 2**S with
    S = 256 + sigma + lm (likewise sum_j c_j), alpha < 2**A with A = 256 + sigma + lm;
    a - sum b_j has max(a_bits, S) + 1 bits, alpha sum b_j - sum c_j has A + S + 1, and the
    tested combinations d = sum_t rho_t (...) of fewer than 2**32 of them with 128-bit rho_t
    have 160 bits more: d_bits and e_bits. The masks hide only the quotient by P > 2**255:
    r_bits = d_bits - 255 + kappa (resp. rm_bits = e_bits - 255 + kappa), and
    |d + P sum r_j| < 2**d_bits + 2**(256 + lm + r_bits + sigma) < 2**(d_bits + kappa + sigma +
    lm + 2); nothing wraps modulo N when that is at most 2**(|N| - 2) <= N / 2, i.e.
    |N| >= e_bits + kappa + sigma + lm + 4 for the MAC test. The masks' own range proof
    encrypts a link mask of rm_bits + 339 bits, so |N| >= rm_bits + 340 as well; at sigma = 0
    that binds (802 bits at m <= 3; docs/crypto.md, "Gadget 4 on one random combination").
    """

    r_bits: int
    rm_bits: int
    value_key_bits: int
    mac_key_bits: int
    d_bits: int = 0
    e_bits: int = 0
    proof_key_bits: int = 0

    @property
    def key_bits(self) -> int:
        return max(self.value_key_bits, self.mac_key_bits, self.proof_key_bits)

    @property
    def binding(self) -> str:
        if self.proof_key_bits >= max(self.value_key_bits, self.mac_key_bits):
            return "the range proof of the masks, whose link encrypts a mask below N"
        if self.mac_key_bits >= self.value_key_bits:
            return "the MAC test alpha * sum b_j - sum c_j + P * sum r'_j"
        return "the value test a - sum b_j + P * sum r_j"


def gadget4_budget(a_bits: int, parties: int, kappa: int, slack_bits: int = 0) -> Gadget4Budget:
    """Gadget 4's budget for records with |a| < 2**a_bits (see ``Gadget4Budget``).

    The tests run on one combination sum_t rho_t x_t of fewer than 2**COUNT_BITS values with
    COMBINER_BITS-bit rho_t, so each tested value is COMBINER_BITS + COUNT_BITS bits wider
    than one difference."""
    lm = parties.bit_length()
    share_bits = F.P_BITS + slack_bits + lm
    alpha_bits = F.P_BITS + slack_bits + lm
    widen = COMBINER_BITS + COUNT_BITS
    d_bits = max(a_bits, share_bits) + 1 + widen
    e_bits = alpha_bits + share_bits + 1 + widen
    # A tested value x is a multiple of P in an honest run; the masks hide the quotient only,
    # |x / P| < 2**(bits - (P_BITS - 1)), with kappa bits to spare.
    r_bits = d_bits - (F.P_BITS - 1) + kappa
    rm_bits = e_bits - (F.P_BITS - 1) + kappa
    extra = kappa + slack_bits + lm + 4
    return Gadget4Budget(
        r_bits,
        rm_bits,
        d_bits + extra,
        e_bits + extra,
        d_bits,
        e_bits,
        max(r_bits, rm_bits) + MASK_PROOF_EXTRA_BITS,
    )


def gadget3_key_bits(value_bits: int, parties: int, kappa: int, slack_bits: int = 0) -> int:
    """Smallest |N| for Gadget 3 forward on |x| < 2**value_bits (``authenticate``'s check).

    The MAC alpha x has value_bits + A bits (A = 256 + sigma + lm), its masks kappa more; the
    opened alpha x + sum_j s_j stays below 2**(|N| - 2) when |N| >= that + sigma + lm + 3.
    """
    lm = parties.bit_length()
    return value_bits + F.P_BITS + slack_bits + lm + kappa + slack_bits + lm + 3


def _same_mac_key(p: PaillierParty, spdz: SpdzParty) -> None:
    """This party's SPDZ key share must be its Paillier alpha_j (mod P)."""
    if spdz.alpha_share != p.alpha_share % F.P:
        raise ValueError("the SPDZ party holds another MAC key share than this Paillier party")


def ciphertext_to_shares(
    p: PaillierParty, cts: Sequence[int], value_bits: int
) -> Program[Conversion]:
    """Gadget 3: public Enc(a) with |a| < 2**value_bits -> authenticated shares of a mod P.

    The shares are a correct authentication of a under the Paillier alpha by construction
    (module docstring); nothing is published per value."""
    conv = yield from p.authenticate(cts, value_bits, mode="bounded", phase="gadget3")
    conv.direction = FORWARD
    return conv


def shares_to_ciphertext(
    p: PaillierParty, spdz: SpdzParty, x: Share, k: int
) -> Program[Conversion]:
    """Gadget 3 back: shares of x with |x| < 2**(k-1) -> the public Enc(x), exactly.

    Consumes one ``bounded`` item of ``k + kappa`` bits per element, which must carry its
    ciphertext (items from the offline phase do; the insecure dealer's do not). The MAC check
    of c runs before Enc(x) is formed; that check is what ties Enc(x) to the SPDZ value x
    (docs/crypto.md, "Gadget 3 without published shares"), so it is not optional.
    """
    n = len(x)
    pk = p.pk
    bits = k + spdz.kappa
    spdz._check_budget(k)
    _same_mac_key(p, spdz)  # the MAC check below means something only under Enc(alpha_j)'s key
    if p.mac_key_retired:
        raise LocalFailure("the MAC key was retired (end of the run); nothing more is converted")
    if spdz.store.available("bounded", bits=bits, dual=True) < n:
        raise ValueError(
            "shares_to_ciphertext needs bounded masks with their ciphertexts (offline phase)"
        )
    mask = spdz.store.take("bounded", n, bits=bits, dual=True)
    assert mask.ciphertexts is not None
    shifted = x.add_public(1 << (k - 1), spdz.party, spdz.alpha_share)
    c = yield from spdz.open(shifted + mask.parts[0], mask.ids)
    # Check c (and everything opened before it) before Enc(x) is built from it.
    yield from spdz.mac_check()
    enc = []
    for t in range(n):
        plain = int(c[t]) - (1 << (k - 1))
        enc.append(ops.add_plain(pk, ops.neg(pk, pk.check_ciphertext(mask.ciphertexts[t])), plain))
    return Conversion(share=x, ciphertexts=enc, value_bits=k, direction=BACK, mac_checked=True)


def verify_conversions(
    p: PaillierParty, spdz: SpdzParty | None, records: Sequence[Conversion]
) -> Program[int]:
    """The end of a run's conversions (what is left of Gadget 4); returns how many values the
    records hold.

    Every record must be a forward conversion (authenticated by construction) or a way back
    whose opening was MAC-checked before its ciphertext was built (``LocalFailure`` otherwise:
    such a record did not come from :func:`shares_to_ciphertext`). Then ``spdz`` (the session's
    SPDZ party under this MAC key; None only if no SPDZ computation ran, so only forward
    records are accepted without it) MAC-checks all its pending openings and is retired with
    its store, and the Paillier party's MAC key is closed: ``authenticate`` refuses
    afterwards, and this runs once. alpha is not released: no test
    needs it any more (docs/crypto.md, "Gadget 3 without published shares").

    Raises ``MacCheckFailed`` from the SPDZ check (anonymous, as every MAC failure).
    """
    if p.mac_key_retired:
        raise LocalFailure("the MAC key's conversions were already closed; this runs once")
    if not records or not any(len(rec) for rec in records):
        raise ValueError("the conversion check needs at least one converted value")
    for t, rec in enumerate(records):
        if rec.direction not in (FORWARD, BACK):
            raise LocalFailure(f"conversion {t} is neither a forward nor a back conversion")
        if rec.direction == BACK and not rec.mac_checked:
            raise LocalFailure(f"conversion {t} is a way back whose opening was not MAC-checked")
        if rec.direction == BACK and spdz is None:  # review finding: no final check without it
            raise ValueError(f"conversion {t} is a way back: the SPDZ party that made it is needed")
        for c in rec.ciphertexts:
            p.pk.check_ciphertext(c)
    if spdz is not None:
        if spdz.retired:
            raise LocalFailure("the SPDZ party was already retired")
        _same_mac_key(p, spdz)
        yield from spdz.mac_check()
        spdz.retire()
    p.mac_key_retired = True
    return sum(len(rec) for rec in records)
