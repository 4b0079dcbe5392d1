"""One-way layering: ``cli -> sims -> protocols -> engine -> transports``, no cycles.

The import graph is read from the source with ``ast`` (every ``import``, including lazy ones
inside functions and ``TYPE_CHECKING`` blocks, since a hidden cycle is still a cycle), so the
test needs no package import and fails on the first upward edge it finds, naming the file.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
#: folder -> (import prefix, layer); a module may import only from its own layer or below
FOLDERS = {
    "transports": ("coopetition.transports", 0),
    "engine": ("coopetition.engine", 1),
    "protocols": ("coopetition.protocols", 2),
    "sims": ("coopetition.sims", 3),
    "cli": ("coopetition", 4),
}


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for folder, (prefix, _) in FOLDERS.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            parts = list(path.relative_to(ROOT / folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join([prefix, *parts])] = path
    return found


MODULES = _modules()


def _layer(module: str) -> int:
    for prefix, layer in sorted(FOLDERS.values(), key=lambda v: -len(v[0])):
        if module == prefix or module.startswith(prefix + "."):
            return layer
    raise AssertionError(module)


def _resolve(module: str, path: Path, node: ast.ImportFrom) -> list[str]:
    if node.level:
        package = module.split(".")
        if path.name != "__init__.py":
            package = package[:-1]
        base = package[: len(package) - (node.level - 1)]
        target = ".".join([*base, node.module] if node.module else base)
    else:
        target = node.module or ""
    names = [f"{target}.{alias.name}" for alias in node.names]
    return [n for n in names if n in MODULES] or [target]


def _imports(module: str, path: Path) -> set[str]:
    targets: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            targets.update(_resolve(module, path, node))
    internal = set()
    for target in targets:
        while target and target not in MODULES:
            target = target.rpartition(".")[0]
        if target and target != module:
            internal.add(target)
    return internal


GRAPH = {module: _imports(module, path) for module, path in MODULES.items()}


def _package(module: str) -> str:
    return module if MODULES[module].name == "__init__.py" else module.rpartition(".")[0]


def test_no_upward_import() -> None:
    upward = [
        f"{MODULES[m].relative_to(ROOT)} imports {t}"
        for m, targets in GRAPH.items()
        for t in sorted(targets)
        if _layer(t) > _layer(m)
    ]
    assert not upward, "upward imports:\n" + "\n".join(upward)


def test_no_import_cycle() -> None:
    """Tarjan's strongly connected components over modules (``__init__`` re-exports excluded:
    a package importing its own children is how a curated API is built, not a cycle)."""
    graph = {
        m: {t for t in ts if not (MODULES[t].name == "__init__.py" and m.startswith(t + "."))}
        for m, ts in GRAPH.items()
        if MODULES[m].name != "__init__.py"
    }
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in graph:
                continue
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    assert not cycles, f"import cycles: {cycles}"


@pytest.mark.parametrize("suffix", ["#echo", "#evidence"])
def test_internal_tag_suffix_defined_once(suffix: str) -> None:
    """The engine's derived tags are spelled in exactly one module; others use its names."""
    spelled = [
        str(p.relative_to(ROOT))
        for p in MODULES.values()
        if f'"{suffix}"' in p.read_text() or f"'{suffix}'" in p.read_text()
    ]
    assert spelled == ["engine/tags.py"], spelled
