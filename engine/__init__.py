"""The protocol engine: parties driving sans-IO phase machines over transports.

What users and protocol authors may import from here is listed in ``__all__`` (and in
``docs/api.md``); everything else is an implementation module that may change.
"""

from coopetition.engine.allocator import tune_allocator
from coopetition.engine.config import Deadlines, PartyConfig, ProtocolRun
from coopetition.engine.errors import (
    BroadcastInconsistent,
    CheatingDetected,
    ConfigError,
    ConfigMismatch,
    CoopetitionError,
    DeadlineExceeded,
    Equivocation,
    LocalFailure,
    MalformedMessage,
    PeerCrashed,
    PeerUnreachable,
    ProtocolAborted,
    ProtocolViolation,
    RemoteMisbehaviour,
    Unavailable,
)
from coopetition.engine.identity import Identity
from coopetition.engine.local import LocalRun, local_configs, run_parties
from coopetition.engine.machine import (
    Abort,
    Broadcast,
    Compute,
    Computed,
    Done,
    Finding,
    Gather,
    MachineError,
    PhaseMachine,
    Received,
    Send,
    Started,
    TimedOut,
)
from coopetition.engine.metadata import PhaseInfo, ProtocolInfo
from coopetition.engine.party import Party
from coopetition.engine.program import Exchange, Program, ProgramMachine, ProgramRun

__all__ = [
    "Abort",
    "Broadcast",
    "BroadcastInconsistent",
    "CheatingDetected",
    "Compute",
    "Computed",
    "ConfigError",
    "ConfigMismatch",
    "CoopetitionError",
    "DeadlineExceeded",
    "Deadlines",
    "Done",
    "Equivocation",
    "Exchange",
    "Finding",
    "Gather",
    "Identity",
    "LocalFailure",
    "LocalRun",
    "MachineError",
    "MalformedMessage",
    "Party",
    "PartyConfig",
    "PeerCrashed",
    "PeerUnreachable",
    "PhaseInfo",
    "PhaseMachine",
    "Program",
    "ProgramMachine",
    "ProgramRun",
    "ProtocolAborted",
    "ProtocolInfo",
    "ProtocolRun",
    "ProtocolViolation",
    "Received",
    "RemoteMisbehaviour",
    "Send",
    "Started",
    "TimedOut",
    "Unavailable",
    "local_configs",
    "run_parties",
    "tune_allocator",
]
