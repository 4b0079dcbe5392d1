"""Base OT: Masny-Rindal endemic OT on the prime-order group of Curve25519.

Masny, Rindal, "Endemic oblivious transfer", ACM CCS 2019, Figure 1 (the two-message OT
built from a key agreement, here Diffie-Hellman), in the group edwards25519 of prime order
l = 2^252 + ... (libsodium through pynacl). X25519 itself is x-only and has no point
addition, which the receiver's message needs, so the same curve is used in Edwards form.

For choice bit c the receiver picks b, a uniform group element r_(1-c) and sends
(r_0, r_1) with r_c = b*G - H(r_(1-c)); the sender sends A = a*G and, for i = 0, 1, derives
k_i = KDF(a * (r_i + H(r_(1-i)))); the receiver derives k_c = KDF(b * A). The sender cannot
tell c (both r_i are uniform given H is a random oracle into the group), and a receiver that
knew discrete logs of both r_i + H(r_(1-i)) would solve CDH. The OT is *endemic*: a corrupt
party may influence its own outputs, which is all KOS extension needs from its base OTs
(Masny-Rindal, Section 5).

The known problem of the simplest OT of Chou and Orlandi (LATINCRYPT 2015), that its
receiver's choice is not extractable and outputs of different instances can be related,
does not apply to this protocol; what we keep from the fixes published for it (Hauck, Loss,
"Efficient and universally composable protocols for oblivious transfer from the CDH
assumption", 2017; Genc, Iovino, Rial, "The simplest protocol for oblivious transfer
revisited", 2017) is that every key derivation hashes the session, the instance index and the
whole transcript (A, r_0, r_1), and that every received element is checked to be a valid
point of the prime-order subgroup (libsodium refuses small-order and non-canonical points).

H maps into the group as the sum of two Elligator images of a SHA-512 output (the
construction of RFC 9380's hash_to_curve), so it is indistinguishable from a random oracle
into the group; uniform r_(1-c) are made the same way from fresh random bytes.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field

from nacl import bindings as nb
from nacl.exceptions import RuntimeError as NaclRuntimeError

from .errors import MalformedOtMessage

POINT = 32


def _map(data: bytes) -> bytes:
    h = hashlib.sha512(data).digest()
    return nb.crypto_core_ed25519_add(
        nb.crypto_core_ed25519_from_uniform(h[:32]), nb.crypto_core_ed25519_from_uniform(h[32:])
    )


def _hash_to_group(session: bytes, index: int, point: bytes) -> bytes:
    return _map(b"coopetition/ot/mr19-h" + session + index.to_bytes(8, "big") + point)


def _scalar() -> bytes:
    return nb.crypto_core_ed25519_scalar_reduce(secrets.token_bytes(64))


def _kdf(session: bytes, index: int, bit: int, transcript: bytes, shared: bytes) -> bytes:
    h = hashlib.sha256(b"coopetition/ot/mr19-kdf" + session + index.to_bytes(8, "big"))
    h.update(bytes([bit]) + transcript + shared)
    return h.digest()[:16]


def _check_point(p: object, peer: int, what: str) -> bytes:
    if not isinstance(p, (bytes, bytearray)) or len(p) != POINT:
        raise MalformedOtMessage(f"base OT: {what} is not a 32-byte point", culprit=peer)
    if not nb.crypto_core_ed25519_is_valid_point(bytes(p)):
        raise MalformedOtMessage(f"base OT: {what} is not a valid group element", culprit=peer)
    return bytes(p)


def _mul(scalar: bytes, point: bytes, peer: int) -> bytes:
    try:
        return nb.crypto_scalarmult_ed25519_noclamp(scalar, point)
    except NaclRuntimeError as exc:  # the result was the identity
        raise MalformedOtMessage("base OT: degenerate group element", culprit=peer) from exc


@dataclass
class BaseOtSender:
    """n base OTs as the sender: ``first()`` -> A; ``keys(r_pairs)`` -> n pairs of 16-byte keys."""

    session: bytes
    n: int
    peer: int
    _a: bytes = field(default_factory=_scalar)
    _big_a: bytes = b""

    def first(self) -> bytes:
        self._big_a = nb.crypto_scalarmult_ed25519_base_noclamp(self._a)
        return self._big_a

    def keys(self, message: object) -> list[tuple[bytes, bytes]]:
        if not isinstance(message, list) or len(message) != self.n:
            raise MalformedOtMessage(
                "base OT: wrong number of receiver messages", culprit=self.peer
            )
        out = []
        for i, pair in enumerate(message):
            if not isinstance(pair, list) or len(pair) != 2:
                raise MalformedOtMessage("base OT: malformed receiver message", culprit=self.peer)
            r0 = _check_point(pair[0], self.peer, "r0")
            r1 = _check_point(pair[1], self.peer, "r1")
            transcript = self._big_a + r0 + r1
            m0 = nb.crypto_core_ed25519_add(r0, _hash_to_group(self.session, i, r1))
            m1 = nb.crypto_core_ed25519_add(r1, _hash_to_group(self.session, i, r0))
            out.append(
                (
                    _kdf(self.session, i, 0, transcript, _mul(self._a, m0, self.peer)),
                    _kdf(self.session, i, 1, transcript, _mul(self._a, m1, self.peer)),
                )
            )
        return out


@dataclass
class BaseOtReceiver:
    """n base OTs as the receiver with ``choices``: ``reply(A)`` -> message; ``keys()``."""

    session: bytes
    choices: list[int]
    peer: int
    _b: list[bytes] = field(default_factory=list)
    _transcripts: list[bytes] = field(default_factory=list)
    _big_a: bytes = b""

    def reply(self, big_a: object) -> list[list[bytes]]:
        self._big_a = _check_point(big_a, self.peer, "A")
        msg = []
        for i, c in enumerate(self.choices):
            b = _scalar()
            other = _map(b"coopetition/ot/mr19-r" + secrets.token_bytes(32))
            mine = nb.crypto_core_ed25519_sub(
                nb.crypto_scalarmult_ed25519_base_noclamp(b),
                _hash_to_group(self.session, i, other),
            )
            pair = [other, mine] if c else [mine, other]
            self._b.append(b)
            self._transcripts.append(self._big_a + pair[0] + pair[1])
            msg.append(pair)
        return msg

    def keys(self) -> list[bytes]:
        return [
            _kdf(self.session, i, c, self._transcripts[i], _mul(self._b[i], self._big_a, self.peer))
            for i, c in enumerate(self.choices)
        ]
