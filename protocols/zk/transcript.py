"""Fiat–Shamir transcripts that bind every proof to its full context.

A challenge must depend on everything the verifier relies on: a domain tag naming the proof
type, the session, phase and round it belongs to, the prover's id, every public value of the
statement and the prover's first message. Each item is absorbed with a type byte and a length
prefix, so two different sequences of items can never hash alike (no ambiguity between, say,
the int 1 followed by b"" and the bytes b"\\x01").
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

_INT, _NEG, _BYTES, _STR, _SEQ = b"I", b"N", b"B", b"S", b"L"


@dataclass(frozen=True, slots=True)
class ProofContext:
    """Where a proof lives: copied into every transcript so a proof cannot be replayed elsewhere."""

    session: bytes
    phase: str
    round: int
    prover: int

    def absorb_into(self, transcript: Transcript) -> None:
        transcript.absorb(self.session, self.phase, self.round, self.prover)


class Transcript:
    """A running SHA3-512 hash of typed, length-prefixed items."""

    def __init__(self, domain: str) -> None:
        self._hash = hashlib.sha3_512()
        self.absorb(b"coopetition/fiat-shamir/v1", domain)

    def absorb(self, *items: object) -> Transcript:
        for item in items:
            self._absorb_one(item)
        return self

    def _absorb_one(self, item: object) -> None:
        if isinstance(item, bool):
            raise TypeError("booleans are ambiguous in a transcript; absorb an int")
        if isinstance(item, (int, np.integer)):
            value = int(item)
            tag = _INT if value >= 0 else _NEG
            raw = abs(value).to_bytes((abs(value).bit_length() + 7) // 8 or 1, "big")
            self._put(tag, raw)
        elif isinstance(item, (bytes, bytearray, memoryview)):
            self._put(_BYTES, bytes(item))
        elif isinstance(item, str):
            self._put(_STR, item.encode())
        elif isinstance(item, np.ndarray):
            self._absorb_sequence(item.ravel().tolist(), shape=item.shape)
        elif isinstance(item, Iterable):
            self._absorb_sequence(list(item), shape=None)
        elif hasattr(item, "__int__"):  # gmpy2.mpz and friends
            self._absorb_one(int(item))
        else:
            raise TypeError(f"cannot absorb {type(item).__name__} into a transcript")

    def _absorb_sequence(self, values: list[object], shape: tuple[int, ...] | None) -> None:
        header = len(values).to_bytes(8, "big")
        if shape is not None:
            header += b"".join(d.to_bytes(8, "big") for d in shape)
        self._put(_SEQ, header)
        for value in values:
            self._absorb_one(value)

    def _put(self, tag: bytes, raw: bytes) -> None:
        self._hash.update(tag + len(raw).to_bytes(8, "big") + raw)

    def challenge_bytes(self, length: int, label: str = "challenge") -> bytes:
        """``length`` pseudo-random bytes derived from everything absorbed so far and ``label``."""
        seed = self._hash.copy()
        seed.update(_STR + len(label).to_bytes(8, "big") + label.encode())
        return hashlib.shake_256(seed.digest()).digest(length)

    def challenge_int(self, bits: int, label: str = "challenge") -> int:
        """A challenge uniform in [0, 2**bits)."""
        raw = self.challenge_bytes((bits + 7) // 8, label)
        return int.from_bytes(raw, "big") >> ((8 * len(raw)) - bits)

    def challenge_ints(self, count: int, bits: int, label: str = "challenges") -> list[int]:
        """``count`` independent challenges in [0, 2**bits) (for random linear combinations)."""
        width = (bits + 7) // 8
        raw = self.challenge_bytes(count * width, label)
        shift = 8 * width - bits
        return [
            int.from_bytes(raw[i * width : (i + 1) * width], "big") >> shift for i in range(count)
        ]
