"""Encrypted, ordered records after the handshake, sans-IO.

Each record is ``counter (8 bytes, big-endian) | SecretBox(payload)`` with the nonce
``16 zero bytes | counter``. Keys are per direction (see ``handshake``), so the two directions never
share a (key, nonce) pair; the counter starts at 0 and must arrive exactly in order, so a replayed,
dropped or reordered record is refused before decryption. Carrying the counter explicitly (rather
than only keeping it implicit) lets the error say *which* of those happened, and a tampered counter
still fails the MAC because it is the nonce.

A failure leaves the channel unusable: after a bad record the stream cannot be trusted to be in
step, so the transport closes the connection.
"""

from __future__ import annotations

import struct

import nacl.bindings
import nacl.exceptions
from nacl.secret import SecretBox

from coopetition.transports.errors import ConnectionClosed, PartyId

_COUNTER = struct.Struct(">Q")
#: Bytes a record adds to its payload: counter and Poly1305 tag.
OVERHEAD = _COUNTER.size + SecretBox.MACBYTES
_NONCE_PAD = bytes(SecretBox.NONCE_SIZE - _COUNTER.size)
_MAX_COUNTER = 2**64 - 1


class RecordRejected(ConnectionClosed):
    """A record failed authentication or arrived out of order; the connection is dropped.

    A subclass of ``ConnectionClosed`` because that is what it means for the caller: this peer's
    connection is gone. Tampering on the wire cannot be told apart from a peer sending garbage,
    so no culprit beyond the connection's peer is implied.
    """


class SecureChannel:
    def __init__(self, send_key: bytes, recv_key: bytes, *, peer: PartyId | None = None) -> None:
        if len(send_key) != SecretBox.KEY_SIZE or len(recv_key) != SecretBox.KEY_SIZE:
            raise ValueError("session keys must be 32 bytes")
        self._send_key = bytes(send_key)
        self._recv_key = bytes(recv_key)
        self._send_counter = 0
        self._recv_counter = 0
        self._broken = False
        self.peer = peer

    def seal(self, payload: bytes) -> bytes:
        return b"".join(self.seal_parts(payload))

    def seal_parts(self, payload: bytes) -> tuple[bytes, bytes]:
        """(counter, tag and ciphertext): lets the caller add its header with a single join."""
        if self._send_counter > _MAX_COUNTER:
            raise ConnectionClosed("record counter exhausted", peer=self.peer)
        counter = _COUNTER.pack(self._send_counter)
        self._send_counter += 1
        # SecretBox.encrypt would also prepend the nonce (another copy) that we do not send.
        boxed = nacl.bindings.crypto_secretbox_easy(payload, _NONCE_PAD + counter, self._send_key)
        return counter, boxed

    def open(self, record: bytes) -> bytes:
        if self._broken:
            raise RecordRejected("channel already failed", peer=self.peer)
        if len(record) < OVERHEAD:
            self._broken = True
            raise RecordRejected(f"record of {len(record)} bytes is too short", peer=self.peer)
        (counter,) = _COUNTER.unpack_from(record)
        if counter != self._recv_counter:
            self._broken = True
            kind = "replayed" if counter < self._recv_counter else "skipped ahead"
            raise RecordRejected(
                f"record counter {counter} {kind} (expected {self._recv_counter})", peer=self.peer
            )
        try:
            payload = nacl.bindings.crypto_secretbox_open_easy(
                record[_COUNTER.size :], _NONCE_PAD + record[: _COUNTER.size], self._recv_key
            )
        except nacl.exceptions.CryptoError as exc:
            self._broken = True
            raise RecordRejected("record failed authentication", peer=self.peer) from exc
        self._recv_counter += 1
        return payload
