"""pypsrp stays behind one module, so its 1.0 API change touches one file."""

from __future__ import annotations

import ast
from pathlib import Path

import eems_check

PACKAGE = Path(eems_check.__file__).parent


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def test_only_the_remoting_module_imports_pypsrp() -> None:
    importers = sorted(str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py") if "pypsrp" in _imports(p))
    assert importers == ["collect/remoting.py"]


def test_the_exchange_session_code_never_adds_a_script() -> None:
    source = (PACKAGE / "collect" / "remoting.py").read_text(encoding="utf-8")
    session = source[source.index("class ExchangeSession"):source.index("def run_script")]
    assert "add_script" not in session and "execute_ps" not in source
