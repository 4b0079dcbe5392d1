"""The TOML files of a real session, as msgspec schemas: the shared session file and a party's file.

msgspec validates types and refuses unknown keys (``forbid_unknown_fields``); ``decode_toml``
turns its errors into one line that names the file, the key and the expected type, and for an
unknown key suggests the nearest known one (``lamda`` -> did you mean ``lam``?). Checks that need
more than a type (addresses, hex keys, ranges) live in ``party_config``.

The session file (``coopetition session new`` writes it; every party gets the same copy)::

    [session]
    id = "5f0c..."                  # fresh for every run
    protocol = "admm"               # or "helen", with its own [helen] table
    [admm]                          # the protocol's public training parameters
    objective = "lasso"
    ...
    [data]                          # how every party reads its table
    target = "quality"
    [[parties]]
    id = 0
    address = "10.0.0.1:7000"
    public_key = "d75a98..."

A party's file names its key, its data and the session file::

    [party]
    id = 0
    key_file = "party0.key"
    data = "bank_a.csv"
    session = "session.toml"
    listen = "0.0.0.0:7000"         # optional: default the port of its session address
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import msgspec

from coopetition.engine.errors import ConfigError

NonNegative = Annotated[int, msgspec.Meta(ge=0)]
Positive = Annotated[float, msgspec.Meta(gt=0)]
NonNegativeFloat = Annotated[float, msgspec.Meta(ge=0)]


class _Table(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Base of every table: unknown keys are errors, keys are keyword-only."""


class SessionTable(_Table):
    id: str
    protocol: Literal["admm", "helen", "copml"] = "admm"


class AdmmTable(_Table):
    objective: Literal["least_squares", "lasso", "ridge", "elastic_net"] = "lasso"
    lam: NonNegativeFloat = 0.0
    l1_ratio: Annotated[float, msgspec.Meta(ge=0, le=1)] = 0.5
    rho: Positive = 1.0
    #: the most rounds (or exactly this many with tolerance = 0)
    iterations: Annotated[int, msgspec.Meta(ge=1, le=100_000)] = 1000
    #: stop when the relative primal and dual residuals are below this; 0 = fixed rounds
    tolerance: NonNegativeFloat = 1e-10
    adaptive_rho: bool = True
    scaling: Literal["none", "center", "standardize"] = "standardize"
    contribution_bound: Positive = 1e12


class HelenTable(_Table):
    """Helen's public parameters (every party's copy must agree; setup checks the digest)."""

    #: the agreed largest number of rows any party holds (a public bound)
    rows: Annotated[int, msgspec.Meta(ge=1)]
    objective: Literal["least_squares", "lasso", "ridge", "elastic_net"] = "lasso"
    lam: NonNegativeFloat = 0.0
    l1_ratio: Annotated[float, msgspec.Meta(ge=0, le=1)] = 0.5
    rho: Positive = 1.0
    iterations: Annotated[int, msgspec.Meta(ge=1, le=10_000)] = 10
    #: public bounds on every |feature| and |target| entry, and on |w|, |u|, |z|
    x_bound: Positive = 8.0
    y_bound: Positive = 8.0
    w_bound: Positive = 65536.0
    precision: Annotated[int, msgspec.Meta(ge=8, le=40)] = 24
    key_bits: Annotated[int, msgspec.Meta(ge=802)] = 2048  # HelenConfig names the budget
    #: small keys, 512-bit ring-Pedersen moduli and fewer proof repetitions (tests only)
    insecure: bool = False
    interval_repetitions: Annotated[int, msgspec.Meta(ge=1)] | None = None
    #: "file": each party's [party] key_share file; "dkg": generate the key in the session
    keygen: Literal["file", "dkg"] = "file"
    dkg_batch: Annotated[int, msgspec.Meta(ge=1)] = 256


