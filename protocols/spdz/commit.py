"""Hash commitments: SHA3-256 over a domain tag, the context, the value and 32 random bytes.

Hiding rests on the 256 bits of randomness, binding on collision resistance. The context
(session, party, tag) is hashed in so a commitment cannot be replayed under another name.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

_DOMAIN = b"coopetition/spdz/commit/v1"


def _digest(context: bytes, value: bytes, rand: bytes) -> bytes:
    h = hashlib.sha3_256(_DOMAIN)
    for part in (context, value, rand):
        h.update(len(part).to_bytes(8, "big"))
        h.update(part)
    return h.digest()


def commit(context: bytes, value: bytes) -> tuple[bytes, bytes]:
    """(commitment, opening randomness)."""
    rand = secrets.token_bytes(32)
    return _digest(context, value, rand), rand


def verify(context: bytes, commitment: bytes, value: bytes, rand: bytes) -> bool:
    return hmac.compare_digest(_digest(context, value, rand), commitment)
