"""Mutual authentication of two parties over one connection, sans-IO.

Why this shape: a SIGMA-style exchange (ephemeral X25519 for the keys, long-term Ed25519 signatures
over the transcript for the identities) gives forward secrecy and mutual authentication with keys
the parties already hold for signing envelopes, so no certificates or TLS stack are needed. The
machine only turns bytes into bytes; the TCP transport moves them and applies the deadlines, and
tests drive two machines against each other directly.

Messages (each sent as one length-prefixed frame, all of fixed size so the responder never buffers
more than ``MAX_HANDSHAKE_MESSAGE`` bytes for a peer it has not authenticated)::

    HELLO    I -> R   0x01 | LABEL(16) | id_I (u64) | id_R (u64) | epk_I (32)
    RESPONSE R -> I   0x02 | epk_R (32) | sig_R (64)
    FINISH   I -> R   0x03 | sig_I (64)
    ACCEPT   R -> I   0x04
    REJECT   R -> I   0x05 | reason (1)

``th = BLAKE2b-256(LABEL | id_I | id_R | epk_I | epk_R)``; ``sig_R`` signs ``"R" | th`` and
``sig_I`` signs ``"I" | th`` (the role byte stops one side's signature being reflected back as the
other's). Each side checks the other's signature against the roster's key for the claimed id. The
session keys are ``BLAKE2b(X25519(esk, epk), key=th)`` personalised per direction, so a key is bound
to both ids and both ephemeral keys. ACCEPT tells the initiator its signature was accepted (REJECT
says why not). Both are unauthenticated, like a TCP reset: anyone on the path can forge them, so the
transport treats a REJECT as a hint to record and retry, never as a final verdict, and the
responder only trusts the connection once the initiator's first record opens under the session key
(key confirmation, done by the transport).

The responder's ``admit`` callback runs on the claimed id *before* any expensive step (X25519,
signing), so a HELLO the transport would turn away anyway (wrong direction, already connected)
costs a table lookup, not public-key work.
"""

from __future__ import annotations

import enum
import hashlib
import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import nacl.bindings
import nacl.exceptions
from nacl.public import PrivateKey
from nacl.signing import SigningKey, VerifyKey

from coopetition.transports.errors import HandshakeFailed, PartyId, UnknownPeer

LABEL = b"coopetition/tcp1"
assert len(LABEL) == 16

_HELLO, _RESPONSE, _FINISH, _ACCEPT, _REJECT = 1, 2, 3, 4, 5
_U64 = struct.Struct(">Q")
_KEY = 32
_SIG = 64
HELLO_SIZE = 1 + len(LABEL) + 8 + 8 + _KEY
RESPONSE_SIZE = 1 + _KEY + _SIG
FINISH_SIZE = 1 + _SIG
ACCEPT_SIZE = 1
REJECT_SIZE = 2
#: Largest handshake message: the frame limit applied to unauthenticated peers.
MAX_HANDSHAKE_MESSAGE = max(HELLO_SIZE, RESPONSE_SIZE, FINISH_SIZE, ACCEPT_SIZE, REJECT_SIZE)
MAX_PARTY_ID = 2**64 - 1


class Rejected(HandshakeFailed):
    """The initiator received a REJECT. It is unsigned, so it may come from anyone on the path:
    a hint worth recording, not proof that the named peer refused."""


class RejectReason(enum.IntEnum):
    """Why a responder refused; sent in REJECT so the initiator's error says something useful."""

    MALFORMED = 1
    UNKNOWN_ID = 2
    WRONG_RESPONDER = 3
    BAD_SIGNATURE = 4
    NOT_EXPECTED = (
        5  # right key, but this pair's connection is not accepted now (direction, duplicate)
    )


class State(enum.Enum):
    START = "start"
    SENT_HELLO = "sent_hello"  # initiator
    SENT_FINISH = "sent_finish"  # initiator
    AWAIT_HELLO = "await_hello"  # responder
    SENT_RESPONSE = "sent_response"  # responder
    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class SessionKeys:
    """Result of a handshake: the authenticated peer and one key per direction."""

    peer: PartyId
    send_key: bytes
    recv_key: bytes
    transcript_hash: bytes


def _check_id(pid: int) -> None:
    if not isinstance(pid, int) or not 0 <= pid <= MAX_PARTY_ID:
        raise ValueError(f"party ids must be integers in [0, 2**64), got {pid!r}")


def transcript_hash(id_i: PartyId, id_r: PartyId, epk_i: bytes, epk_r: bytes) -> bytes:
    data = LABEL + _U64.pack(id_i) + _U64.pack(id_r) + epk_i + epk_r
    return hashlib.blake2b(data, digest_size=32, person=b"coop-tcp-th").digest()


