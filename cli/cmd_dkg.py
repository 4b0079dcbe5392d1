"""``coopetition keys dkg --config FILE``: this host's party of a distributed key generation.

Writes this party's threshold key share (secret, mode 0600) and the threshold public key, and
prints one JSON object (the key's fingerprint, or the abort with its culprit) on stdout;
progress (candidates tried) on stderr. Exit codes: 0 key made, 2 bad configuration or existing
output file, 3 the run aborted.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import trio

from coopetition.dkg_config import DkgFile, load_dkg_file
from coopetition.engine.errors import ConfigError, ProtocolAborted
from coopetition.protocols.paillier.dkg import DkgProgress, DkgResult
from coopetition.protocols.paillier.serialize import encode_key_share, encode_threshold_public_key
from coopetition.sims.dkg_local import run_dkg_party


def register_dkg(keys_sub: argparse._SubParsersAction) -> None:
    parser = keys_sub.add_parser(
        "dkg", help="generate a threshold Paillier key with the other parties (no dealer)"
    )
    parser.add_argument("--config", type=Path, required=True, help="DKG configuration (TOML)")
    parser.add_argument("--force", action="store_true", help="overwrite existing output files")
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    parser.set_defaults(func=_run)


def write_secret(path: Path, data: bytes, *, overwrite: bool) -> None:
    """Create ``path`` with mode 0600 before any byte is written (never world-readable)."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if overwrite else os.O_EXCL)
    try:
        fd = os.open(path, flags, 0o600)
    except FileExistsError:
        raise ConfigError(f"{path} exists; pass --force to overwrite it") from None
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc}") from None
    with os.fdopen(fd, "wb") as handle:
        os.fchmod(handle.fileno(), 0o600)
        handle.write(data)


def _run(args: argparse.Namespace) -> int:
    try:
        spec = load_dkg_file(args.config)
        for path in (spec.share_out, spec.public_out):
            if path.exists() and not args.force:
                raise ConfigError(f"{path} exists; pass --force to overwrite it")
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    started = time.perf_counter()
    try:
        result = trio.run(_party, spec, args.quiet)
    except ProtocolAborted as exc:
        print(f"aborted: {exc}", file=sys.stderr)
        print(
            json.dumps(
                {
                    "outcome": "aborted",
                    "party": spec.party_id,
                    "abort_code": exc.code,
                    "abort_reason": exc.reason,
                    "culprit": exc.culprit,
                    "reported_by": exc.reported_by,
                },
                sort_keys=True,
            )
        )
        return 3
    tpk = result.threshold_public
    try:
        write_secret(spec.share_out, encode_key_share(result.key_share), overwrite=args.force)
        spec.public_out.write_bytes(encode_threshold_public_key(tpk))
    except (ConfigError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(
        json.dumps(
            {
                "outcome": "completed",
                "party": spec.party_id,
                "parties": tpk.parties,
                "bits": tpk.public.bits,
                "fingerprint": tpk.public.fingerprint.hex(),
                "candidates_tried": result.candidates_tried,
                "share_file": str(spec.share_out),
                "public_file": str(spec.public_out),
                "wall_seconds": round(time.perf_counter() - started, 3),
            },
            sort_keys=True,
        )
    )
    return 0


async def _party(spec: DkgFile, quiet: bool) -> DkgResult:
    def progress(p: DkgProgress) -> None:
        if not quiet:
            print(
                f"dkg: batch {p.batch}: {p.candidates_tried} candidates tried, "
                f"{p.survivors} past trial division, {p.audited} audited ({p.seconds:.1f} s)",
                file=sys.stderr,
                flush=True,
            )

    kwargs: dict[str, Any] = {"progress": progress, "audit_fraction": spec.audit_fraction}
    return await run_dkg_party(
        spec.party_id,
        spec.signing_key,
        spec.listen,
        list(spec.peers),
        spec.params,
        spec.session,
        spec.deadlines,
        **kwargs,
    )
