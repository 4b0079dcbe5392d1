"""Payload schemas: the shape of each message tag, checked in one place when messages arrive.

A machine declares ``SCHEMAS = {"w_plus_u": Array("float64", ndim=1), ...}``; the driver checks
every gathered payload against the schema of its tag before the machine sees it, and a payload
of the wrong shape aborts with ``MalformedMessage`` naming its sender. Machines then hold only
the checks that need context (an expected length, an agreed bound), and an exception in a
handler is never a peer's doing.

A tag is looked up as itself, then by its engine suffix (``ECHO_SUFFIX``), then by its label before
the first ``/`` (program machines number their tags ``label/n``). A tag without a schema is not
checked. The schemas are plain data, small enough to read as documentation of the messages.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from coopetition.engine.codec import BRIEF_ITEMS, brief
from coopetition.engine.errors import MalformedMessage, PartyId
from coopetition.engine.tags import INTERNAL_MARK

__all__ = [
    "AnyValue",
    "Array",
    "Bytes",
    "Int",
    "ListOf",
    "MapOf",
    "Pair",
    "Record",
    "Schema",
    "Text",
    "check_payloads",
    "schema_for",
]


class Schema(abc.ABC):
    """A predicate on decoded payloads with a description for the error message."""

    @abc.abstractmethod
    def problem(self, value: Any) -> str | None:
        """``None`` if ``value`` fits, else what is wrong with it."""


@dataclass(frozen=True)
class AnyValue(Schema):
    def problem(self, value: Any) -> str | None:
        return None


@dataclass(frozen=True)
class Bytes(Schema):
    size: int | None = None

    def problem(self, value: Any) -> str | None:
        if not isinstance(value, bytes):
            return f"expected bytes, got {type(value).__name__}"
        if self.size is not None and len(value) != self.size:
            return f"expected {self.size} bytes, got {len(value)}"
        return None


@dataclass(frozen=True)
class Int(Schema):
    minimum: int | None = None

    def problem(self, value: Any) -> str | None:
        if not isinstance(value, int) or isinstance(value, bool):
            return f"expected an integer, got {type(value).__name__}"
        if self.minimum is not None and value < self.minimum:
            return f"expected an integer >= {self.minimum}, got {brief(value)}"
        return None


@dataclass(frozen=True)
class Text(Schema):
    def problem(self, value: Any) -> str | None:
        return None if isinstance(value, str) else f"expected text, got {type(value).__name__}"


@dataclass(frozen=True)
class Array(Schema):
    """A numpy array of ``dtype`` with ``ndim`` dimensions, all entries finite if ``finite``."""

    dtype: str
    ndim: int | None = None
    finite: bool = False

    def problem(self, value: Any) -> str | None:
        if not isinstance(value, np.ndarray) or value.dtype != np.dtype(self.dtype):
            return f"expected a {self.dtype} array, got {type(value).__name__}"
        if self.ndim is not None and value.ndim != self.ndim:
            return f"expected {self.ndim} dimensions, got {value.ndim}"
        if self.finite and not np.isfinite(value).all():
            return "expected finite entries"
        return None


@dataclass(frozen=True)
class ListOf(Schema):
    item: Schema

    def problem(self, value: Any) -> str | None:
        if not isinstance(value, list):
            return f"expected a list, got {type(value).__name__}"
        for index, item in enumerate(value):
            wrong = self.item.problem(item)
            if wrong is not None:
                return f"item {index}: {wrong}"
        return None


@dataclass(frozen=True)
class Pair(Schema):
    first: Schema
    second: Schema

    def problem(self, value: Any) -> str | None:
        if not isinstance(value, list) or len(value) != 2:
            return "expected a pair"
        return self.first.problem(value[0]) or self.second.problem(value[1])


@dataclass(frozen=True)
class MapOf(Schema):
    """A map with text keys and values of one schema."""

    value: Schema

    def problem(self, value: Any) -> str | None:
        if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
            return "expected a map with text keys"
        for key in sorted(value):
            wrong = self.value.problem(value[key])
            if wrong is not None:
                return f"{key!r}: {wrong}"
        return None


@dataclass(frozen=True)
class Record(Schema):
    """A map with exactly these text keys (``open=True`` allows more)."""

    fields: Mapping[str, Schema] = field(default_factory=dict)
    open: bool = False

    def problem(self, value: Any) -> str | None:
        if not isinstance(value, dict):
            return f"expected a map, got {type(value).__name__}"
        missing = sorted(set(self.fields) - set(value))
        extra = [k for k in value if k not in self.fields]
        if missing or (extra and not self.open):
            return (
                f"expected keys {sorted(self.fields)}, missing {missing}, unexpected {_keys(extra)}"
            )
        for key in sorted(self.fields):
            wrong = self.fields[key].problem(value[key])
            if wrong is not None:
                return f"{key!r}: {wrong}"
        return None


def _keys(keys: list[Any]) -> str:
    """A peer's unexpected keys, briefly: short text keys by name, anything else described
    (``str`` of an integer of more than 4300 digits raises, and a key may fill a frame)."""
    shown = sorted(
        repr(k) if isinstance(k, str) and len(k) <= 64 else brief(k) for k in keys[:BRIEF_ITEMS]
    )
    more = f" and {len(keys) - BRIEF_ITEMS} more" if len(keys) > BRIEF_ITEMS else ""
    return "[" + ", ".join(shown) + "]" + more


def schema_for(schemas: Mapping[str, Schema], tag: str) -> Schema | None:
    """The schema of ``tag``: itself, its engine suffix, or its label before ``/``."""
    if tag in schemas:
        return schemas[tag]
    if INTERNAL_MARK in tag:
        return schemas.get(INTERNAL_MARK + tag.split(INTERNAL_MARK, 1)[1])
    return schemas.get(tag.split("/", 1)[0])


def check_payloads(
    schemas: Mapping[str, Schema],
    tag: str,
    messages: Mapping[PartyId, Any],
    *,
    phase: str,
    round: int,
) -> None:
    """Raise ``MalformedMessage`` naming the first sender whose payload does not fit."""
    schema = schema_for(schemas, tag)
    if schema is None:
        return
    for sender in sorted(messages):
        wrong = schema.problem(messages[sender])
        if wrong is not None:
            raise MalformedMessage(
                f"party {sender} sent a malformed {tag!r} message: {wrong}",
                culprit=sender,
                phase=phase,
                round=round,
            )