def derive_keys(shared: bytes, th: bytes) -> tuple[bytes, bytes]:
    """(initiator->responder key, responder->initiator key)."""
    i2r = hashlib.blake2b(shared, digest_size=32, key=th, person=b"coop-tcp-i2r").digest()
    r2i = hashlib.blake2b(shared, digest_size=32, key=th, person=b"coop-tcp-r2i").digest()
    return i2r, r2i


def _dh(esk: bytes, epk: bytes, peer: PartyId | None) -> bytes:
    try:
        return nacl.bindings.crypto_scalarmult(esk, epk)
    except nacl.exceptions.CryptoError as exc:  # all-zero result: a low-order point
        raise HandshakeFailed("peer sent a degenerate ephemeral key", peer=peer) from exc


def _verify(key: VerifyKey, role: bytes, th: bytes, sig: bytes, peer: PartyId) -> None:
    try:
        key.verify(role + th, sig)
    except nacl.exceptions.BadSignatureError as exc:
        raise HandshakeFailed(
            f"party {peer}'s handshake signature does not verify under its roster key", peer=peer
        ) from exc


class _Machine:
    def __init__(
        self,
        local_id: PartyId,
        signing_key: SigningKey,
        ephemeral: PrivateKey | None,
    ) -> None:
        _check_id(local_id)
        self.local_id = local_id
        self._sk = signing_key
        self._given_esk = ephemeral
        self.state = State.START
        self.keys: SessionKeys | None = None

    @property
    def _esk(self) -> PrivateKey:
        # Generated on first use: a responder must not pay for a key pair before its cheap checks.
        if self._given_esk is None:
            self._given_esk = PrivateKey.generate()
        return self._given_esk

    @property
    def _epk(self) -> bytes:
        return bytes(self._esk.public_key)

    def _fail(self, exc: Exception) -> Exception:
        self.state = State.FAILED
        return exc

    def _expect(self, state: State) -> None:
        if self.state is not state:
            raise RuntimeError(f"handshake step not allowed in state {self.state.value}")


class Initiator(_Machine):
    """The dialing side: knows whom it dialed, so it checks the responder against that id only."""

    def __init__(
        self,
        local_id: PartyId,
        signing_key: SigningKey,
        peer_id: PartyId,
        peer_key: VerifyKey,
        *,
        ephemeral: PrivateKey | None = None,
    ) -> None:
        super().__init__(local_id, signing_key, ephemeral)
        _check_id(peer_id)
        self.peer_id = peer_id
        self._peer_key = peer_key
        self._th = b""

    def hello(self) -> bytes:
        self._expect(State.START)
        self.state = State.SENT_HELLO
        return (
            bytes([_HELLO]) + LABEL + _U64.pack(self.local_id) + _U64.pack(self.peer_id) + self._epk
        )

    def receive_response(self, msg: bytes) -> bytes:
        """Check the responder's RESPONSE (or REJECT); returns FINISH."""
        self._expect(State.SENT_HELLO)
        peer = self.peer_id
        if len(msg) == REJECT_SIZE and msg[0] == _REJECT:
            raise self._fail(_rejected(msg, peer))
        if len(msg) != RESPONSE_SIZE or msg[0] != _RESPONSE:
            raise self._fail(HandshakeFailed(f"party {peer} sent a malformed response", peer=peer))
        epk_r, sig_r = msg[1 : 1 + _KEY], msg[1 + _KEY :]
        th = transcript_hash(self.local_id, peer, self._epk, epk_r)
        try:
            _verify(self._peer_key, b"R", th, sig_r, peer)
            shared = _dh(bytes(self._esk), epk_r, peer)
        except HandshakeFailed as exc:
            raise self._fail(exc) from None
        i2r, r2i = derive_keys(shared, th)
        self._th = th
        self._pending = SessionKeys(peer, send_key=i2r, recv_key=r2i, transcript_hash=th)
        self.state = State.SENT_FINISH
        return bytes([_FINISH]) + self._sk.sign(b"I" + th).signature

    def receive_verdict(self, msg: bytes) -> SessionKeys:
        """ACCEPT completes the handshake; REJECT raises with the responder's reason."""
        self._expect(State.SENT_FINISH)
        peer = self.peer_id
        if len(msg) == REJECT_SIZE and msg[0] == _REJECT:
            raise self._fail(_rejected(msg, peer))
        if len(msg) != ACCEPT_SIZE or msg[0] != _ACCEPT:
            raise self._fail(HandshakeFailed(f"party {peer} sent a malformed verdict", peer=peer))
        self.state = State.DONE
        self.keys = self._pending
        return self.keys


