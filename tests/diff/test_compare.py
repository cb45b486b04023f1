"""compare(): every kind of change between saved reports, as expected.yaml and cases.yaml list them."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from typing import Any

import pytest

from eems_check.diff import Changes, compare, diff_files
from eems_check.evaluate import evaluate
from eems_check.inventory import read_inventory
from eems_check.model import Report
from eems_check.render.json_report import report_to_document
from eems_check.report_io import report_from_document
from eems_check.ruleset import RuleSet

from ..conftest import GENERATED, TODAY
from ..test_report import SAMPLE
from .helpers import REPORTS, finding, load_yaml, read, report, server

EXPECTED = {case["name"]: case for case in load_yaml("expected.yaml")}
CASES = load_yaml("cases.yaml")


def observed(changes: Changes) -> dict[str, Any]:
    """The changes in expected.yaml's vocabulary."""
    return {
        "added": [s.server for s in changes.added_servers],
        "removed": [s.server for s in changes.removed_servers],
        "builds": [[b.server, b.old_number, b.new_number, b.direction] for b in changes.build_changes],
        "new": [[f.server, f.rule_id, f.severity.value, f.verdict.value] for f in changes.new_findings],
        "resolved": [[f.server, f.rule_id, f.severity.value, f.verdict.value] for f in changes.resolved_findings],
        "changed": [
            [c.server, c.rule_id, c.old_severity.value, c.new_severity.value, c.direction]
            for c in changes.severity_changes
        ],
        "unchanged": changes.unchanged_servers,
    }


@pytest.mark.parametrize("name", list(EXPECTED))
def test_saved_report_pairs(name: str) -> None:
    case = EXPECTED[name]
    changes = diff_files(REPORTS / case["before"], REPORTS / case["after"])
    got = observed(changes)
    want = dict(case)
    if "same_as" in case:
        want = {**EXPECTED[case["same_as"]], **{k: v for k, v in case.items() if k != "same_as"}}
    for key in ("added", "removed", "builds", "new", "resolved", "changed", "unchanged"):
        if key in want:
            assert got[key] == want[key], key
    assert len(changes.new_findings) == want.get("new_count", len(got["new"]))
    assert len(changes.resolved_findings) == want.get("resolved_count", len(got["resolved"]))
    assert changes.since == dt.datetime.fromisoformat(want["since"])
    assert changes.is_empty is want.get("empty", False)
    assert len(changes.warnings) == len(want["warnings"])
    for text, expected in zip(changes.warnings, want["warnings"], strict=True):
        assert expected in text


@pytest.mark.parametrize("case", CASES["findings"], ids=lambda c: f"{c['then']}->{c['now']}")
def test_one_finding_then_and_now(case: dict[str, Any]) -> None:
    def doc(stamp: str, row: list[str] | None) -> Report:
        findings = [finding("RULE-X", *row)] if row else []
        return report(stamp, [server("EX01", [*findings, finding("RULE-OK", "pass", "ok")], "15.2.1118.40")])

    changes = compare(doc("2026-10-01T07:00:00Z", case["then"]), doc("2026-11-27T07:00:00Z", case["now"]))
    kinds = {
        "new": changes.new_findings,
        "resolved": changes.resolved_findings,
        "changed": changes.severity_changes,
    }
    expect = case["expect"]
    kind, _, direction = expect.partition(":")
    for name, found in kinds.items():
        assert len(found) == (1 if name == kind else 0), name
    if direction:
        assert changes.severity_changes[0].direction == direction
    assert changes.is_empty is (expect == "none")
    assert changes.unchanged_servers == (1 if expect == "none" else 0)


@pytest.mark.parametrize("case", CASES["builds"], ids=lambda c: f"{c['then']}->{c['now']}")
def test_build_changes(case: dict[str, Any]) -> None:
    def doc(stamp: str, build: list[str]) -> Report:
        return report(stamp, [server("EX01", [], build[0], build[1])])

    changes = compare(doc("2026-10-01T07:00:00Z", case["then"]), doc("2026-11-27T07:00:00Z", case["now"]))
    assert [b.direction for b in changes.build_changes] == ([case["expect"]] if case["expect"] else [])


def test_a_report_in_memory_compares_like_its_saved_file(ruleset: RuleSet) -> None:
    """`scan --compare-to`: the new side is the report just evaluated, never read back; the saved fixture is that
    same report, so this also proves the fixture is current."""
    now = evaluate(read_inventory(SAMPLE), ruleset, today=TODAY, generated_at=GENERATED)
    saved = json.loads((REPORTS / "contoso-2026-11-27.json").read_text(encoding="utf-8"))
    stale = "fixtures out of date: python -m tests.diff.make_fixtures"
    assert report_to_document(now)["results"] == saved["results"], stale
    assert compare(
        read("contoso-2026-10-01.json"),
        now,
        old_label=str(REPORTS / "contoso-2026-10-01.json"),
        new_label=str(REPORTS / "contoso-2026-11-27.json"),
    ) == diff_files(REPORTS / "contoso-2026-10-01.json", REPORTS / "contoso-2026-11-27.json")


def _pair() -> tuple[dict[str, Any], dict[str, Any]]:
    return (
        json.loads((REPORTS / "contoso-2026-10-01.json").read_text(encoding="utf-8")),
        json.loads((REPORTS / "contoso-2026-11-27.json").read_text(encoding="utf-8")),
    )


def _compare(old: dict[str, Any], new: dict[str, Any]) -> Changes:
    return compare(report_from_document(old, "old.json"), report_from_document(new, "new.json"))


def test_rules_version_change_is_a_warning_not_an_error() -> None:
    old, new = _pair()
    old["run"]["rules_version"] = "2026.06.10"
    changes = _compare(old, new)
    assert changes.warnings == (
        "the rules changed (2026.06.10 -> 2026.11.27): some changes may come from the rules, not from the servers",
    )
    assert changes.counts.resolved_findings == 3


def test_organisation_names_compare_case_insensitively() -> None:
    old, new = _pair()
    old["inventory"]["organization"]["name"] = "CONTOSO "
    assert _compare(old, new).warnings == ()


def test_counts_totals_and_immutability() -> None:
    changes = _compare(*_pair())
    c = changes.counts
    assert (c.added_servers, c.removed_servers, c.build_changes) == (1, 1, 1)
    assert (c.new_findings, c.resolved_findings, c.severity_changes) == (8, 3, 8)
    assert (c.worse_changes, c.better_changes, c.undecided_changes) == (6, 0, 2)
    assert (c.worse, c.better, c.unchanged_servers) == (14, 3, 4)
    totals = {t.label: (t.old_fail, t.new_fail) for t in changes.rule_totals}
    assert totals == {"EEMS Mar 2023": (5, 2), "EEMS Jun 2026": (9, 7), "Support": (11, 10)}
    by_sev = {t.severity.value: (t.old, t.new) for t in changes.severity_totals}
    assert by_sev == {"error": (10, 11), "warning": (2, 0), "ok": (0, 1)}
    assert changes.old.servers == changes.new.servers == 12
    assert (changes.old.org, changes.new.org) == ("Contoso", "Contoso")
    added = changes.added_servers[0]
    assert (added.build_number, added.worst.value, added.problems, added.top_rule_id) == ("15.2.2562.53", "ok", 0, None)
    gone = changes.removed_servers[0]
    assert (gone.worst.value, gone.problems, gone.top_rule_id) == ("error", 8, "EEMS-OCS-2023")
    with pytest.raises(dataclasses.FrozenInstanceError):
        changes.unchanged_servers = 0  # type: ignore[misc]
