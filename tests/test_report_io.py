"""The one reader of a saved JSON report (`report_io`): render -> read -> render is the identity, and every bad
file gives one line naming the file and the field, whichever command reads it."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from eems_check.diff import compare
from eems_check.errors import InputError, InventoryError
from eems_check.evaluate import evaluate
from eems_check.inventory import read_inventory
from eems_check.model import Report
from eems_check.render import Format
from eems_check.report_io import read_report
from eems_check.ruleset import RuleSet

from .conftest import FIXTURES, GENERATED, TODAY
from .mail.conftest import SAMPLE, big_report

REPORTS = FIXTURES / "reports"
CASES = yaml.safe_load((FIXTURES / "report-cases.yaml").read_text(encoding="utf-8"))


def roundtrip(report: Report, tmp_path: Path) -> tuple[str, str]:
    first = Format.JSON.renderer().render(report)
    path = tmp_path / "report.json"
    path.write_text(first, encoding="utf-8")
    return first, Format.JSON.renderer().render(read_report(path))


@pytest.mark.parametrize(
    "inventory",
    [SAMPLE, FIXTURES / "inventories" / "hostile.json", FIXTURES / "inventories" / "ps51-quirks.json"],
    ids=["sample org", "hostile strings", "PowerShell 5.1 quirks"],
)
def test_render_read_render_gives_the_same_json(ruleset: RuleSet, inventory: Path, tmp_path: Path) -> None:
    report = evaluate(read_inventory(inventory), ruleset, today=TODAY, generated_at=GENERATED)
    first, second = roundtrip(report, tmp_path)
    assert second == first


def test_a_report_built_from_the_model_round_trips(tmp_path: Path) -> None:
    first, second = roundtrip(big_report(20), tmp_path)
    assert second == first


def test_a_report_with_changes_since_a_previous_one_round_trips(tmp_path: Path) -> None:
    now = big_report(15)
    changes = compare(big_report(12), now, old_label="last-week.json")
    assert not changes.is_empty
    first, second = roundtrip(dataclasses.replace(now, changes=changes), tmp_path)
    assert '"changes":' in first and second == first


def test_html_and_csv_rendered_from_a_saved_report_equal_the_originals(ruleset: RuleSet, tmp_path: Path) -> None:
    report = evaluate(read_inventory(SAMPLE), ruleset, today=TODAY, generated_at=GENERATED)
    path = tmp_path / "r.json"
    path.write_text(Format.JSON.renderer().render(report), encoding="utf-8")
    again = read_report(path)
    for fmt in (Format.HTML, Format.CSV):
        assert fmt.renderer().render(again) == fmt.renderer().render(report)


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16"])
def test_reports_saved_by_windows_tools_are_read(tmp_path: Path, encoding: str) -> None:
    path = tmp_path / "windows.json"
    path.write_text((REPORTS / "good.json").read_text(encoding="utf-8"), encoding=encoding)
    render = Format.JSON.renderer().render
    assert render(read_report(path)) == render(read_report(REPORTS / "good.json"))
    assert [s.server.name for s in read_report(path).servers] == ["EX01", "EX02"]


def test_every_bad_report_fixture_has_a_case() -> None:
    assert {c["file"] for c in CASES} == {p.name for p in REPORTS.glob("*.json")} - {"good.json"}


@pytest.mark.parametrize("case", CASES, ids=[c["file"] for c in CASES])
def test_bad_reports_give_one_line_naming_file_and_field(case: dict[str, Any]) -> None:
    path = REPORTS / case["file"]
    with pytest.raises(InventoryError) as caught:
        read_report(path)
    assert str(caught.value) == f"{path}{case.get('sep', ': ')}{case['error']}"
    assert isinstance(caught.value, InputError) and caught.value.exit_code == 2


def test_a_missing_file_gives_one_line(tmp_path: Path) -> None:
    with pytest.raises(InventoryError, match=r"^\S+nowhere\.json: cannot read: No such file or directory$"):
        read_report(tmp_path / "nowhere.json")


BAD, GOOD = REPORTS / "bad-severity.json", REPORTS / "good.json"
MAIL = ["--mail-to", "ops@example.org", "--mail-from", "scan@example.org", "--smtp-host", "127.0.0.1"]


@pytest.mark.parametrize(
    "argv",
    [
        ["diff", str(BAD), str(GOOD)],
        ["diff", str(GOOD), str(BAD)],
        ["evaluate", str(SAMPLE), "--compare-to", str(BAD)],
        ["send", str(BAD), *MAIL],
    ],
    ids=["diff old", "diff new", "--compare-to", "send"],
)
def test_every_command_reading_a_report_gives_the_same_one_line_error(argv: list[str], tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "eems_check", *argv], capture_output=True, text=True, cwd=tmp_path, timeout=120
    )
    assert result.returncode == 2
    error = next(c["error"] for c in CASES if c["file"] == BAD.name)
    assert result.stderr == f"eems-check: error: {BAD}: {error}\n"
    assert not list(tmp_path.iterdir())  # nothing written, nothing evaluated
