"""Helen's Gadget 3 (Paillier <-> SPDZ, both directions) and Gadget 4 (verification).

Gadget 3, forward (section VI-D-1): public Enc(a) -> authenticated SPDZ shares of a mod P, by
:meth:`PaillierParty.authenticate` with range-proved masks, then every party publishes
Enc(share) and Enc(MAC share), each proved to lie in [0, P) exactly (step 5 of the paper, with
the tight range proof of ``ranges`` instead of interval proofs), which Gadget 4 checks.

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
Beaver openings that computed x) before the ciphertext is returned, so a value shifted by an
additive attack never leaves SPDZ as a ciphertext. The encrypted shares and MAC shares are
published as in the forward direction, so Gadget 4 covers both.

Gadget 4 (section VI-E-1), for records (Enc(a), Enc(b_j), Enc(c_j)): every value is range
bounded by its proofs. The paper tests every record; here one test covers them all: with
128-bit rho_t hashed from every ciphertext involved (all public and fixed before), each party
adds one range-proved mask r_j times P: Ef = prod_t Enc(a_t - sum_j b_jt)**rho_t *
prod_j Enc(r_j)**P, one joint decryption, and every party checks P | ef. Then alpha is
released (joint decryption of Enc(alpha)) and the same test runs on
sum_t rho_t (alpha * sum_j b_jt - sum_j c_jt). If some a_t - sum_j b_jt is not a multiple of
P, the combination is one except with probability 2**-128 (P > 2**128). The masks hide the
combination (a multiple of P in an honest run) with kappa bits; the range proofs stop a
cheater from forcing a wrap-around modulo N that would turn a non-multiple into a multiple of
P, and since they are exact, the modulus only has to hold the honest widths
(``gadget4_budget``: 802 bits at m <= 3). A failed test
shows an inconsistent conversion but not who caused it, nor which record:
``ConversionRejected`` has no culprit (docs/crypto.md, "Gadget 4 on one random combination").

Order matters: once alpha is public anyone can forge MACs, so :func:`verify_conversions` first
runs the SPDZ MAC check on every pending opening of the session's ``SpdzParty``, then retires it
(and its store), and releases alpha at most once per Paillier party, never for zero records.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import gmpy2

from coopetition.engine.chunked import DEFAULT_CHUNK_BYTES, exchange_large
from coopetition.engine.errors import LocalFailure
from coopetition.protocols.paillier import ops
from coopetition.protocols.paillier.keys import PublicKey
from coopetition.protocols.zk import wire_bounds as wb
from coopetition.protocols.zk.transcript import Transcript

from . import field as F
from .conversion import RANGE, Conversion, PaillierParty
from .conversion import _combine as combine
from .errors import ConversionRejected
from .online import Exchange, Program, SpdzParty
from .shares import Share

#: Chunk size of Gadget 4's mask broadcast (``engine.chunked``); public, equal at every party.
MASKS_CHUNK_BYTES = DEFAULT_CHUNK_BYTES
#: Bits of a published share or MAC share: honest ones lie in [0, P), range-proved exactly.
SHARE_BITS = F.P_BITS
#: Bits of Gadget 4's combining coefficients rho_t (soundness 2**-COMBINER_BITS per test, as
#: P > 2**COMBINER_BITS), and the largest record count a budget covers (2**COUNT_BITS - 1).
COMBINER_BITS = 128
COUNT_BITS = 32
#: The tight range proof of the two masks encrypts its link mask alpha_L of
#: (mask bits + 1) + 2 * 128 + 80 + 2 bits (``range_proof._prove_unchecked``), below N.
MASK_PROOF_EXTRA_BITS = 1 + 2 * 128 + 80 + 2 + 1


@dataclass(frozen=True)
class Gadget4Budget:
    """Mask widths of Gadget 4 and the smallest Paillier modulus that holds its tests.

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


def publish_encrypted_shares(
    p: PaillierParty, share: Share, phase: str
) -> Program[tuple[dict[int, list[int]], dict[int, list[int]]]]:
    """Every party publishes Enc(value share) and Enc(MAC share), proved to lie in [0, P).

    One range proof per verifier covers both lists (``PaillierParty.prove_bounded``).
    """
    n = len(share)
    rnd = p.next_round()
    vals = [int(v) for v in share.value]
    macs = [int(v) for v in share.mac]
    payload, _ = p.prove_bounded([("b", vals, F.P - 1), ("c", macs, F.P - 1)], phase, rnd)
    replies = yield Exchange(f"spdz-{phase}/{rnd}", payload)
    replies[p.party] = payload
    got = p.verify_bounded(replies, [("b", n, F.P - 1), ("c", n, F.P - 1)], phase, rnd)
    return got["b"], got["c"]


def ciphertext_to_shares(
    p: PaillierParty, cts: Sequence[int], value_bits: int
) -> Program[Conversion]:
    """Gadget 3: public Enc(a) with |a| < 2**value_bits -> authenticated shares of a mod P."""
    conv = yield from p.authenticate(cts, value_bits, mode="bounded", phase="gadget3")
    conv.enc_shares, conv.enc_mac_shares = yield from publish_encrypted_shares(
        p, conv.share, "gadget3-shares"
    )
    return conv


