"""Preprocessed material: batches that are storable and consumed exactly once.

A *batch* holds one kind of item for one party: ``triple`` (a, b, c = ab), ``bit`` (b in
{0, 1}), ``random`` (uniform in Z_P), ``bounded`` (uniform-ish in [0, 2**bits), used as the
statistical mask of truncation and comparison, optionally with the public Paillier ciphertext
of each value, which lets a shared value be turned back into a ciphertext) and ``input_mask``
(a random value whose clear value only its ``owner`` knows). Each batch has an id that all
parties agree on; an item is named by (batch id, index).

The :class:`PreprocessingStore` hands out items in order and never twice within one store
object, and the online phase sends the ids of the items it consumes with every opening, so a
party that spends other items than everyone else is caught and named.

Across restarts, a store saved with :meth:`PreprocessingStore.save` and loaded with
:meth:`PreprocessingStore.load` keeps a *consumption journal* next to the stored batches: every
``take`` appends (batch id, start, count) and fsyncs it before the items are returned, hence
before any opening that uses them is sent, and the journal is held under an exclusive lock
while the store is in use. Loading replays the journal, so an item consumed before a crash,
or by another job started from the same file, is never served again (a second concurrent load
is refused). What it guarantees: a party that keeps its journal never spends an item twice;
since every opening carries the ids of its items, peers who reuse items are then named by that
party. What it cannot do: stop a party that deletes or rewinds its *own* journal (or copies the
files elsewhere) from reusing its own shares; alone that gains it nothing, because the honest
parties' journals move their cursors on and the id cross-check aborts the run. Reuse that
leaks data needs every party to reuse, that is, no honest party is left to protect. A crash
between the journal write and the send wastes the journaled items; on restart the parties'
cursors may then differ and the run aborts with a named mismatch instead of reusing anything.
"""

from __future__ import annotations

import fcntl
import os
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cbor2
import numpy as np

