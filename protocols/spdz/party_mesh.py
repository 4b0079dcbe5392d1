"""The worker hosts' data path: each worker hands its parties' messages straight to the others.

``party_hosts.WorkerParties`` runs the parties' programs in lock step in w worker processes.
Routing every message through the parent made the parent a serial relay of MASCOT's traffic
(a COPE round of 2 000 triples is about 57 MB per ordered pair of parties): measured at m = 4
on 2 workers, 2 000 triples took 36.7 s of wall with the parent busy 12.8 s copying, no
faster than one process. Here every worker holds a socket to every other worker; after a
step it sends each of them one *bundle* with everything its parties sent to that worker's
parties, and keeps what its own parties sent each other. The parent still checks the tags,
counts the bytes (each worker reports its encoded sizes) and decides the next command.

A bundle is a pickled header (who sent what to whom, in which form) followed by the byte
strings themselves, written with ``sendall`` and read with ``MSG_WAITALL``: one copy into the
kernel and one out, where the parent's relay made about ten. Raw payloads (maps of byte
strings, ``payload_codec``) travel as their byte strings; everything else as its CBOR
encoding, decoded by each receiver as ``run_local`` does.

Every step ends with one bundle from each worker to each other worker (empty if there is
nothing to say), and every command but ``close`` starts by reading them, so a round's data can
never be read in a later round, even after an abort. Sending runs in one thread per peer, so
two workers writing large bundles to each other cannot block each other. Every read has a
deadline: the first byte of a bundle waits at most the round timeout in ``poll``, and every
later read fails once it gets no byte for that long (the socket's receive timeout).
"""

from __future__ import annotations

import contextlib
import pickle
import queue
import select
import socket
import struct
import threading
from typing import Any

import cbor2

from coopetition.engine.errors import ProtocolViolation

from .online import Exchange
from .pairwise import Pairwise
from .payload_codec import decode, encode

__all__ = [
    "PEER_GONE",
    "Mesh",
    "Outbox",
    "Outgoing",
    "PeerGone",
    "encode_outgoing",
    "tag_source",
]

_LEN = 8

#: a worker's exit code when a peer worker's socket closed under it (the peer is what died)
PEER_GONE = 75


class PeerGone(EOFError):
    """A peer worker's socket closed (or failed) while this worker read its bundle."""


#: (receivers, form, meta, blobs): a sender's payload for some receivers, as it travels
Outgoing = tuple[tuple[int, ...], str, Any, list[bytes]]


def encode_outgoing(receivers: tuple[int, ...], payload: Any) -> tuple[Outgoing, int]:
    """The travelling form of ``payload`` for ``receivers`` and its CBOR length."""
    (form, meta, blobs), size = encode(payload)
    return (receivers, form, meta, blobs), size


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    data = sock.recv(n, socket.MSG_WAITALL) if n else b""
    if len(data) == n:
        return data
    parts, got = [data], len(data)
    while got < n:  # a signal or a short read: go on from where it stopped
        chunk = sock.recv(n - got, socket.MSG_WAITALL)
        if not chunk:
            raise EOFError("a peer worker closed its socket mid-bundle")
        parts.append(chunk)
        got += len(chunk)
    return b"".join(parts)


def _read(sock: socket.socket, n: int, w: int) -> bytes:
    """``n`` bytes of peer worker ``w``'s bundle; its socket closing is ``PeerGone``, and no
    byte for the socket's receive timeout (``_stall_limit``) is ``TimeoutError``."""
    try:
        return _recv_exact(sock, n)
    except BlockingIOError as exc:  # SO_RCVTIMEO expired with nothing read
        raise TimeoutError(f"worker {w} stalled in the middle of its bundle") from exc
    except (EOFError, OSError) as exc:
        raise PeerGone(f"worker {w} closed its socket") from exc


def _stall_limit(sock: socket.socket, seconds: float) -> None:
    """A kernel receive timeout on a blocking socket: a read that gets no byte for ``seconds``
    fails with EAGAIN, while reads that make progress keep MSG_WAITALL's single call."""
    seconds = min(seconds, 2**31 - 1)
    whole = int(seconds)
    micro = int((seconds - whole) * 1_000_000)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, struct.pack("ll", whole, micro))


