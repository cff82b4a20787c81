"""The folders tell the architecture (marketdash/__init__.py): every module's imports are read with `ast` and an
import against the layer order fails here, as does a circle of imports, a `TYPE_CHECKING` block (the way a circle
used to be hidden), Streamlit below the web layer, I/O in the analysis layer, or a module over 400 lines that does
not say at its top why it is one file."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import ROOT

# What each layer may import of the app's own code (itself included).
ALLOWED = {
    "domain": {"domain"},
    "collectors": {"domain", "collectors"},
    "analysis": {"domain", "analysis"},
    "services": {"domain", "collectors", "analysis", "services"},
    "web": {"domain", "analysis", "services", "web"},
    "cli": {"domain", "analysis", "services", "cli"},
    "page": {"domain", "analysis", "web"},
    "entry": {"cli"},
}
# Third-party packages a layer must not import: Streamlit (and Plotly) above the services only; no I/O in analysis.
FORBIDDEN = {
    "domain": {"streamlit", "plotly", "duckdb", "requests", "filelock"},
    "analysis": {"streamlit", "plotly", "duckdb", "requests", "filelock", "urllib", "socket", "http"},
    "collectors": {"streamlit", "plotly", "duckdb"},
    "services": {"streamlit", "plotly"},
    "cli": {"streamlit", "plotly"},
}
LONGEST = 400
LONG_REASON = "longer than 400 lines because"


def layer_of(module: str) -> str | None:
    """The layer of a first-party module name; None for third-party and standard-library modules."""
    parts = module.split(".")
    if parts[0] == "collectors":
        return "entry" if parts[-1] == "__main__" else "collectors"
    if parts[0] in ("app", "pages"):
        return "page"
    if parts[0] != "marketdash":
        return None
    if len(parts) == 1:
        return "entry"
    if parts[1] == "__main__":
        return "entry"
    return parts[1] if parts[1] in ALLOWED else None


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports(tree: ast.AST) -> list[tuple[int, str]]:
    """Every module an import statement names (functions' own imports too), with its line."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.append((node.lineno, node.module))
            # `from marketdash.domain import catalog` names the module marketdash.domain.catalog
            found.extend((node.lineno, f"{node.module}.{alias.name}") for alias in node.names)
    return found


def violations(module: str, source: str) -> list[str]:
    """What is wrong with one module's imports; empty when it keeps to its layer."""
    layer = layer_of(module)
    tree = ast.parse(source)
    out = []
    for line, name in imports(tree):
        target = layer_of(name)
        if target is not None and target not in ALLOWED[layer]:
            out.append(f"{module}:{line} ({layer}) imports {name} ({target})")
        if name.split(".")[0] in FORBIDDEN.get(layer, ()):
            out.append(f"{module}:{line} ({layer}) imports {name}")
        if name.endswith("TYPE_CHECKING"):
            out.append(f"{module}:{line} uses TYPE_CHECKING (an import circle hidden, or an import not needed)")
    return sorted(set(out))


def first_party() -> dict[str, Path]:
    paths = [*ROOT.glob("marketdash/**/*.py"), *ROOT.glob("collectors/*.py"), ROOT / "app.py", *ROOT.glob("pages/*.py")]
    return {module_name(p): p for p in paths}


def test_every_import_keeps_to_the_layer_order():
    found = [v for name, path in first_party().items() for v in violations(name, path.read_text(encoding="utf-8"))]
    assert found == []


@pytest.mark.parametrize(
    ("module", "source"),
    [
        ("marketdash.domain.catalog", "from marketdash.services.store import Store"),
        ("marketdash.analysis.risk", "import duckdb"),
        ("marketdash.services.live", "def f():\n    from marketdash.web import ui"),
        ("marketdash.services.live", "from typing import TYPE_CHECKING"),
        ("collectors.kis", "from marketdash.services import market"),
        ("pages.1_compare", "from marketdash.services.store import Store"),
    ],
)
def test_the_check_catches_an_import_against_the_order(module, source):
    assert violations(module, source)


def find_circle(edges: dict[str, set[str]]) -> list[str] | None:
    """A circle of imports in the graph (module -> modules it imports), or None."""
    done: set[str] = set()

    def visit(node: str, trail: list[str]) -> list[str] | None:
        if node in trail:
            return [*trail[trail.index(node) :], node]
        if node in done:
            return None
        for nxt in sorted(edges.get(node, ())):
            circle = visit(nxt, [*trail, node])
            if circle:
                return circle
        done.add(node)
        return None

    return next((c for name in sorted(edges) if (c := visit(name, []))), None)


def test_no_circle_of_imports():
    modules = first_party()
    edges: dict[str, set[str]] = {}
    for name, path in modules.items():
        named = {n for _, n in imports(ast.parse(path.read_text(encoding="utf-8")))}
        # a package's own __init__ is imported with each of its modules: not an edge of its own
        edges[name] = {m for m in named if m in modules and m != name and not name.startswith(f"{m}.")}
    assert sum(map(len, edges.values())) > 100  # the graph was read
    assert find_circle(edges) is None
    assert find_circle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_modules_are_short_or_say_why_not():
    long = []
    for name, path in first_party().items():
        text = path.read_text(encoding="utf-8")
        doc = ast.get_docstring(ast.parse(text)) or ""
        if text.count("\n") > LONGEST and LONG_REASON not in doc.lower():
            long.append(f"{name} ({text.count(chr(10))} lines)")
    assert long == []
