"""load_report_document() and the validation compare() shares: one-line errors naming the file and the field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from eems_check.diff import compare, diff_files, load_report_document
from eems_check.errors import InputError, InventoryError

from .helpers import MALFORMED, REPORTS, load_yaml

CASES = load_yaml("cases.yaml")["malformed"]


def test_every_malformed_fixture_has_a_case() -> None:
    assert {c["file"] for c in CASES} == {p.name for p in MALFORMED.glob("*.json")}


@pytest.mark.parametrize("case", CASES, ids=lambda c: c["file"])
def test_malformed_reports(case: dict[str, Any]) -> None:
    path = MALFORMED / case["file"]
    with pytest.raises(InventoryError) as caught:
        load_report_document(path)
    message = str(caught.value)
    assert message.startswith(f"{path}:") and "\n" not in message
    for part in case["error"]:
        assert part in message
    assert isinstance(caught.value, InputError) and caught.value.exit_code == 2


@pytest.mark.parametrize("side", ["old", "new"])
def test_diff_names_the_bad_file(side: str) -> None:
    good, bad = REPORTS / "contoso-2026-11-27.json", MALFORMED / "bad-severity.json"
    with pytest.raises(InventoryError, match=rf"^{bad}: results\[0\]\.findings\[1\]\.severity: "):
        diff_files(bad, good) if side == "old" else diff_files(good, bad)


def test_compare_labels_in_memory_documents() -> None:
    good = json.loads((REPORTS / "contoso-2026-11-27.json").read_text(encoding="utf-8"))
    with pytest.raises(InventoryError, match=r"^previous report: results: must be a list"):
        compare({**good, "results": None}, good)
    with pytest.raises(InventoryError, match=r"^scan of today: schema: "):
        compare(good, {"schema": "nope", "results": []}, new_label="scan of today")


def test_missing_file() -> None:
    with pytest.raises(InventoryError, match=r"nowhere\.json: cannot read"):
        load_report_document(REPORTS / "nowhere.json")


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16"])
def test_reports_saved_by_windows_tools_load(tmp_path: Path, encoding: str) -> None:
    original = (REPORTS / "contoso-2026-10-01.json").read_text(encoding="utf-8")
    path = tmp_path / "report.json"
    path.write_text(original, encoding=encoding)
    assert load_report_document(path) == json.loads(original)
    assert diff_files(path, REPORTS / "contoso-2026-11-27.json").counts.resolved_findings == 3


def test_returns_the_document_as_read() -> None:
    path = REPORTS / "contoso-2026-11-27.json"
    doc = load_report_document(str(path))
    assert doc == json.loads(path.read_text(encoding="utf-8"))
    assert doc["schema"] == "eems-check/report"
