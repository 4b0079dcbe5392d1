"""Party identities (Ed25519 signing keys), rosters and key files.

One long-term Ed25519 key per party signs every envelope; the TCP transport derives its
handshake authentication from the same key, so a party has exactly one secret to guard. Key files
are small TOML documents written with mode 0600; the public half is printed and shared.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

from nacl.encoding import HexEncoder
from nacl.signing import SigningKey, VerifyKey

from coopetition.engine.errors import ConfigError, PartyId


@dataclass(frozen=True)
class Identity:
    party_id: PartyId
    signing_key: SigningKey

    @property
    def verify_key(self) -> VerifyKey:
        return self.signing_key.verify_key

    @classmethod
    def generate(cls, party_id: PartyId) -> Identity:
        return cls(party_id, SigningKey.generate())

    def __repr__(self) -> str:  # never print the secret key
        return f"Identity(party_id={self.party_id}, public_key={public_key_hex(self.verify_key)})"


def public_key_hex(key: VerifyKey) -> str:
    return key.encode(encoder=HexEncoder).decode()


def verify_key_from_hex(text: str, *, what: str = "public key") -> VerifyKey:
    try:
        raw = bytes.fromhex(text.strip())
    except ValueError:
        raise ConfigError(f"{what} is not hexadecimal") from None
    if len(raw) != 32:
        raise ConfigError(f"{what} must be 32 bytes (64 hex digits), got {len(raw)} bytes")
    return VerifyKey(raw)


def write_key_file(path: Path, signing_key: SigningKey, *, overwrite: bool = False) -> None:
    """Write a secret key file readable by its owner only; refuse to clobber an existing key."""
    if path.exists() and not overwrite:
        raise ConfigError(f"{path} exists; refusing to overwrite a key (use --force)")
    text = (
        "# coopetition party identity: keep this file secret\n"
        f'secret_key = "{signing_key.encode(encoder=HexEncoder).decode()}"\n'
        f'public_key = "{public_key_hex(signing_key.verify_key)}"\n'
    )
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    fd = os.open(path, flags, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)


def read_key_file(path: Path) -> SigningKey:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"key file {path} does not exist") from None
    except OSError as exc:
        raise ConfigError(f"key file {path} cannot be read: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"key file {path} is not UTF-8 text ({exc.reason})") from None
    except ValueError as exc:  # e.g. a NUL byte in the path
        raise ConfigError(f"key file {path!r} is not a usable path: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"key file {path} is not valid TOML: {exc}") from None
    secret = data.get("secret_key")
    if not isinstance(secret, str):
        raise ConfigError(f"key file {path} has no secret_key")
    try:
        raw = bytes.fromhex(secret)
    except ValueError:
        raise ConfigError(f"secret_key in {path} is not hexadecimal") from None
    if len(raw) != 32:
        raise ConfigError(f"secret_key in {path} must be 32 bytes")
    key = SigningKey(raw)
    public = data.get("public_key")
    if isinstance(public, str) and public != public_key_hex(key.verify_key):
        raise ConfigError(f"public_key in {path} does not match its secret_key")
    return key
