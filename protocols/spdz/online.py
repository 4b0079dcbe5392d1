"""The SPDZ online phase as sans-IO per-party programs.

A *program* is a generator that yields :class:`Exchange` requests ("broadcast this payload
under this tag and give me everybody's payload for the same tag") and finally returns its
result. It never touches a socket or a clock: the local harness (:mod:`.harness`) drives m of
them in lock step, and an engine state machine can drive the same generator from bus events
(send the payload, collect the m-1 payloads keyed by tag, ``send()`` them back in). Payloads
are CBOR-encodable dicts of bytes and ints.

Security notes (details and sources in ``docs/crypto.md``):

* Opened values are accumulated and checked in :meth:`SpdzParty.mac_check` with a
  commit-then-open of a random linear combination (coefficients from a committed coin toss),
  as in Damgård et al. (ESORICS 2013, "Practical covertly secure MPC for dishonest majority",
  the MAC check protocol). Results are only returned by :meth:`output`, which checks first.
* :meth:`trunc_pr` is Catrina-Saxena probabilistic truncation (FC 2010, Protocol 3.1 TruncPr)
  and :meth:`ltz` is Catrina-de Hoogh's LTZ via Mod2m with a bitwise less-than on public bits
  (SCN 2010), both statistically hiding with ``kappa`` bits (default 40).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np

from coopetition.engine.errors import LocalFailure, ProtocolViolation
from coopetition.engine.program import Exchange, Program

from . import commit as C
from . import field as F
from .errors import CommitmentMismatch, MacCheckFailed, PreprocessingMismatch
from .preprocessing import Drawn, PreprocessingStore
from .shares import Share

T = TypeVar("T")

#: Statistical security parameter (bits) of the masks used by truncation and comparison.
DEFAULT_KAPPA = 40
#: Bits of headroom kept below P for masks: a bounded mask of b bits is a sum of at most
#: m < 128 contributions, each range-proved in [0, 2^b) exactly, so it lies below 2^(b + 7),
#: and c = x + 2^(k-1) + r < 2^(k + kappa + 8) <= 2^255 < P (docs/crypto.md, "Field size").
MASK_HEADROOM_BITS = 8


def _fixed_bytes(payload: object, key: str, size: int, sender: int) -> bytes:
    """payload[key] if it is a byte string of exactly ``size`` bytes, else a violation by sender."""
    raw = payload.get(key) if isinstance(payload, dict) else None
    if not isinstance(raw, (bytes, bytearray)) or len(raw) != size:
        raise ProtocolViolation(
            f"malformed commitment message: '{key}' must be {size} bytes", culprit=sender
        )
    return bytes(raw)


def _ids_wire(ids: tuple[tuple[bytes, int, int], ...]) -> list[list[object]]:
    return [[b, s, k] for b, s, k in ids]


@dataclass
class SpdzParty:
    """One party's online-phase state: its preprocessing, key share and unchecked openings."""

    store: PreprocessingStore
    session: bytes = b""
    kappa: int = DEFAULT_KAPPA
    _pending_values: list[np.ndarray] = field(default_factory=list)
    _pending_macs: list[np.ndarray] = field(default_factory=list)
    _counter: int = 0
    _retired: bool = False

    @property
    def party(self) -> int:
        return self.store.party

    @property
    def parties(self) -> int:
        return self.store.parties

    @property
    def alpha_share(self) -> int:
        return self.store.alpha_share

    def _tag(self, op: str) -> str:
        if self._retired:
            raise LocalFailure("this SPDZ party was retired: its MAC key has been released")
        self._counter += 1
        return f"{op}/{self._counter}"

    @property
    def unchecked(self) -> int:
        """How many opened values still await the MAC check."""
        return sum(len(v) for v in self._pending_values)

    @property
    def retired(self) -> bool:
        return self._retired

    def retire(self) -> None:
        """Refuse all further work: called when the run's conversions are closed (verify).

        After the final MAC check nothing more may be opened under this key (and, were alpha
        ever made public, anyone could forge MACs), so neither this party nor its store may
        open or check anything again. Only allowed with no opening left unchecked.
        """
        if self._pending_values:
            raise LocalFailure("cannot retire an SPDZ party with unchecked openings")
        self._retired = True
        self.store.retire()

    # -- helpers -----------------------------------------------------------------------------

    def _field_vec(self, payload: object, key: str, sender: int, n: int) -> np.ndarray:
        # Only a byte string of exactly n field elements: ``bytes(raw)`` on an int would
        # allocate that many zero bytes, so the type and length are checked before decoding.
        raw = payload.get(key) if isinstance(payload, dict) else None
        if not isinstance(raw, (bytes, bytearray)):
            raise ProtocolViolation(
                f"malformed '{key}' in SPDZ message: not a byte string", culprit=sender
            )
        if len(raw) != 32 * n:
            raise ProtocolViolation(
                f"'{key}' has {len(raw)} bytes, expected {32 * n}", culprit=sender
            )
        try:
            return F.from_bytes(bytes(raw))
        except ValueError as exc:
            raise ProtocolViolation(f"malformed '{key}' in SPDZ message", culprit=sender) from exc

    @staticmethod
    def _parse_ids(theirs: object, sender: int) -> list[list[object]]:
        """A peer's item ids as [[batch id, start, count], ...]; anything else is a violation."""
        if not isinstance(theirs, list):
            raise ProtocolViolation("malformed preprocessing ids: not a list", culprit=sender)
        out: list[list[object]] = []
        for item in theirs:
            if (
                not isinstance(item, list)
                or len(item) != 3
                or not isinstance(item[0], (bytes, bytearray))
                or len(item[0]) > 64
                or not all(isinstance(x, int) and not isinstance(x, bool) for x in item[1:])
            ):
                raise ProtocolViolation("malformed preprocessing id", culprit=sender)
            out.append([bytes(item[0]), item[1], item[2]])
        return out

    def _check_ids(self, replies: dict[int, dict[str, Any]], mine: list[list[object]]) -> None:
        for j, payload in replies.items():
            if j == self.party:
                continue
            if not isinstance(payload, dict):
                raise ProtocolViolation("SPDZ message is not a map", culprit=j)
            norm = self._parse_ids(payload.get("ids"), j)
            if norm != mine:
                raise PreprocessingMismatch(
                    "party used other preprocessing items than this party (reused or skipped)",
                    culprit=j,
                )

    def public(self, values: np.ndarray) -> Share:
        return Share.public(values, self.party, self.alpha_share)

    # -- opening and MAC check ---------------------------------------------------------------

    def open(self, x: Share, ids: tuple[tuple[bytes, int, int], ...] = ()) -> Program[np.ndarray]:
        """Open x to everyone; the MACs are checked later, by :meth:`mac_check`."""
        mine = _ids_wire(ids)
        replies = yield Exchange(self._tag("open"), {"v": F.to_bytes(x.value), "ids": mine})
        self._check_ids(replies, [[bytes(b), s, k] for b, s, k in mine])  # type: ignore[call-overload]
        total = F.zeros(len(x))
        for j in range(self.parties):
            total = F.add(
                total,
                x.value if j == self.party else self._field_vec(replies.get(j), "v", j, len(x)),
            )
        self._pending_values.append(total)
        self._pending_macs.append(x.mac.copy())
        return total

    def _commit_open(self, label: str, value: bytes) -> Program[dict[int, bytes]]:
        """Commit to ``value``, then open; returns every party's verified value.

        Every party's value must have the length of ours (callers commit to fixed-size values).
        """
        tag = self._tag(label)
        ctx = self.session + label.encode() + self.party.to_bytes(4, "big")
        com, rand = C.commit(ctx, value)
        coms = yield Exchange(tag + "/commit", {"c": com})
        opens = yield Exchange(tag + "/open", {"v": value, "r": rand})
        out: dict[int, bytes] = {}
        for j in range(self.parties):
            if j == self.party:
                out[j] = value
                continue
            cj = _fixed_bytes(coms.get(j), "c", 32, j)
            vj = _fixed_bytes(opens.get(j), "v", len(value), j)
            rj = _fixed_bytes(opens.get(j), "r", 32, j)
            ctx_j = self.session + label.encode() + j.to_bytes(4, "big")
            if not C.verify(ctx_j, cj, vj, rj):
                raise CommitmentMismatch("opened value does not match its commitment", culprit=j)
            out[j] = vj
        return out

    def _joint_coin(self, label: str, domain: bytes, n: int) -> Program[np.ndarray]:
        """n field elements from a committed coin toss: nobody sees another seed before its own
        is committed, so one honest party makes the elements uniform and unpredictable."""
        seeds = yield from self._commit_open(label, secrets.token_bytes(32))
        h = hashlib.sha3_256(domain + self.session)
        for j in range(self.parties):  # _commit_open already refused seeds of other lengths
            h.update(seeds[j])
        stream = hashlib.shake_256(h.digest()).digest(40 * n)
        return np.array(
            [int.from_bytes(stream[40 * i : 40 * i + 40], "big") % F.P for i in range(n)],
            dtype=object,
        )

    def mac_check(self) -> Program[None]:
        """Check every value opened since the last check (commit-then-open, random combination)."""
        if not self._pending_values:
            return None
        values = np.concatenate(self._pending_values).astype(object)
        macs = np.concatenate(self._pending_macs).astype(object)
        self._pending_values, self._pending_macs = [], []
        coeffs = yield from self._joint_coin(
            "mac-seed", b"coopetition/spdz/mac-check/v1", len(values)
        )
        a = int(np.sum(F.mul(values, coeffs)) % F.P)
        gamma = int(np.sum(F.mul(macs, coeffs)) % F.P)
        sigma = (gamma - self.alpha_share * a) % F.P
        sigmas = yield from self._commit_open("mac-sigma", sigma.to_bytes(32, "big"))
        total = 0
        for j in range(self.parties):
            if len(sigmas[j]) != 32:
                raise ProtocolViolation("MAC-check share must be 32 bytes", culprit=j)
            total += int.from_bytes(sigmas[j], "big")
        if total % F.P != 0:
            # Which party cheated is unknowable here: any opened share or MAC share could be off.
            raise MacCheckFailed("MAC check over opened values failed")
        return None

    def output(self, x: Share) -> Program[np.ndarray]:
        """Open and MAC-check: the only way results leave the protocol."""
        vals = yield from self.open(x)
        yield from self.mac_check()
        return vals

    # -- input, linear operations and multiplication --------------------------------------------

    def input(self, owner: int, n: int, values: np.ndarray | None = None) -> Program[Share]:
        """Party ``owner`` shares n field elements (``values`` given only at the owner)."""
        mask: Drawn = self.store.take("input_mask", n, owner=owner)
        payload: dict[str, Any] = {"ids": _ids_wire(mask.ids)}
        if self.party == owner:
            if values is None or mask.clear is None:
                raise ValueError("the input owner must supply its values and hold the mask values")
            payload["e"] = F.to_bytes(F.sub(F.vec(values), mask.clear))
        replies = yield Exchange(self._tag("input"), payload)
        self._check_ids(replies, _ids_wire(mask.ids))
        eps = payload["e"] if self.party == owner else None
        e = (
            F.from_bytes(eps)
            if eps is not None
            else self._field_vec(replies.get(owner), "e", owner, n)
        )
        return mask.parts[0].add_public(e, self.party, self.alpha_share)

    def mul(self, x: Share, y: Share) -> Program[Share]:
        """Beaver multiplication with one triple per element, one round of opening."""
        n = len(x)
        t = self.store.take("triple", n)
        a, b, c = t.parts
        opened = yield from self.open(Share.concat([x - a, y - b]), t.ids)
        eps, rho = opened[:n], opened[n:]
        z = c + b.scale(eps) + a.scale(rho)
        return z.add_public(F.mul(eps, rho), self.party, self.alpha_share)

    # -- truncation and comparison ---------------------------------------------------------------

    def _check_budget(self, k: int) -> None:
        if k + self.kappa + MASK_HEADROOM_BITS >= F.P_BITS:
            raise ValueError(
                f"k={k} leaves no room for {self.kappa}-bit masks below the {F.P_BITS}-bit prime"
            )

    def _mask(self, n: int, k: int, m: int) -> tuple[Share, Share, list[Share], Drawn, Drawn]:
        """Shares of r = 2^m r'' + r' with r' from m random bits; returns (r, r', bits, draws)."""
        bits = self.store.take("bit", n * m)
        low = self.store.take("bounded", n, bits=k + self.kappa - m)
        bit_vectors = [bits.parts[0][i * n : (i + 1) * n] for i in range(m)]
        r_low = Share(F.zeros(n), F.zeros(n))
        for i, bi in enumerate(bit_vectors):
            r_low = r_low + bi.scale(1 << i)
        r = low.parts[0].scale(1 << m) + r_low
        return r, r_low, bit_vectors, bits, low

    def trunc_pr(self, x: Share, k: int, m: int) -> Program[Share]:
        """x / 2^m rounded up or down at random (up with probability = fraction), |x| < 2^(k-1)."""
        if not 0 < m < k:
            raise ValueError("need 0 < m < k")
        self._check_budget(k)
        n = len(x)
        r, r_low, _, bits, low = self._mask(n, k, m)
        shifted = x.add_public(1 << (k - 1), self.party, self.alpha_share)
        c = yield from self.open(shifted + r, bits.ids + low.ids)
        return self.divide_opened(x, r_low, c, m)

    def divide_opened(self, x: Share, r_low: Share, c: np.ndarray, m: int) -> Share:
        """TruncPr's last step: (x + r' - (c mod 2^m)) / 2^m, exact in the field, for the
        opened c = x + (a multiple of 2^m) + 2^m r'' + r' (also ``trunc_summed``'s)."""
        c_low = np.array([int(v) % (1 << m) for v in c], dtype=object)
        d = (x + r_low).add_public(F.neg(c_low), self.party, self.alpha_share)
        return d.scale(F.inv(1 << m))

    def mul_public_fixed(self, x: Share, c: int, frac_bits: int, k: int) -> Program[Share]:
        """x * c for a public fixed-point constant c (an integer at scale 2^frac_bits), rescaled.

        The product has scale 2^(2 frac_bits) and is brought back with one probabilistic
        truncation (error below one unit in the last place); |x * c| must stay below 2^(k-1).
        Helen's coordination step uses it for averages (c = 1/m) and step sizes.
        """
        return (yield from self.trunc_pr(x.scale(c % F.P), k, frac_bits))

    def _bit_lt(self, c: np.ndarray, r_bits: list[Share]) -> Program[Share]:
        """[c < r] for public c and r given by shared bits (least significant first)."""
        m = len(r_bits)
        n = len(c)
        cb = [np.array([(int(v) >> i) & 1 for v in c], dtype=object) for i in range(m)]
        # e_i = c_i XOR r_i, linear because c_i is public.
        e = []
        for i in range(m):
            flip = r_bits[i].scale(F.vec(1 - 2 * cb[i]))
            e.append(flip.add_public(cb[i], self.party, self.alpha_share))
        # Suffix OR from the top bit: f_i = OR(e_i..e_{m-1}).
        f: list[Share] = [Share(F.zeros(n), F.zeros(n))] * m
        f[m - 1] = e[m - 1]
        for i in range(m - 2, -1, -1):
            prod = yield from self.mul(f[i + 1], e[i])
            f[i] = f[i + 1] + e[i] - prod
        # g_i marks the most significant differing bit; there c < r iff c_i = 0.
        u = Share(F.zeros(n), F.zeros(n))
        for i in range(m):
            g = f[i] - f[i + 1] if i < m - 1 else f[i]
            u = u + g.scale(F.vec(1 - cb[i]))
        return u

    def ltz(self, x: Share, k: int) -> Program[Share]:
        """Shares of [x < 0] for x in [-2^(k-1), 2^(k-1)) (exact, statistically hiding).

        Outside that range the result is silently wrong (the shifted value wraps past 2^k), so
        callers size k for their largest argument; k >= 2 (with k = 1 no bits are compared).
        """
        if k < 2:
            raise ValueError("ltz needs k >= 2")
        ge = yield from self._floor_shifted(x, k, k - 1)  # floor(shifted / 2^(k-1)) = [x >= 0]
        return (-ge).add_public(1, self.party, self.alpha_share)

    def _floor_shifted(self, x: Share, k: int, m: int) -> Program[Share]:
        """floor((x + 2^(k-1)) / 2^m) exactly, for x in [-2^(k-1), 2^(k-1)) and 0 < m < k.

        Catrina-de Hoogh Mod2m: open c = x + 2^(k-1) + r with r = 2^m r'' + r' (r' from m
        shared bits, r'' of k + kappa - m bits), then shifted mod 2^m = c' - r' + 2^m [c' < r']
        with c' = c mod 2^m; subtracting it leaves a multiple of 2^m.
        """
        self._check_budget(k)
        n = len(x)
        r, r_low, bit_vectors, bits, low = self._mask(n, k, m)
        shifted = x.add_public(1 << (k - 1), self.party, self.alpha_share)
        c = yield from self.open(shifted + r, bits.ids + low.ids)
        c_low = np.array([int(v) % (1 << m) for v in c], dtype=object)
        u = yield from self._bit_lt(c_low, bit_vectors)
        # shifted mod 2^m = c' - r' + 2^m u
        mod = (u.scale(1 << m) - r_low).add_public(c_low, self.party, self.alpha_share)
        return (shifted - mod).scale(F.inv(1 << m))

    def floor_pow2(self, x: Share, k: int, m: int) -> Program[Share]:
        """Shares of floor(x / 2^m), exactly, for x in [-2^(k-1), 2^(k-1)) and 0 < m < k.

        Unlike :meth:`trunc_pr` the result is deterministic (no rounding up at random): it
        costs m bits and m - 1 triples per entry for the bitwise comparison. Statistically
        hiding with ``kappa`` bits inside the range; outside it silently wrong, like :meth:`ltz`.
        """
        if not 0 < m < k:
            raise ValueError("floor_pow2 needs 0 < m < k")
        q = yield from self._floor_shifted(x, k, m)
        return q.add_public(F.P - (1 << (k - 1 - m)), self.party, self.alpha_share)

    def zero_test(self, x: Share) -> Program[int]:
        """Open one field element that is 0 if every x_t is 0, after a MAC check of all openings.

        t = sum_t rho_t x_t with rho from a joint coin drawn now (x is already fixed), then
        t * b for the hidden random b of a fresh triple (a, b, c): open e = t - a, t b = c + e b.
        If some x_t != 0, t = 0 with probability 1/P over rho and t b = 0 with probability 1/P
        over b; otherwise the opened value is a uniformly random nonzero element, so it shows
        only zero / nonzero. Everything opened up to e is MAC-checked before v is opened (so no
        forged opening can steer v), and v itself before it returns.
        """
        rho = yield from self._joint_coin("zero-test", b"coopetition/spdz/zero-test/v1", len(x))
        t = Share(
            F.vec([int(np.sum(F.mul(x.value, rho)) % F.P)]),
            F.vec([int(np.sum(F.mul(x.mac, rho)) % F.P)]),
        )
        trip = self.store.take("triple", 1)
        a, b, c = trip.parts
        (e,) = yield from self.open(t - a, trip.ids)
        # Check e (and every opening before it) before v = c + e b is formed and opened: a
        # forged e = t - a - g would make v = (t - g) b, which is 0 iff t = g, a probe of t.
        yield from self.mac_check()
        (opened,) = yield from self.open(c + b.scale(int(e)))
        yield from self.mac_check()
        return int(opened)

    def soft_threshold(self, x: Share, kappa: int, k: int) -> Program[Share]:
        """S_kappa(x) = x - kappa if x > kappa, x + kappa if x < -kappa, else 0 (kappa public).

        Needs |x| < 2^(k-1) and 0 <= kappa < 2^(k-1). The comparison arguments kappa - x and
        x + kappa then lie in (-2^k, 2^k), one bit wider than x, so the two LTZs run with
        k + 1 bits (with k bits, x near the range limit gave a wrong sign and a wrong result).
        """
        if not 0 <= kappa < 1 << (k - 1):
            raise ValueError(f"soft threshold needs 0 <= kappa < 2^(k-1) (k={k})")
        n = len(x)
        above_arg = (-x).add_public(
            kappa, self.party, self.alpha_share
        )  # kappa - x < 0 iff x > kappa
        below_arg = x.add_public(
            kappa, self.party, self.alpha_share
        )  # x + kappa < 0 iff x < -kappa
        flags = yield from self.ltz(Share.concat([above_arg, below_arg]), k + 1)
        moved = Share.concat(
            [
                x.add_public(F.P - kappa, self.party, self.alpha_share),
                x.add_public(kappa, self.party, self.alpha_share),
            ]
        )
        prod = yield from self.mul(flags, moved)
        return prod[:n] + prod[n:]


