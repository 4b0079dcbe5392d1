"""Run m parties' sans-IO programs in one process, passing their messages explicitly.

Every payload goes through CBOR encoding and decoding, as it would on the wire (a map of byte
strings is handed over as a fresh map of the same strings, which is what the round trip gives:
``payload_codec``), and its size is counted (``bytes_sent`` counts each broadcast once per
receiver). A ``tamper`` hook lets a test play a Byzantine party: it sees (sender, receiver,
tag, payload) and returns the payload the receiver gets. The sender itself always keeps its
own payload.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from coopetition.engine.errors import ProtocolViolation
from coopetition.engine.program import send_past_findings, tag_of

from .online import Exchange
from .pairwise import MixedProgram, Pairwise
from .payload_codec import Wire, decode, encode

Tamper = Callable[[int, int, str, dict[str, Any]], dict[str, Any]]


@dataclass
class HarnessStats:
    rounds: int = 0
    bytes_sent: int = 0
    messages: int = 0
    per_tag_prefix: dict[str, int] = field(default_factory=dict)


def run_local(
    programs: Sequence[MixedProgram[Any]],
    *,
    tamper: Tamper | None = None,
    stats: HarnessStats | None = None,
) -> list[Any]:
    """Drive the programs in lock step; return their results in party order.

    If any party raises, the others are closed and the error of the lowest-numbered party
    that raised in that step is re-raised (each party detects on its own; in a real run the
    first detection would be broadcast as an abort).
    """
    m = len(programs)
    stats = stats if stats is not None else HarnessStats()
    results: list[Any] = [None] * m
    requests: list[Exchange | Pairwise | None] = [None] * m
    done = [False] * m

    def step(i: int, value: Any) -> BaseException | None:
        try:
            requests[i] = send_past_findings(programs[i], value)
        except StopIteration as stop:
            results[i] = stop.value
            done[i] = True
            requests[i] = None
        except Exception as exc:
            return exc
        return None

    def fail(errors: dict[int, BaseException]) -> None:
        for prog in programs:
            prog.close()
        first = min(errors)
        raise errors[first]

    errors = {i: e for i in range(m) if (e := step(i, None)) is not None}
    if errors:
        fail(errors)
    while not all(done):
        if any(done):
            fail(
                {min(i for i in range(m) if done[i]): ProtocolViolation("parties fell out of step")}
            )
        tags = {tag_of(r, stats.rounds + 1) for r in requests if r is not None}
        if len(tags) != 1:
            fail({0: ProtocolViolation(f"parties fell out of step: {sorted(tags)}")})
        tag = tags.pop()
        stats.rounds += 1
        replies = _route(requests, tag, tamper, stats)
        errors = {j: e for j in range(m) if (e := step(j, replies[j])) is not None}
        if errors:
            fail(errors)
    return results


def _route(
    requests: Sequence[Exchange | Pairwise | None],
    tag: str,
    tamper: Tamper | None,
    stats: HarnessStats,
) -> list[dict[int, dict[str, Any]]]:
    """Encode every payload as on the wire and deliver it (broadcast or point-to-point)."""
    m = len(requests)
    prefix = tag.split("/")[0]
    wire: dict[tuple[int, int], Wire] = {}
    for i, req in enumerate(requests):
        assert req is not None
        if isinstance(req, Pairwise):
            if set(req.payloads) != set(range(m)) - {i}:
                raise ProtocolViolation(f"party {i} sent a pairwise round to the wrong peers")
            for j, payload in req.payloads.items():
                wire[i, j], size = encode(payload)
                stats.bytes_sent += size
                stats.messages += 1
                stats.per_tag_prefix[prefix] = stats.per_tag_prefix.get(prefix, 0) + size
        else:
            data, size = encode(req.payload)
            for j in range(m):
                wire[i, j] = data
            stats.bytes_sent += size * (m - 1)
            stats.messages += m - 1
            stats.per_tag_prefix[prefix] = stats.per_tag_prefix.get(prefix, 0) + size * (m - 1)
    replies: list[dict[int, dict[str, Any]]] = []
    for j in range(m):
        inbox: dict[int, dict[str, Any]] = {}
        for i in range(m):
            if i == j and isinstance(requests[i], Pairwise):
                continue
            payload = decode(*wire[i, j])
            if tamper is not None and i != j:
                payload = tamper(i, j, tag, payload)
            inbox[i] = payload
        replies.append(inbox)
    return replies
