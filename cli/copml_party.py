"""``coopetition party --config FILE`` for a COPML session: one data owner, or the dealer node.

The session's ``[copml]`` table (docs/copml.md, "Multi-process runs") holds the public
parameters every party must agree on: K, T, the fixed-point scales, the number of features, the
rows of every data owner (in id order) and the id of the dealer node. The dealer (the paper's
crypto-service provider, ``protocols.copml.dealer_node``) holds no data; every other party of the
roster is a data owner with a table whose labels are 0/1. Each runs in its own process over TCP
(``transports.tcp``) and prints one JSON line: the released model (owners), or the abort.
Exit codes as for ``coopetition party``: 0 trained, 2 bad input, 3 aborted.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

import trio

from coopetition.cli_logging import configure
from coopetition.engine.errors import ConfigError, ProtocolAborted
from coopetition.party_config import PartyFile, load_party_file
from coopetition.party_run import aborted_dict, run_over_tcp, single_instance
from coopetition.protocols.copml.coding import LagrangeCode
from coopetition.protocols.copml.dealer import Dealer
from coopetition.protocols.copml.dealer_node import DealerRun
from coopetition.protocols.copml.params import CopmlParams
from coopetition.protocols.copml.session import CopmlRun, CopmlSetup
from coopetition.tabular import Table, load_table


def build_protocol(spec: PartyFile, table: Table | None) -> CopmlRun | DealerRun:
    """The protocol object this party runs; ``ConfigError`` naming the rule for bad input."""
    c = spec.copml
    if c is None:
        raise ConfigError(f"{spec.config_path}: protocol 'copml' needs a [copml] table")
    ids = sorted([spec.party_id, *(p.id for p in spec.peers)])
    if c.dealer not in ids:
        raise ConfigError(f"[copml] dealer = {c.dealer} is not one of the parties {ids}")
    owners = tuple(i for i in ids if i != c.dealer)
    if len(c.rows) != len(owners):
        raise ConfigError(
            f"[copml] rows lists {len(c.rows)} owners but the session has {len(owners)} "
            f"data owners ({list(owners)})"
        )
    params = CopmlParams(
        N=len(owners),
        K=c.K,
        T=c.T,
        r=c.r,
        iterations=c.iterations,
        lx=c.lx,
        lw=c.lw,
        lc=c.lc,
        eta_exp=c.eta_exp,
        fit_range=c.fit_range,
        x_max=c.x_max,
        stragglers=c.stragglers,
    )
    setup = CopmlSetup(params, tuple(c.rows), c.features)
    if spec.party_id == c.dealer:
        plan = setup.plan()
        dealer = Dealer(
            plan.field,
            LagrangeCode(plan.field, params.N, params.K, params.T),
            features=c.features,
            block_rows=setup.block_rows,
            k=plan.k,
            k1=plan.k1,
            kappa=plan.kappa,
            threshold=params.threshold,
            seed=c.insecure_dealer_seed,
        )
        return DealerRun(
            dealer,
            party=spec.party_id,
            parties=owners,
            iterations=params.iterations,
            quorum=params.quorum,
        )
    assert table is not None
    return CopmlRun(setup, table.X, table.y, c.dealer, party=spec.party_id, parties=owners)


async def run_copml_party_file(
    spec: PartyFile, protocol: CopmlRun | DealerRun, *, log: Any = None
) -> dict[str, Any]:
    result, party = await run_over_tcp(spec, protocol, log=log)
    out: dict[str, Any] = {
        "outcome": "completed",
        "protocol": "copml",
        "party": spec.party_id,
        "role": "dealer" if isinstance(protocol, DealerRun) else "owner",
        "transcript_sha256": party.transcript_digest,
        "stats": party.stats.as_dict(),
    }
    if result is not None:
        out.update(
            model=result.model.tolist(),
            iterations=result.iterations,
            field_prime=result.field_prime,
            kappa=result.kappa,
        )
    return out


def run_copml_party(args: argparse.Namespace) -> tuple[int, dict[str, Any] | None]:
    """Load, check, lock, run; returns (exit code, outcome). Errors are printed as one line."""
    started = time.perf_counter()
    try:
        spec = load_party_file(args.config)
        c = spec.copml
        dealer = c is not None and c.dealer == spec.party_id
        table = None if dealer else load_table(spec.data_path, spec.data)
        protocol = build_protocol(spec, table)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2, None
    log = configure(json_lines=args.log_json, quiet=args.quiet)
    log.info("party_starting", party=spec.party_id, protocol="copml", dealer=dealer)
    try:
        with single_instance(spec):
            outcome = trio.run(lambda: run_copml_party_file(spec, protocol, log=log))
        code = 0
    except ProtocolAborted as exc:
        outcome = aborted_dict(spec, exc)
        print(f"aborted: {exc}", file=sys.stderr)
        code = 3
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2, None
    outcome["wall_seconds"] = round(time.perf_counter() - started, 3)
    return code, outcome
