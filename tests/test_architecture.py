"""The package's shape, checked: imports run one way, no cycles, no reaching into private names.

Layers, bottom to top (a module may import its own layer or lower ones, never higher):
core (errors, settings, times, db, inputs) < content < search, feedback, staff < site < build
< web.middleware < web (services, access, params, unavailable) < web.api < web.pages
< web.app (the route table and the OpenAPI document made from it) < cli.
"""

from __future__ import annotations

import ast
from pathlib import Path

import kb_service

PACKAGE = Path(kb_service.__file__).parent
RANK = {"errors": 0, "settings": 0, "times": 0, "db": 0, "backup": 0, "inputs": 0, "content": 1, "search": 2, "feedback": 2,
        "staff": 2, "site": 3, "build": 4, "web.middleware": 5, "web": 6, "web.api": 7, "web.pages": 8, "web.app": 9,
        "cli": 10}
WEB_PACKAGES = {"middleware", "api", "pages"}
WEB_TOP = {"app", "openapi"}       # both read every route, so they sit above the handlers
# Imports inside a function are allowed only where they keep something heavy off the common path:
# the CLI loads a command's modules when that command runs; the index build loads Whoosh and jieba.
LAZY_ALLOWED = {("kb_service.cli", "*"), ("kb_service.build", "kb_service.search.engine")}


def modules() -> dict[str, ast.Module]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        name = ".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)
        out[name] = ast.parse(path.read_text(encoding="utf-8"), str(path))
    return out


def imported(module: str, node: ast.ImportFrom | ast.Import, known: set[str]) -> list[str]:
    """Fully qualified kb_service modules an import statement brings in."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name.startswith("kb_service")]
    if node.level:
        base = module.split(".")[: -node.level] if not module.endswith("__init__") else module.split(".")
        target = ".".join(base + ([node.module] if node.module else []))
    else:
        target = node.module or ""
    if not target.startswith("kb_service"):
        return []
    out = []
    for alias in node.names:
        sub = f"{target}.{alias.name}"
        out.append(sub if sub in known else target)
    return out


def graph() -> tuple[dict[str, set[str]], list[tuple[str, str, int]], list[tuple[str, str, int]]]:
    mods = modules()
    known = set(mods)
    edges: dict[str, set[str]] = {m: set() for m in mods}
    lazy, relative = [], []
    for name, tree in mods.items():
        functions = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
        inner = {id(n) for f in functions for n in ast.walk(f) if isinstance(n, (ast.Import, ast.ImportFrom))}
        for node in ast.walk(tree):
            if not isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            targets = [t for t in imported(name, node, known) if t != name]
            edges[name].update(targets)
            if isinstance(node, ast.ImportFrom) and node.level:
                relative.append((name, node.module or ".", node.lineno))
            if id(node) in inner:
                for t in targets:
                    if (name, "*") not in LAZY_ALLOWED and (name, t) not in LAZY_ALLOWED:
                        lazy.append((name, t, node.lineno))
    return edges, lazy, relative


def layer(module: str) -> str:
    parts = module.split(".")
    if len(parts) < 2:
        return "kb_service"
    if parts[1] == "web" and len(parts) > 2:
        if parts[2] in WEB_PACKAGES:
            return f"web.{parts[2]}"
        if parts[2] in WEB_TOP:
            return "web.app"
    return parts[1]


def test_every_web_module_has_a_layer():
    """A new web subpackage must be placed in RANK, or the layer check would treat it as web."""
    packages = {p.name for p in (PACKAGE / "web").iterdir() if (p / "__init__.py").exists()}
    assert packages == WEB_PACKAGES


def test_no_import_cycles():
    edges, _, _ = graph()
    seen, stack, cycles = set(), [], []

    def visit(node: str) -> None:
        if node in stack:
            cycles.append(stack[stack.index(node):] + [node])
            return
        if node in seen:
            return
        seen.add(node)
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            visit(nxt)
        stack.pop()

    for node in sorted(edges):
        visit(node)
    assert cycles == []


def test_layers_import_downwards_only():
    edges, _, _ = graph()
    upward = [(a, b) for a, targets in edges.items() for b in targets
              if layer(a) in RANK and layer(b) in RANK and RANK[layer(b)] > RANK[layer(a)]]
    assert upward == []
    # Siblings on one level must not depend on each other in both directions.
    pairs = {(layer(a), layer(b)) for a, t in edges.items() for b in t if layer(a) != layer(b)}
    assert [p for p in pairs if (p[1], p[0]) in pairs] == []


def test_no_imports_inside_functions_outside_the_allow_list():
    _, lazy, relative = graph()
    assert lazy == []
    assert relative == []     # one import style: absolute, so a moved module is found by grep


def test_no_module_uses_another_modules_private_names():
    found = []
    for name, tree in modules().items():
        aliases = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("kb_service"):
                for a in node.names:
                    if a.name.startswith("_") and a.name != "__future__":
                        found.append((name, a.name))
                    aliases[a.asname or a.name] = a.name
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                    and node.value.id in aliases and node.attr.startswith("_") and not node.attr.startswith("__")):
                found.append((name, f"{node.value.id}.{node.attr}"))
    assert found == []


def test_tests_mirror_the_packages():
    """A package's tests sit in the folder of the same name (tests/web/ for kb_service/web/...);
    only tests of the whole (this file, the CLI) stay at the top."""
    tests = Path(__file__).parent
    packages = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()}
    folders = {p.parent.name for p in tests.glob("*/test_*.py")}
    assert folders <= packages, folders - packages
    assert sorted(p.name for p in tests.glob("test_*.py")) == ["test_architecture.py", "test_cli.py"]
