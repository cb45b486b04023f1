"""Reading a saved JSON report back: render -> read -> render is the identity; bad files give one-line errors."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from eems_check.errors import InventoryError
from eems_check.evaluate import evaluate
from eems_check.inventory import read_inventory
from eems_check.model import Report
from eems_check.render import Format
from eems_check.report_io import read_report
from eems_check.ruleset import RuleSet

from ..conftest import FIXTURES, GENERATED, TODAY
from .conftest import MAIL_FIXTURES, SAMPLE, big_report

REPORTS = MAIL_FIXTURES / "reports"


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
    from eems_check.diff import compare
    from eems_check.render.json_report import report_to_document

    old = report_to_document(big_report(12))
    now = big_report(15)
    changes = compare(old, report_to_document(now), old_label="last-week.json")
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


def test_a_utf16_report_written_by_powershell_is_read(tmp_path: Path) -> None:
    path = tmp_path / "utf16.json"
    path.write_bytes((REPORTS / "good.json").read_text(encoding="utf-8").encode("utf-16"))
    assert [s.server.name for s in read_report(path).servers] == ["EX01", "EX02"]


CASES = yaml.safe_load((MAIL_FIXTURES / "report-cases.yaml").read_text(encoding="utf-8"))


@pytest.mark.parametrize("case", CASES, ids=[c["file"] for c in CASES])
def test_bad_reports_give_one_line_naming_file_and_field(case: dict[str, Any]) -> None:
    path = REPORTS / case["file"]
    with pytest.raises(InventoryError) as caught:
        read_report(path)
    assert str(caught.value) == f"{path}: {case['error']}"
    assert caught.value.exit_code == 2


@pytest.mark.parametrize(
    ("name", "content", "error"),
    [
        ("not JSON", b'{"schema": "eems-check/report",\n "schema_version": 1,\n}\n', ":3:1: not valid JSON"),
        ("not an object", b"[1, 2]", ": a report must be a JSON object, not list"),
        ("missing file", None, ": cannot read: No such file or directory"),
    ],
)
def test_unreadable_files_give_one_line(tmp_path: Path, name: str, content: bytes | None, error: str) -> None:
    path = tmp_path / "r.json"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(InventoryError) as caught:
        read_report(path)
    assert str(caught.value).startswith(f"{path}{error}")


def test_the_fixture_report_is_a_real_report() -> None:
    doc = json.loads((REPORTS / "good.json").read_text(encoding="utf-8"))
    assert doc["schema"] == "eems-check/report" and len(read_report(REPORTS / "good.json").servers) == 2
