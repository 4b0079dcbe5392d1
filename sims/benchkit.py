"""What every benchmark records about the machine it ran on, so the docs can say where a figure
came from (the numbers are meaningless without it)."""

from __future__ import annotations

import os
import platform
import secrets
from pathlib import Path
from typing import Any

import gmpy2

from coopetition.protocols.paillier.keys import PublicKey, check_modulus_bits
from coopetition.protocols.zk.interval import DEFAULT_REPETITIONS


def machine_info() -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "machine.cpu": cpu,
        "machine.nproc": os.cpu_count(),
        "machine.python": platform.python_version(),
        "machine.gmpy2": gmpy2.version(),
        "machine.gmp": gmpy2.mp_version(),
    }


def random_modulus(bits: int) -> PublicKey:
    """A fresh N = p q of exactly ``bits`` bits from next_prime (fast, not safe primes).

    For benchmarks and size tests of proofs, whose cost and soundness need only N's size (and
    primes above 2^128), not safe primes; key generation proper lives in ``paillier.keys``.
    """
    half = bits // 2
    while True:
        p = int(gmpy2.next_prime(secrets.randbits(half) | (3 << (half - 2))))
        q = int(gmpy2.next_prime(secrets.randbits(bits - half) | (3 << (bits - half - 2))))
        if p != q and (p * q).bit_length() == bits:
            return PublicKey(p * q)


def git_commit(paths: tuple[str, ...]) -> str | None:
    """The commit measured (``+dirty`` if any of ``paths`` has uncommitted edits).

    Git runs in the source tree this module was imported from, not the working directory, so a
    benchmark started elsewhere (``cd /tmp && coopetition bench ...``) still names its commit.
    """
    import subprocess

    source = Path(__file__).resolve().parent.parent  # the repository root

    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            cwd=source,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", *paths],
            capture_output=True,
            text=True,
            check=True,
            cwd=source,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return head + ("+dirty" if dirty else "")


def free_ports(count: int) -> list[int]:
    """``count`` loopback TCP ports that were free a moment ago (for local multi-party runs)."""
    import socket

    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for sock in sockets:
            sock.close()


def key_bits(args: Any, default: str = "bits") -> tuple[int, bool]:
    """(modulus bits, insecure) from a benchmark's ``--insecure-bits`` / ``--<default>``, checked
    by ``check_modulus_bits`` (below 2048 bits only with ``--insecure-bits``); a benchmark with
    ``--interval-repetitions`` may go below 128 repetitions only when insecure."""
    insecure = args.insecure_bits is not None
    bits = args.insecure_bits if insecure else getattr(args, default)
    check_modulus_bits(bits, insecure_allow_small=insecure)
    repetitions = getattr(args, "interval_repetitions", None)
    if repetitions is not None and repetitions < DEFAULT_REPETITIONS and not insecure:
        raise ValueError("fewer interval-proof repetitions than 128 only with --insecure-bits")
    return bits, insecure
