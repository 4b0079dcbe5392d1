"""Run m parties' sans-IO programs in one process, passing their messages explicitly.

Every payload goes through CBOR encoding and decoding, as it would on the wire, and its size is
counted (``bytes_sent`` counts each broadcast once per receiver). A ``tamper`` hook lets a test
play a Byzantine party: it sees (sender, receiver, tag, payload) and returns the payload the
receiver gets. The sender itself always keeps its own payload.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import cbor2

from coopetition.engine.errors import ProtocolViolation
from coopetition.engine.program import tag_of

from .online import Exchange, Program

Tamper = Callable[[int, int, str, dict[str, Any]], dict[str, Any]]


@dataclass
class HarnessStats:
    rounds: int = 0
    bytes_sent: int = 0
    messages: int = 0
    per_tag_prefix: dict[str, int] = field(default_factory=dict)


def run_local(
    programs: Sequence[Program[Any]],
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
    requests: list[Exchange | None] = [None] * m
    done = [False] * m

    def step(i: int, value: Any) -> BaseException | None:
        try:
            requests[i] = programs[i].send(value)
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
        wire = {}
        for i in range(m):
            req = requests[i]
            assert req is not None
            wire[i] = cbor2.dumps(req.payload)
            stats.bytes_sent += len(wire[i]) * (m - 1)
            stats.messages += m - 1
            prefix = tag.split("/")[0]
            stats.per_tag_prefix[prefix] = stats.per_tag_prefix.get(prefix, 0) + len(wire[i]) * (
                m - 1
            )
        replies: list[dict[int, dict[str, Any]]] = []
        for j in range(m):
            inbox: dict[int, dict[str, Any]] = {}
            for i in range(m):
                payload = cbor2.loads(wire[i])
                if tamper is not None and i != j:
                    payload = tamper(i, j, tag, payload)
                inbox[i] = payload
            replies.append(inbox)
        errors = {j: e for j in range(m) if (e := step(j, replies[j])) is not None}
        if errors:
            fail(errors)
    return results
