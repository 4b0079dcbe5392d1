"""Replay all m parties of one candidate from their seeds: the audit's reference execution.

``replay`` runs the same ``CandidateParty`` steps the live parties ran, in the same order, and
returns what each party would have sent at each stage if it had followed the protocol. The
audit (``audit.py``) compares that with what was really sent. The public inputs of later stages
(the opened sieve values, N, the biprimality bases) are recomputed from the replay itself; when
the replay's broadcasts match the real ones they equal the real public values.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from . import shamir
from .candidate import CandidateParty, tree_shape
from .params import DkgParams

SIEVE_DEAL = "sieve-deal"
SIEVE_OPEN = "sieve-open"
MODULUS_DEAL = "modulus-deal"
MODULUS_OPEN = "modulus-open"
BIPRIME_FIRST = "biprime-first"
BIPRIME_FULL = "biprime-full"
KEY_DEAL = "key-deal"
KEY_OPEN = "key-open"


def reshare_stage(level: int) -> str:
    return f"reshare-{level}"


def generation_stages(parties: int) -> list[str]:
    """Stages every candidate goes through (up to and including the opening of N)."""
    reshares = [reshare_stage(i) for i in range(len(tree_shape(parties)))]
    return [SIEVE_DEAL, *reshares, SIEVE_OPEN, MODULUS_DEAL, MODULUS_OPEN]


PRIVATE_STAGES = frozenset({SIEVE_DEAL, MODULUS_DEAL, KEY_DEAL})


def is_private(stage: str) -> bool:
    return stage in PRIVATE_STAGES or stage.startswith("reshare-")


@dataclass
class Replay:
    """What each party should have sent: private[stage][sender][receiver], broadcast[stage][sender]."""

    private: dict[str, list[list[list[int]]]] = field(default_factory=dict)
    broadcast: dict[str, list[list[int]]] = field(default_factory=dict)
    sieve: list[int] = field(default_factory=list)
    modulus: int | None = None
    key_open: int | None = None
    parties: list[CandidateParty] = field(default_factory=list)


BasesFor = Callable[[str, int], Sequence[int]]


def replay(
    params: DkgParams, seeds: Sequence[bytes], stages: Sequence[str], bases_for: BasesFor
) -> Replay:
    """Run ``stages`` (a prefix of the protocol's stage list) for every party from its seed.

    An opening that is inconsistent in the replay cannot happen (honest parties), so
    ``shamir.InconsistentOpening`` here would be a bug.
    """
    m = params.parties
    parties = [CandidateParty(params, j, seeds[j]) for j in range(m)]
    out = Replay(parties=parties)
    level = 0
    for stage in stages:
        if stage == SIEVE_DEAL:
            sent = [party.sieve_deal() for party in parties]
            _deliver(sent, parties, "absorb_sieve_deal")
            out.private[stage] = sent
        elif stage.startswith("reshare-"):
            sent = [party.reshare(level) for party in parties]
            _deliver(sent, parties, "absorb_reshare")
            out.private[stage] = sent
            level += 1
        elif stage == SIEVE_OPEN:
            shares = [party.sieve_open() for party in parties]
            out.broadcast[stage] = shares
            prime = params.field_sieve
            out.sieve = [
                shamir.open_value([s[i] for s in shares], 2 * params.t, prime) for i in range(2)
            ]
            for party in parties:
                party.set_sieve(out.sieve)
        elif stage == MODULUS_DEAL:
            sent = [party.modulus_deal() for party in parties]
            _deliver(sent, parties, "absorb_modulus_deal")
            out.private[stage] = sent
        elif stage == MODULUS_OPEN:
            shares = [party.modulus_share() for party in parties]
            out.broadcast[stage] = shares
            out.modulus = shamir.open_value(
                [s[0] for s in shares], 2 * params.t, params.field_modulus
            )
        elif stage in (BIPRIME_FIRST, BIPRIME_FULL):
            n = _modulus(out)
            bases = bases_for(stage, n)
            out.broadcast[stage] = [party.biprimality_values(n, bases) for party in parties]
        elif stage == KEY_DEAL:
            n = _modulus(out)
            sent = [party.key_deal(n) for party in parties]
            _deliver(sent, parties, "absorb_key_deal")
            out.private[stage] = sent
        elif stage == KEY_OPEN:
            n = _modulus(out)
            shares = [party.key_share(n) for party in parties]
            out.broadcast[stage] = shares
            out.key_open = shamir.open_value([s[0] for s in shares], 2 * params.t, params.field_key)
            for party in parties:
                party.set_key_open(n, out.key_open)
        else:
            raise ValueError(f"unknown stage {stage!r}")
    return out


def _modulus(out: Replay) -> int:
    if out.modulus is None:
        raise ValueError("stage needs N before it is opened")
    return out.modulus


def _deliver(sent: list[list[list[int]]], parties: list[CandidateParty], method: str) -> None:
    for k, party in enumerate(parties):
        getattr(party, method)([sent[j][k] for j in range(len(parties))])
