"""SPDZ preprocessing from oblivious transfer: MASCOT (Keller, Orsini, Scholl, CCS 2016).

Secure against any m - 1 of m malicious parties. Every item comes out as authenticated shares
under the MAC key alpha = sum alpha_i (each party's ``alpha_share``, e.g. the one its
Paillier setup published, so MASCOT items and Gadget 3 conversions share one key) and lands in
the same :class:`~.preprocessing.PreprocessingStore` batches as the Paillier generator's, so
the online phase, Gadgets 3/4 and the consumption journal take them unchanged.

* **Authentication** (MASCOT's Pi_[[.]], Figure 4): each party inputs its values with COPE
  (:mod:`.mascot_links`) plus one random extra value; after a coin toss every party's
  inputs are combined with random coefficients and the combination is opened and
  MAC-checked. A party that fed COPE different values towards different peers is caught
  except with probability 2/P once its error shows; an error in one COPE position l shows
  only where the peer's key bit l is 1 (a selective failure on alpha, docs/crypto.md). Values are shared trivially (the owner holds the value);
  sums over owners give properly random sharings.
* **Triples** (Figure 9): Multiply gives tau = 3 products a_h * b per triple, Combine takes
  two random combinations (a, c) and (a^, c^) with coin-tossed coefficients, the five values
  are authenticated, and Sacrifice opens rho = t a - a^ and checks t c - c^ - rho b = 0, then
  MAC-checks everything. A wrong triple survives with probability 1/P; tau = 3 hides
  selective-failure leakage at k = 256 because rho = t a - a^ is opened too, so the hash
  output seen is 2k bits (tau = 2 leaked a bit of the honest a; docs/crypto.md).
* **Random values**: the sum of every party's authenticated random contribution.
* **Input masks**: only the owner contributes; it keeps the value.
* **Bits**: random squares (Damgard et al., CRYPTO 2012): a random [[r]] and a triple give
  [[r^2]], which is opened; b = (r / sqrt(r^2) + 1) / 2 (P = 3 mod 4), then a MAC check.
* **Bounded** masks of ``bits`` bits: sum_i 2^i [[b_i]] from checked bits, so 0 <= R < 2^bits
  exactly whatever a cheater does (no range proof needed).

*MAC key binding*: with Helen the key shares are those of the published Enc(alpha_i);
:func:`.mascot_keybind.bind_mac_key` checks that.

Dual-form bounded masks (with a Paillier ciphertext, used by Gadget 3's way back) cannot come
from OT; they stay with the Paillier generator (:mod:`.offline`).
"""

from __future__ import annotations

import functools
import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Concatenate, ParamSpec, TypeVar

import numpy as np

from coopetition.engine.errors import LocalFailure

from . import field as F
from .errors import SacrificeFailed
from .mascot_links import PartyLinks
from .offline import bits_from_opened_squares
from .online import SpdzParty
from .pairwise import MixedProgram as Program
from .preprocessing import Batch, PreprocessingStore
from .shares import Share

#: Products per triple before combining (see docs/crypto.md, "MASCOT").
TAU = 3

_A = ParamSpec("_A")
_T = TypeVar("_T")


def _single_use(
    method: Callable[Concatenate[MascotParty, _A], Program[_T]],
) -> Callable[Concatenate[MascotParty, _A], Program[_T]]:
    """Refuse every step once a step of this party ended in an exception (an abort).

    A failed check tells the cheater something about the honest party's secret correlations
    (a COPE error that aborts shows alpha_j[l] = 1, a KOS column that aborts shows
    Delta_l = 1), so going on with the same OT links would leak a bit per attempt.
    """

    @functools.wraps(method)
    def guarded(self: MascotParty, *args: _A.args, **kwargs: _A.kwargs) -> Program[_T]:
        if self._aborted:
            raise LocalFailure(
                "this MASCOT party aborted earlier; its OT correlations must not be reused "
                "(start a new MascotParty with a fresh MAC key share)"
            )
        try:
            return (yield from method(self, *args, **kwargs))
        except BaseException:
            self._aborted = True
            raise

    return guarded


