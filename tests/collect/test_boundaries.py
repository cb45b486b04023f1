"""pypsrp stays behind the remoting module (and the HTTP session under it), so its 1.0 API change touches two
files; and no module reaches into the private members of the libraries it stands on."""

from __future__ import annotations

import ast
import re
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
    assert importers == ["collect/http.py", "collect/remoting.py"]


# Private members a library may rename in any patch release. The lab's one exception (psrpcore's pipeline state
# change, which psrpcore offers no public route for) lives in lab/_psrpcore_compat.py, pinned to psrpcore 0.3.x.
_PRIVATE = re.compile(
    r"(pypsrp|psrpcore|spnego|requests|urllib3)\._[a-z]"
    r"|\._(create_header|build_session|build_auth\w*|fragmenter|serializer|get_auth_token|set_auth_token"
    r"|parse_wsman_fault|calc_envelope_size|change_state|ps_object|regex|xml|to_string)\b"
)


def test_no_module_reaches_into_library_internals() -> None:
    found = [
        f"{path.relative_to(PACKAGE)}:{number}: {line.strip()}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.name != "_psrpcore_compat.py"
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if _PRIVATE.search(line)
    ]
    assert found == []


def test_the_lab_calls_psrpcore_internals_only_to_change_a_pipeline_state() -> None:
    source = (PACKAGE / "lab" / "_psrpcore_compat.py").read_text(encoding="utf-8")
    assert set(re.findall(r"\._[a-z]\w*", source)) == {"._change_state"}


def test_the_exchange_session_code_never_adds_a_script() -> None:
    source = (PACKAGE / "collect" / "remoting.py").read_text(encoding="utf-8")
    session = source[source.index("class ExchangeSession"):source.index("def run_script")]
    assert "add_script" not in session and "execute_ps" not in source
