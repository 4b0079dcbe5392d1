"""Public values every party derives alike from the transcript, so that nobody chooses them.

Biprimality bases (Jacobi symbol +1 modulo N), the verification base v (a square modulo N^2),
the test plaintexts and encryption randomness of the final key check, and the audit coin.
Each is SHAKE-256 of a domain tag, the session, the batch, the candidate index and N.
"""

from __future__ import annotations

import hashlib
from typing import Any

import gmpy2

_DOMAIN = b"coopetition/dkg/derive/v1"


def _stream(label: str, session: bytes, *numbers: int) -> Any:
    h = hashlib.shake_256(_DOMAIN)
    for item in (label.encode(), session):
        h.update(len(item).to_bytes(4, "big") + item)
    for x in numbers:
        b = x.to_bytes((x.bit_length() + 7) // 8 + 1, "big")
        h.update(len(b).to_bytes(4, "big") + b)
    return h


def derive_int(bound: int, label: str, session: bytes, *numbers: int) -> int:
    size = (bound.bit_length() + 128 + 7) // 8
    return int.from_bytes(_stream(label, session, *numbers).digest(size), "big") % bound


def biprimality_bases(
    session: bytes, batch: int, index: int, n: int, stage: str, count: int
) -> list[int]:
    """``count`` elements of Z_N^* with Jacobi symbol +1 (Boneh-Franklin's test needs them)."""
    out: list[int] = []
    i = 0
    while len(out) < count:
        g = derive_int(n, f"bases/{stage}", session, batch, index, n, i)
        i += 1
        if g > 1 and gmpy2.jacobi(g, n) == 1:
            out.append(g)
    return out


def verification_base(session: bytes, n: int) -> int:
    """v = x^2 mod N^2 for a transcript-derived unit x: a square nobody chose."""
    n2 = n * n
    i = 0
    while True:
        x = derive_int(n2, "verification-base", session, n, i)
        i += 1
        if x > 1 and gmpy2.gcd(x, n) == 1:
            return int(gmpy2.powmod(x, 2, n2))


def test_plaintexts(session: bytes, n: int, count: int) -> list[tuple[int, int]]:
    """(plaintext, randomness) pairs for the final key check; everybody knows them."""
    out = []
    for i in range(count):
        m = derive_int(n, "test-plaintext", session, n, i)
        j = 0
        while True:
            r = derive_int(n, "test-randomness", session, n, i, j)
            j += 1
            if r > 1 and gmpy2.gcd(r, n) == 1:
                break
        out.append((m, r))
    return out


def audit_coin(session: bytes, batch: int, index: int, transcript: bytes) -> float:
    """A public coin in [0, 1) drawn after the batch's messages are fixed."""
    return (
        derive_int(1 << 64, "audit", session, batch, index, int.from_bytes(transcript, "big"))
        / 2**64
    )
