"""format_text(), headline() and changes_to_dict(): the terminal and JSON forms of the changes."""

from __future__ import annotations

import json

import pytest

from eems_check.diff import Changes, changes_to_dict, diff_files, format_text, headline

from .helpers import REPORTS


def pair(old: str, new: str) -> Changes:
    return diff_files(REPORTS / old, REPORTS / new)


CONTOSO = ("contoso-2026-10-01.json", "contoso-2026-11-27.json")
HOSTILE = ("hostile-2026-10-01.json", "hostile-2026-11-27.json")
SAME = ("contoso-2026-11-27.json", "contoso-2026-11-27.json")


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        (
            CONTOSO,
            "Changes since 2026-10-01 07:00 UTC: 1 server added, 1 server gone, 1 build changed, 8 new findings, "
            "3 resolved, 8 severity changes",
        ),
        (
            HOSTILE,
            "Changes since 2026-10-01 07:00 UTC: 1 server added, 1 server gone, 1 build changed, 1 new finding, "
            "3 resolved",
        ),
        (SAME, "No changes since 2026-11-27 07:00 UTC"),
    ],
)
def test_headline(files: tuple[str, str], expected: str) -> None:
    assert headline(pair(*files)) == expected


def test_text_lists_every_change_worst_first() -> None:
    text = format_text(pair(*CONTOSO))
    lines = text.splitlines()
    assert lines[0] == headline(pair(*CONTOSO))
    for expected in (
        "Servers failing: EEMS Mar 2023 5->2, EEMS Jun 2026 9->7, Support 11->10",
        "  + EXSE01: Exchange SE RTM Sep26SUv2 (15.2.2562.53), worst PASS, 0 problems",
        "  EX16-23A: Exchange 2016 CU23 Jan23SU (15.1.2507.17) -> Exchange 2016 CU23 Sep26SUv2 (15.1.2507.75)",
        "  ERROR    EX16-23A EEMS-OCS-2023: EEMS cannot fetch mitigations: the build is older than the March 2023 SU "
        "of its CU line",
        "4 servers unchanged.",
    ):
        assert expected in lines
    assert lines.index("New findings:") < lines.index("Resolved:") < lines.index("Severity changed:")
    new_block = lines[lines.index("New findings:") + 1 : lines.index("Resolved:")]
    assert new_block[0].startswith("  ERROR    EXSE02 EEMS-FETCH-ERRORS: ")
    assert any(line.startswith("  UNKNOWN  EX19-12B EEMS-OCS-2023: ERROR -> WARNING/UNKNOWN") for line in lines)
    assert text.endswith("\n")
    assert all(line.isprintable() for line in lines)


def test_text_neutralises_terminal_escapes_in_names() -> None:
    text = format_text(pair(*HOSTILE))
    assert "\x1b" not in text
    assert "+ EVIL\\x1b[31mRED:" in text
    assert "warning: the previous report is of organisation" in text


def test_text_of_no_changes_is_short() -> None:
    text = format_text(pair(*SAME))
    assert text.splitlines()[0] == "No changes since 2026-11-27 07:00 UTC"
    assert "New findings" not in text and "unchanged" not in text


@pytest.mark.parametrize("files", [CONTOSO, HOSTILE, SAME])
def test_json_document(files: tuple[str, str]) -> None:
    changes = pair(*files)
    doc = json.loads(json.dumps(changes_to_dict(changes)))
    assert (doc["schema"], doc["schema_version"]) == ("eems-check/changes", 1)
    assert doc["since"] == changes.since.isoformat().replace("+00:00", "Z")
    assert doc["is_empty"] is changes.is_empty
    for key in ("added_servers", "removed_servers", "build_changes", "new_findings", "resolved_findings"):
        assert doc["counts"][key] == len(doc[key])
    assert doc["counts"]["severity_changes"] == len(doc["severity_changes"])
    assert doc["counts"]["worse"] == changes.counts.worse


def test_json_document_content() -> None:
    doc = changes_to_dict(pair(*CONTOSO))
    assert doc["build_changes"] == [
        {
            "server": "EX16-23A",
            "old": {"name": "Exchange 2016 CU23 Jan23SU", "number": "15.1.2507.17"},
            "new": {"name": "Exchange 2016 CU23 Sep26SUv2", "number": "15.1.2507.75"},
            "direction": "update",
            "worst": "error",
        }
    ]
    change = next(c for c in doc["severity_changes"] if c["rule_id"] == "EEMS-OCS-2023")
    assert change["old"]["severity"] == "error" and change["new"]["verdict"] == "unknown"
    assert change["direction"] == "undecided"
    assert doc["removed_servers"][0]["top_problem"]["rule_id"] == "EEMS-OCS-2023"
    assert doc["old"]["label"].endswith("contoso-2026-10-01.json")
