"""Message tags: the one place that spells the engine's derived tags.

A protocol names its messages with plain tags (``"w_plus_u"``, or tags a program machine derives
from its position). For a consistent broadcast the engine adds an echo round and, on a dispute,
an evidence round under derived tags; everything that must tell those apart from a protocol's
own tags (transcript views, Byzantine fault injection, scenario checks) asks this module.
"""

from __future__ import annotations

__all__ = [
    "ECHO_SUFFIX",
    "EVIDENCE_SUFFIX",
    "INTERNAL_MARK",
    "base_tag",
    "echo_tag",
    "evidence_tag",
    "is_internal",
]

#: A protocol tag never contains this character; the engine's derived tags always do.
INTERNAL_MARK = "#"
ECHO_SUFFIX = "#echo"
EVIDENCE_SUFFIX = "#evidence"


def echo_tag(tag: str) -> str:
    """The tag under which parties broadcast the digests they received for ``tag``."""
    return tag + ECHO_SUFFIX


def evidence_tag(tag: str) -> str:
    """The tag under which disputing parties show the signed frames they hold for ``tag``."""
    return tag + EVIDENCE_SUFFIX


def is_internal(tag: str) -> bool:
    """Whether ``tag`` belongs to the engine's own rounds rather than to a protocol."""
    return INTERNAL_MARK in tag


def base_tag(tag: str) -> str:
    """The protocol tag a derived tag belongs to (``tag`` itself for a protocol tag)."""
    return tag.split(INTERNAL_MARK, 1)[0]
