"""No import circle between eems_check modules, counting every import: at module level, inside functions and
under `if TYPE_CHECKING:`. A lazy import only hides a circle until someone moves it; this test does not."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parents[1] / "eems_check"


def module_names(package: Path) -> dict[str, Path]:
    names = {}
    for path in package.rglob("*.py"):
        parts = path.relative_to(package.parent).with_suffix("").parts
        names[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return names


def imported(name: str, path: Path, known: set[str]) -> set[str]:
    """The eems_check modules that importing `name` runs: each named module and the packages above it that `name`
    is not itself inside (importing a.b.c runs a/__init__ and a/b/__init__ first)."""
    here = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    targets = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = here[: len(here) - node.level + 1] if node.level else []
            module = ".".join(base + (node.module.split(".") if node.module else []))
            targets += [module, *(f"{module}.{alias.name}" for alias in node.names)]
    out = set()
    for target in targets:
        parts = target.split(".")
        for i in range(1, len(parts) + 1):
            step = ".".join(parts[:i])
            if step in known and step != name and not name.startswith(step + "."):
                out.add(step)
    return out


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def import_graph(package: Path) -> dict[str, set[str]]:
    names = module_names(package)
    return {name: imported(name, path, set(names)) for name, path in names.items()}


def test_no_eems_check_module_takes_part_in_an_import_circle() -> None:
    assert cycles(import_graph(PACKAGE)) == []


@pytest.mark.parametrize(
    ("files", "circle"),
    [
        ({"a.py": "from . import b", "b.py": "def f():\n    from .a import x"}, ["pkg.a", "pkg.b"]),
        (
            {
                "a.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .sub.m import X",
                "sub/__init__.py": "from .n import Y",
                "sub/m.py": "",
                "sub/n.py": "from ..a import Z",
            },
            ["pkg.a", "pkg.sub", "pkg.sub.n"],
        ),
        ({"__init__.py": "from .a import f", "a.py": "from .b import g", "b.py": "import os"}, None),
    ],
    ids=["lazy import", "through a package __init__ under TYPE_CHECKING", "no circle"],
)
def test_the_graph_sees_lazy_and_package_circles(
    tmp_path: Path, files: dict[str, str], circle: list[str] | None
) -> None:
    package = tmp_path / "pkg"
    for name, text in {"__init__.py": "", **files}.items():
        (package / name).parent.mkdir(parents=True, exist_ok=True)
        (package / name).write_text(text + "\n", encoding="utf-8")
    assert cycles(import_graph(package)) == ([circle] if circle else [])