def _coins(seeds: dict[int, bytes], label: bytes, count: int) -> list[int]:
    """count field elements from every party's opened seed (uniform if one party is honest)."""
    h = hashlib.sha3_256(b"coopetition/mascot/coins/" + label)
    for j in sorted(seeds):
        h.update(seeds[j])
    stream = hashlib.shake_256(h.digest()).digest(40 * count)
    return [int.from_bytes(stream[40 * i : 40 * i + 40], "big") % F.P for i in range(count)]


@dataclass
class MascotParty:
    """One party's MASCOT preprocessing: its OT links and the store it fills."""

    party: int
    parties: int
    session: bytes
    alpha_share: int = field(default_factory=lambda: secrets.randbelow(F.P))
    store: PreprocessingStore | None = None
    links: PartyLinks | None = None
    _run_nonce: bytes = b""
    _batches: int = 0
    _rounds: int = 0
    _online: SpdzParty | None = None
    _aborted: bool = False

    @_single_use
    def setup(self) -> Program[PreprocessingStore]:
        """Base OTs, KOS and COPE set-up with every peer, and the run nonce for batch ids."""
        self.store = PreprocessingStore(self.party, self.parties, self.alpha_share % F.P)
        self.links = PartyLinks(self.party, self.parties, self.session, self.alpha_share % F.P)
        yield from self.links.setup()
        seeds = yield from self._spdz("run-nonce")._commit_open(
            "run-nonce", secrets.token_bytes(32)
        )
        h = hashlib.sha3_256(b"coopetition/mascot/run-nonce/v1")
        for j in sorted(seeds):
            h.update(seeds[j])
        self._run_nonce = h.digest()
        return self.store

    def online(self) -> SpdzParty:
        """The run's online party (openings and MAC checks under this party's key share)."""
        return self._spdz("online")

    def mark_aborted(self) -> None:
        """Refuse every further step (a check run outside this class, e.g. the MAC key
        binding of :mod:`.mascot_keybind`, failed with these correlations)."""
        self._aborted = True

    def _spdz(self, tag: str) -> SpdzParty:
        """The online party used for this run's openings and MAC checks.

        One object for the whole run, so its message tags never repeat (the engine refuses a
        second message under a tag); every step ends with a MAC check, so nothing unchecked
        carries over between steps. ``tag`` only documents the step.
        """
        if self._online is None:
            scratch = PreprocessingStore(self.party, self.parties, self.alpha_share % F.P)
            self._online = SpdzParty(scratch, session=self.session + b"/mascot")
        self._rounds += 1
        return self._online

    def _batch_id(self, kind: str) -> bytes:
        if not self._run_nonce:
            raise RuntimeError("run setup() first")
        self._batches += 1
        h = hashlib.sha256(b"coopetition/mascot/batch/v1" + self.session + b"/" + kind.encode())
        h.update(self._batches.to_bytes(8, "big") + self._run_nonce)
        return h.digest()[:16]

    def _sample(self, n: int) -> list[int]:
        """Uniform field elements (tests override this to cheat)."""
        return [secrets.randbelow(F.P) for _ in range(n)]

    # -- authentication --------------------------------------------------------------------

    @_single_use
    def authenticate(self, counts: dict[int, int], mine: list[int]) -> Program[dict[int, Share]]:
        """Authenticated trivial sharings of every party's inputs, checked (Pi_[[.]]).

        Returns {owner: my Share of its inputs}; my value share is my input for my own inputs
        and 0 for the others'.
        """
        assert self.links is not None
        padded = {j: c + 1 for j, c in counts.items()}
        extra = self._sample(1)
        terms = yield from self.links.cope(padded, list(mine) + extra)
        shares: dict[int, Share] = {}
        for j, c in padded.items():
            if j == self.party:
                value = F.vec(list(mine) + extra)
                mac = F.add(F.mul(value, self.alpha_share), F.vec(terms[j]))
            else:
                value, mac = F.zeros(c), F.vec(terms[j])
            shares[j] = Share(value, mac)
        spdz = self._spdz("input-check")
        seeds = yield from spdz._commit_open("input-check", secrets.token_bytes(32))
        total = sum(padded.values())
        coeffs = _coins(seeds, b"input-check", total)
        combos, pos = [], 0
        for j in sorted(padded):
            r = F.vec(coeffs[pos : pos + padded[j]])
            pos += padded[j]
            s = shares[j]
            combos.append(
                Share(
                    F.vec([int(np.sum(F.mul(s.value, r)) % F.P)]),
                    F.vec([int(np.sum(F.mul(s.mac, r)) % F.P)]),
                )
            )
        yield from spdz.open(Share.concat(combos))
        yield from spdz.mac_check()
        return {j: s[: counts[j]] for j, s in shares.items()}

    # -- kinds -----------------------------------------------------------------------------

    @_single_use
    def raw_pairs(self, n: int, extra: int = 0) -> Program[tuple[Share, ...]]:
        """[[a]], [[b]], [[c]], [[a^]], [[c^]] (c = ab, c^ = a^ b if all were honest), and
        ``extra`` random values [[r]] authenticated in the same pass."""
        assert self.links is not None
        a = self._sample(TAU * n)
        b = self._sample(n)
        cross = yield from self.links.multiply(a, b, TAU)
        c = [(a[i] * b[i // TAU] + cross[i]) % F.P for i in range(TAU * n)]
        spdz = self._spdz("combine")
        seeds = yield from spdz._commit_open("combine", secrets.token_bytes(32))
        r = np.array(_coins(seeds, b"combine", 2 * TAU * n), dtype=object).reshape(2, n, TAU)
        av = np.array(a, dtype=object).reshape(n, TAU)
        cv = np.array(c, dtype=object).reshape(n, TAU)
        comb = [
            [int(v) % F.P for v in (av * r[0]).sum(axis=1)],
            [int(v) % F.P for v in (cv * r[0]).sum(axis=1)],
            [int(v) % F.P for v in (av * r[1]).sum(axis=1)],
            [int(v) % F.P for v in (cv * r[1]).sum(axis=1)],
        ]
        mine = comb[0] + b + comb[1] + comb[2] + comb[3] + self._sample(extra)
        counts = {j: 5 * n + extra for j in range(self.parties)}
        total = _sum_shares((yield from self.authenticate(counts, mine)))
        return (*(total[i * n : (i + 1) * n] for i in range(5)), total[5 * n :])

    def _sacrificed(
        self, n: int, extra: int
    ) -> Program[tuple[Share, Share, Share, Share, list[int]]]:
        """Triples with their sacrifice opened but NOT yet MAC-checked or zero-tested.

        Returns (a, b, c, extra randoms, opened sacrifice values); the caller must run the MAC
        check and :func:`_require_zero` before anything derived from them leaves the batch.
        """
        a, b, c, ah, ch, rand = yield from self.raw_pairs(n, extra)
        spdz = self._spdz("sacrifice")
        seeds = yield from spdz._commit_open("sacrifice", secrets.token_bytes(32))
        t = _coins(seeds, b"sacrifice", 1)[0]
        rho = yield from spdz.open(a.scale(t) - ah)
        zero = yield from spdz.open(c.scale(t) - ch - b.scale(rho))
        return a, b, c, rand, [int(v) for v in zero]

    @_single_use
    def triples(self, n: int) -> Program[Batch]:
        """n triples, each checked by sacrificing its companion (a^, b, c^)."""
        a, b, c, _, zero = yield from self._sacrificed(n, 0)
        yield from self._spdz("sacrifice-check").mac_check()
        _require_zero(zero)
        return Batch("triple", self._batch_id("triple"), (a, b, c))

    @_single_use
    def randoms(self, n: int) -> Program[Batch]:
        shares = yield from self.authenticate({j: n for j in range(self.parties)}, self._sample(n))
        return Batch("random", self._batch_id("random"), (_sum_shares(shares),))

    @_single_use
    def input_masks(self, owner: int, n: int) -> Program[Batch]:
        counts = {j: (n if j == owner else 0) for j in range(self.parties)}
        mine = self._sample(n) if self.party == owner else []
        shares = yield from self.authenticate(counts, mine)
        clear = F.vec(mine) if self.party == owner else None
        return Batch(
            "input_mask",
            self._batch_id(f"input_mask/{owner}"),
            (shares[owner],),
            owner=owner,
            clear=clear,
        )

    @_single_use
    def bit_shares(self, n: int) -> Program[Share]:
        """n checked random bits (random squares).

        The random values ride in the triples' authentication pass, and one MAC check covers
        the sacrifice, the Beaver product and the opened squares; the sacrifice's zero test
        runs right after it, before any bit is formed.
        """
        a, b, c, r, zero = yield from self._sacrificed(n, n)
        spdz = self._spdz("bits")
        spdz.store.add(Batch("triple", self._batch_id("triple-for-bits"), (a, b, c)))
        sq = yield from spdz.mul(r, r)
        opened = yield from self._open_squares(spdz, sq)
        yield from spdz.mac_check()
        _require_zero(zero)
        return bits_from_opened_squares(r, opened, self.party, spdz.alpha_share)

    def _open_squares(self, spdz: SpdzParty, sq: Share) -> Program[np.ndarray]:
        """Open [[r^2]] (a hook: tests override it to cheat)."""
        return (yield from spdz.open(sq))

    @_single_use
    def bits(self, n: int) -> Program[Batch]:
        share = yield from self.bit_shares(n)
        return Batch("bit", self._batch_id("bit"), (share,))

    @_single_use
    def bounded(self, n: int, bits: int) -> Program[Batch]:
        """n masks uniform in [0, 2^bits), each the weighted sum of ``bits`` checked bits."""
        b = yield from self.bit_shares(n * bits)
        weights = F.vec([1 << i for i in range(bits)] * n)
        w = b.scale(weights)
        value = np.array([int(v) % F.P for v in w.value.reshape(n, bits).sum(axis=1)], dtype=object)
        mac = np.array([int(v) % F.P for v in w.mac.reshape(n, bits).sum(axis=1)], dtype=object)
        return Batch("bounded", self._batch_id(f"bounded/{bits}"), (Share(value, mac),), bits=bits)

    @_single_use
    def fill(
        self,
        *,
        triples: int = 0,
        bits: int = 0,
        randoms: int = 0,
        bounded: tuple[tuple[int, int], ...] = (),
        input_masks: dict[int, int] | None = None,
        batch: int = 256,
        progress: Callable[[str, int, int], None] | None = None,
    ) -> Program[PreprocessingStore]:
        """Generate the requested material into this party's store, ``batch`` items at a time.

        ``progress(kind, done, total)`` is called after every batch (e.g. to drive a bar).
        """
        report = progress or (lambda kind, done, total: None)
        if self.store is None:
            yield from self.setup()
        assert self.store is not None
        for kind, total, make in (
            ("triple", triples, self.triples),
            ("bit", bits, self.bits),
            ("random", randoms, self.randoms),
        ):
            for start in range(0, total, batch):
                self.store.add((yield from make(min(batch, total - start))))
                report(kind, min(start + batch, total), total)
        for width, count in bounded:
            per = max(1, batch // max(1, width))
            for start in range(0, count, per):
                self.store.add((yield from self.bounded(min(per, count - start), width)))
                report(f"bounded/{width}", min(start + per, count), count)
        for owner, count in sorted((input_masks or {}).items()):
            for start in range(0, count, batch):
                self.store.add((yield from self.input_masks(owner, min(batch, count - start))))
                report(f"input_mask/{owner}", min(start + batch, count), count)
        return self.store


def _require_zero(values: list[int]) -> None:
    if any(v != 0 for v in values):
        raise SacrificeFailed("a MASCOT triple failed the sacrifice check")


def _sum_shares(shares: dict[int, Share]) -> Share:
    total: Share | None = None
    for j in sorted(shares):
        total = shares[j] if total is None else total + shares[j]
    assert total is not None
    return total
