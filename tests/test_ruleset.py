"""Rules files: every problem is one line naming file and line; overrides merge by id."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from eems_check.builds import parse_build
from eems_check.errors import RulesError
from eems_check.evaluate import evaluate_server
from eems_check.model import BuildSource, Inventory, OrgInfo, ServerRecord, Severity, Verdict
from eems_check.ruleset import load_ruleset

RULES = Path(__file__).parent / "fixtures" / "rules"

BAD_FILES = [
    ("unknown-key.yaml", 6, "unknown key 'colour'"),
    ("duplicate-id.yaml", 8, "duplicate rule 'A' (first at line 3)"),
    ("bad-build.yaml", 3, "not an Exchange build number"),
    ("bad-severity.yaml", 4, "severity must be one of"),
    ("wrong-type.yaml", 4, "enabled must be true or false"),
    ("unknown-kind.yaml", 6, "'telepathy' is not one of"),
    ("unknown-fact.yaml", 7, "uses {colour}"),
    ("bad-yaml.yaml", 5, "invalid YAML"),
    ("bad-schema-version.yaml", 1, "schema_version 2 is not supported"),
    ("unknown-product.yaml", 3, "unknown product '2021'"),
    ("missing-severity.yaml", 3, "missing the required key 'severity'"),
    ("duplicate-key.yaml", 3, "duplicate key 'released'"),
    ("bad-kb.yaml", 3, "kb must look like KB5094139"),
    ("bad-release-post.yaml", 8, "release_post must be an https:// address"),
]


@pytest.mark.parametrize(("name", "line", "problem"), BAD_FILES, ids=[b[0] for b in BAD_FILES])
def test_a_bad_rules_file_is_one_line_naming_file_and_line(name: str, line: int, problem: str) -> None:
    with pytest.raises(RulesError) as err:
        load_ruleset([RULES / name])
    text = str(err.value)
    assert "\n" not in text
    assert text.startswith(f"{RULES / name}:{line}: "), text
    assert problem in text


def test_a_missing_file_is_named() -> None:
    with pytest.raises(RulesError, match=r"nope\.yaml: cannot read"):
        load_ruleset([RULES / "nope.yaml"])


def test_bundled_rules_carry_version_date_and_sources() -> None:
    rs = load_ruleset()
    assert rs.schema_version == 1
    assert rs.as_of == dt.date(2026, 11, 27)
    assert {s.key for s in rs.sources} >= {"L-BUILD", "GEBN", "HC", "BLOG-2025-01", "BLOG-2026-06"}
    assert rs.build_count == 305
    ids = [r.id for r in rs.rules]
    assert len(ids) == len(set(ids))


def test_override_adds_builds_and_changes_rules_by_id() -> None:
    rs = load_ruleset([RULES / "good-override.yaml"])
    assert rs.as_of == dt.date(2026, 12, 10)
    assert rs.rules_version == "2026.11.27+local.1"
    resolved = rs.catalogue.resolve(parse_build("15.2.2562.57"))
    assert resolved.name == "Exchange SE RTM Dec26SU"
    rules = {r.id: r for r in rs.rules}
    assert rules["LATEST-UPDATE"].severity is Severity.ERROR
    assert rules["LATEST-UPDATE"].title.startswith("The server runs")  # untouched fields survive the merge
    assert not rules["EEMS-BLOCKED"].enabled
    server = ServerRecord(name="EX", exsetup_version="15.2.2562.53", build_source=BuildSource.EXSETUP)
    report = evaluate_server(server, Inventory(OrgInfo("O", True), (server,)), rs, dt.date(2026, 12, 20))
    latest = report.finding("LATEST-UPDATE")
    assert latest is not None and latest.verdict is Verdict.FAIL and latest.severity is Severity.ERROR
    assert report.finding("EEMS-BLOCKED") is None