class CopmlTable(_Table):
    """COPML's public parameters (docs/copml.md, "Multi-process runs"); the same in every file."""

    K: Annotated[int, msgspec.Meta(ge=1)]
    #: features per row (the dealer holds no data and sizes its masks from this)
    features: Annotated[int, msgspec.Meta(ge=1)]
    #: rows each data owner holds, in the order of their ids (public, like N)
    rows: list[Annotated[int, msgspec.Meta(ge=1)]]
    #: the party id of the dealer node (the crypto-service provider; it holds no data)
    dealer: NonNegative
    T: Annotated[int, msgspec.Meta(ge=1)] = 1
    r: Literal[1, 3] = 1
    iterations: Annotated[int, msgspec.Meta(ge=1, le=100_000)] = 50
    lx: Annotated[int, msgspec.Meta(ge=1)] = 6
    lw: Annotated[int, msgspec.Meta(ge=1)] = 14
    lc: Annotated[int, msgspec.Meta(ge=1)] = 5
    eta_exp: Annotated[int, msgspec.Meta(ge=1)] = 17
    fit_range: Positive = 4.5
    x_max: Positive = 0.5
    stragglers: NonNegative | None = None
    #: tests only: a fixed seed makes the dealer's randomness reproducible (and public)
    insecure_dealer_seed: NonNegative | None = None


class DataTable(_Table):
    #: target column: a header name, or a 0-based index (default: the last column)
    target: str | NonNegative | None = None
    #: feature columns by name or index (default: every column but the target)
    features: list[str | NonNegative] | None = None
    #: "auto" detects a header row; true/false say so explicitly
    header: bool | Literal["auto"] = "auto"
    delimiter: str = ","


class PartyEntry(_Table):
    id: NonNegative
    address: str
    public_key: str


class DeadlinesTable(_Table):
    phase: Positive | None = None
    heartbeat_interval: Positive | None = None
    heartbeat_timeout: Positive | None = None
    finish: Positive | None = None
    abort_send: Positive | None = None
    send: Positive | None = None
    #: multiplies the phase budgets a protocol derives from the run's shape (Helen)
    budget_scale: Positive | None = None
    #: ``[deadlines.phases]``: explicit limits by phase name, e.g. ``helen-input = 7200``
    #: (values checked by ``Deadlines``, whose errors name the phase)
    phases: dict[str, Any] | None = None
    #: how long to wait for every peer to come up (default 120 s)
    connect: Positive | None = None


class SessionDoc(_Table):
    session: SessionTable
    admm: AdmmTable = msgspec.field(default_factory=AdmmTable)
    helen: HelenTable | None = None
    copml: CopmlTable | None = None
    data: DataTable = msgspec.field(default_factory=DataTable)
    parties: list[PartyEntry] = msgspec.field(default_factory=list)


class PartyTable(_Table):
    id: NonNegative
    key_file: str
    data: str | None = None
    session: str | None = None
    listen: str | None = None
    #: Helen with keygen = "file": this party's threshold key share (0600)
    key_share: str | None = None


class ComputeTable(_Table):
    """Where this party's bulk exponentiations run (its own choice; docs/deployment.md)."""

    #: "threads" (this process), "processes" (this machine), "dask" (the party's cluster)
    backend: Literal["threads", "processes", "dask"] = "threads"
    #: the Dask scheduler's address, e.g. "tcp://10.0.0.5:8786" (backend = "dask" only)
    scheduler: str | None = None
    #: seconds to reach the scheduler and see a worker before giving up
    connect: Positive = 10.0


class PartyDoc(_Table):
    """A party's file; the session tables may be inline instead of in a shared file."""

    party: PartyTable
    deadlines: DeadlinesTable = msgspec.field(default_factory=DeadlinesTable)
    compute: ComputeTable = msgspec.field(default_factory=ComputeTable)
    data: DataTable | None = None
    session: SessionTable | None = None
    admm: AdmmTable | None = None
    helen: HelenTable | None = None
    copml: CopmlTable | None = None
    parties: list[PartyEntry] = msgspec.field(default_factory=list)
    #: the older inline form: every party but this one
    peers: list[PartyEntry] = msgspec.field(default_factory=list)


T = TypeVar("T")