from coopetition.engine.errors import LocalFailure

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
    def from_dict(cls, d: dict[str, Any]) -> Batch:
        parts = tuple(Share(F.from_bytes(v), F.from_bytes(m)) for v, m in d["parts"])
        clear = d.get("clear")
        return cls(
            kind=str(d["kind"]),
            batch_id=bytes(d["id"]),
            parts=parts,
            bits=int(d["bits"]),
            owner=int(d["owner"]),
            clear=None if clear is None else F.from_bytes(clear),
            ciphertexts=None if d.get("cts") is None else [int(c) for c in d["cts"]],
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


_JOURNAL_MAGIC = b"coopetition/spdz/journal/v1\n"


class ConsumptionJournal:
    """An append-only, fsynced record of consumed item ranges, held under an exclusive lock.

    Records are (id length, batch id, start, count); a torn last record (a crash during the
    write, before the fsync returned and hence before anything was sent) is ignored.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            raise PreprocessingReused(
                f"preprocessing journal {self.path.name} is in use by another store"
            ) from exc
        self._fd: int | None = fd
        data = self._read_all()
        if not data:
            self._write(_JOURNAL_MAGIC)
        elif not data.startswith(_JOURNAL_MAGIC):
            self.close()
            raise LocalFailure(f"{self.path.name} is not a preprocessing journal")

    def _read_all(self) -> bytes:
        assert self._fd is not None
        os.lseek(self._fd, 0, os.SEEK_SET)
        chunks = []
        while chunk := os.read(self._fd, 1 << 16):
            chunks.append(chunk)
        return b"".join(chunks)

    def _write(self, data: bytes) -> None:
        if self._fd is None:
            raise LocalFailure("preprocessing journal is closed")
        os.lseek(self._fd, 0, os.SEEK_END)
        view = memoryview(data)
        while view:
            view = view[os.write(self._fd, view) :]
        os.fsync(self._fd)

    def records(self) -> list[tuple[bytes, int, int]]:
        data = self._read_all()[len(_JOURNAL_MAGIC) :]
        out, i = [], 0
        while i < len(data):
            size = data[i]
            end = i + 1 + size + 16
            if end > len(data):
                break  # torn final record: its take never returned
            bid = data[i + 1 : i + 1 + size]
            start = int.from_bytes(data[i + 1 + size : i + 9 + size], "big")
            count = int.from_bytes(data[i + 9 + size : end], "big")
            out.append((bid, start, count))
            i = end
        return out

    def append(self, ranges: list[tuple[bytes, int, int]]) -> None:
        """Durably record consumed ranges; returns only once they are on disk."""
        rec = b"".join(
            len(bid).to_bytes(1, "big") + bid + start.to_bytes(8, "big") + count.to_bytes(8, "big")
            for bid, start, count in ranges
        )
        self._write(rec)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # releases the lock
            self._fd = None


def journal_path(path: str | os.PathLike[str]) -> Path:
    """Where the consumption journal of a store saved at ``path`` lives."""
    p = Path(path)
    return p.with_name(p.name + ".journal")


@dataclass(slots=True)
class PreprocessingStore:
    """One party's MAC key share and its preprocessed batches, each item usable once."""

    party: int
    parties: int
    alpha_share: int
    _slots: list[_Slot] = field(default_factory=list)
    _seen: set[bytes] = field(default_factory=set)
    _journal: ConsumptionJournal | None = None
    _retired: bool = False
    _closed: bool = False

    def add(self, batch: Batch) -> None:
        if batch.batch_id in self._seen:
            raise PreprocessingReused(
                f"preprocessing batch {batch.batch_id.hex()} was already loaded once"
            )
        if len(batch.batch_id) > 64:
            raise ValueError("batch ids are at most 64 bytes")
        self._seen.add(batch.batch_id)
        self._slots.append(_Slot(batch))

    def retire(self) -> None:
        """Refuse every further ``take``: the MAC key of these items is about to be public."""
        self._retired = True

    @property
    def retired(self) -> bool:
        return self._retired

    def _matches(self, slot: _Slot, kind: str, bits: int, owner: int, dual: bool) -> bool:
        return slot.batch.key == (kind, bits, owner) and (
            not dual or slot.batch.ciphertexts is not None
        )

    def available(self, kind: str, *, bits: int = 0, owner: int = -1, dual: bool = False) -> int:
        """Unused items of a kind (with ``dual``, only those that carry their ciphertexts)."""
        return sum(
            len(s.batch) - s.cursor
            for s in self._slots
            if self._matches(s, kind, bits, owner, dual)
        )

    def take(
        self, kind: str, n: int, *, bits: int = 0, owner: int = -1, dual: bool = False
    ) -> Drawn:
        """The next n unused items of a kind; they are marked used before they are returned.

        With a journal attached, the consumed ranges are on disk before this returns. With
        ``dual``, only items that carry their public ciphertexts are drawn (so a mix of dealt
        and generated masks never yields a draw that is missing some ciphertexts).
        """
        if self._retired:
            raise LocalFailure(
                "this preprocessing store was retired: its MAC key has been released"
            )
        if self._closed:
            raise LocalFailure("this preprocessing store was closed (its journal released)")
        have = self.available(kind, bits=bits, owner=owner, dual=dual)
        if have < n:
            raise PreprocessingExhausted(
                f"party {self.party} needs {n} {kind} items (bits={bits}, owner={owner}) but has {have}"
            )
        pieces: list[tuple[_Slot, int, int]] = []
        need = n
        for slot in self._slots:
            if need == 0:
                break
            if not self._matches(slot, kind, bits, owner, dual):
                continue
            k = min(need, len(slot.batch) - slot.cursor)
            if k > 0:
                pieces.append((slot, slot.cursor, k))
                need -= k
        if self._journal is not None and pieces:
            self._journal.append([(s.batch.batch_id, start, k) for s, start, k in pieces])
        for s, start, k in pieces:
            s.cursor = start + k
        arity = _ARITY[kind]
        parts = tuple(
            Share.concat([s.batch.parts[j][start : start + k] for s, start, k in pieces])
            for j in range(arity)
        )
        ids = tuple((s.batch.batch_id, start, k) for s, start, k in pieces)
        clear = None
        if pieces and all(s.batch.clear is not None for s, _, _ in pieces):
            clear = np.concatenate(
                [s.batch.clear[start : start + k] for s, start, k in pieces]  # type: ignore[index]
            ).astype(object)
        cts = None
        if pieces and all(s.batch.ciphertexts is not None for s, _, _ in pieces):
            cts = [c for s, start, k in pieces for c in s.batch.ciphertexts[start : start + k]]  # type: ignore[index]
        return Drawn(parts, ids, clear, cts)

    def serialize(self) -> bytes:
        """Everything, including how far each batch has been consumed."""
        return cbor2.dumps(
            {
                "party": self.party,
                "parties": self.parties,
                "alpha": self.alpha_share,
                "slots": [{"batch": s.batch.to_dict(), "cursor": s.cursor} for s in self._slots],
                "seen": sorted(self._seen),
                "retired": self._retired,
            }
        )

    @classmethod
    def deserialize(
        cls, data: bytes, *, journal: str | os.PathLike[str] | None
    ) -> PreprocessingStore:
        """Rebuild a store; ``journal`` names its consumption journal (created if missing).

        ``journal=None`` gives a store with no durable record: loading the same bytes twice then
        serves the same items twice, so pass None only for bytes that are not kept anywhere
        (e.g. a copy in memory). Cursors outside [0, batch length] are refused.
        """
        d = cbor2.loads(data)
        store = cls(int(d["party"]), int(d["parties"]), int(d["alpha"]))
        for s in d["slots"]:
            batch = Batch.from_dict(s["batch"])
            cursor = s["cursor"]
            if (
                not isinstance(cursor, int)
                or isinstance(cursor, bool)
                or not 0 <= cursor <= len(batch)
            ):
                raise ValueError(
                    f"stored cursor of batch {batch.batch_id.hex()} is outside [0, {len(batch)}]"
                )
            store.add(batch)
            store._slots[-1].cursor = cursor
        store._seen.update(bytes(x) for x in d["seen"])
        store._retired = bool(d.get("retired", False))
        if journal is not None:
            store.attach_journal(ConsumptionJournal(journal))
        return store

    def attach_journal(self, jr: ConsumptionJournal) -> None:
        """Replay ``jr`` (advance cursors past every journaled range) and record into it."""
        by_id = {s.batch.batch_id: s for s in self._slots}
        try:
            for bid, start, count in jr.records():
                slot = by_id.get(bid)
                if slot is None or start + count > len(slot.batch):
                    raise LocalFailure(
                        f"journal {jr.path.name} records items this store does not hold"
                    )
                slot.cursor = max(slot.cursor, start + count)
        except BaseException:
            jr.close()
            raise
        if self._journal is not None and self._journal is not jr:
            self._journal.close()
        self._journal = jr

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the store atomically to ``path`` and keep consuming through its journal.

        Refuses to put a store without this journal over an existing non-empty journal (that
        would rewind what was consumed).
        """
        path = Path(path)
        jpath = journal_path(path)
        if self._journal is None or self._journal.path != jpath:
            jr = ConsumptionJournal(jpath)
            if jr.records():
                jr.close()
                raise PreprocessingReused(
                    f"{jpath.name} already records consumption; load the store instead"
                )
            self.attach_journal(jr)
        tmp = path.with_name(path.name + ".tmp")
        with open(tmp, "wb") as fh:
            fh.write(self.serialize())
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> PreprocessingStore:
        """Load a store written by :meth:`save`, with its journal replayed and locked."""
        return cls.deserialize(Path(path).read_bytes(), journal=journal_path(path))

    def close(self) -> None:
        """Release the journal (its lock); the store can no longer hand out items."""
        if self._journal is not None:
            self._journal.close()
        self._closed = True


def additive_split(x: np.ndarray, parties: int) -> list[np.ndarray]:
    """Uniform additive shares of a vector (the last share is the difference)."""
    out = [F.random_vec(len(x)) for _ in range(parties - 1)]
    last = F.vec(x)
    for s in out:
        last = F.sub(last, s)
    return [*out, last]


def transfer_batches(
    sources: list[PreprocessingStore], targets: list[PreprocessingStore]
) -> list[PreprocessingStore]:
    """Add every batch of ``sources`` to ``targets`` (same key shares); returns empty sources."""
    for mine, theirs in zip(sources, targets, strict=True):
        if mine.alpha_share != theirs.alpha_share:
            raise ValueError("stores hold different MAC key shares")
        for slot in mine._slots:
            theirs.add(slot.batch)
    return [PreprocessingStore(s.party, s.parties, s.alpha_share) for s in sources]


class InsecureDealerPreprocessing:
    """INSECURE: a trusted dealer sees every value it deals, including the MAC key. Tests only.

    It exists so the online phase can be tested on its own; the real material comes from
    :mod:`coopetition.protocols.spdz.offline`, in which no single party learns anything.
    """

    def __init__(
        self, parties: int, *, alpha: int | None = None, alpha_shares: list[int] | None = None
    ) -> None:
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
        self.stores = transfer_batches(self.stores, stores)

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
        """Masks as the offline phase makes them: one draw below 2^bits per party, summed."""
        draws = [sum(secrets.randbits(bits) for _ in range(self.parties)) for _ in range(n)]
        self._deal("bounded", [F.vec(draws)], bits=bits)
        return self

    def input_masks(self, owner: int, n: int) -> InsecureDealerPreprocessing:
        r = F.random_vec(n)
        self._deal("input_mask", [r], owner=owner, clear=r)
        return self
