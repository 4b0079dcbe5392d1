"""Long cryptographic phases as straight-line sans-IO generators, driven by one phase machine.

Control logic stays in table machines; a long phase (SPDZ's online phase, Helen's proofs of a
round) is easier to read as a generator that yields requests and receives their replies::

    def program() -> Program[int]:
        replies = yield Exchange(payload={"x": 1})          # broadcast, gather everybody's
        total = sum(r["x"] for r in replies.values())
        return total

Each :class:`Exchange` becomes a ``Broadcast`` of its payload and a ``Gather`` of every party's
payload under the same tag with ``consistent=True`` (so the engine's echo round guarantees that
all honest parties saw the same broadcast). A :class:`Pairwise` request is point-to-point: one
``Send`` per peer (each its own payload, meant for that peer only: OT messages, or a proof made
under one verifier's parameters) and a plain ``Gather`` of what every peer sent this party.
A request without a tag gets one derived from its position in the program, as MPyC labels messages by its program counter: the n-th request is
``"<label>/<n>"`` (``label`` defaults to ``"x"``), identical at every party running the same
program, so a program never has to name its messages. A request with an explicit tag keeps it
(SPDZ's programs number their own openings). The program's return value is the phase's result;
a ``ProtocolAborted`` it raises becomes the machine's ``Abort``. The same program runs unchanged
in a lock-step local harness, which is how programs are unit-tested.

All the work between two requests happens inside ``program.send()``, i.e. inside the machine's
handler. For programs whose steps take seconds (proofs, Paillier work) the class sets
``offload = True`` (``program_machine(phase, offload=True)``): the driver then runs each step
in a worker thread in real runs and charges it to virtual time in simulations, so the event
loop, heartbeats and other in-process parties are never starved (``engine.compute``). The
program needs no locking for that: only its own driver resumes it, one step at a time.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

from coopetition.engine.errors import LocalFailure, ProtocolAborted, ProtocolViolation
from coopetition.engine.machine import (
    Abort,
    Action,
    Broadcast,
    Done,
    Finding,
    Gather,
    PhaseMachine,
    Received,
    Send,
    Started,
)

__all__ = [
    "Exchange",
    "Finding",
    "Pairwise",
    "Program",
    "ProgramMachine",
    "ProgramRun",
    "program_machine",
    "send_past_findings",
    "tag_of",
]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Exchange:
    """Broadcast ``payload`` under ``tag`` (derived from the program position when ``None``);
    the reply maps every party id to its payload."""

    tag: str | None = None
    payload: Any = None
    label: str = "x"


@dataclass(frozen=True, slots=True)
class Pairwise:
    """Send ``payloads[j]`` to each peer j; the reply maps each peer to what it sent us.

    ``payloads`` must name exactly this party's peers. Nothing is echoed: a peer's message is
    signed for this party alone, so it cannot be shown to differ from what others got (they got
    something else by design); what must be common goes through an :class:`Exchange`.
    """

    tag: str
    payloads: dict[int, Any]


#: a program yields requests; a ``Finding`` (a failed check whose verdict the program states
#: later) is handed to the engine at once and the program resumes with an empty reply
Program = Generator[Exchange | Pairwise | Finding, dict[int, Any], T]


def tag_of(request: Any, position: int) -> str:
    """The request's own tag, or ``"<label>/<position>"`` (position counts from 1)."""
    return request.tag if request.tag is not None else f"{request.label}/{position}"


def send_past_findings(program: Program[Any], value: Any) -> Any:
    """``program.send(value)``, resuming past any ``Finding`` (with an empty reply): for hosts
    that surface every error at once anyway (the local harness, the preparation's workers)."""
    request = program.send(value)
    while isinstance(request, Finding):
        request = program.send({})
    return request


class ProgramState(enum.Enum):
    START = "start"
    EXCHANGING = "exchanging"
    DONE = "done"
    ABORTED = "aborted"


