"""Logging without configuring anything: the library logs only to a logger it is given.

An unconfigured structlog prints to stdout, and a library must not configure logging for its
host application, so the default is a silent logger; applications (and the CLI) pass a bound
structlog logger to opt in. Log records carry ids, sizes and digests, never shares, keys or data.
"""

from __future__ import annotations

from typing import Any


class NullLogger:
    """Accepts structlog's calls and drops them."""

    def bind(self, **_: Any) -> NullLogger:
        return self

    def _drop(self, *_: Any, **__: Any) -> None:
        return None

    debug = info = warning = error = exception = msg = _drop


def resolve(logger: Any) -> Any:
    return NullLogger() if logger is None else logger
