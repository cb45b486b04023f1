"""The corpus of hostile inputs (corpus/expected.yaml): every one ends in its one-line error and exit code.

Nothing may hang (each run is watched by a deadline in another thread), print a traceback or "internal error",
echo a huge value, or leave a temporary file behind.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from eems_check.cli import main

CORPUS = Path(__file__).parent / "corpus"
SAMPLE = Path(__file__).parents[2] / "eems_check" / "data" / "sample-inventory.json"
DEADLINE = 120.0  # seconds: far beyond any of these, so only a hang reaches it
LONGEST_LINE = 400

COMMANDS: dict[str, Callable[[str, str], list[str]]] = {
    "evaluate": lambda f, out: ["evaluate", f, "-o", out, "--fail-on", "never"],
    "compare-to": lambda f, out: ["evaluate", str(SAMPLE), "--compare-to", f, "-o", out],
    "diff": lambda f, out: ["diff", f, f],
    "rules validate": lambda f, out: ["rules", "validate", f],
    "rules": lambda f, out: ["evaluate", str(SAMPLE), "--rules", f, "-o", out],
    "config": lambda f, out: ["evaluate", str(SAMPLE), "--config", f, "-o", out],
    "build": lambda text, out: ["build", text],
}


def _json_inventory(servers: str) -> str:
    return '{"schema_version": 1, "organization": {"name": "Contoso"}, "servers": ' + servers + "}"


GENERATORS: dict[str, Callable[[Path], None]] = {
    "deep-json": lambda p: p.write_text("[" * 100_000 + "]" * 100_000),
    "long-integer": lambda p: p.write_text(_json_inventory('[{"name": "EX01", "duration": ' + "9" * 5000 + "}]")),
    "million-bad-servers": lambda p: p.write_text(_json_inventory("[" + ",".join(["1"] * 1_000_000) + "]")),
    "ten-megabyte-value": lambda p: p.write_text(
        _json_inventory('[{"name": "EX01", "is_edge": "' + "y" * 10_000_000 + '"}]')
    ),
    "fifo": lambda p: os.mkfifo(p),
    "link-to-dev-zero": lambda p: p.symlink_to("/dev/zero"),
    "oversized-rules": lambda p: p.write_text("schema_version: 1\n" + "#" * (9 * 1024 * 1024) + "\n"),
    "deep-yaml": lambda p: p.write_text("schema_version: 1\nrules: " + "[" * 1500 + "]" * 1500 + "\n"),
}


def _cases() -> list[Any]:
    entries = yaml.safe_load((CORPUS / "expected.yaml").read_text(encoding="utf-8"))
    cases = []
    for entry in entries:
        name = entry.get("file") or entry.get("make") or entry["text"]
        for command in entry["as"]:
            cases.append(pytest.param(entry, command, id=f"{name} as {command}"))
    return cases


def _run(argv: list[str]) -> int | None:
    result: list[int] = []
    worker = threading.Thread(target=lambda: result.append(main(argv)), daemon=True)
    worker.start()
    worker.join(DEADLINE)
    return result[0] if result else None


@pytest.mark.parametrize(("entry", "command"), _cases())
def test_hostile_input_ends_in_one_short_line_and_its_exit_code(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], entry: dict[str, Any], command: str
) -> None:
    if "make" in entry:
        target = tmp_path / f"input-{entry['make']}"
        GENERATORS[entry["make"]](target)
        subject = str(target)
    elif "file" in entry:
        subject = str(CORPUS / entry["file"])
    else:
        subject = entry["text"]
    out = tmp_path / "out"
    code = _run(COMMANDS[command](subject, str(out)))
    stderr = capsys.readouterr().err
    assert code is not None, "hung"
    assert code == entry["exit"], stderr[-1000:]
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr[-2000:]
    assert entry["says"] in lines[0], lines[0]
    assert len(lines[0]) <= LONGEST_LINE + len(subject), lines[0][:500]
    assert "Traceback" not in stderr and "internal error" not in stderr
    leftovers = [p.name for p in tmp_path.rglob(".eems-check-*")]
    assert leftovers == []
