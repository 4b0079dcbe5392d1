"""MASCOT for m parties in one process, with the interface of the insecure dealer.

Benchmarks and tests often hold all m parties in one process. :class:`LocalMascot` runs the
real protocol (every party's own :class:`~.mascot.MascotParty`, messages CBOR-encoded by the
local harness) and offers the same calls as
:class:`~.preprocessing.InsecureDealerPreprocessing` (``triples(n)``, ``bits(n)``,
``randoms(n)``, ``bounded(n, bits)``, ``input_masks(owner, n)``, ``stores``,
``transfer_to``), so a test written against the dealer can be run on real preprocessing.
Nobody here knows alpha: each party's key share stays in its own object. Given ``paillier``
parties (after their setup), the key shares are theirs and are bound to the published
Enc(alpha_i) right after MASCOT's setup (:mod:`.mascot_keybind`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .conversion import PaillierParty
from .harness import HarnessStats, run_local
from .mascot import MascotParty
from .mascot_keybind import bind_mac_key
from .pairwise import MixedProgram as Program
from .preprocessing import Batch, PreprocessingStore, transfer_batches


class LocalMascot:
    """m MASCOT parties driven together; ``stats`` accumulates the harness's traffic."""

    def __init__(
        self,
        parties: int,
        *,
        alpha_shares: list[int] | None = None,
        session: bytes = b"local-mascot",
        batch: int = 128,
        paillier: list[PaillierParty] | None = None,
    ) -> None:
        if parties < 2:
            raise ValueError("MASCOT needs at least two parties")
        if paillier is not None:
            if len(paillier) != parties:
                raise ValueError("one Paillier party per party")
            alpha_shares = [p.alpha_share for p in paillier]
        if alpha_shares is not None and len(alpha_shares) != parties:
            raise ValueError("one MAC key share per party")
        self.parties = parties
        self.batch = batch
        self.stats = HarnessStats()
        self.members = [
            MascotParty(i, parties, session)
            if alpha_shares is None
            else MascotParty(i, parties, session, alpha_share=alpha_shares[i])
            for i in range(parties)
        ]
        self.stores: list[PreprocessingStore] = self._run(lambda p: p.setup())
        if paillier is not None:  # the shares must be those inside the published Enc(alpha_i)
            self._run(lambda p: bind_mac_key(p, paillier[p.party]))

    def _run(self, make: Callable[[MascotParty], Program[Any]]) -> list[Any]:
        return run_local([make(p) for p in self.members], stats=self.stats)

    def _add(self, make: Callable[[MascotParty], Program[Batch]]) -> None:
        for store, batch in zip(self.stores, self._run(make), strict=True):
            store.add(batch)

    def _chunks(self, n: int, size: int) -> list[int]:
        return [min(size, n - s) for s in range(0, n, size)]

    def triples(self, n: int) -> LocalMascot:
        for k in self._chunks(n, self.batch):
            self._add(lambda p, k=k: p.triples(k))  # type: ignore[misc]
        return self

    def bits(self, n: int) -> LocalMascot:
        for k in self._chunks(n, self.batch):
            self._add(lambda p, k=k: p.bits(k))  # type: ignore[misc]
        return self

    def randoms(self, n: int) -> LocalMascot:
        for k in self._chunks(n, self.batch):
            self._add(lambda p, k=k: p.randoms(k))  # type: ignore[misc]
        return self

    def bounded(self, n: int, bits: int) -> LocalMascot:
        for k in self._chunks(n, max(1, self.batch // max(1, bits))):
            self._add(lambda p, k=k: p.bounded(k, bits))  # type: ignore[misc]
        return self

    def input_masks(self, owner: int, n: int) -> LocalMascot:
        for k in self._chunks(n, self.batch):
            self._add(lambda p, k=k: p.input_masks(owner, k))  # type: ignore[misc]
        return self

    def transfer_to(self, stores: list[PreprocessingStore]) -> None:
        """Move everything made so far into other stores holding the same MAC key shares."""
        self.stores = transfer_batches(self.stores, stores)
