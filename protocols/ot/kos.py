"""KOS OT extension: many random OTs from 128 base OTs, with the correlation check.

Keller, Orsini, Scholl, "Actively secure OT extension with optimal overhead", CRYPTO 2015
(Figure 7). Roles are those of the extension: the *sender* S holds a random Delta in
{0,1}^128 and plays base-OT receiver with choices Delta; the *receiver* R plays base-OT sender.

One ``extend`` of n OTs with choice bits x (n a multiple of 8; R pads with 192 = kappa + s
random bits, kappa = 128 and s = 64, that are discarded):

1. R expands both base keys of every column l with the PRG: T0_l, T1_l in {0,1}^n', and sends
   u_l = T0_l xor T1_l xor x. S computes Q_l = G(k_l^Delta_l) xor Delta_l * u_l, so that the rows
   satisfy q_j = t_j xor x_j * Delta.
2. S sends a fresh seed; both derive from it the linear hash G(t) = sum chi_j t_j in
   GF(2^128) of :mod:`.checkhash` (block-wise polynomial hashing, epsilon <= 4097 * 2^-128 < 2^-115.99).
3. R sends xs = sum chi_j x_j and ts = sum chi_j t_j; S checks qs = ts + xs * Delta and
   aborts with :class:`CorrelationCheckFailed` otherwise. A receiver that used different x
   in different columns (to learn bits of Delta by selective failure) passes only where the
   tampered columns have Delta_l = 0, so learning c bits this way succeeds with probability
   2^-c; the s + kappa random padding rows keep (xs, ts) from revealing the real choice bits
   (KOS15, Section 4; exact statement in docs/crypto.md, "MASCOT").
4. Outputs: S gets H(j, q_j) and H(j, q_j xor Delta), R gets H(j, t_j) = H(j, q_j xor x_j Delta),
   with H the TMMO hash (:mod:`.aes`), ``blocks`` 16-byte blocks per output. Row indices
   (tweaks) run on across extends, so no tweak is used twice under one Delta.

All steps work on whole numpy buffers: the PRG fills the columns, :mod:`.bitmatrix` turns
columns into rows and :mod:`.checkhash` computes the check sums (GHASH through AES-GCM).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

import numpy as np

from . import aes, checkhash
from .baseot import BaseOtReceiver, BaseOtSender
from .bitmatrix import transpose
from .errors import CorrelationCheckFailed, MalformedOtMessage

KAPPA = 128
STAT = 64
PAD = KAPPA + STAT


def _padded(n: int) -> int:
    return (n + PAD + 63) // 64 * 64


def _expand(prgs: list[aes.Prg], nbytes: int) -> np.ndarray:
    return aes.streams(prgs, nbytes)


@dataclass
class KosReceiver:
    """R of one KOS instance towards ``peer`` (base-OT sender in the setup)."""

    session: bytes
    peer: int
    _base: BaseOtSender | None = None
    _g0: list[aes.Prg] = field(default_factory=list)
    _g1: list[aes.Prg] = field(default_factory=list)
    _tweak: int = 0
    _x: np.ndarray | None = None
    _t_rows: np.ndarray | None = None
    _n: int = 0

    def setup_first(self) -> bytes:
        self._base = BaseOtSender(self.session + b"/kos-base", KAPPA, self.peer)
        return self._base.first()

    def setup_finish(self, reply: object) -> None:
        assert self._base is not None
        keys = self._base.keys(reply)
        self._g0 = [aes.Prg(k0) for k0, _ in keys]
        self._g1 = [aes.Prg(k1) for _, k1 in keys]

    def extend(self, choices: np.ndarray) -> bytes:
        """Start n OTs with choice bits ``choices`` (uint8 0/1, n multiple of 8); returns u."""
        n = len(choices)
        if n % 8:
            raise ValueError("extend a multiple of 8 OTs")
        total = _padded(n)
        pad = np.frombuffer(secrets.token_bytes((total - n) // 8), dtype=np.uint8)
        x = np.concatenate([np.packbits(choices.astype(np.uint8), bitorder="little"), pad])
        t0 = _expand(self._g0, total // 8)
        u = t0 ^ _expand(self._g1, total // 8) ^ x[None, :]
        self._x, self._n = x, n
        self._t_rows = transpose(t0)
        return u.tobytes()

    def check(self, seed: object) -> bytes:
        """Answer S's challenge seed with (xs, ts), 32 bytes."""
        if not isinstance(seed, (bytes, bytearray)) or len(seed) != 16:
            raise MalformedOtMessage("KOS: malformed challenge", culprit=self.peer)
        assert self._x is not None and self._t_rows is not None
        chi = checkhash.RowHash(bytes(seed), self._t_rows.shape[0])
        return chi.of_bits(self._x) + chi(self._t_rows)

    def outputs(self, blocks: int) -> np.ndarray:
        """(n, 16*blocks) uint8: H(j, t_j) for the n real OTs of the last extend."""
        assert self._t_rows is not None
        rows = self._t_rows[: self._n]
        tweaks = np.arange(self._tweak, self._tweak + self._n, dtype=np.uint64)
        self._tweak += _padded(self._n)
        out = aes.tweaked_hash(rows, tweaks, blocks)
        self._t_rows = None
        return out