@dataclass
class ProgramMachine(PhaseMachine):
    """Runs ``program`` (a generator of :class:`Exchange`) as one phase (``spdz`` by default)."""

    phase: ClassVar[str] = "spdz"
    State: ClassVar[type[enum.Enum]] = ProgramState
    TRANSITIONS: ClassVar[dict[tuple[Any, type], Any]] = {
        (ProgramState.START, Started): ((ProgramState.EXCHANGING, ProgramState.DONE), "_started"),
        (ProgramState.EXCHANGING, Received): (
            (ProgramState.EXCHANGING, ProgramState.DONE),
            "_received",
        ),
    }

    program: Program[Any] | None = None
    _tag: str = field(default="", init=False)
    _position: int = field(default=0, init=False)

    def _started(self, event: Started) -> list[Action]:
        return self._advance(None)

    def _received(self, event: Received) -> list[Action]:
        if event.tag != self._tag:
            raise LocalFailure(f"reply for {event.tag}, expected {self._tag}", phase=self.phase)
        try:
            return self._advance(dict(event.messages))
        except LocalFailure:
            raise
        except Exception as exc:
            # Transitional: programs whose tags have no schema yet (SPDZ's) validate replies as
            # they read them, so an exception here may come from a peer's malformed payload.
            # Blaming nobody keeps an honest party from being named for a cheater's message
            # (a LocalFailure names its reporter); declare SCHEMAS to get the sender named.
            return [
                Abort(
                    error=ProtocolViolation(
                        f"received {event.tag!r} messages could not be processed "
                        f"({type(exc).__name__}: {exc})",
                        phase=self.phase,
                        round=self.round,
                    )
                )
            ]

    def _advance(self, value: Any) -> list[Action]:
        if self.program is None:
            raise LocalFailure("a ProgramMachine needs a program", phase=self.phase)
        findings: list[Action] = []
        while True:
            try:
                request = self.program.send(value)
            except StopIteration as stop:
                return [*findings, Done(result=stop.value)]
            except ProtocolAborted as exc:
                return [*findings, Abort(error=exc)]
            if not isinstance(request, Finding):
                break
            findings.append(request)
            value = {}
        self._position += 1
        self._tag = self._tag_of(request)
        self.move(ProgramState.EXCHANGING)
        return [*findings, *self._actions(request)]

    def _tag_of(self, request: Any) -> str:
        """The tag a request's replies arrive under (subclasses with other request kinds)."""
        if isinstance(request, Pairwise):
            return request.tag
        if not isinstance(request, Exchange):
            raise LocalFailure(
                "a program may only yield Exchange or Pairwise requests, got "
                f"{type(request).__name__}",
                phase=self.phase,
            )
        return tag_of(request, self._position)

    def _actions(self, request: Any) -> list[Action]:
        """The engine actions of one request: a broadcast checked by the consistency echo, or
        one point-to-point message per peer and a plain gather from every peer."""
        if isinstance(request, Pairwise):
            peers = tuple(p for p in self.parties if p != self.party)
            if set(request.payloads) != set(peers):
                raise LocalFailure(
                    f"a pairwise round must address exactly the peers {peers}", phase=self.phase
                )
            sends: list[Action] = [
                Send(to=j, tag=self._tag, payload=request.payloads[j]) for j in peers
            ]
            return [*sends, Gather(tag=self._tag, senders=peers)]
        return [
            Broadcast(tag=self._tag, payload=request.payload),
            Gather(tag=self._tag, senders=tuple(self.parties), consistent=True),
        ]


def program_machine(phase: str, *, offload: bool = False) -> type[ProgramMachine]:
    """A ``ProgramMachine`` subclass running under another phase name (its own message space);
    ``offload=True`` for programs whose steps do heavy work (see the module docstring)."""
    return type(f"ProgramMachine_{phase}", (ProgramMachine,), {"phase": phase, "offload": offload})


@dataclass
class ProgramRun:
    """A ``ProtocolRun`` with a single program phase built by ``make_program`` at start."""

    party: int
    parties: tuple[int, ...]
    make_program: Callable[[], Program[Any]]
    name: str = "spdz"
    machine: type[ProgramMachine] = ProgramMachine

    def phases(self) -> Generator[PhaseMachine, Any, Any]:
        result = yield self.machine(self.party, self.parties, program=self.make_program())
        return result
