"""Attribute py-spy's raw collapsed stacks to Helen's components (``helen_phase_profile``).

A raw py-spy file has one line per distinct stack, ``frame;frame;...;frame COUNT`` with frames
``function (file:line)`` from the thread's root to its leaf. Each stack is charged to one
component: the first rule that matches a frame, scanning from the leaf towards the root, so the
innermost recognised step wins (``multi_pow`` inside a range-proof verification counts as the
verification; an encryption made by a proof counts as the proof). Stacks that match no rule are
split by thread: the main thread's (trio's event loop) or another thread's (the
protocol steps' workers, ``engine.compute``, and the Paillier helper pool).

Run: ``python -m coopetition.sims.stack_attribution RAW [RAW ...] [--cpu-seconds S --e E]``
prints the table (samples, share, and with ``--cpu-seconds`` CPU seconds and E per component)
and the hottest functions by inclusive samples.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

_LINE = re.compile(r"^(?P<stack>.*) (?P<count>\d+)$")
_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?)(?::\d+)?\)$")


@dataclass(frozen=True)
class Rule:
    """A component, recognised by a frame whose file contains ``file`` and whose function
    name contains one of ``funcs`` (any function when empty)."""

    component: str
    file: str
    funcs: tuple[str, ...] = ()

    def matches(self, func: str, file: str) -> bool:
        return self.file in file and (not self.funcs or any(f in func for f in self.funcs))


#: Leaf-to-root, first match wins. Low-level helpers (group.py, gmpy2 wrappers) are absent on
#: purpose, so their time goes to the step that called them.
RULES: tuple[Rule, ...] = (
    Rule("range proofs: four-square decompositions", "zk/range_squares.py"),
    # range_proof.py's shared helpers (_start, _sizes, _check_statements) match neither rule,
    # so their time goes to the prove or verify above them
    Rule("range proofs: made", "zk/range_proof.py", ("prove", "decompose")),
    Rule(
        "range proofs: verified",
        "zk/range_proof.py",
        ("verify", "_holds", "_Parsed", "_equations", "_unit_checker", "_signed", "_seq", "_terms"),
    ),
    Rule("range proofs: statements, grouping", "spdz/ranges.py"),
    Rule("threshold decryption: shares and proofs made", "paillier/threshold.py", ("partial",)),
    Rule("threshold decryption: proofs checked, combined", "paillier/threshold.py"),
    Rule("threshold decryption: packing", "spdz/packing.py"),
    Rule("multiplication proofs (MACs)", "zk/multiplication.py"),
    Rule("proof wire encoding", "zk/codec.py"),
    Rule("proof wire encoding", "zk/wire_bounds.py"),
    Rule("Fiat-Shamir transcripts", "zk/transcript.py"),
    Rule("Paillier helper threads (parallel powmod)", "paillier/parallel.py"),
    Rule("Paillier arithmetic in the gadgets", "spdz/gadgets.py"),
    Rule("Paillier arithmetic in the gadgets", "spdz/conversion.py"),
    Rule("SPDZ online: preprocessing store", "spdz/preprocessing.py"),
    Rule("SPDZ online: field and share arithmetic", "spdz/field.py"),
    Rule("SPDZ online: field and share arithmetic", "spdz/fieldvec.py"),
    Rule("SPDZ online: field and share arithmetic", "spdz/shares.py"),
    Rule("SPDZ online: field and share arithmetic", "spdz/commit.py"),
    Rule("SPDZ online: field and share arithmetic", "spdz/online.py"),
    Rule("Helen coordinate/verify program (other)", "protocols/helen/"),
    Rule("engine: chunked exchange", "engine/chunked.py"),
    Rule("engine: consistent broadcast (echo digests)", "engine/consistency.py"),
    Rule("engine: signatures", "nacl/"),
    Rule("engine: signatures", "engine/identity.py"),
    Rule("engine: CBOR and wire frames", "cbor2"),
    Rule("engine: CBOR and wire frames", "engine/codec.py"),
    Rule("engine: CBOR and wire frames", "engine/wire.py"),
    Rule("engine: CBOR and wire frames", "engine/schema.py"),
    Rule("engine: bus, outbox, metadata", "engine/bus.py"),
    Rule("engine: bus, outbox, metadata", "engine/outbox.py"),
    Rule("engine: bus, outbox, metadata", "engine/metadata.py"),
    Rule("engine: bus, outbox, metadata", "engine/evidence.py"),
    Rule("transport (memory)", "transports/"),
    Rule("engine: driver and machines", "engine/"),
)
#: Unmatched stacks of a thread other than the main one (workers, helper pools) or of the main
#: thread, which runs trio's event loop.
WORKER_MARK = "threading.py"
OTHER_WORKER = "other threads, unattributed"
OTHER_LOOP = "event loop (trio scheduling, other)"


def frames(stack: str) -> list[tuple[str, str]]:
    """(function, file) of each frame, root first."""
    out = []
    for raw in stack.split(";"):
        m = _FRAME.match(raw.strip())
        out.append((m["func"], m["file"]) if m else (raw.strip(), ""))
    return out


def component(stack: list[tuple[str, str]], rules: Iterable[Rule] = RULES) -> str:
    """The component a stack is charged to (see the module docstring)."""
    ordered = tuple(rules)
    for func, file in reversed(stack):
        for rule in ordered:
            if rule.matches(func, file):
                return rule.component
    return OTHER_WORKER if any(WORKER_MARK in f for _, f in stack) else OTHER_LOOP


def read_raw(path: Path) -> Counter[str]:
    """Samples per distinct stack of one raw py-spy file."""
    counts: Counter[str] = Counter()
    for line in path.read_text().splitlines():
        m = _LINE.match(line.strip())
        if m:
            counts[m["stack"]] += int(m["count"])
    return counts


def attribute(stacks: Counter[str]) -> Counter[str]:
    """Samples per component."""
    out: Counter[str] = Counter()
    for stack, n in stacks.items():
        out[component(frames(stack))] += n
    return out


def hottest(stacks: Counter[str], top: int = 25) -> list[tuple[str, int]]:
    """Functions by inclusive samples (a function counted once per stack it appears in)."""
    out: Counter[str] = Counter()
    for stack, n in stacks.items():
        for name in {f"{func} ({file})" for func, file in frames(stack)}:
            out[name] += n
    return out.most_common(top)


def table(
    stacks: Counter[str], cpu_seconds: float | None = None, e: float | None = None
) -> list[dict[str, object]]:
    """One row per component, largest first: samples, share, CPU seconds and E if given."""
    parts = attribute(stacks)
    total = sum(parts.values()) or 1
    rows: list[dict[str, object]] = []
    for name, n in parts.most_common():
        row: dict[str, object] = {"component": name, "samples": n, "share": n / total}
        if cpu_seconds is not None:
            row["cpu_seconds"] = cpu_seconds * n / total
            if e:
                row["E"] = cpu_seconds * n / total / e
        rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("raw", type=Path, nargs="+")
    parser.add_argument("--cpu-seconds", type=float, help="CPU seconds of the sampled window")
    parser.add_argument("--e", type=float, help="seconds of one E, to print E per component")
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args(argv)
    stacks: Counter[str] = Counter()
    for path in args.raw:
        stacks.update(read_raw(path))
    for row in table(stacks, args.cpu_seconds, args.e):
        extra = ""
        if "cpu_seconds" in row:
            extra = f" {row['cpu_seconds']:9.1f} s"
        if "E" in row:
            extra += f" {row['E']:9.0f} E"
        print(f"{row['share']:6.1%} {row['samples']:7d}{extra}  {row['component']}")
    print("\nhottest functions (inclusive samples):")
    total = sum(stacks.values()) or 1
    for name, n in hottest(stacks, args.top):
        print(f"{n / total:6.1%} {n:7d}  {name}")


if __name__ == "__main__":
    main()
