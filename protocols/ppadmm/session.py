"""The PPADMM protocol object a ``Party`` runs, for any of the three roles.

Participants run plaintext ADMM's local step on their own data and take part in the secure sum;
S1 and S2 hold no data. The released model is plaintext ADMM-LASSO's with every contribution
``w_i + u_i`` quantised to ``frac_bits`` fractional bits: bit for bit the model of
:func:`fixed_point_admm` (tests check it against an independent numpy loop).
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from nacl.public import PrivateKey

from coopetition.engine.errors import ConfigError, PartyId
from coopetition.engine.machine import PhaseMachine
from coopetition.protocols.admm import AdmmConfig
from coopetition.protocols.admm.local import LocalSummary, check_data, summarise
from coopetition.protocols.admm.machines import LocalOptimize, Release
from coopetition.protocols.ppadmm import masking as M
from coopetition.protocols.ppadmm.machines import Aggregate, KeyConfirm, Roles, Setup


@dataclass(frozen=True)
class PpadmmConfig:
    """Public parameters: ADMM's, the fixed-point resolution and whether masks are precomputed."""

    admm: AdmmConfig = field(default_factory=AdmmConfig)
    frac_bits: int = M.DEFAULT_FRAC_BITS
    precompute_masks: bool = False

    def __post_init__(self) -> None:
        # PPADMM runs plain fixed-rho ADMM for exactly admm.iterations rounds on the raw data;
        # options it would announce but not run are refused instead of silently ignored
        admm = self.admm
        if admm.tolerance is not None or admm.adaptive_rho or admm.scaling != "none":
            raise ConfigError(
                "PPADMM runs fixed-rho ADMM for a fixed number of rounds on unscaled data: "
                "set tolerance=None, adaptive_rho=False and scaling='none'"
            )

    @property
    def ring(self) -> M.FixedPointRing:
        return M.FixedPointRing(self.frac_bits)

    def public_parameters(self, features: int, roles: Roles) -> dict[str, Any]:
        params = self.admm.public_parameters(features)
        params.update(
            frac_bits=self.frac_bits,
            precompute_masks=self.precompute_masks,
            participants=list(roles.participants),
            primary=roles.primary,
            auxiliary=roles.auxiliary,
        )
        return params


def make_roles(
    parties: tuple[PartyId, ...], primary: PartyId | None, auxiliary: PartyId | None
) -> Roles:
    """Check the role assignment: both servers present, distinct, and at least 2 participants."""
    if primary is None or primary not in parties:
        raise ConfigError("PPADMM needs a primary server S1 among the parties (role missing)")
    if auxiliary is None or auxiliary not in parties:
        raise ConfigError("PPADMM needs an auxiliary server S2 among the parties (role missing)")
    if primary == auxiliary:
        raise ConfigError("S1 and S2 must be different parties (they must not collude)")
    participants = tuple(sorted(p for p in parties if p not in (primary, auxiliary)))
    if len(participants) < 2:
        raise ConfigError("PPADMM needs at least two participants besides S1 and S2")
    return Roles(participants, primary, auxiliary)


@dataclass(frozen=True)
class PpadmmResult:
    model: np.ndarray
    iterations: int
    role: str
    local_rows: int
    #: z after each iteration (every party sees each z: it is broadcast)
    history: tuple[np.ndarray, ...] = ()


