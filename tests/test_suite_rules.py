"""The suite's own rules, checked on its source: no runtime xfail or skip that could hide a broken command.

An expected failure is a `pytest.mark.xfail(reason=...)` naming the open problem, strict (pyproject.toml: a fix
makes it pass, which fails the run until the mark goes); tests skip only through `missing_in_ci`
(tests/conftest.py), which fails in CI."""

from __future__ import annotations

import ast
import re
from pathlib import Path

TESTS = Path(__file__).parent
SKIP_HOME = TESTS / "conftest.py"  # missing_in_ci: skips outside CI, fails inside


def _attributes(tree: ast.AST, dotted: str) -> list[ast.Attribute]:
    return [n for n in ast.walk(tree) if isinstance(n, ast.Attribute) and ast.unparse(n) == dotted]


def _problems(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    where = path.relative_to(TESTS)
    found = [f"{where}:{n.lineno}: runtime xfail" for n in _attributes(tree, "pytest.xfail")]
    if path != SKIP_HOME:
        for dotted in ("pytest.skip", "pytest.importorskip", "pytest.mark.skip", "pytest.mark.skipif"):
            found += [f"{where}:{n.lineno}: {dotted} (use missing_in_ci)" for n in _attributes(tree, dotted)]
    calls = {id(c.func): c for c in ast.walk(tree) if isinstance(c, ast.Call)}
    for mark in _attributes(tree, "pytest.mark.xfail"):
        keywords = {k.arg: k.value for k in calls[id(mark)].keywords} if id(mark) in calls else {}
        strict = keywords.get("strict", ast.Constant(True))
        if "reason" not in keywords or not (isinstance(strict, ast.Constant) and strict.value is True):
            found.append(f"{where}:{mark.lineno}: xfail without a reason, or not strict")
    return found


def test_no_runtime_xfail_no_stray_skip_and_every_xfail_strict_with_a_reason() -> None:
    sources = sorted(p for p in TESTS.rglob("*.py") if p != Path(__file__))
    assert len(sources) > 50
    assert [problem for path in sources for problem in _problems(path)] == []


def test_expected_failures_are_strict_by_configuration() -> None:
    pyproject = (TESTS.parent / "pyproject.toml").read_text(encoding="utf-8")
    assert re.search(r"(?m)^xfail_strict = true\b", pyproject)
