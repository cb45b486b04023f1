"""The scanning account's password never shows, even when a server echoes it: checked in every place a reason or
a log line is written (the saved inventory, the JSON, HTML and CSV reports, the history database, stdout, and
stderr with its log lines at the default level, -v and --debug), for a failing server and for a failing discovery."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from eems_check.collect.cli_args import PASSWORD_ENV
from eems_check.lab import LabOrg, load_org

from .conftest import FIXTURES, lab_scan_argv

ORG = FIXTURES / "secret-echo.yaml"  # ECFAULT's WS-Management fault text carries the password
PASSWORD = "Echo-Secr3t!pw"  # the account's password in that file
ECHOED = "Access is denied for ECHO\\scanner (password ***)."  # the fault text as it must be shown

# discovery server, exit code, the files that must carry the masked fault text (the history database too)
CASES = {
    "a-server-fails": (
        "ecok.echo.lab",
        1,
        ("inventory.json", "eems-report-*.json", "eems-report-*.csv", "eems-report-*.html", "eems-history-*.sqlite"),
    ),
    "discovery-fails": ("ecfault.echo.lab", 3, ()),
}


@pytest.fixture(scope="module")
def echo_lab() -> Iterator[LabOrg]:
    with LabOrg(load_org(ORG), base_address="127.0.80.1") as lab:
        yield lab


def test_the_fixture_really_echoes_the_password() -> None:
    assert PASSWORD in ORG.read_text(encoding="utf-8").split("ECFAULT", 1)[1]
    assert load_org(ORG).accounts[0].password == PASSWORD


@pytest.mark.parametrize("level", [[], ["-v"], ["--debug"]], ids=["default", "verbose", "debug"])
@pytest.mark.parametrize(("discovery", "code", "carriers"), CASES.values(), ids=CASES.keys())
def test_a_password_echoed_by_a_server_is_masked_everywhere(
    echo_lab: LabOrg, tmp_path: Path, level: list[str], discovery: str, code: int, carriers: tuple[str, ...]
) -> None:
    argv = lab_scan_argv(echo_lab)
    argv[argv.index("--discovery-server") + 1] = discovery
    out = tmp_path / "out"
    env = {**os.environ, PASSWORD_ENV: PASSWORD}
    done = subprocess.run(
        [sys.executable, "-m", "eems_check", "scan", *argv, *level, "-o", str(out),
         "--save-inventory", str(out / "inventory.json")],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert done.returncode == code, done.stderr
    written = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} if out.exists() else {}
    outputs = {"stdout": done.stdout.encode(), "stderr": done.stderr.encode(), **written}
    for where, data in outputs.items():  # bytes: the run's history database is written there too
        assert PASSWORD.encode() not in data, where
    for pattern in carriers:  # the reason is there, masked: the check above looked at the right text
        (path,) = out.glob(pattern)
        shown = ECHOED.replace("\\", "\\\\") if path.suffix == ".json" else ECHOED  # JSON escapes the backslash
        assert shown.encode() in written[path.name], pattern
    if not carriers:
        assert ECHOED in done.stderr.splitlines()[-1]
    if level == ["--debug"]:
        assert "***" in done.stderr and "DEBUG" in done.stderr  # pypsrp's message log, masked
