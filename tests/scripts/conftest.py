"""Runs the real `eems-check evaluate` once per inventory fixture (in parallel: each start costs seconds)."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

import pytest

from .pwsh import FIXTURES, ROOT


@dataclass(frozen=True)
class Evaluated:
    report: dict[str, Any]
    stdout: str


@pytest.fixture(scope="session")
def evaluated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Evaluated]:
    folder = tmp_path_factory.mktemp("evaluate")
    running = {}
    for path in sorted(FIXTURES.glob("*.json")):
        target = folder / f"{path.stem}.report.json"
        command = [sys.executable, "-m", "eems_check", "evaluate", str(path), "--json", str(target),
                   "--today", "2026-11-27", "--fail-on", "never"]
        running[path.name] = (target, subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE,
                                                       stderr=subprocess.PIPE, text=True))
    out = {}
    for name, (target, process) in running.items():
        stdout, stderr = process.communicate(timeout=180)
        assert process.returncode == 0, f"{name}: {stderr}"
        out[name] = Evaluated(json.loads(target.read_text(encoding="utf-8")), stdout)
    return out
