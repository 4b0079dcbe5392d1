"""Reading a party's secret key file as the CLI does: private (0600), a file, a key.

The engine's ``read_key_file`` parses the key; this adds what a command line must promise its
user: a key file anyone else can read is refused (with the ``chmod`` to run), and a directory,
an unreadable file or random bytes are one-line errors, never tracebacks.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from nacl.signing import SigningKey

from coopetition.engine.errors import ConfigError
from coopetition.engine.identity import read_key_file


def check_private(path: Path) -> None:
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise ConfigError(
            f"key file {path} does not exist (make one: coopetition keys new --out {path})"
        ) from None
    except OSError as exc:
        raise ConfigError(f"key file {path} cannot be read: {exc.strerror or exc}") from None
    if not stat.S_ISREG(info.st_mode):
        raise ConfigError(f"key file {path} is not a regular file")
    if os.name == "posix" and stat.S_IMODE(info.st_mode) & 0o077:
        mode = oct(stat.S_IMODE(info.st_mode))[2:]
        raise ConfigError(
            f"key file {path} is readable by others (mode {mode}); run: chmod 600 {path}"
        )


def read_private_key(path: Path) -> SigningKey:
    check_private(path)
    try:
        return read_key_file(path)
    except (UnicodeDecodeError, ValueError):
        raise ConfigError(
            f"key file {path} is not a coopetition key file (make one with `coopetition keys new`)"
        ) from None
    except OSError as exc:
        raise ConfigError(f"key file {path} cannot be read: {exc.strerror or exc}") from None
