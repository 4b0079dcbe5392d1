"""Where secure SGD's preprocessing comes from: one small interface, several sources.

A source turns the plan's needs into a filled :class:`PreprocessingStore` by running a program
(all parties in lock step, like any SPDZ program), so the engine drives it as a phase. Today:

* :class:`PaillierSource`: the project's maliciously secure offline phase made with threshold
  Paillier and proofs (:class:`OfflineParty`), generated for real;
* :class:`InsecureDealerSource`: a trusted dealer in this process. INSECURE (it sees every
  value and the MAC key); tests and smoke runs only, and named as such in every output.

A faster generator (e.g. MASCOT's OT-based preprocessing) plugs in as another class with the
same ``program`` method returning the party's store.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any, Protocol

from coopetition.protocols.spdz.offline import OfflineParty
from coopetition.protocols.spdz.online import Needs, Program
from coopetition.protocols.spdz.preprocessing import (
    InsecureDealerPreprocessing,
    PreprocessingStore,
)


class PreprocessingSource(Protocol):
    """Makes one party's preprocessing for ``needs`` and ``input_masks`` (owner -> count)."""

    name: str
    secure: bool

    def program(self, needs: Needs, input_masks: dict[int, int]) -> Program[PreprocessingStore]: ...


class PaillierSource:
    """Real preprocessing: SPDZ's offline phase from threshold Paillier (one party's side)."""

    name = "paillier"
    secure = True

    def __init__(self, offline: OfflineParty) -> None:
        self.offline = offline

    def program(self, needs: Needs, input_masks: dict[int, int]) -> Program[PreprocessingStore]:
        return self.offline.fill(
            triples=needs.triples,
            bits=needs.bits,
            bounded=needs.bounded,
            input_masks=input_masks,
        )


class InsecureDealerSource:
    """INSECURE: items dealt by a trusted dealer shared by all parties of this process."""

    name = "insecure-dealer"
    secure = False

    def __init__(self, dealer: InsecureDealerPreprocessing, party: int) -> None:
        self.dealer, self.party = dealer, party

    def program(self, needs: Needs, input_masks: dict[int, int]) -> Program[PreprocessingStore]:
        return _no_exchange(self.dealer.stores[self.party])


def deal(needs: Needs, input_masks: dict[int, int], parties: int) -> InsecureDealerPreprocessing:
    """INSECURE: deal everything the plan needs for all parties at once."""
    dealer = InsecureDealerPreprocessing(parties)
    if needs.triples:
        dealer.triples(needs.triples)
    if needs.bits:
        dealer.bits(needs.bits)
    for bits, count in needs.bounded:
        dealer.bounded(count, bits)
    for owner, count in sorted(input_masks.items()):
        dealer.input_masks(owner, count)
    return dealer


def _no_exchange(store: PreprocessingStore) -> Generator[Any, Any, PreprocessingStore]:
    return store
    yield  # a generator that returns at once: nothing to exchange
