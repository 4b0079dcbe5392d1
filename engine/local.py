"""Run several parties in one process: for tests, simulations and the demo.

Each party gets its own identity, ``PartyConfig`` and transport; all run as sibling tasks. A
party's abort is recorded as its outcome rather than raised, so a caller sees what *every* party
concluded (who named which culprit), which is what fault-injection tests assert on.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import trio

from coopetition.engine.errors import PartyId, ProtocolAborted
from coopetition.engine.identity import Identity
from coopetition.engine.party import Deadlines, Party, PartyConfig, ProtocolRun
from coopetition.transports.base import Transport


@dataclass
class LocalRun:
    results: dict[PartyId, Any] = field(default_factory=dict)
    errors: dict[PartyId, ProtocolAborted] = field(default_factory=dict)
    parties: dict[PartyId, Party] = field(default_factory=dict)

    @property
    def completed(self) -> bool:
        return not self.errors and len(self.results) == len(self.parties)

    def first_error(self) -> ProtocolAborted | None:
        return self.errors[min(self.errors)] if self.errors else None


def local_configs(
    party_ids: list[PartyId],
    *,
    session: bytes | None = None,
    deadlines: Deadlines | None = None,
) -> list[PartyConfig]:
    """Fresh identities and one shared roster for ``party_ids``."""
    identities = [Identity.generate(pid) for pid in party_ids]
    roster = {ident.party_id: ident.verify_key for ident in identities}
    session = session or os.urandom(16)
    return [PartyConfig(ident, roster, session, deadlines or Deadlines()) for ident in identities]


async def run_parties(
    configs: list[PartyConfig],
    transports: Sequence[Transport],
    protocols: Sequence[ProtocolRun],
    *,
    party_options: Callable[[PartyId], dict[str, Any]] | None = None,
) -> LocalRun:
    """Run one ``Party`` per config concurrently; close every transport afterwards."""
    outcome = LocalRun()
    for config, transport in zip(configs, transports, strict=True):
        options = party_options(config.party_id) if party_options else {}
        outcome.parties[config.party_id] = Party(config, transport, **options)

    async def one(party: Party, protocol: ProtocolRun) -> None:
        try:
            async with party.transport:
                outcome.results[party.id] = await party.run(protocol)
        except ProtocolAborted as exc:
            outcome.errors[party.id] = exc

    async with trio.open_nursery() as nursery:
        for party, protocol in zip(outcome.parties.values(), protocols, strict=True):
            nursery.start_soon(one, party, protocol)
    return outcome
