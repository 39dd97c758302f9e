"""No import cycles inside tvlens, counting imports inside functions and TYPE_CHECKING blocks.

A lazy import inside a function hides a cycle from Python but not from the design: the
two modules still depend on each other. The graph is read with ``ast``, so nothing is
imported; ``from pkg import name`` is an edge to ``pkg.name`` when that is a module,
else to ``pkg``.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent.parent / "tvlens"


def module_files(root: Path = PACKAGE_DIR) -> dict[str, Path]:
    """``{dotted module name: file}`` for every ``.py`` file of the package."""
    out: dict[str, Path] = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def import_graph(files: dict[str, Path]) -> dict[str, set[str]]:
    """Edges ``module -> modules it imports`` (within ``files``), at any depth in the code."""
    graph: dict[str, set[str]] = {m: set() for m in files}
    for mod, path in files.items():
        is_pkg = path.name == "__init__.py"
        package = mod if is_pkg else mod.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")
                    anchor = anchor[: len(anchor) - (node.level - 1)]
                    base = ".".join([*anchor, *([base] if base else [])])
                for alias in node.names:
                    sub = f"{base}.{alias.name}"
                    targets.append(sub if sub in files else base)
            for t in targets:
                # `import a.b.c` depends on the deepest known module of the path
                while t and t not in files:
                    t = t.rpartition(".")[0]
                if t and t != mod:
                    graph[mod].add(t)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(out)


def describe(comps: list[list[str]], graph: dict[str, set[str]]) -> str:
    lines = []
    for comp in comps:
        edges = [f"{a} -> {b}" for a in comp for b in sorted(graph[a]) if b in comp]
        lines.append(f"cycle among {comp}: {', '.join(edges)}")
    return "\n".join(lines)


def test_graph_reader_sees_function_level_and_relative_imports(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("from pkg.sub.b import g\n")
    (pkg / "a.py").write_text("def f():\n    from pkg.sub import b\n")
    (pkg / "sub" / "b.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ..a import f\n"
    )
    (pkg / "c.py").write_text("import pkg.a\n")
    graph = import_graph(module_files(pkg))
    assert graph["pkg.a"] == {"pkg.sub.b"}
    assert graph["pkg.sub.b"] == {"pkg.a"}
    assert graph["pkg.sub"] == {"pkg.sub.b"}
    assert graph["pkg.c"] == {"pkg.a"}
    assert cycles(graph) == [["pkg.a", "pkg.sub.b"]]


def test_no_import_cycles_in_tasks() -> None:
    files = {m: p for m, p in module_files().items() if m.startswith("tvlens.tasks")}
    assert "tvlens.tasks.task" in files and "tvlens.tasks.io" in files
    graph = import_graph(files)
    comps = cycles(graph)
    assert not comps, describe(comps, graph)
    # the direction the package is built in: pairs <- task <- io / filtering / registry
    assert "tvlens.tasks.pairs" in graph["tvlens.tasks.task"]
    assert graph["tvlens.tasks.pairs"] == set()
    assert "tvlens.tasks.task" in graph["tvlens.tasks.io"]
    assert "tvlens.tasks.task" in graph["tvlens.tasks.filtering"]


def test_no_import_cycles_in_package() -> None:
    graph = import_graph(module_files())
    comps = cycles(graph)
    assert not comps, describe(comps, graph)