@dataclass
class KosSender:
    """S of one KOS instance towards ``peer`` (base-OT receiver with choices Delta)."""

    session: bytes
    peer: int
    _delta: int = field(default_factory=lambda: secrets.randbits(KAPPA))
    _base: BaseOtReceiver | None = None
    _g: list[aes.Prg] = field(default_factory=list)
    _tweak: int = 0
    _q_rows: np.ndarray | None = None
    _seed: bytes = b""
    _n: int = 0
    _checked: bool = False
    _failed: bool = False

    @property
    def delta_bits(self) -> list[int]:
        return [(self._delta >> i) & 1 for i in range(KAPPA)]

    def setup_reply(self, first: object) -> list[list[bytes]]:
        self._base = BaseOtReceiver(self.session + b"/kos-base", self.delta_bits, self.peer)
        return self._base.reply(first)

    def setup_finish(self) -> None:
        assert self._base is not None
        self._g = [aes.Prg(k) for k in self._base.keys()]  # noqa: SIM118 (not a dict)

    def extend(self, n: int, u: object) -> bytes:
        """Take R's u for n OTs; returns the challenge seed."""
        if self._failed:
            # A failed check showed R that Delta is 1 where it tampered; another extension
            # under the same Delta would let it learn one more bit per attempt.
            raise RuntimeError("this KOS sender failed a correlation check; set up a new one")
        total = _padded(n)
        if not isinstance(u, (bytes, bytearray)) or len(u) != KAPPA * total // 8:
            raise MalformedOtMessage("KOS: extension message of the wrong size", culprit=self.peer)
        um = np.frombuffer(bytes(u), dtype=np.uint8).reshape(KAPPA, total // 8)
        q = _expand(self._g, total // 8)
        dmask = np.array(self.delta_bits, dtype=np.uint8)[:, None] * np.uint8(0xFF)
        q = q ^ (um & dmask)
        self._q_rows = transpose(q)
        self._n = n
        self._seed = secrets.token_bytes(16)
        self._checked = False
        return self._seed

    def verify(self, answer: object) -> None:
        """Check R's (xs, ts); raises :class:`CorrelationCheckFailed` naming R."""
        if not isinstance(answer, (bytes, bytearray)) or len(answer) != 32:
            raise MalformedOtMessage("KOS: malformed check answer", culprit=self.peer)
        assert self._q_rows is not None
        xs, ts = bytes(answer[:16]), bytes(answer[16:])
        qs = checkhash.RowHash(self._seed, self._q_rows.shape[0])(self._q_rows)
        if qs != checkhash.xor(ts, checkhash.mul(xs, self._delta.to_bytes(16, "little"))):
            self._failed = True
            raise CorrelationCheckFailed(
                "KOS correlation check failed: inconsistent OT extension columns",
                culprit=self.peer,
            )
        self._checked = True

    def outputs(self, blocks: int) -> tuple[np.ndarray, np.ndarray]:
        """(H(j, q_j), H(j, q_j xor Delta)) for the n real OTs; only after a passed check."""
        if not self._checked or self._q_rows is None:
            raise RuntimeError("KOS outputs are released only after the correlation check")
        rows = self._q_rows[: self._n]
        tweaks = np.arange(self._tweak, self._tweak + self._n, dtype=np.uint64)
        self._tweak += _padded(self._n)
        delta = np.frombuffer(self._delta.to_bytes(16, "little"), dtype=np.uint8)
        out0 = aes.tweaked_hash(rows, tweaks, blocks)
        out1 = aes.tweaked_hash(rows ^ delta[None, :], tweaks, blocks)
        self._q_rows = None
        return out0, out1
