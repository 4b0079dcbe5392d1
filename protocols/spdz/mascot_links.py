"""MASCOT's two-party building blocks, run by one party towards all its peers at once.

Keller, Orsini, Scholl, "MASCOT: faster malicious arithmetic secure computation with
oblivious transfer", ACM CCS 2016. Every ordered pair of parties (i, j) runs:

* a KOS OT extension with i as receiver (:mod:`coopetition.protocols.ot.kos`), and
* COPE, the correlated OT with errors over the field (MASCOT Figure 3): in ``setup``, party
  j (holding its MAC key share alpha_j) obtains through k = 256 random OTs with choice bits
  alpha_j[l] one seed of each of i's 256 seed pairs. To authenticate i's values x,
  i expands both seeds of every l to t0_l, t1_l and sends u_l = t0_l - t1_l + x; j computes
  q_l = t_(alpha_j[l]) + alpha_j[l] u_l = t0_l + alpha_j[l] x, and
  sum_l 2^l q_l - sum_l 2^l t0_l = alpha_j x. A cheating i may use a different x in each l
  (the "errors"); the input check of :mod:`.mascot` catches that.

``multiply`` is MASCOT's Multiply step (Figure 9): the receiver's choice bits are the bits of
its tau * n factors a, the sender's correlation is its factor b of the same triple; the
sender sends d = o0 - o1 + b for every OT (only after the KOS check passed) and the receiver
ends with sum_l 2^l (o_(a_l) + a_l d_l) = sum_l 2^l o0_l + a b.

All rounds are :class:`~.pairwise.Pairwise` (point-to-point); one round carries every
pair's messages in both roles.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from coopetition.protocols.ot import aes
from coopetition.protocols.ot.errors import MalformedOtMessage
from coopetition.protocols.ot.kos import KosReceiver, KosSender

from . import field as F
from . import fieldvec as V
from .pairwise import Pairwise

K = F.P_BITS
Links = Generator[Pairwise, dict[int, dict[str, Any]], Any]


def field_bits(values: list[int]) -> np.ndarray:
    """(n, 256) uint8 0/1: bit l of each value, least significant first."""
    return np.unpackbits(V.ints_to_rows(values), axis=1, bitorder="little")


def _get(payload: object, key: str, peer: int) -> object:
    """``payload[key]`` of a peer's message; a message that is not a map is the peer's fault."""
    if not isinstance(payload, dict):
        raise MalformedOtMessage("MASCOT: an OT message must be a map", culprit=peer)
    return payload.get(key)


def _bytes_of(payload: object, key: str, size: int, peer: int) -> bytes:
    raw = payload.get(key) if isinstance(payload, dict) else None
    if not isinstance(raw, (bytes, bytearray)) or len(raw) != size:
        raise MalformedOtMessage(f"MASCOT: '{key}' must be {size} bytes", culprit=peer)
    return bytes(raw)


def _rows(raw: bytes, shape: tuple[int, ...], peer: int) -> np.ndarray:
    """Received field elements, refused unless every one is canonical (< P)."""
    rows = np.frombuffer(raw, dtype=np.uint8).reshape(-1, V.ELEM)
    top = rows[:, 24:].view("<u8").reshape(-1)
    if (top == np.uint64(2**64 - 1)).any():
        for r in rows[top == np.uint64(2**64 - 1)]:
            if int.from_bytes(r.tobytes(), "little") >= F.P:
                raise MalformedOtMessage("MASCOT: field element >= P", culprit=peer)
    return rows.reshape(shape)


@dataclass
class PartyLinks:
    """One party's KOS and COPE instances towards every peer."""

    party: int
    parties: int
    session: bytes
    alpha_share: int
    recv: dict[int, KosReceiver] = field(default_factory=dict)
    send: dict[int, KosSender] = field(default_factory=dict)
    _cope_mine: dict[int, list[aes.Prg]] = field(default_factory=dict)  # j's pairs, my alpha
    _cope_pairs: dict[int, tuple[list[aes.Prg], list[aes.Prg]]] = field(default_factory=dict)
    ot_count: int = 0
    _round: int = 0

    def _tag(self, name: str) -> str:
        """A tag used once per run (the engine refuses two messages under one tag)."""
        self._round += 1
        return f"{name}/{self._round}"

    @property
    def peers(self) -> list[int]:
        return [j for j in range(self.parties) if j != self.party]

    def _pair(self, a: int, b: int) -> bytes:
        return self.session + b"/pair/" + a.to_bytes(2, "big") + b.to_bytes(2, "big")

    def setup(self) -> Links:
        """Base OTs for every KOS instance, then the COPE seeds (2 + 3 rounds)."""
        for j in self.peers:
            self.recv[j] = KosReceiver(self._pair(j, self.party), j)
            self.send[j] = KosSender(self._pair(self.party, j), j)
        got = yield Pairwise(
            self._tag("mascot-base-1"), {j: {"A": self.recv[j].setup_first()} for j in self.peers}
        )
        got = yield Pairwise(
            self._tag("mascot-base-2"),
            {j: {"r": self.send[j].setup_reply(_get(got[j], "A", j))} for j in self.peers},
        )
        for j in self.peers:
            self.recv[j].setup_finish(_get(got[j], "r", j))
            self.send[j].setup_finish()
        mine = field_bits([self.alpha_share])[0]
        recv_out, send_out = yield from self.random_ots({j: mine for j in self.peers}, K, 1)
        for j in self.peers:
            self._cope_mine[j] = [aes.Prg(bytes(r)) for r in recv_out[j]]
            o0, o1 = send_out[j]
            self._cope_pairs[j] = ([aes.Prg(bytes(r)) for r in o0], [aes.Prg(bytes(r)) for r in o1])
        self._alpha_bits = mine

    def random_ots(
        self, choices: dict[int, np.ndarray], n_peer: int, blocks: int
    ) -> Generator[Pairwise, dict[int, dict[str, Any]], tuple[dict, dict]]:
        """Random OTs: as receiver towards j with ``choices[j]``; as sender n_peer per peer.

        Returns (receiver outputs by peer, (out0, out1) by peer), released after the KOS check.
        """
        got = yield Pairwise(
            self._tag("mascot-ot-u"),
            {j: {"u": self.recv[j].extend(choices[j])} for j in self.peers},
        )
        seeds = {j: self.send[j].extend(n_peer, _get(got[j], "u", j)) for j in self.peers}
        got = yield Pairwise(self._tag("mascot-ot-seed"), {j: {"s": seeds[j]} for j in self.peers})
        answers = {j: self.recv[j].check(_get(got[j], "s", j)) for j in self.peers}
        got = yield Pairwise(
            self._tag("mascot-ot-check"), {j: {"c": answers[j]} for j in self.peers}
        )
        for j in self.peers:
            self.send[j].verify(_get(got[j], "c", j))
        self.ot_count += sum(len(c) for c in choices.values())
        recv_out = {j: self.recv[j].outputs(blocks) for j in self.peers}
        send_out = {j: self.send[j].outputs(blocks) for j in self.peers}
        return recv_out, send_out

    def multiply(self, a: list[int], b: list[int], tau: int) -> Links:
        """Additive shares of a[t*tau + h] * b_j[t] summed over all parties' b_j (cross terms).

        Returns my share of sum_(j != me) (a_me * b_j + a_j * b_me) for every a element.
        """
        n = len(b)
        # OT number h * (n * tau) + e carries bit h of a[e] (h-first, as gadget_sum reads it).
        bits = np.ascontiguousarray(field_bits(a).T).reshape(-1)  # (K * n * tau,)
        recv_out, send_out = yield from self.random_ots(
            {j: bits for j in self.peers}, n * tau * K, 2
        )
        corr = np.repeat(V.ints_to_rows(b), tau, axis=0)  # added to each of the K blocks
        msgs = {}
        shares = [0] * (n * tau)
        for j in self.peers:
            o0, o1 = send_out[j]
            msgs[j] = {"d": V.sub_add(o0, o1, corr).tobytes()}
            sender = V.gadget_sum(o0.reshape(K, n * tau, V.ELEM))
            shares = [(s - v) % F.P for s, v in zip(shares, sender, strict=True)]
        got = yield Pairwise(self._tag("mascot-mul-d"), msgs)
        for j in self.peers:
            raw = _bytes_of(got[j], "d", n * tau * K * V.ELEM, j)
            d = _rows(raw, (n * tau * K, V.ELEM), j)
            mine = V.gadget_sum(
                recv_out[j].reshape(K, n * tau, V.ELEM),
                (d * bits[:, None]).reshape(K, n * tau, V.ELEM),
            )
            shares = [(s + v) % F.P for s, v in zip(shares, mine, strict=True)]
        return shares

    def cope(self, counts: dict[int, int], mine: list[int]) -> Links:
        """COPE for every party's inputs; returns {owner: my MAC-share terms for its inputs}.

        For my own inputs the terms are -sum_l 2^l t0_l per peer (summed); for a peer's inputs
        they are sum_l 2^l q_l. The caller adds alpha_me * x for its own inputs.
        """
        n = counts[self.party]
        if len(mine) != n:
            raise ValueError("my inputs do not match my count")
        x = V.ints_to_rows(mine)
        msgs = {}
        own = [0] * n
        for j in self.peers:
            g0, g1 = self._cope_pairs[j]
            t0 = _stream(g0, n)
            t1 = _stream(g1, n)
            u = V.sub_add(t0.reshape(-1, V.ELEM), t1.reshape(-1, V.ELEM), x)  # x per K block
            msgs[j] = {"u": u.tobytes()}
            terms = V.gadget_sum(t0) if n else []
            own = [(o - v) % F.P for o, v in zip(own, terms, strict=True)]
        got = yield Pairwise(self._tag("mascot-cope-u"), msgs)
        out: dict[int, list[int]] = {self.party: own}
        mask = self._alpha_bits.reshape(K, 1, 1)
        for j in self.peers:
            nj = counts[j]
            raw = _bytes_of(got[j], "u", K * nj * V.ELEM, j)
            u = _rows(raw, (K, nj, V.ELEM), j)
            tq = _stream(self._cope_mine[j], nj)
            out[j] = V.gadget_sum(tq, u * mask) if nj else []
        return out


def _stream(prgs: list[aes.Prg], n: int) -> np.ndarray:
    """(K, n, 32): n pseudo-random 256-bit values from each of the K seeds."""
    return aes.streams(prgs, n * V.ELEM).reshape(len(prgs), n, V.ELEM)
