"""The readers outside the inventory and rules read only regular files too: the lab's org file, a capture folder's
files and --ca-bundle. A FIFO there is one line naming it, never a wait for a writer that does not come."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]


def _capture_with_fifo(tmp_path: Path, name: str) -> Path:
    folder = tmp_path / "capture"
    (folder / "collector").mkdir(parents=True)
    (folder / "capture.json").write_text('{"format": "eems-check/capture", "version": 1}', encoding="utf-8")
    for part in ("GetExchangeServer.xml", "GetOrganizationConfig.xml"):
        (folder / part).write_text((ROOT / "tests/collect/fixtures/exchange" / part).read_text(encoding="utf-8"))
    target = folder / name
    target.unlink(missing_ok=True)
    os.mkfifo(target)
    return folder


@pytest.mark.parametrize(("case", "argv", "shown"), [
    ("org file", lambda d: ["lab", "serve", "--org", str(d / "fifo.yaml")], "fifo.yaml:0: cannot read org file: is a"),
    ("capture manifest", lambda d: ["evaluate", str(_capture_with_fifo(d, "capture.json")), "-o", str(d)],
     "capture.json: is a"),
    ("captured objects", lambda d: ["evaluate", str(_capture_with_fifo(d, "GetExchangeServer.xml")), "-o", str(d)],
     "GetExchangeServer.xml: is a"),
    ("--ca-bundle", lambda d: ["scan", "--discovery-server", "ex01.contoso.lab", "--auth", "ntlm", "--username", "u",
                               "--https", "--ca-bundle", str(d / "fifo.yaml")], "--ca-bundle"),
])
def test_a_fifo_where_a_file_belongs_is_one_line_and_exit_2(
    tmp_path: Path, case: str, argv: Callable[[Path], list[str]], shown: str
) -> None:
    os.mkfifo(tmp_path / "fifo.yaml")
    env = {**os.environ, "EEMS_CHECK_PASSWORD": "not-used"}
    done = subprocess.run(
        [sys.executable, "-m", "eems_check", *argv(tmp_path)], capture_output=True, text=True, timeout=60, env=env
    )
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and shown in lines[0] and "Traceback" not in done.stderr