def _rejected(msg: bytes, peer: PartyId) -> Rejected:
    try:
        reason = RejectReason(msg[1]).name.lower()
    except ValueError:
        reason = "unspecified"
    return Rejected(f"unauthenticated REJECT in the name of party {peer} ({reason})", peer=peer)


class Responder(_Machine):
    """The accepting side: learns the initiator's claimed id from HELLO and checks it.

    ``admit(peer_id)`` (optional) returns why the transport does not want the claimed id on this
    connection (wrong dialing direction, already connected), or ``None``; it runs on the *claimed*
    id right after the roster check and before any public-key work, so the refusal is cheap.
    ``refuse_authenticated`` covers the same for a peer after its signature verified.
    Every failure leaves a ``reject`` message to send before closing (``None`` when the peer has
    not earned one, e.g. garbage instead of HELLO is answered with MALFORMED all the same).
    """

    def __init__(
        self,
        local_id: PartyId,
        signing_key: SigningKey,
        roster: Mapping[PartyId, VerifyKey],
        *,
        ephemeral: PrivateKey | None = None,
        admit: Callable[[PartyId], str | None] | None = None,
    ) -> None:
        super().__init__(local_id, signing_key, ephemeral)
        self._roster = roster
        self._admit = admit
        self.state = State.AWAIT_HELLO
        self.peer_id: PartyId | None = None
        self.reject: bytes | None = None

    def _refuse(self, reason: RejectReason, exc: Exception) -> Exception:
        self.reject = bytes([_REJECT, reason])
        return self._fail(exc)

    def receive_hello(self, msg: bytes) -> bytes:
        """Check HELLO; returns RESPONSE."""
        self._expect(State.AWAIT_HELLO)
        if len(msg) != HELLO_SIZE or msg[0] != _HELLO or msg[1 : 1 + len(LABEL)] != LABEL:
            raise self._refuse(
                RejectReason.MALFORMED, HandshakeFailed("malformed or wrong-version hello")
            )
        off = 1 + len(LABEL)
        (id_i,) = _U64.unpack_from(msg, off)
        (id_r,) = _U64.unpack_from(msg, off + 8)
        epk_i = msg[off + 16 :]
        if id_r != self.local_id:
            raise self._refuse(
                RejectReason.WRONG_RESPONDER,
                HandshakeFailed(f"connector wanted party {id_r}, this is party {self.local_id}"),
            )
        if id_i == self.local_id or id_i not in self._roster:
            raise self._refuse(
                RejectReason.UNKNOWN_ID,
                UnknownPeer(f"connector claims id {id_i}, which is not in the roster", peer=id_i),
            )
        self.peer_id = id_i
        why = self._admit(id_i) if self._admit is not None else None
        if why is not None:
            raise self._refuse(
                RejectReason.NOT_EXPECTED,
                HandshakeFailed(f"unauthenticated hello claiming party {id_i}: {why}", peer=id_i),
            )
        try:
            shared = _dh(bytes(self._esk), epk_i, id_i)
        except HandshakeFailed as exc:
            raise self._refuse(RejectReason.MALFORMED, exc) from None
        th = transcript_hash(id_i, self.local_id, epk_i, self._epk)
        i2r, r2i = derive_keys(shared, th)
        self._pending = SessionKeys(id_i, send_key=r2i, recv_key=i2r, transcript_hash=th)
        self._th = th
        self.state = State.SENT_RESPONSE
        return bytes([_RESPONSE]) + self._epk + self._sk.sign(b"R" + th).signature

    def receive_finish(self, msg: bytes) -> SessionKeys:
        """Check the initiator's signature; on success the caller sends ``accept()``."""
        self._expect(State.SENT_RESPONSE)
        peer = self.peer_id
        assert peer is not None
        if len(msg) != FINISH_SIZE or msg[0] != _FINISH:
            raise self._refuse(
                RejectReason.MALFORMED, HandshakeFailed("malformed finish", peer=peer)
            )
        try:
            _verify(self._roster[peer], b"I", self._th, msg[1:], peer)
        except HandshakeFailed as exc:
            raise self._refuse(RejectReason.BAD_SIGNATURE, exc) from None
        self.state = State.DONE
        self.keys = self._pending
        return self.keys

    def refuse_authenticated(self, why: str) -> bytes:
        """Turn away an authenticated peer (see class docstring); returns the REJECT to send."""
        self._expect(State.DONE)
        self.keys = None
        self._refuse(RejectReason.NOT_EXPECTED, HandshakeFailed(why, peer=self.peer_id))
        assert self.reject is not None
        return self.reject

    @staticmethod
    def accept() -> bytes:
        return bytes([_ACCEPT])
