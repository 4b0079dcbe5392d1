"""Helpers for tests and smoke benchmarks: small INSECURE threshold keys, generated once per process."""

from __future__ import annotations

from functools import lru_cache

from coopetition.protocols.paillier.keys import insecure_test_keypair
from coopetition.protocols.paillier.threshold import TrustedDealerKeyGeneration
from coopetition.protocols.spdz.conversion import PaillierParty
from coopetition.protocols.spdz.offline import OfflineParty

#: Smallest modulus that holds a triple's MAC plus masks and proof slack (see docs/crypto.md).
TEST_BITS = 1280
#: INSECURE: interval-proof repetitions in tests (soundness 2^-16 instead of 2^-128), for speed.
TEST_REPETITIONS = 16


@lru_cache(maxsize=4)
def dealer(m: int) -> TrustedDealerKeyGeneration:
    """INSECURE: a trusted dealer with a small key; it knows the decryption key."""
    return TrustedDealerKeyGeneration(
        m, TEST_BITS, insecure_allow_small=True, keypair=insecure_test_keypair(TEST_BITS)
    )


def paillier_parties(
    m: int,
    session: bytes = b"spdz-test",
    cls: type[PaillierParty] = PaillierParty,
    cheat: dict | None = None,
) -> list[PaillierParty]:
    kg = dealer(m)
    out = []
    for i in range(m):
        c = (cheat or {}).get(i, cls)
        out.append(c(kg.key_share(i), session, interval_repetitions=TEST_REPETITIONS))
    return out


def offline_parties(
    m: int, session: bytes = b"spdz-test", cheat: dict | None = None
) -> list[OfflineParty]:
    cls = cheat or {}
    return [cls.get(i, OfflineParty)(p) for i, p in enumerate(paillier_parties(m, session))]
