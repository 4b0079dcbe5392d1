"""Which offline phase makes the SPDZ preprocessing: MASCOT (default) or threshold Paillier.

Both produce the same :class:`~.preprocessing.Batch` kinds under the same MAC-key convention,
so everything downstream (online phase, Gadgets 3/4, the consumption journal) is unchanged.
``local_generator`` returns an object with the insecure dealer's interface (``triples``,
``bits``, ``randoms``, ``bounded``, ``input_masks``, ``stores``, ``transfer_to``) backed by
the real protocol for m parties held in this process. Dual-form bounded masks (with Paillier
ciphertexts, for Gadget 3's way back) exist only with ``paillier``.
"""

from __future__ import annotations

from .conversion import PaillierParty
from .harness import run_local
from .mascot_local import LocalMascot
from .offline import OfflineParty
from .preprocessing import Batch, PreprocessingStore

PREPROCESSING = ("mascot", "paillier")
DEFAULT_PREPROCESSING = "mascot"


class LocalPaillier:
    """The threshold-Paillier offline phase for m local parties, behind the dealer's interface."""

    def __init__(self, paillier: list[PaillierParty]) -> None:
        self.members = [OfflineParty(p) for p in paillier]
        self.parties = len(paillier)
        self.stores: list[PreprocessingStore] = run_local([o.setup() for o in self.members])

    def _add(self, batches: list[Batch]) -> None:
        for store, batch in zip(self.stores, batches, strict=True):
            store.add(batch)

    def triples(self, n: int) -> LocalPaillier:
        self._add(run_local([o.triples(n) for o in self.members]))
        return self

    def bits(self, n: int) -> LocalPaillier:
        self._add(run_local([o.bits(n) for o in self.members]))
        return self

    def randoms(self, n: int) -> LocalPaillier:
        self._add(run_local([o.randoms(n) for o in self.members]))
        return self

    def bounded(self, n: int, bits: int) -> LocalPaillier:
        self._add(run_local([o.bounded(n, bits) for o in self.members]))
        return self

    def input_masks(self, owner: int, n: int) -> LocalPaillier:
        self._add(run_local([o.input_masks(owner, n) for o in self.members]))
        return self


def local_generator(
    kind: str,
    parties: int,
    *,
    paillier: list[PaillierParty] | None = None,
    alpha_shares: list[int] | None = None,
    session: bytes = b"local-preprocessing",
) -> LocalMascot | LocalPaillier:
    """A generator of the named kind; ``paillier`` parties are required for ``paillier``.

    For ``mascot``, given ``paillier`` parties (after their MAC-key setup) the key shares are
    theirs and are bound to their published Enc(alpha_i) (:mod:`.mascot_keybind`); given only
    ``alpha_shares`` nothing checks that binding.
    """
    if kind == "mascot":
        if paillier is not None:
            return LocalMascot(parties, paillier=paillier, session=session)
        return LocalMascot(parties, alpha_shares=alpha_shares, session=session)
    if kind == "paillier":
        if paillier is None or len(paillier) != parties:
            raise ValueError("the Paillier generator needs one PaillierParty per party")
        return LocalPaillier(paillier)
    raise ValueError(f"unknown preprocessing {kind!r}; choose one of {', '.join(PREPROCESSING)}")
