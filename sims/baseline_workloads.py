"""Simulator workloads for the baselines: PPADMM, DSSGD and secure SGD in SPDZ.

Party numbering in a scenario with ``parties = P``: PPADMM's participants are 0..P-3, S1 is
P-2 and S2 is P-1; DSSGD's participants are 0..P-2 and its server P-1; secure SGD's parties
are all P. Data: the same synthetic linear model as the ADMM workload, drawn from the seed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from coopetition.engine.errors import ConfigError, PartyId
from coopetition.engine.tags import echo_tag, evidence_tag
from coopetition.protocols.admm import AdmmConfig, Objective
from coopetition.protocols.dssgd import DssgdConfig, DssgdRun
from coopetition.protocols.ppadmm import PpadmmConfig, PpadmmRun
from coopetition.protocols.sgd_spdz import SgdConfig, SgdPlan, SgdSpdzRun
from coopetition.protocols.sgd_spdz.local_run import PREPROCESSING, make_sources
from coopetition.sims.runner import ProtocolFactory, session_for

BASELINE_PROTOCOLS = ("ppadmm", "dssgd", "sgd-spdz")
#: scenario keys of [protocol] that the baselines add to ADMM's
BASELINE_KEYS = {
    "frac_bits",
    "precompute_masks",
    "epsilon",
    "clip",
    "learning_rate",
    "batch_size",
    "preprocessing",
}
#: what each phase sends (``spdz`` rounds: 0 parameters, 1 preprocessing, 2 training)
MESSAGES: dict[str, dict[str, tuple[str, ...]]] = {
    "ppadmm": {
        "setup": ("parameters",),
        "keys": ("confirm", "confirmed"),
        "aggregate": ("masked", "mask_sum", "z"),
        "release": ("model_digest",),
    },
    "dssgd": {
        "setup": ("parameters",),
        "share": ("noisy_model", "global"),
        "release": ("model_digest",),
    },
    "sgd-spdz": {"spdz": ()},  # SPDZ tags are numbered per operation: any tag allowed
}
#: phases that run once per iteration (the others run once, as round 0)
PER_ITERATION = {"aggregate", "share"}


def _admm(p: Mapping[str, Any]) -> AdmmConfig:
    return AdmmConfig(
        Objective(str(p.get("objective", "lasso")), lam=float(p.get("lam", 1.0))),
        rho=float(p.get("rho", 1.0)),
        iterations=int(p.get("iterations", 10)),
    )


def validate(protocol: Mapping[str, Any]) -> None:
    """Build the configuration once so that a bad value fails at load time, named."""
    try:
        _validate(protocol)
    except (TypeError, ValueError, OverflowError) as exc:  # e.g. lam = [1] or iterations = "x"
        raise ConfigError(f"[protocol] a value has the wrong type or range: {exc}") from None


def _validate(protocol: Mapping[str, Any]) -> None:
    name = protocol["name"]
    unknown = (
        set(protocol)
        - BASELINE_KEYS
        - {"name", "objective", "lam", "rho", "iterations", "l1_ratio"}
    )
    if unknown:
        raise ConfigError(f"[protocol] unknown key(s) {sorted(unknown)} for {name}")
    if name == "ppadmm":
        PpadmmConfig(
            _admm(protocol),
            int(protocol.get("frac_bits", 32)),
            bool(protocol.get("precompute_masks", False)),
        )
    elif name == "dssgd":
        _dssgd(protocol)
    else:
        _sgd(protocol)
        if protocol.get("preprocessing", "insecure-dealer") not in PREPROCESSING:
            raise ConfigError(f"[protocol] preprocessing must be one of {', '.join(PREPROCESSING)}")


def _dssgd(p: Mapping[str, Any]) -> DssgdConfig:
    return DssgdConfig(
        epsilon=float(p.get("epsilon", 1.0)),
        clip=float(p.get("clip", 10.0)),
        learning_rate=float(p.get("learning_rate", 0.01)),
        iterations=int(p.get("iterations", 10)),
        seed=0,
    )


def _sgd(p: Mapping[str, Any]) -> SgdConfig:
    batch = p.get("batch_size")
    return SgdConfig(
        learning_rate=float(p.get("learning_rate", 0.01)),
        batch_size=None if batch is None else int(batch),
        data_bound=64.0,
    )


def _rows(
    seed: int, count: int, n: int, d: int, noise: float
) -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0xBA5E]))
    true = rng.normal(size=d)
    out = []
    for _ in range(count):
        X = np.clip(rng.normal(size=(n, d)), -8, 8)
        out.append((X, np.clip(X @ true + noise * rng.normal(size=n), -60, 60)))
    return out


def baseline_factory(
    protocol: Mapping[str, Any], data: Mapping[str, Any], parties: int, seed: int
) -> ProtocolFactory:
    """``(party, parties) -> ProtocolRun`` for one of the baselines."""
    name = protocol["name"]
    n, d = int(data.get("rows_per_party", 50)), int(data.get("features", 8))
    noise = float(data.get("noise", 0.1))
    session = session_for(seed)
    if name == "ppadmm":
        config = PpadmmConfig(
            _admm(protocol),
            int(protocol.get("frac_bits", 32)),
            bool(protocol.get("precompute_masks", False)),
        )
        parts = _rows(seed, parties - 2, n, d, noise)

        def make_pp(pid: PartyId, ids: tuple[PartyId, ...]) -> PpadmmRun:
            X, y = parts[pid] if pid < parties - 2 else (None, None)
            return PpadmmRun(
                config,
                party=pid,
                parties=ids,
                primary=parties - 2,
                auxiliary=parties - 1,
                session=session,
                X=X,
                y=y,
                features=d,
            )

        return make_pp
    if name == "dssgd":
        config_d = _dssgd(protocol)
        parts = _rows(seed, parties - 1, n, d, noise)

        def make_ds(pid: PartyId, ids: tuple[PartyId, ...]) -> DssgdRun:
            X, y = parts[pid] if pid < parties - 1 else (None, None)
            return DssgdRun(
                config_d, party=pid, parties=ids, server=parties - 1, X=X, y=y, features=d
            )

        return make_ds
    config_s = _sgd(protocol)
    parts = _rows(seed, parties, n, d, noise)
    rows = tuple([n] * parties)
    preprocessing = str(protocol.get("preprocessing", "insecure-dealer"))
    key_generation = None
    if preprocessing == "paillier":
        from coopetition.protocols.paillier.threshold import TrustedDealerKeyGeneration

        key_generation = TrustedDealerKeyGeneration(parties, 2048)
    sources = make_sources(
        preprocessing, SgdPlan(rows, d, config_s), session, key_generation=key_generation
    )

    def make_sgd(pid: PartyId, ids: tuple[PartyId, ...]) -> SgdSpdzRun:
        X, y = parts[pid]
        return SgdSpdzRun(
            config_s, X, y, party=pid, rows=rows, source=sources[pid], session=session
        )

    return make_sgd


def check_target(
    protocol: Mapping[str, Any], phase: str, round_: int | None, tag: str | None
) -> None:
    """Refuse a fault aimed at a phase, round or tag this baseline never sends."""
    name = protocol["name"]
    table = MESSAGES[name]
    if phase not in table:
        raise ConfigError(
            f"phase {phase!r} never sends a message in {name} (phases that do: {', '.join(table)})"
        )
    iterations = int(protocol.get("iterations", 10))
    last = iterations - 1 if phase in PER_ITERATION else (2 if phase == "spdz" else 0)
    if round_ is not None and not 0 <= round_ <= last:
        raise ConfigError(f"round {round_} never occurs in phase {phase!r} (rounds 0..{last})")
    tags = table[phase]
    if tag is not None and tags:
        known = [*tags, *(derive(t) for t in tags for derive in (echo_tag, evidence_tag))]
        if tag not in known:
            raise ConfigError(
                f"tag {tag!r} is never sent in phase {phase!r} (tags: {', '.join(known)})"
            )
