"""Preprocessed material: batches that are storable and consumed exactly once.

A *batch* holds one kind of item for one party: ``triple`` (a, b, c = ab), ``bit`` (b in
{0, 1}), ``random`` (uniform in Z_P), ``bounded`` (uniform-ish in [0, 2**bits), used as the
statistical mask of truncation and comparison, optionally with the public Paillier ciphertext
of each value, which lets a shared value be turned back into a ciphertext) and ``input_mask``
(a random value whose clear value only its ``owner`` knows). Each batch has an id that all
parties agree on; an item is named by (batch id, index).

The :class:`PreprocessingStore` hands out items in order and never twice. It refuses a batch
id it has seen before (so a stored batch cannot be loaded and spent again), and the online
phase sends the ids of the items it consumes with every opening, so a party that spends a
stale item is caught by everyone else and named.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field

import cbor2
import numpy as np

from . import field as F
from .errors import PreprocessingExhausted, PreprocessingReused
from .shares import Share

KINDS = ("triple", "bit", "random", "bounded", "input_mask")
_ARITY = {"triple": 3, "bit": 1, "random": 1, "bounded": 1, "input_mask": 1}


@dataclass(slots=True)
class Batch:
    """One party's items of one kind. ``parts`` has 3 shares for triples, else 1."""

    kind: str
    batch_id: bytes
    parts: tuple[Share, ...]
    bits: int = 0
    owner: int = -1
    clear: np.ndarray | None = None  # input masks: the owner's clear values
    ciphertexts: list[int] | None = None  # bounded: public Enc(R) of each value

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown preprocessing kind {self.kind!r}")
        if len(self.parts) != _ARITY[self.kind]:
            raise ValueError(f"a {self.kind} batch has {_ARITY[self.kind]} components")
        n = len(self.parts[0])
        if any(len(p) != n for p in self.parts):
            raise ValueError("batch components differ in length")
        if self.clear is not None and len(self.clear) != n:
            raise ValueError("clear values do not match the batch length")
        if self.ciphertexts is not None and len(self.ciphertexts) != n:
            raise ValueError("ciphertexts do not match the batch length")

    def __len__(self) -> int:
        return len(self.parts[0])

    @property
    def key(self) -> tuple[str, int, int]:
        """What a request must match to draw from this batch: kind, bits, owner."""
        return (self.kind, self.bits, self.owner)

    def to_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "id": self.batch_id,
            "bits": self.bits,
            "owner": self.owner,
            "parts": [[F.to_bytes(p.value), F.to_bytes(p.mac)] for p in self.parts],
            "clear": None if self.clear is None else F.to_bytes(self.clear),
            "cts": self.ciphertexts,
        }

    @classmethod
    def from_dict(cls, d: dict[str, object]) -> Batch:
        parts = tuple(Share(F.from_bytes(v), F.from_bytes(m)) for v, m in d["parts"])  # type: ignore[union-attr]
        clear = d.get("clear")
        return cls(
            kind=str(d["kind"]),
            batch_id=bytes(d["id"]),  # type: ignore[arg-type]
            parts=parts,
            bits=int(d["bits"]),  # type: ignore[call-overload]
            owner=int(d["owner"]),  # type: ignore[call-overload]
            clear=None if clear is None else F.from_bytes(clear),  # type: ignore[arg-type]
            ciphertexts=None if d.get("cts") is None else [int(c) for c in d["cts"]],  # type: ignore[union-attr]
        )


@dataclass(frozen=True, slots=True)
class Drawn:
    """Items handed out by the store: their shares and their ids (batch id, start, count)."""

    parts: tuple[Share, ...]
    ids: tuple[tuple[bytes, int, int], ...]
    clear: np.ndarray | None = None
    ciphertexts: list[int] | None = None


@dataclass(slots=True)
class _Slot:
    batch: Batch
    cursor: int = 0


@dataclass(slots=True)
class PreprocessingStore:
    """One party's MAC key share and its preprocessed batches, each item usable once."""

    party: int
    parties: int
    alpha_share: int
    _slots: list[_Slot] = field(default_factory=list)
    _seen: set[bytes] = field(default_factory=set)

    def add(self, batch: Batch) -> None:
        if batch.batch_id in self._seen:
            raise PreprocessingReused(f"preprocessing batch {batch.batch_id.hex()} was already loaded once")
        self._seen.add(batch.batch_id)
        self._slots.append(_Slot(batch))

    def available(self, kind: str, *, bits: int = 0, owner: int = -1) -> int:
        return sum(len(s.batch) - s.cursor for s in self._slots if s.batch.key == (kind, bits, owner))

    def take(self, kind: str, n: int, *, bits: int = 0, owner: int = -1) -> Drawn:
        """The next n unused items of a kind; they are marked used before they are returned."""
        if self.available(kind, bits=bits, owner=owner) < n:
            raise PreprocessingExhausted(
                f"party {self.party} needs {n} {kind} items (bits={bits}, owner={owner}) "
                f"but has {self.available(kind, bits=bits, owner=owner)}"
            )
        pieces: list[tuple[_Slot, int, int]] = []
        need = n
        for slot in self._slots:
            if need == 0:
                break
            if slot.batch.key != (kind, bits, owner):
                continue
            k = min(need, len(slot.batch) - slot.cursor)
            if k > 0:
                pieces.append((slot, slot.cursor, k))
                slot.cursor += k
                need -= k
        arity = _ARITY[kind]
        parts = tuple(
            Share.concat([s.batch.parts[j][start : start + k] for s, start, k in pieces]) for j in range(arity)
        )
        ids = tuple((s.batch.batch_id, start, k) for s, start, k in pieces)
        clear = None
        if pieces and all(s.batch.clear is not None for s, _, _ in pieces):
            clear = np.concatenate([s.batch.clear[start : start + k] for s, start, k in pieces]).astype(object)  # type: ignore[index]
        cts = None
        if pieces and all(s.batch.ciphertexts is not None for s, _, _ in pieces):
            cts = [c for s, start, k in pieces for c in s.batch.ciphertexts[start : start + k]]  # type: ignore[index]
        return Drawn(parts, ids, clear, cts)

    def serialize(self) -> bytes:
        """Everything, including how far each batch has been consumed (never rewound on load)."""
        return cbor2.dumps(
            {
                "party": self.party,
                "parties": self.parties,
                "alpha": self.alpha_share,
                "slots": [{"batch": s.batch.to_dict(), "cursor": s.cursor} for s in self._slots],
                "seen": sorted(self._seen),
            }
        )

    @classmethod
    def deserialize(cls, data: bytes) -> PreprocessingStore:
        d = cbor2.loads(data)
        store = cls(int(d["party"]), int(d["parties"]), int(d["alpha"]))
        for s in d["slots"]:
            batch = Batch.from_dict(s["batch"])
            store.add(batch)
            store._slots[-1].cursor = int(s["cursor"])
        store._seen.update(bytes(x) for x in d["seen"])
        return store


