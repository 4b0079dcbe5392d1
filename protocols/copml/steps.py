"""COPML phases as straight-line sans-IO programs on the engine.

A phase is a generator that yields requests and receives their replies:

* ``Scatter(tag, {party: payload})``: point-to-point sends (no reply);
* ``Collect(tag, senders, at_least)``: one message per sender, or only the fastest ``at_least``
  (a quorum: stragglers beyond the recovery threshold are ignored); the reply maps sender to
  payload;
* ``Work(label, fn, args)``: a computation the driver runs (and, in simulations, charges to the
  party's virtual clock); the reply is its result.

:class:`StepMachine` turns these into the engine's ``Send``/``Gather``/``Compute`` actions, in the
same way as SPDZ's ``ProgramMachine`` drives its programs. Each COPML phase is a subclass that only
names its phase (the phase name keys the bus and the per-phase statistics).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any, ClassVar

from coopetition.engine.errors import PartyId, ProtocolAborted
from coopetition.engine.machine import (
    Abort,
    Action,
    Compute,
    Computed,
    Done,
    Gather,
    PhaseMachine,
    Received,
    Send,
    Started,
)


@dataclass(frozen=True)
class Scatter:
    tag: str
    payloads: dict[PartyId, Any]


@dataclass(frozen=True)
class Collect:
    tag: str
    senders: tuple[PartyId, ...]
    at_least: int | None = None


@dataclass(frozen=True)
class Work:
    label: str
    fn: Callable[..., Any]
    args: tuple[Any, ...] = ()


Request = Scatter | Collect | Work

#: label of the no-op step that closes a Scatter's batch of sends
SENT_PREFIX = "sent:"


def _sent() -> None:
    """Nothing: the step only ends the batch of sends before it (see ``StepMachine``)."""


Program = Generator[Request, Any, Any]


class _State(enum.Enum):
    START = "start"
    WAITING = "waiting"
    DONE = "done"
    ABORTED = "aborted"


@dataclass
class StepMachine(PhaseMachine):
    phase: ClassVar[str] = "copml"
    State: ClassVar[type[enum.Enum]] = _State
    TRANSITIONS: ClassVar[dict[tuple[Any, type], Any]] = {
        (_State.START, Started): ((_State.WAITING, _State.DONE), "on_started"),
        (_State.WAITING, Received): ((_State.WAITING, _State.DONE), "on_reply"),
        (_State.WAITING, Computed): ((_State.WAITING, _State.DONE), "on_reply"),
    }

    program: Program | None = None
    _waiting_for: str = field(default="", init=False)

    def on_started(self, event: Started) -> list[Action]:
        return self._advance(None)

    def on_reply(self, event: Received | Computed) -> list[Action]:
        key = event.tag if isinstance(event, Received) else event.label
        if key != self._waiting_for:
            raise ProtocolAborted(f"reply for {key!r}, expected {self._waiting_for!r}")
        value = dict(event.messages) if isinstance(event, Received) else event.result
        return self._advance(value)

    def _advance(self, value: Any) -> list[Action]:
        assert self.program is not None
        actions: list[Action] = []
        while True:
            try:
                request = self.program.send(value)
            except StopIteration as stop:
                return [*actions, Done(result=stop.value)]
            except ProtocolAborted as exc:
                return [*actions, Abort(error=exc)]
            value = None
            self.move(_State.WAITING)
            if isinstance(request, Scatter):
                # A Scatter's sends go out as a batch of their own, closed by a no-op step: the
                # driver keeps a batch's signed frames and payloads until the batch's waits end,
                # and a Collect in the same batch would pin them (an encoder's 49 coded shares of
                # 22 MB) for as long as the slowest sender takes (docs/simulation.md, "Memory").
                self._waiting_for = f"{SENT_PREFIX}{request.tag}"
                actions.extend(
                    Send(to=to, tag=request.tag, payload=payload)
                    for to, payload in sorted(request.payloads.items())
                )
                actions.append(Compute(label=self._waiting_for, fn=_sent))
                return actions
            if isinstance(request, Collect):
                self._waiting_for = request.tag
                actions.append(
                    Gather(tag=request.tag, senders=request.senders, at_least=request.at_least)
                )
            elif isinstance(request, Work):
                self._waiting_for = request.label
                actions.append(Compute(label=request.label, fn=request.fn, args=request.args))
            else:
                raise TypeError(f"a COPML step may not yield {type(request).__name__}")
            return actions


class InputPhase(StepMachine):
    phase = "copml-input"


class EncodePhase(StepMachine):
    phase = "copml-encode"


class ModelPhase(StepMachine):
    phase = "copml-model"


class GradientPhase(StepMachine):
    phase = "copml-gradient"


class DecodePhase(StepMachine):
    phase = "copml-decode"


class UpdatePhase(StepMachine):
    phase = "copml-update"


class ReleasePhase(StepMachine):
    phase = "copml-release"
