"""Import cycles among the modules of a package, read from the source (nothing is imported).

    python scripts/import_cycles.py [PACKAGE_DIR]     # default: voicebot/ next to this script
    python scripts/import_cycles.py --lazy            # also the imports deferred into functions

Only imports that run when a module is loaded count: module level and class bodies,
including those under ``try:`` or a plain ``if``. Imports inside functions (deliberately
lazy) and under ``if TYPE_CHECKING:`` (never run) do not, unless ``--lazy``: then function
bodies count too, which shows the dependency loops a lazy import only hides. ``from pkg import name`` counts as
an import of ``pkg.name`` when that is a module, else of ``pkg``. The parent packages Python
loads first are not counted as edges: a cycle must be spelled out in import statements.

Prints every cycle (one line per strongly connected group, with one concrete loop through it)
and exits 1 if there is any, 0 if none: a CI step and tests/unit/test_import_cycles.py run it.
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections.abc import Iterator
from pathlib import Path


def module_name(path: Path, root: Path) -> str:
    """``root/voicebot/a/b.py`` -> ``voicebot.a.b``; a package's ``__init__.py`` is the package."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def load_time_imports(body: list[ast.stmt], lazy: bool = False) -> Iterator[ast.Import | ast.ImportFrom]:
    """Import statements that execute when the module is imported (not typing-only; with
    ``lazy``, those in function bodies too)."""
    for node in body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            if lazy:
                yield from (n for n in ast.walk(node) if isinstance(n, ast.Import | ast.ImportFrom))
        elif isinstance(node, ast.If):
            if not _is_type_checking(node.test):
                yield from load_time_imports(node.body, lazy)
            yield from load_time_imports(node.orelse, lazy)
        elif isinstance(node, ast.Try):
            for block in (node.body, node.orelse, node.finalbody, *(h.body for h in node.handlers)):
                yield from load_time_imports(block, lazy)
        elif isinstance(node, ast.ClassDef | ast.With):
            yield from load_time_imports(node.body, lazy)


def graph(package_dir: Path, lazy: bool = False) -> dict[str, set[str]]:
    """Module -> the package's modules it imports at load time."""
    root = package_dir.parent
    files = {module_name(p, root): p for p in sorted(package_dir.rglob("*.py"))}
    edges: dict[str, set[str]] = {name: set() for name in files}
    for name, path in files.items():
        is_package = path.name == "__init__.py"
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in load_time_imports(tree.body, lazy):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                if node.level:
                    base = name.split(".") if is_package else name.split(".")[:-1]
                    base = base[: len(base) - (node.level - 1)]
                    module = ".".join(base + ([node.module] if node.module else []))
                else:
                    module = node.module or ""
                targets = [f"{module}.{a.name}" if f"{module}.{a.name}" in files else module for a in node.names]
            for target in targets:
                while target and target not in files:  # ``import a.b.c`` of a name inside a module
                    target = target.rpartition(".")[0]
                if target and target != name:
                    edges[name].add(target)
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan), each sorted, largest first."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []
    counter = 0
    sys.setrecursionlimit(max(10000, sys.getrecursionlimit()))

    def visit(v: str) -> None:
        nonlocal counter
        index[v] = low[v] = counter
        counter += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return sorted(groups, key=lambda g: (-len(g), g))


def loop_through(group: list[str], edges: dict[str, set[str]]) -> list[str]:
    """One concrete import loop inside a group, from its first module back to it (shortest, by BFS)."""
    start, members = group[0], set(group)
    previous: dict[str, str] = {}
    frontier = [start]
    while frontier:
        nxt = []
        for v in frontier:
            for w in sorted(edges[v] & members):
                if w == start:
                    path = [v]
                    while path[-1] != start:
                        path.append(previous[path[-1]])
                    return [start, *reversed(path[:-1]), start] if len(path) > 1 else [start, v, start]
                if w not in previous:
                    previous[w] = v
                    nxt.append(w)
        frontier = nxt
    return group  # unreachable for a strongly connected group


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("package", nargs="?", type=Path, default=Path(__file__).resolve().parents[1] / "voicebot")
    parser.add_argument("--lazy", action="store_true", help="also count imports inside functions (the loops a lazy import hides)")
    args = parser.parse_args(argv)
    if not (args.package / "__init__.py").is_file():
        print(f"error: {args.package} is not a package (no __init__.py)", file=sys.stderr)
        return 2
    edges = graph(args.package.resolve(), args.lazy)
    found = cycles(edges)
    for group in found:
        loop = loop_through(group, edges)
        print(f"cycle of {len(group)}: {' -> '.join(loop)}")
        if len(group) > len(loop) - 1:
            print(f"  all in the group: {', '.join(group)}")
    kind = "import cycle(s), lazy imports counted," if args.lazy else "import cycle(s)"
    print(f"{len(found)} {kind} among {len(edges)} modules" if found else f"no {kind.replace('(s)', 's')} among {len(edges)} modules")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