class PpadmmRun:
    """PPADMM for one party. ``X``/``y`` only for participants; ``x25519`` defaults to fresh.

    ``auxiliary_public`` pins S2's X25519 public key at a participant (as distributed out of
    band); without it the key S2 announces over the signed bus in setup is used.
    """

    name = "ppadmm"

    def __init__(
        self,
        config: PpadmmConfig,
        *,
        party: PartyId,
        parties: tuple[PartyId, ...],
        primary: PartyId | None,
        auxiliary: PartyId | None,
        session: bytes,
        X: np.ndarray | None = None,
        y: np.ndarray | None = None,
        features: int | None = None,
        x25519: PrivateKey | None = None,
        auxiliary_public: bytes | None = None,
    ) -> None:
        self.config = config
        self.party = party
        self.parties = tuple(sorted(parties))
        self.roles = make_roles(self.parties, primary, auxiliary)
        if party not in self.parties:
            raise ConfigError(f"party {party} is not among the parties")
        self.role = self.roles.role_of(party)
        self.session = session
        m = len(self.roles.participants)
        config.ring.check_budget(config.admm.contribution_bound, m)
        self.summary: LocalSummary | None = None
        if self.role == "participant":
            if X is None or y is None:
                raise ConfigError(f"participant {party} needs data")
            self.summary = _prepare(X, y, config)
            self.features = self.summary.features
        else:
            if features is None or features < 1:
                raise ConfigError("S1 and S2 need the number of features")
            self.features = features
        self.x25519 = x25519 if x25519 is not None else PrivateKey.generate()
        self.auxiliary_public = auxiliary_public

    def _public_key(self) -> bytes:
        return b"" if self.role == "primary" else bytes(self.x25519.public_key)

    def _agreed_keys(self, announced: dict[PartyId, bytes]) -> dict[PartyId, bytes]:
        """A participant's key with S2, or at S2 every participant's; S1 holds none."""
        if self.role == "primary":
            return {}
        s2_public = announced[self.roles.auxiliary]
        if self.role == "participant":
            s2_public = self.auxiliary_public or s2_public
            pairs = {self.party: s2_public}  # participant -> the public key it agrees with
        else:
            pairs = {p: announced[p] for p in self.roles.participants}
        return {
            p: M.agree_key(
                bytes(self.x25519),
                peer,
                session=self.session,
                participant=p,
                participant_public=announced[p],
                auxiliary_public=s2_public,
            )
            for p, peer in pairs.items()
        }

    def phases(self) -> Generator[PhaseMachine, Any, PpadmmResult]:
        cfg, admm = self.config, self.config.admm
        me, everyone, roles, d = self.party, self.parties, self.roles, self.features
        announced = yield Setup(
            party=me,
            parties=everyone,
            public_parameters=cfg.public_parameters(d, roles),
            x25519_public=self._public_key(),
            roles=roles,
        )
        keys = self._agreed_keys(announced)
        masks = yield KeyConfirm(
            party=me,
            parties=everyone,
            roles=roles,
            session=self.session,
            keys=keys,
            precompute=cfg.precompute_masks,
            iterations=admm.iterations,
            features=d,
        )
        z, u = np.zeros(d), np.zeros(d)
        history = []
        for k in range(admm.iterations):
            contribution = None
            if self.role == "participant":
                w = yield LocalOptimize(
                    party=me,
                    parties=everyone,
                    round=k,
                    summary=self.summary,
                    z=z,
                    u=u,
                    rho=admm.rho,
                )
                contribution = w + u
            z_new = yield Aggregate(
                party=me,
                parties=everyone,
                round=k,
                roles=roles,
                ring=cfg.ring,
                features=d,
                contribution=contribution,
                key=keys.get(me, b""),
                keys=tuple(keys[p] for p in roles.participants) if self.role == "auxiliary" else (),
                precomputed=masks.get(k) if masks else None,
                bound=admm.contribution_bound,
                objective=admm.objective,
                rho=admm.rho,
            )
            if contribution is not None:
                u = contribution - z_new  # (w + u) - z: bit for bit ADMM's u + w - z
            z = z_new
            history.append(z)
        model = yield Release(party=me, parties=everyone, round=0, model=z)
        rows = self.summary.rows if self.summary is not None else 0
        return PpadmmResult(
            model=model,
            iterations=admm.iterations,
            role=self.role,
            local_rows=rows,
            history=tuple(history),
        )


def _prepare(X: np.ndarray, y: np.ndarray, config: PpadmmConfig) -> LocalSummary:
    """Summarise the data and refuse data whose first local model leaves the fixed-point range.

    The first contribution is ``A_i b_i``; if it already exceeds the agreed bound the data's
    scale does not fit the encoding, and we say so before any message is sent.
    """
    X, y = check_data(X, y)
    summary = summarise(X, y, config.admm.rho)
    first = summary.inverse(config.admm.rho) @ summary.b
    bound = config.admm.contribution_bound
    if not np.isfinite(first).all() or np.abs(first).max() > bound:
        raise ConfigError(
            f"this data does not fit PPADMM's fixed-point range: the first local model reaches "
            f"{np.abs(first).max():.3g} > contribution bound {bound:g} (rescale the data)"
        )
    return summary


def fixed_point_admm(
    parts: list[tuple[np.ndarray, np.ndarray]], config: PpadmmConfig
) -> tuple[np.ndarray, list[list[list[int]]]]:
    """Plaintext ADMM with contributions quantised as PPADMM does: what PPADMM must release.

    Returns the model and, per iteration, each participant's encoded contribution (what S1 and
    S2 together can recover). Used by the benchmark; tests check PPADMM against their own loop.
    """
    admm, ring = config.admm, config.ring
    summaries = [summarise(X, y, admm.rho) for X, y in parts]
    d, m = summaries[0].features, len(parts)
    z = np.zeros(d)
    us = [np.zeros(d) for _ in parts]
    history = []
    for _ in range(admm.iterations):
        contributions = [
            s.inverse(admm.rho) @ (s.b + admm.rho * (z - u)) + u
            for s, u in zip(summaries, us, strict=True)
        ]
        encoded = [ring.encode(c) for c in contributions]
        history.append(encoded)
        total = ring.decode_sum([sum(col) % M.RING for col in zip(*encoded, strict=True)])
        z = admm.objective.consensus(total / m, m, admm.rho)
        us = [c - z for c in contributions]
    return z, history
