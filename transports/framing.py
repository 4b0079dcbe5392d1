"""Length-prefixed framing over a byte stream, sans-IO.

A frame on the wire is a 4-byte big-endian length followed by that many bytes. The reader checks the
announced length against its current maximum the moment the 4 header bytes are complete, before any
of the body is buffered, so a hostile peer announcing 4 GiB costs us 4 bytes, not 4 GiB. The maximum
can be changed between frames: the TCP transport reads the handshake with a maximum of a few hundred
bytes (the peer is not yet authenticated) and then raises it to the session's frame limit, keeping
whatever bytes already arrived in the same buffer.

The reader never asks for more than the rest of the current frame (see ``wanted``), so it never
pulls the next frame's bytes off the socket before the current one is handled; that keeps the
handshake-to-session handover exact and bounds the buffer by the current frame's size.
"""

from __future__ import annotations

import struct

from coopetition.transports.errors import FrameTooLarge, PartyId

HEADER = struct.Struct(">I")
HEADER_SIZE = HEADER.size
#: The largest length the 4-byte header can express.
MAX_ENCODABLE = 2**32 - 1


def encode_frame(payload: bytes, *, max_size: int = MAX_ENCODABLE) -> bytes:
    """``payload`` with its length prefix; refuses what the far end would refuse."""
    size = len(payload)
    if size > max_size or size > MAX_ENCODABLE:
        raise FrameTooLarge(f"frame of {size} bytes exceeds the maximum of {max_size}")
    return HEADER.pack(size) + payload


class FrameReader:
    """Turns stream chunks into frames; one per connection.

    Feed it at most ``wanted()`` bytes at a time (it raises if fed more, which would mean the caller
    read past the frame boundary) and collect frames with ``next_frame()``.
    """

    __slots__ = ("_body", "_body_len", "_expected", "_header", "max_size", "peer")

    def __init__(self, max_size: int, *, peer: PartyId | None = None) -> None:
        if not 0 <= max_size <= MAX_ENCODABLE:
            raise ValueError(f"max_size must be in [0, 2**32), got {max_size}")
        self.max_size = max_size
        self.peer = peer
        self._header = bytearray()
        self._expected: int | None = None
        # Body chunks joined once at the end: one copy per frame instead of one per append.
        self._body: list[bytes] = []
        self._body_len = 0

    def wanted(self) -> int:
        """How many bytes the current frame (header or body) still needs; never 0."""
        if self._expected is None:
            return HEADER_SIZE - len(self._header)
        remaining = self._expected - self._body_len
        # A complete frame is waiting for next_frame(); asking for the next header is then safe.
        return remaining if remaining > 0 else HEADER_SIZE

    def buffered(self) -> int:
        """Bytes held in memory right now (for tests of the allocation bound)."""
        return len(self._header) + self._body_len

    def feed(self, data: bytes | bytearray) -> None:
        """Add bytes read from the stream; raises ``FrameTooLarge`` on an oversize header."""
        if self._expected is not None and self._body_len == self._expected:
            raise RuntimeError("collect the complete frame with next_frame() before feeding more")
        if len(data) > self.wanted():
            raise RuntimeError(f"fed {len(data)} bytes but only {self.wanted()} were wanted")
        if self._expected is None:
            self._header += data
            if len(self._header) == HEADER_SIZE:
                (size,) = HEADER.unpack(bytes(self._header))
                if size > self.max_size:
                    raise FrameTooLarge(
                        f"peer announced a frame of {size} bytes; the maximum is {self.max_size}",
                        peer=self.peer,
                    )
                self._expected = size
                self._header.clear()
        elif data:
            self._body.append(bytes(data))
            self._body_len += len(data)

    def next_frame(self) -> bytes | None:
        """The next complete frame, or ``None`` if more bytes are needed."""
        if self._expected is None or self._body_len < self._expected:
            return None
        frame = self._body[0] if len(self._body) == 1 else b"".join(self._body)
        self._body.clear()
        self._body_len = 0
        self._expected = None
        return frame

    def at_boundary(self) -> bool:
        """True when no partial frame is buffered (a clean place for the stream to end)."""
        return self._expected is None and not self._header