def shares_to_ciphertext(
    p: PaillierParty, spdz: SpdzParty, x: Share, k: int
) -> Program[Conversion]:
    """Gadget 3 back: shares of x with |x| < 2**(k-1) -> the public Enc(x), exactly.

    Consumes one ``bounded`` item of ``k + kappa`` bits per element, which must carry its
    ciphertext (items from the offline phase do; the insecure dealer's do not).
    """
    n = len(x)
    pk = p.pk
    bits = k + spdz.kappa
    spdz._check_budget(k)
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
    conv = Conversion(share=x, ciphertexts=enc, value_bits=k)
    conv.enc_shares, conv.enc_mac_shares = yield from publish_encrypted_shares(
        p, x, "gadget3-back-shares"
    )
    return conv


def _masks(p: PaillierParty, counts: list[tuple[int, int]], phase: str) -> Program[list[list[int]]]:
    """Range-proved masks in [0, 2**bits) per (count, bits) group (one proof per verifier for
    all groups); returns prod_j Enc(r_j) per mask."""
    rnd = p.next_round()
    specs = [(f"r{g}", count, (1 << bits) - 1) for g, (count, bits) in enumerate(counts)]
    groups = [
        (key, [p.mask(bits) for _ in range(count)], high)
        for (key, count, high), (_, bits) in zip(specs, counts, strict=True)
    ]
    payload, _ = p.prove_bounded(groups, phase, rnd)
    tag = f"spdz-{phase}/{rnd}"
    if p.range_kind == RANGE:
        # Under a bound from public sizes, in chunks (docs/wire-format.md, "Large payloads"):
        # Gadget 4 now sends two masks per party, but the bound and the chunked form hold for
        # any counts (they carried one mask per converted value before the combination).
        bound = _masks_bound(p, counts)
        statements = sum(count for count, _ in counts)
        replies = yield from exchange_large(
            payload,
            max_bytes=bound,
            chunk_bytes=MASKS_CHUNK_BYTES,
            tag=tag,
            me=p.party,
            # packed integers: per statement 20 values and 4 row lengths, per verifier
            max_values=p.proofs_per_exchange * 24 * statements,
        )
    else:
        replies = yield Exchange(tag, payload)
    replies[p.party] = payload
    got = p.verify_bounded(replies, specs, phase, rnd)
    return [
        [ops.sum_ct(p.pk, [got[key][j][t] for j in range(p.parties)]) for t in range(count)]
        for key, count, _ in specs
    ]


def _masks_bound(p: PaillierParty, counts: list[tuple[int, int]]) -> dict[int, int]:
    """Most bytes an honest ``_masks`` payload of each sender takes: the ciphertexts, and one
    range proof per verifier (one in all under a common modulus) over all masks (intervals
    [0, 2**bits - 1]), from public sizes only. Per sender, over its verifiers' |N~|: a party's
    own N~ (its choice, admitted up to ``range_params.MAX_BITS``) must not widen its own
    bound."""
    key_bits = p.pk.n.bit_length()
    statements = sum(count for count, _ in counts)
    value_bits = max(bits for _, bits in counts) + 1
    verifiers = p.proofs_per_exchange
    bounds = {}
    for sender in p.rings:
        ring_bits = max(r.n.bit_length() for j, r in p.rings.items() if j != sender)
        proof = wb.range_proof_bound(statements, value_bits, key_bits, ring_bits)
        bounds[sender] = (
            wb.ciphertexts_bound(statements, key_bits) + verifiers * (proof + wb.HEAD_BYTES) + 4096
        )
    return bounds


def _test_bounds(diff_bits: int, mask_bits: int, m: int, n: int) -> list[tuple[int, int]]:
    """Proved interval of diff + P * sum_j r_j with |diff| < 2**diff_bits, r_j in [0, 2**mask_bits)."""
    high = (1 << diff_bits) - 1
    return [(-high, high + F.P * m * ((1 << mask_bits) - 1))] * n


def _check_multiples(values: list[int], what: str) -> None:
    bad = [i for i, v in enumerate(values) if int(v) % F.P != 0]
    if bad:
        raise ConversionRejected(
            f"Gadget 4: {what} is not a multiple of P at {len(bad)} position(s), first {bad[0]}"
        )


