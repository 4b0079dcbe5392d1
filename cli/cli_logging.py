"""structlog for the commands that run a party: to stderr, human on a terminal, JSON on request.

The library never configures logging (``engine.logging``); the CLI does, once, here. Records
carry ids, sizes, addresses and reasons, never data, shares or keys.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog


def configure(*, json_lines: bool, quiet: bool = False) -> Any:
    """Route structlog to stderr and return a logger; ``quiet`` keeps only warnings."""
    stream = sys.stderr
    renderer: Any = (
        structlog.processors.JSONRenderer(sort_keys=True)
        if json_lines
        else structlog.dev.ConsoleRenderer(colors=stream.isatty())
    )
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.WARNING if quiet else logging.INFO
        ),
        logger_factory=structlog.PrintLoggerFactory(stream),
        cache_logger_on_first_use=False,
    )
    return structlog.get_logger("coopetition")


class PeerWatch:
    """A logger wrapper for ``TcpTransport`` that also remembers which peers are connected."""

    def __init__(self, logger: Any) -> None:
        self.logger = logger
        self.connected: set[int] = set()

    def info(self, event: str, **fields: Any) -> None:
        if event == "tcp.connected":
            self.connected.add(fields.get("peer", -1))
        elif event == "tcp.connection_lost":
            self.connected.discard(fields.get("peer", -1))
        level = "warning" if event in ("tcp.refused", "tcp.connection_lost") else "info"
        getattr(self.logger, level)(event, **fields)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.logger, name)