# -- preprocessing requirements (for planning offline batches) ---------------------------------


@dataclass(frozen=True, slots=True)
class Needs:
    """Preprocessed items an online operation consumes: triples, bits, bounded masks by size."""

    triples: int = 0
    bits: int = 0
    bounded: tuple[tuple[int, int], ...] = ()  # (bit length, count)

    def __add__(self, other: Needs) -> Needs:
        merged: dict[int, int] = {}
        for b, c in (*self.bounded, *other.bounded):
            merged[b] = merged.get(b, 0) + c
        return Needs(
            self.triples + other.triples, self.bits + other.bits, tuple(sorted(merged.items()))
        )


def needs_mul(n: int) -> Needs:
    return Needs(triples=n)


def needs_trunc(n: int, k: int, m: int, kappa: int = DEFAULT_KAPPA) -> Needs:
    return Needs(bits=n * m, bounded=((k + kappa - m, n),))


def needs_ltz(n: int, k: int, kappa: int = DEFAULT_KAPPA) -> Needs:
    if k < 2:
        raise ValueError("ltz needs k >= 2")
    return Needs(triples=n * (k - 2), bits=n * (k - 1), bounded=((kappa + 1, n),))


def needs_floor_pow2(n: int, k: int, m: int, kappa: int = DEFAULT_KAPPA) -> Needs:
    if not 0 < m < k:
        raise ValueError("floor_pow2 needs 0 < m < k")
    return Needs(triples=n * (m - 1), bits=n * m, bounded=((k + kappa - m, n),))


def needs_zero_test() -> Needs:
    return Needs(triples=1)


def needs_soft_threshold(n: int, k: int, kappa: int = DEFAULT_KAPPA) -> Needs:
    return needs_ltz(2 * n, k + 1, kappa) + needs_mul(2 * n)
