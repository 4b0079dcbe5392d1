"""What one party's Helen run cost, per phase: exponentiations, CPU seconds, bytes sent.

Why per party, and why this way. In-process parties share the process-wide exponentiation
tallies (``paillier.opcount``, ``zk.group``) and the process's CPU clock, so neither says what a
party did. ``PhaseMeter.metered`` wraps each phase program: around every step (one
``program.send``, which is where all of a phase's arithmetic happens) it points the tallies'
per-party sink (``opcount.PARTY_SINK``) at this party's counter for the phase and reads the
thread's CPU clock. A step runs start to finish on one thread, inline on the event loop or in a
worker thread (``trio.to_thread`` copies the context; the sink is set inside the step either
way), so the thread clock charges exactly this party's step, also while other parties' steps run
in other threads. Helper threads a step hands lists of exponentiations to (``paillier.parallel``)
measure their own thread CPU and the step's thread adds it to the sink, so it is charged to the
party that asked. Not counted: work outside the programs (the engine's signatures, echo hashes
and frame encoding).

Bytes come from the engine's per-phase ``Party.stats`` (the driver counts every frame sent,
echo rounds included); ``traffic`` merges them into the record after the run.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Generator, Mapping
from typing import Any

from coopetition.protocols.paillier.opcount import PARTY_SINK, PartySink

__all__ = ["PhaseMeter", "full_exponentiations", "phase_deadlines", "short_name", "traffic"]

#: Tally kinds that are one full-length exponentiation each (modulus-sized exponent, or the
#: CRT pair that replaces one); the others are short exponents, table walks or
#: multi-exponentiation bookkeeping.
FULL_KINDS = ("paillier.powmod", "paillier.powmod_crt", "zk.full")


def short_name(phase: str) -> str:
    """``helen-local`` -> ``local``: the run record's phase names (as ``phase_seconds``)."""
    return phase.removeprefix("helen-")


class PhaseMeter:
    """Exponentiation counts and CPU seconds of one party's phase programs, per phase."""

    def __init__(self) -> None:
        self.sinks: dict[str, PartySink] = {}
        self.cpu_seconds: dict[str, float] = {}

    @property
    def counts(self) -> dict[str, Counter[str]]:
        return {phase: sink.counts for phase, sink in self.sinks.items()}

    def metered(self, program: Generator[Any, Any, Any], phase: str) -> Generator[Any, Any, Any]:
        """``program`` unchanged (requests, replies, thrown aborts, return value), measured."""
        name = short_name(phase)
        sink = self.sinks.setdefault(name, PartySink())
        self.cpu_seconds.setdefault(name, 0.0)
        reply: Any = None
        error: BaseException | None = None
        while True:
            token = PARTY_SINK.set(sink)
            started, helpers = time.thread_time(), sink.helper_seconds
            try:
                request = program.send(reply) if error is None else program.throw(error)
            except StopIteration as stop:
                return stop.value
            finally:
                spent = time.thread_time() - started + sink.helper_seconds - helpers
                self.cpu_seconds[name] += spent
                PARTY_SINK.reset(token)
            try:
                reply, error = (yield request), None
            except GeneratorExit:
                program.close()
                raise
            except BaseException as exc:  # an abort thrown into the phase goes to the program
                reply, error = None, exc

    def record(self) -> dict[str, Any]:
        """``phase_exponentiations`` (tally kind -> count) and ``phase_cpu_seconds``."""
        return {
            "phase_exponentiations": {p: dict(sorted(c.items())) for p, c in self.counts.items()},
            "phase_cpu_seconds": {p: round(s, 4) for p, s in self.cpu_seconds.items()},
        }


def full_exponentiations(counts: Mapping[str, int]) -> int:
    """How many full-length exponentiations a phase's tally holds."""
    return sum(int(counts.get(kind, 0)) for kind in FULL_KINDS)


def traffic(stats: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, int]]:
    """Per phase (short names): bytes and messages sent and received, from ``Party.stats``."""
    keys = ("bytes_sent", "messages_sent", "bytes_received", "messages_received")
    return {short_name(phase): {k: int(s[k]) for k in keys} for phase, s in stats.items()}


def phase_deadlines(stats: Mapping[str, Mapping[str, Any]]) -> dict[str, float]:
    """Per phase (short names): the time limit the engine gave it (``Deadlines.phase_limit``)."""
    return {
        short_name(phase): round(float(s["deadline_seconds"]), 3)
        for phase, s in stats.items()
        if s.get("deadline_seconds")
    }