def verify_conversions(
    p: PaillierParty, spdz: SpdzParty | None, records: Sequence[Conversion]
) -> Program[int]:
    """Gadget 4 over all records; returns the released MAC key alpha mod P.

    Run it once, at the end: after alpha is public, MACs can be forged. So ``spdz`` (the
    session's SPDZ party under this MAC key; None only if no SPDZ computation ran) first
    MAC-checks all its pending openings, and is then retired with its store: every later
    open, check or take raises. Refuses zero records and a second release.

    Raises ``ConversionRejected`` if some a is not congruent to the sum of its published
    shares, or some MAC does not match under alpha; ``MacCheckFailed`` from the SPDZ check.
    """
    if p.alpha_released:
        raise LocalFailure("alpha was already released for this MAC key; Gadget 4 runs once")
    if not records or not any(len(rec) for rec in records):
        raise ValueError("Gadget 4 needs at least one converted value before it releases alpha")
    if spdz is not None:
        if spdz.retired:
            raise LocalFailure("the SPDZ party was already retired")
        if spdz.alpha_share != p.alpha_share % F.P:
            raise ValueError("the SPDZ party holds another MAC key share than this Paillier party")
        yield from spdz.mac_check()
        spdz.retire()
    pk, m = p.pk, p.parties
    enc_a: list[int] = []
    sum_b: list[int] = []
    sum_c: list[int] = []
    a_bits = 0
    for rec in records:
        if set(rec.enc_shares) != set(range(m)) or set(rec.enc_mac_shares) != set(range(m)):
            raise ValueError("a conversion record lacks some party's encrypted shares")
        a_bits = max(a_bits, rec.value_bits)
        for t in range(len(rec)):
            enc_a.append(pk.check_ciphertext(rec.ciphertexts[t]))
            sum_b.append(ops.sum_ct(pk, [rec.enc_shares[j][t] for j in range(m)]))
            sum_c.append(ops.sum_ct(pk, [rec.enc_mac_shares[j][t] for j in range(m)]))
    n = len(enc_a)
    if n >= 1 << COUNT_BITS:
        raise ValueError(f"Gadget 4 tests fewer than 2**{COUNT_BITS} values in one run")
    budget = gadget4_budget(a_bits, m, p.kappa, p.slack_bits)
    if budget.key_bits > pk.bits:
        raise ValueError(
            f"{pk.bits}-bit Paillier key too small for Gadget 4 (needs {budget.key_bits} bits: "
            f"{budget.binding})"
        )
    # One test per kind on sum_t rho_t x_t instead of one per value: the rho_t are hashed from
    # every ciphertext the tests read, all public and fixed in earlier rounds, so a difference
    # that is not a multiple of P survives the combination with probability at most
    # 2**-COMBINER_BITS (docs/crypto.md, "Gadget 4 on one random combination").
    rho = _combiners(p, enc_a, sum_b, sum_c)
    comb_a, comb_b, comb_c = (_combine(pk, cts, rho) for cts in (enc_a, sum_b, sum_c))
    r_bits, rm_bits = budget.r_bits, budget.rm_bits
    (mask,), (mac_mask,) = yield from _masks(p, [(1, r_bits), (1, rm_bits)], "gadget4-masks")
    # Step 2-6: sum rho_t (a_t - sum_j b_jt) + P * sum_j r_j must decrypt to a multiple of P.
    ef = ops.add(pk, ops.sub(pk, comb_a, comb_b), ops.mul_plain(pk, mask, F.P))
    (opened,) = yield from p.open_bounded(
        [ef], _test_bounds(budget.d_bits, r_bits, m, 1), "gadget4-values"
    )
    _check_multiples([opened], "a - sum of shares")
    # Step 7: release alpha (never twice; nothing may be authenticated under it afterwards).
    p.alpha_released = True
    (alpha,) = yield from p.joint_decrypt([p.enc_alpha], "gadget4-alpha")
    # Steps 8-9: sum rho_t (alpha * sum_j b_jt - sum_j c_jt) + P * sum_j r'_j likewise.
    n2 = pk.n_square
    scaled = (
        int(gmpy2.powmod(comb_b, alpha, n2))
        if alpha >= 0
        else ops.neg(pk, int(gmpy2.powmod(comb_b, -alpha, n2)))
    )
    em = ops.add(pk, ops.sub(pk, scaled, comb_c), ops.mul_plain(pk, mac_mask, F.P))
    # alpha in [0, m (P - 1)] and the MAC shares are exact, so |e| < 2**e_bits likewise.
    (opened_m,) = yield from p.open_bounded(
        [em], _test_bounds(budget.e_bits, rm_bits, m, 1), "gadget4-macs"
    )
    _check_multiples([opened_m], "alpha * sum of shares - sum of MAC shares")
    return alpha % F.P


def _combiners(p: PaillierParty, enc_a: list[int], sum_b: list[int], sum_c: list[int]) -> list[int]:
    """Gadget 4's rho_t: COMBINER_BITS each, hashed from the session and every ciphertext the
    tests combine (equal at every party: all of them are public and agreed)."""
    t = Transcript("coopetition/spdz/gadget4-combine/v1")
    t.absorb(p.session, p.pk.n, [int(c) for c in enc_a], [int(c) for c in sum_b])
    t.absorb([int(c) for c in sum_c])
    return t.challenge_ints(len(enc_a), COMBINER_BITS)


def _combine(pk: PublicKey, cts: list[int], rho: list[int]) -> int:
    """prod_t cts_t ** rho_t mod N^2 = Enc(sum_t rho_t x_t): the MAC batch's combination."""
    return combine(pk, cts, rho, pk.n_square)