class Mesh:
    """One worker's sockets to the other workers (``peers``: worker index -> socket)."""

    def __init__(self, peers: dict[int, socket.socket], timeout: float) -> None:
        self.peers = peers
        self.timeout = timeout
        self.pending = False  # bundles were sent this step and not yet read by the peers
        self._queues: dict[int, queue.SimpleQueue[list[tuple[int, Outgoing]] | None]] = {}
        self._threads: list[threading.Thread] = []
        for w, sock in peers.items():
            sock.setblocking(True)  # MSG_WAITALL reads a whole blob in one call
            _stall_limit(sock, timeout)  # the rest of a bundle has a deadline, like its start
            q: queue.SimpleQueue[list[tuple[int, Outgoing]] | None] = queue.SimpleQueue()
            self._queues[w] = q
            thread = threading.Thread(target=self._sender, args=(sock, q), daemon=True)
            thread.start()
            self._threads.append(thread)

    @staticmethod
    def _sender(sock: socket.socket, q: queue.SimpleQueue[Any]) -> None:
        while (bundle := q.get()) is not None:
            header = pickle.dumps([(i, out[:3], [len(b) for b in out[3]]) for i, out in bundle])
            try:
                sock.sendall(len(header).to_bytes(_LEN, "little") + header)
                for _, out in bundle:
                    for blob in out[3]:
                        sock.sendall(blob)
            except OSError:  # the peer is gone: its own failure reaches the parent
                return

    def send(self, bundles: dict[int, list[tuple[int, Outgoing]]]) -> None:
        """Queue one bundle per peer worker (each a list of (sender, outgoing))."""
        for w, q in self._queues.items():
            q.put(bundles.get(w, []))
        self.pending = bool(self._queues)

    def receive(self) -> dict[int, dict[int, Any]]:
        """Every peer's bundle of this step, decoded: {receiver: {sender: payload}}."""
        inbox: dict[int, dict[int, Any]] = {}
        for w, sock in self.peers.items():
            poller = select.poll()  # not select.select: any descriptor number works
            poller.register(sock, select.POLLIN)
            if not poller.poll(self.timeout * 1000):
                raise TimeoutError(f"worker {w} sent no bundle in {self.timeout} s")
            size = int.from_bytes(_read(sock, _LEN, w), "little")
            for sender, (receivers, form, meta), sizes in pickle.loads(_read(sock, size, w)):
                blobs = [_read(sock, n, w) for n in sizes]
                for j in receivers:
                    inbox.setdefault(j, {})[sender] = decode(form, meta, blobs)
        self.pending = False
        return inbox

    def close(self) -> None:
        for q in self._queues.values():
            q.put(None)
        for sock in self.peers.values():
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()


def tag_source(request: Exchange | Pairwise) -> Exchange | Pairwise:
    """A payload-free copy of a request from which ``tag_of`` gives the same tag."""
    if isinstance(request, Pairwise):
        return Pairwise(request.tag, {})
    return Exchange(request.tag, None, request.label)


def _payloads(sender: int, request: Any, m: int) -> tuple[str, dict[int, Any]]:
    """(kind, payload per receiver) of one party's request; a broadcast reaches its sender too."""
    if isinstance(request, Pairwise):
        if set(request.payloads) != set(range(m)) - {sender}:
            raise ProtocolViolation(f"party {sender} sent a pairwise round to the wrong peers")
        return "pairwise", dict(request.payloads)
    if not isinstance(request, Exchange):
        raise TypeError("a program may only yield Exchange or Pairwise requests")
    return "exchange", dict.fromkeys(range(m), request.payload)


class Outbox:
    """What one worker's parties sent in a step: wire bytes for the parent's relay, or (with
    a mesh) payloads delivered here for this worker's parties and bundles for the others."""

    def __init__(self, m: int, owner: dict[int, int], me: int, mesh: bool) -> None:
        self.m, self.owner, self.me, self.mesh = m, owner, me, mesh
        self.local: dict[int, dict[int, Any]] = {}
        self.bundles: dict[int, list[tuple[int, Outgoing]]] = {}

    def add(self, sender: int, request: Any) -> tuple[str, Any]:
        """Encode ``sender``'s request; the reply for the parent (its sizes, maybe its wire)."""
        kind, payloads = _payloads(sender, request, self.m)
        if not self.mesh:
            if kind == "pairwise":
                wire = {j: cbor2.dumps(p) for j, p in payloads.items()}
            else:
                data = cbor2.dumps(request.payload)
                wire = dict.fromkeys(payloads, data)
            return kind, (tag_source(request), wire, {j: len(b) for j, b in wire.items()})
        sizes: dict[int, int] = {}
        by_worker: dict[int, list[int]] = {}
        for j in payloads:
            by_worker.setdefault(self.owner[j], []).append(j)
        for w, receivers in by_worker.items():
            # a pairwise payload per receiver; one copy of a broadcast per worker
            groups = [(j,) for j in receivers] if kind == "pairwise" else [tuple(receivers)]
            for group in groups:
                out, size = encode_outgoing(group, payloads[group[0]])
                sizes.update(dict.fromkeys(group, size))
                if w == self.me:
                    for j in group:
                        self.local.setdefault(j, {})[sender] = decode(*out[1:])
                else:
                    self.bundles.setdefault(w, []).append((sender, out))
        return kind, (tag_source(request), None, sizes)