def additive_split(x: np.ndarray, parties: int) -> list[np.ndarray]:
    """Uniform additive shares of a vector (the last share is the difference)."""
    out = [F.random_vec(len(x)) for _ in range(parties - 1)]
    last = F.vec(x)
    for s in out:
        last = F.sub(last, s)
    return [*out, last]


class InsecureDealerPreprocessing:
    """INSECURE: a trusted dealer sees every value it deals, including the MAC key. Tests only.

    It exists so the online phase can be tested on its own; the real material comes from
    :mod:`coopetition.protocols.spdz.offline`, in which no single party learns anything.
    """

    def __init__(self, parties: int, *, alpha: int | None = None, alpha_shares: list[int] | None = None) -> None:
        if parties < 2:
            raise ValueError("SPDZ needs at least two parties")
        self.parties = parties
        if alpha_shares is not None:
            # Reuse a key generated elsewhere (e.g. by the offline phase) so dealt items mix
            # with real ones in a test; the dealer then knows that key too.
            if len(alpha_shares) != parties:
                raise ValueError("one MAC key share per party")
            self.alpha_shares = [F.vec([a]) for a in alpha_shares]
            self.alpha = sum(int(a) for a in alpha_shares) % F.P
        else:
            self.alpha = F.random_vec(1)[0] if alpha is None else alpha % F.P
            self.alpha_shares = additive_split(F.vec([self.alpha]), parties)
        self.stores = [
            PreprocessingStore(i, parties, int(self.alpha_shares[i][0])) for i in range(parties)
        ]

    def transfer_to(self, stores: list[PreprocessingStore]) -> None:
        """Move everything dealt so far into other stores holding the same MAC key shares."""
        for mine, theirs in zip(self.stores, stores, strict=True):
            if mine.alpha_share != theirs.alpha_share:
                raise ValueError("stores hold different MAC key shares")
            for slot in mine._slots:
                theirs.add(slot.batch)
        self.stores = [PreprocessingStore(i, self.parties, s.alpha_share) for i, s in enumerate(self.stores)]

    def _authenticate(self, x: np.ndarray) -> list[Share]:
        vals = additive_split(x, self.parties)
        macs = additive_split(F.mul(F.vec(x), self.alpha), self.parties)
        return [Share(v, g) for v, g in zip(vals, macs, strict=True)]

    def _deal(self, kind: str, columns: Iterable[np.ndarray], **extra: object) -> None:
        batch_id = secrets.token_bytes(16)
        per_party = [self._authenticate(col) for col in columns]
        for i, store in enumerate(self.stores):
            parts = tuple(col[i] for col in per_party)
            clear = extra.get("clear") if extra.get("owner", -1) == i else None
            store.add(
                Batch(
                    kind,
                    batch_id,
                    parts,
                    bits=int(extra.get("bits", 0)),  # type: ignore[call-overload]
                    owner=int(extra.get("owner", -1)),  # type: ignore[call-overload]
                    clear=clear,  # type: ignore[arg-type]
                )
            )

    def triples(self, n: int) -> InsecureDealerPreprocessing:
        a, b = F.random_vec(n), F.random_vec(n)
        self._deal("triple", [a, b, F.mul(a, b)])
        return self

    def bits(self, n: int) -> InsecureDealerPreprocessing:
        self._deal("bit", [F.vec([secrets.randbelow(2) for _ in range(n)])])
        return self

    def randoms(self, n: int) -> InsecureDealerPreprocessing:
        self._deal("random", [F.random_vec(n)])
        return self

    def bounded(self, n: int, bits: int) -> InsecureDealerPreprocessing:
        self._deal("bounded", [F.vec([secrets.randbits(bits) for _ in range(n)])], bits=bits)
        return self

    def input_masks(self, owner: int, n: int) -> InsecureDealerPreprocessing:
        r = F.random_vec(n)
        self._deal("input_mask", [r], owner=owner, clear=r)
        return self