_UNKNOWN = re.compile(r"Object contains unknown field `(?P<key>[^`]+)` - at `(?P<at>[^`]+)`")
_AT = re.compile(r"^(?P<what>.*?) - at `(?P<at>[^`]+)`$")
_MISSING = re.compile(r"Object missing required field `(?P<key>[^`]+)`")


def _where(at: str) -> str:
    """``$.peers[1].public_key`` -> ``[[peers]] #2 public_key``; ``$.admm.lam`` -> ``[admm] lam``."""
    parts = [p for p in re.split(r"\.", at.removeprefix("$")) if p]
    out: list[str] = []
    for part in parts:
        match = re.fullmatch(r"(\w+)\[(\d+)\]", part)
        if match:
            out.append(f"[[{match[1]}]] #{int(match[2]) + 1}")
        else:
            out.append(f"[{part}]" if not out else part)
    return " ".join(out) if out else "top level"


def _fields_at(doc_type: type, at: str) -> list[str]:
    """The known keys of the table at ``at``, for suggestions."""
    current: Any = doc_type
    for part in [p for p in at.removeprefix("$").split(".") if p]:
        name = re.sub(r"\[\d+\]$", "", part)
        hints = msgspec.structs.fields(current) if isinstance(current, type) else ()
        field = next((f for f in hints if f.name == name), None)
        if field is None:
            return []
        current = _struct_in(field.type)
        if current is None:
            return []
    return [f.name for f in msgspec.structs.fields(current)] if isinstance(current, type) else []


def _literal_values(doc_type: type, at: str) -> str:
    parent, _, name = at.rpartition(".")
    current: Any = doc_type
    for part in [p for p in parent.removeprefix("$").split(".") if p]:
        field = next(
            (f for f in msgspec.structs.fields(current) if f.name == re.sub(r"\[\d+\]$", "", part)),
            None,
        )
        current = _struct_in(field.type) if field else None
        if current is None:
            return "the documented values"
    field = next((f for f in msgspec.structs.fields(current) if f.name == name), None)
    values = getattr(field.type, "__args__", ()) if field else ()
    return ", ".join(repr(v) for v in values) or "the documented values"


def _struct_in(annotation: Any) -> type | None:
    if isinstance(annotation, type) and issubclass(annotation, msgspec.Struct):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _struct_in(arg)
        if found is not None:
            return found
    return None


def explain(error: msgspec.ValidationError, doc_type: type, path: Path) -> str:
    text = str(error)
    unknown = _UNKNOWN.search(text)
    if unknown:
        key, at = unknown["key"], unknown["at"]
        known = _fields_at(doc_type, at)
        close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]!r}?)" if close else f" (known: {', '.join(known)})"
        where = _where(at)
        return f"{path}: {where}: unknown key {key!r}{hint}"
    missing = _MISSING.search(text)
    at_match = _AT.match(text)
    at = at_match["at"] if at_match else "$"
    if missing:
        return f"{path}: {_where(at)}: missing required key {missing['key']!r}"
    enum = re.match(r"Invalid enum value (?P<value>.+)", at_match["what"]) if at_match else None
    if enum:
        allowed = _literal_values(doc_type, at)
        return f"{path}: {_where(at)}: expected one of {allowed}, got {enum['value']}"
    if at_match:
        what = at_match["what"].replace("`", "")
        return f"{path}: {_where(at)}: {what[0].lower() + what[1:]}"
    return f"{path}: {text}"


def decode_toml(path: Path, doc_type: type[T], *, what: str) -> T:
    """Read and validate one TOML file; every failure is a ``ConfigError`` naming the file."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{what} {path} does not exist") from None
    except OSError as exc:
        raise ConfigError(f"{what} {path} cannot be read: {exc.strerror or exc}") from None
    try:
        return msgspec.toml.decode(raw, type=doc_type)
    except msgspec.ValidationError as exc:
        raise ConfigError(explain(exc, doc_type, path)) from None
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{what} {path} cannot be read as TOML: {exc}") from None
