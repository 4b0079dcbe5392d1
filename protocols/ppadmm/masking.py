"""PPADMM's secure sum: fixed-point ring encoding, X25519 key agreement, SHA-256 masks.

Each participant i and the auxiliary server S2 agree a 32-byte key k_i by X25519 (libsodium
through pynacl). In iteration t the participant adds the mask ``M_i^t = SHA-256(k_i, t, j)``
(one 128-bit word per coordinate j) to the fixed-point encoding of its contribution, modulo
2**128. S2, which holds every k_i, sends the primary server S1 ``sum_i M_i^t``; S1 subtracts it
from the sum of the masked vectors and is left with the exact integer sum of the encodings.
Masks are uniform modulo 2**128 (SHA-256 modelled as a random oracle), so each masked vector
alone is a one-time pad: S1 learns the sum and nothing else, unless it colludes with S2.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

import numpy as np
from nacl.bindings import crypto_scalarmult
from nacl.exceptions import RuntimeError as NaclRuntimeError

from coopetition.engine.errors import ConfigError, PartyId, ProtocolViolation
from coopetition.protocols.fixedpoint import decode, encode, from_residue

#: Ring of the masked values: Z_(2**128).
RING_BITS = 128
RING = 1 << RING_BITS
WORD_BYTES = RING_BITS // 8
#: Default fractional bits of a contribution (resolution 2**-32, about 2.3e-10).
DEFAULT_FRAC_BITS = 32
KEY_BYTES = 32

_KDF_LABEL = b"coopetition/ppadmm/x25519-key/v1"
_MASK_LABEL = b"coopetition/ppadmm/mask/v1"
_CONFIRM_LABEL = b"coopetition/ppadmm/key-confirm/v1"
_PROBE_SCALAR = hashlib.sha256(b"coopetition/ppadmm/low-order-probe").digest()


class KeyMismatch(ProtocolViolation):
    """A participant's key confirmation does not match the key S2 derived for it."""

    code = "key_mismatch"


@dataclass(frozen=True)
class FixedPointRing:
    """Reals <-> signed integers at scale 2**frac_bits <-> residues modulo 2**128."""

    frac_bits: int = DEFAULT_FRAC_BITS

    def check_budget(self, bound: float, summands: int) -> None:
        """ConfigError unless ``summands`` values of magnitude <= bound sum inside the ring."""
        if not 0 <= self.frac_bits <= 52:
            raise ConfigError(f"frac_bits must lie in [0, 52], got {self.frac_bits}")
        largest = int(np.ceil(bound)) * (1 << self.frac_bits) * summands
        if 2 * largest >= RING:
            raise ConfigError(
                f"{summands} contributions bounded by {bound:g} at 2^-{self.frac_bits} do not "
                f"fit the 2^{RING_BITS} ring"
            )

    def encode(self, values: np.ndarray) -> list[int]:
        """Signed integers round(x * 2**f) (the quantisation both PPADMM and its reference use)."""
        return [int(v) for v in encode(values, self.frac_bits).reshape(-1)]

    def decode_sum(self, residues: list[int]) -> np.ndarray:
        """Centred residues -> signed integers -> reals (one exact division per entry)."""
        signed = from_residue(np.array(residues, dtype=object), RING)
        return decode(signed, self.frac_bits)


def pack(words: list[int]) -> bytes:
    return b"".join((w % RING).to_bytes(WORD_BYTES, "big") for w in words)


def unpack(data: object, length: int, sender: PartyId, what: str) -> list[int]:
    """``length`` ring elements from a received byte string, else a violation naming sender."""
    if not isinstance(data, (bytes, bytearray)) or len(data) != WORD_BYTES * length:
        raise ProtocolViolation(
            f"party {sender} sent a {what} that is not {length} words of {WORD_BYTES} bytes",
            culprit=sender,
        )
    raw = bytes(data)
    return [int.from_bytes(raw[i : i + WORD_BYTES], "big") for i in range(0, len(raw), WORD_BYTES)]


def agree_key(
    own_secret: bytes,
    peer_public: bytes,
    *,
    session: bytes,
    participant: PartyId,
    participant_public: bytes,
    auxiliary_public: bytes,
) -> bytes:
    """k_i = SHA-256(label, session, i, pk_i, pk_S2, X25519(sk, pk_peer)): same at both ends.

    Binding the session and both public keys makes a key (hence every mask) fresh per run even
    when the X25519 keys are long-lived; libsodium refuses low-order points (all-zero output).
    """
    if len(peer_public) != KEY_BYTES or len(own_secret) != KEY_BYTES:
        raise ConfigError("X25519 keys are 32 bytes")
    try:
        shared = crypto_scalarmult(own_secret, peer_public)
    except NaclRuntimeError as exc:
        raise ConfigError("X25519 agreement failed (low-order public key)") from exc
    h = hashlib.sha256(_KDF_LABEL)
    for part in (session, participant.to_bytes(4, "big"), participant_public, auxiliary_public):
        h.update(len(part).to_bytes(2, "big") + part)
    h.update(shared)
    return h.digest()


def usable_public_key(public: bytes) -> bool:
    """False for a low-order X25519 point (every agreement with it gives the all-zero secret).

    Clamped scalars are multiples of the cofactor, so any one of them maps a low-order point
    to zero; libsodium reports that as an error. Checked in setup so the announcer is named.
    """
    try:
        crypto_scalarmult(_PROBE_SCALAR, public)
    except NaclRuntimeError:
        return False
    return True


def confirmation(key: bytes, session: bytes, participant: PartyId) -> bytes:
    """What a participant shows S2 to prove it derived the same key (HMAC-SHA-256)."""
    return hmac.new(
        key, _CONFIRM_LABEL + session + participant.to_bytes(4, "big"), hashlib.sha256
    ).digest()


def confirmation_ok(key: bytes, session: bytes, participant: PartyId, shown: object) -> bool:
    return isinstance(shown, bytes) and hmac.compare_digest(
        confirmation(key, session, participant), shown
    )


def mask(key: bytes, iteration: int, length: int) -> list[int]:
    """M^t: word j is the first 128 bits of SHA-256(label, k, t, j)."""
    prefix = hashlib.sha256(_MASK_LABEL + key + iteration.to_bytes(8, "big"))
    out = []
    for j in range(length):
        h = prefix.copy()
        h.update(j.to_bytes(4, "big"))
        out.append(int.from_bytes(h.digest()[:WORD_BYTES], "big"))
    return out


def mask_sum(keys: list[bytes], iteration: int, length: int) -> list[int]:
    """S2's message: sum over participants of M_i^t, modulo 2**128."""
    total = [0] * length
    for key in keys:
        total = [(a + b) % RING for a, b in zip(total, mask(key, iteration, length), strict=True)]
    return total


def masked(encoded: list[int], key: bytes, iteration: int) -> list[int]:
    """A participant's upload: (encoding + M^t) mod 2**128."""
    return [
        (e + m) % RING for e, m in zip(encoded, mask(key, iteration, len(encoded)), strict=True)
    ]


def unmask_sum(uploads: list[list[int]], masks_total: list[int]) -> list[int]:
    """S1's step: sum of uploads minus S2's mask sum, modulo 2**128 (= sum of encodings)."""
    total = list(masks_total)
    total = [(-t) % RING for t in total]
    for upload in uploads:
        total = [(a + b) % RING for a, b in zip(total, upload, strict=True)]
    return total
