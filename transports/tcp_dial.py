"""The dialing side of the TCP transport: connect with backoff, authenticate, confirm the key."""

from __future__ import annotations

import trio

from coopetition.transports.channel import SecureChannel
from coopetition.transports.errors import (
    ConnectionClosed,
    FrameTooLarge,
    HandshakeFailed,
    PartyId,
    TransportError,
)
from coopetition.transports.framing import FrameReader, encode_frame
from coopetition.transports.handshake import (
    MAX_HANDSHAKE_MESSAGE,
    Initiator,
    Rejected,
)

#: Largest read from a socket at once: bounds the buffer beyond the current frame's own size.
from coopetition.transports.tcp_core import (
    _BACKOFF_MAX,
    _BACKOFF_START,
    PeerAddress,
    _Retry,
    _TcpCore,
)


class _DialSide(_TcpCore):
    async def _dial_task(
        self,
        peer: PartyId,
        failures: list[TransportError],
        last_attempt: dict[PartyId, BaseException],
        connect_scope: trio.CancelScope,
    ) -> None:
        """Dial ``peer`` until connected; anything a stranger could have caused is retried."""
        addr = self._addresses[peer]
        delay = _BACKOFF_START
        while True:
            try:
                await self._dial_once(peer, addr)
                return
            except _Retry as exc:
                last_attempt[peer] = exc.__cause__ or exc
                await trio.sleep(delay)
                delay = min(delay * 2, _BACKOFF_MAX)
            except TransportError as exc:
                failures.append(exc)
                connect_scope.cancel()
                return

    async def _dial_once(self, peer: PartyId, addr: PeerAddress) -> None:
        try:
            stream = await trio.open_tcp_stream(addr.host, addr.port)
        except OSError as exc:
            raise _Retry(f"cannot reach party {peer}") from exc
        self._streams.add(stream)
        done = False
        try:
            if self._closed:
                raise ConnectionClosed("transport is closed", peer=peer)
            initiator = Initiator(self.local_id, self._signing_key, peer, self._roster[peer])
            reader = FrameReader(MAX_HANDSHAKE_MESSAGE, peer=peer)
            channel: SecureChannel | None = None
            with trio.move_on_after(self.handshake_timeout):
                try:
                    await stream.send_all(encode_frame(initiator.hello()))
                    response = await self._read_frame(stream, reader, peer)
                    await stream.send_all(encode_frame(initiator.receive_response(response)))
                    keys = initiator.receive_verdict(await self._read_frame(stream, reader, peer))
                    confirming = SecureChannel(keys.send_key, keys.recv_key, peer=peer)
                    await stream.send_all(encode_frame(confirming.seal(b"")))
                    channel = confirming
                except Rejected as exc:  # unsigned: maybe the peer, maybe anyone on the path
                    raise _Retry(str(exc)) from exc
                except (HandshakeFailed, FrameTooLarge) as exc:
                    # Nothing before our check of the RESPONSE is authenticated, so a bad
                    # signature or a malformed answer may be an impostor at the address or an
                    # injection on the path: retry, and say so if the deadline passes.
                    raise _Retry(
                        f"the listener at {addr.host}:{addr.port} did not authenticate as "
                        f"party {peer}: {exc}"
                    ) from None
                except (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as exc:
                    raise _Retry(f"connection to party {peer} lost during handshake") from exc
                except ConnectionClosed as exc:  # EOF mid-handshake: the peer may be restarting
                    raise _Retry(str(exc)) from exc
            if channel is None:
                raise _Retry(f"party {peer} did not finish the handshake in time")
            self._check_open(peer)
            self._register(stream, reader, channel)
            done = True
        finally:
            if not done:
                self._streams.discard(stream)
                await trio.aclose_forcefully(stream)
