"""Audit of rejected candidates: reveal their seeds, replay every party, name who deviated.

A rejected candidate is worthless, so revealing everything about it costs nothing (this is the
"open the failed candidates" idea of Frederiksen-Lindell-Osheter-Pinkas 2018 and Chen et al.
2020). Each party reveals the candidate's seed and, per sender, a digest of the private
messages it received; every party then replays all parties (``replay``) and checks, in order:

1. each revealed seed against the commitment broadcast before anything else (culprit: opener);
2. the private messages *it* received against the replay (culprit: sender; the receiver holds
   the sender's signed frame);
3. every other party's digest of what it received: about this party's own messages a wrong
   digest names the claimant; between two other parties it is a dispute that a third party
   cannot settle (abort without culprit, reason names both);
4. every broadcast (openings, biprimality values, key openings) against the replay (culprit:
   broadcaster; broadcasts are consistent, so every honest party sees the same deviation).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from coopetition.engine.errors import CheatingDetected

from .candidate import payload_digest, seed_commitment
from .params import DkgParams
from .replay import BasesFor, is_private, replay


@dataclass
class CandidateRecord:
    """What this party received for one candidate: per stage, per sender."""

    private: dict[str, dict[int, list[int]]] = field(default_factory=dict)
    broadcast: dict[str, dict[int, list[int]]] = field(default_factory=dict)
    stages: list[str] = field(default_factory=list)

    def reached(self, stage: str) -> None:
        if stage not in self.stages:
            self.stages.append(stage)

    def private_digests(self, parties: int, me: int) -> list[list[bytes]]:
        """Per private stage, per sender: a digest of what this party received."""
        return [
            [payload_digest(self.private[s].get(j, [])) if j != me else b"" for j in range(parties)]
            for s in self.stages
            if is_private(s)
        ]


@dataclass(frozen=True)
class AuditInput:
    params: DkgParams
    me: int
    session: bytes
    batch: int
    index: int
    commitments: Sequence[bytes]
    seeds: Sequence[bytes]
    claims: Sequence[Sequence[Sequence[bytes]]]  # claims[l][stage][j]: digest of j -> l
    record: CandidateRecord


def audit_candidate(audit: AuditInput, bases_for: BasesFor) -> None:
    """Raise ``CheatingDetected`` if anyone deviated on this candidate; return if all is well."""
    p, k = audit.params, audit.index
    m = p.parties
    for j in range(m):
        expected = seed_commitment(audit.session, audit.batch, j, k, audit.seeds[j])
        if expected != audit.commitments[j]:
            raise CheatingDetected(
                f"party {j} opened a seed of candidate {k} that does not match its commitment",
                culprit=j,
            )
    stages = list(audit.record.stages)
    rep = replay(p, audit.seeds, stages, bases_for)
    private_index = 0
    for stage in stages:  # stage order: the first deviation is the one to blame
        if is_private(stage):
            _check_private(audit, stage, private_index, rep.private[stage])
            private_index += 1
            continue
        for j in range(m):
            if _ints(rep.broadcast[stage][j]) != audit.record.broadcast[stage].get(j):
                raise CheatingDetected(
                    f"party {j} broadcast a value of candidate {k} ({stage}) that its committed "
                    "seed does not produce",
                    culprit=j,
                )


def _check_private(
    audit: AuditInput, stage: str, index: int, expected: list[list[list[int]]]
) -> None:
    me, k, m = audit.me, audit.index, audit.params.parties
    for j in range(m):
        if j != me and _ints(expected[j][me]) != audit.record.private[stage].get(j):
            raise CheatingDetected(
                f"party {j} sent party {me} a share of candidate {k} ({stage}) that its "
                "committed seed does not produce",
                culprit=j,
            )
    for receiver in range(m):
        if receiver == me:
            continue
        for sender in range(m):
            if sender == receiver:
                continue
            claim = audit.claims[receiver][index][sender]
            if payload_digest(_ints(expected[sender][receiver])) == claim:
                continue
            if sender == me:
                raise CheatingDetected(
                    f"party {receiver} misreports what party {me} sent it for candidate {k}",
                    culprit=receiver,
                )
            raise CheatingDetected(
                f"party {receiver} and party {sender} disagree on a private share of candidate "
                f"{k} ({stage}): one of them cheated (party {me} cannot tell which)"
            )


def _ints(values: Sequence[Any]) -> list[int]:
    return [int(v) for v in values]
