"""Where a party's threshold Paillier key share comes from, inside the Helen session.

Two per-party sources, both usable with one OS process per party:

* ``KeySetup.from_share``: a share the party already holds, read from its key-share file
  (``coopetition keys dkg --config`` writes one, mode 0600; so does a trusted dealer). The key's
  fingerprint goes into the setup digest, so parties holding shares of different keys stop with
  ``ConfigMismatch`` naming ``key.fingerprint`` before any cryptography.
* ``KeySetup.distributed``: the distributed key generation (``protocols/paillier/dkg``) run
  in-session among the Helen parties, right after the parameters are agreed; no dealer ever
  exists. It needs m >= 3 (``DkgParams``); docs/crypto.md says what each multiplier keeps secret
  against Helen's all-but-one model.

The in-process trusted dealer of ``local_run`` hands each ``HelenRun`` a ready
``PaillierParty`` instead and records ``trusted-dealer``.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

from coopetition.engine.errors import ConfigError
from coopetition.engine.machine import PhaseMachine
from coopetition.protocols.helen.config import SECURE_KEY_BITS, HelenConfig
from coopetition.protocols.paillier.dkg import DkgParams, DkgRun
from coopetition.protocols.paillier.threshold import KeyShare

#: key sources a party file may name (``[helen] keygen``)
KEYGEN = ("file", "dkg")


@dataclass(frozen=True)
class KeySetup:
    """This party's key source: a held share, or the in-session DKG."""

    share: KeyShare | None = None
    origin: str = "key-file"
    dkg_batch: int = 256
    dkg_audit_fraction: float = 0.125

    def __repr__(self) -> str:  # never print the share
        return f"KeySetup(origin={self.origin!r})"

    @classmethod
    def from_share(cls, share: KeyShare, origin: str = "key-file") -> KeySetup:
        return cls(share=share, origin=origin)

    @classmethod
    def distributed(cls, *, batch: int = 256, audit_fraction: float = 0.125) -> KeySetup:
        return cls(origin="dkg", dkg_batch=batch, dkg_audit_fraction=audit_fraction)

    def check(self, config: HelenConfig, party: int, parties: int) -> None:
        """Refuse a share for another party, another party count or another key size."""
        if self.share is None:
            if parties < 3:
                raise ConfigError(
                    "keygen = dkg needs at least 3 parties (the distributed key generation's minimum)"
                )
            self.dkg_params(config, parties)  # ConfigError for a size the DKG refuses
            return
        tpk = self.share.threshold_public
        if self.share.party != party:
            raise ConfigError(f"party {party} was given the key share of party {self.share.party}")
        if tpk.parties != parties:
            raise ConfigError(
                f"the key share is for {tpk.parties} parties, the session has {parties}"
            )
        if tpk.public.bits != config.key_bits:
            raise ConfigError(
                f"the key share is a {tpk.public.bits}-bit key, [helen] key_bits is "
                f"{config.key_bits}"
            )

    def dkg_params(self, config: HelenConfig, parties: int) -> DkgParams:
        return DkgParams(
            config.key_bits,
            parties,
            batch=self.dkg_batch,
            insecure_allow_small=config.insecure,
        )

    def announce(self) -> dict[str, Any]:
        """What the setup digest binds: the key itself, or that it will be generated."""
        if self.share is None:
            return {"source": "dkg", "batch": self.dkg_batch}
        return {
            "source": "share",
            "fingerprint": self.share.threshold_public.public.fingerprint.hex(),
        }

    def record(self, share: KeyShare, config: HelenConfig) -> dict[str, str]:
        insecure = " (INSECURE test key)" if config.key_bits < SECURE_KEY_BITS else ""
        return {
            "key_generation": self.origin + insecure,
            "key_bits": str(share.threshold_public.public.bits),
            "key_fingerprint": share.threshold_public.public.fingerprint.hex(),
        }


def key_phases(
    setup: KeySetup,
    config: HelenConfig,
    party: int,
    parties: tuple[int, ...],
    session: bytes,
) -> Generator[PhaseMachine, Any, KeyShare]:
    """The held share (no phase), or the DKG's phases (``dkg``, one per candidate batch)."""
    if setup.share is not None:
        return setup.share
    run = DkgRun(
        party,
        parties,
        setup.dkg_params(config, len(parties)),
        session=session + b"/helen-dkg",
        audit_fraction=setup.dkg_audit_fraction,
    )
    result = yield from run.phases()
    return result.key_share
