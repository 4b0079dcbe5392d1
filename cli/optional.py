"""Optional dependencies: a missing one is a one-line error with the install command to run."""

from __future__ import annotations

import importlib
from types import ModuleType

from coopetition.engine.errors import ConfigError


class MissingDependency(ConfigError):
    """An optional package is not installed; the message says how to install it."""


def require(module: str, *, extra: str, package: str) -> ModuleType:
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name is None or module.split(".")[0] != exc.name.split(".")[0]:
            raise
        raise MissingDependency(
            f"this needs {package}, which is not installed; run: "
            f"pip install 'coopetition[{extra}]'  (or: pip install {package})"
        ) from None
