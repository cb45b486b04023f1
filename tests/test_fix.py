"""One fix per server: the lowest build clearing every build rule, its KB, the path off a dead CU line, the ESU
caveat, third-party-only builds marked, and the non-build actions first. Expected values come from
tests/fixtures/fix-cases.yaml, written from Microsoft's build list, not from the rules file."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import yaml

from eems_check.evaluate import evaluate_server
from eems_check.model import (
    BuildSource,
    Collection,
    CollectionStatus,
    EemsSettings,
    FixBuild,
    Inventory,
    OrgInfo,
    ServerRecord,
    ServiceState,
)
from eems_check.ruleset import RuleSet

from .conftest import FIXTURES

CASES = yaml.safe_load((FIXTURES / "fix-cases.yaml").read_text(encoding="utf-8"))
RUNNING = ServiceState("MSExchangeMitigation", "Running", "Automatic")


def _server(build: str | None, **changes: Any) -> ServerRecord:
    fields: dict[str, Any] = {"name": "EX1", "eems": EemsSettings(enabled=True), "service": RUNNING,
                              "service_collected": True}  # fmt: skip
    if build and build.startswith("adv:"):
        fields.update(admin_display_version=build[4:], build_source=BuildSource.ADMIN_DISPLAY_VERSION)
    elif build:
        fields.update(exsetup_version=build, build_source=BuildSource.EXSETUP)
    fields.update(changes)
    return ServerRecord(**fields)


def _evaluate(ruleset: RuleSet, server: ServerRecord, today: str) -> Any:
    inventory = Inventory(OrgInfo("Contoso", True), (server,))
    return evaluate_server(server, inventory, ruleset, dt.date.fromisoformat(today))


def _matches(actual: FixBuild | None, expected: dict[str, Any] | None) -> None:
    if expected is None:
        assert actual is None
        return
    assert actual is not None
    for key, value in expected.items():
        assert getattr(actual, key) == value, (key, actual)


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_the_fix_is_the_lowest_build_that_clears_every_build_rule(ruleset: RuleSet, case: dict[str, Any]) -> None:
    fix = _evaluate(ruleset, _server(case["build"]), case["today"]).fix
    _matches(fix.build, case["install"])
    for key in ("newest", "confirmed"):
        if key in case:
            _matches(getattr(fix, key), case[key])
    for key in ("path", "caveat", "note"):
        if key in case and case[key] is None:
            assert getattr(fix, key) is None, key
        for fragment in case.get(key) or ():
            assert fragment in (getattr(fix, key) or ""), (key, getattr(fix, key))


def test_a_third_party_only_build_is_marked_wherever_the_fix_names_it(ruleset: RuleSet) -> None:
    fix = _evaluate(ruleset, _server("15.2.1118.26"), "2026-11-27").fix
    assert "Exchange SE RTM Sep26SUv2 (15.2.2562.53) is reported only by third parties" in fix.text
    assert "KB5121573" in fix.text  # the newest build Microsoft confirmed, with its KB
    alone = _evaluate(ruleset, _server("15.2.2562.46"), "2026-11-27").fix
    assert "reported only by third parties" in alone.text and "third-party report only" in alone.short


def test_a_build_rule_no_longer_recommends_a_target_that_fails_the_strictest_rule(ruleset: RuleSet) -> None:
    report = _evaluate(ruleset, _server("15.2.1118.25"), "2026-11-27")
    texts = {f.rule_id: f.remediation.text for f in report.findings if f.remediation and f.verdict.value == "fail"}
    for rule_id in ("EEMS-OCS-2023", "EEMS-NEW-2026", "LATEST-UPDATE", "PRODUCT-SUPPORT"):
        assert "Exchange SE RTM Jun26SU (15.2.2562.43, KB5094139)" in texts[rule_id], rule_id
        assert "CU12 Mar23SU" not in texts[rule_id] and "CU12 Nov23SU" not in texts[rule_id]


ACTIONS = [
    pytest.param({}, [], id="healthy"),
    pytest.param(
        {"service": ServiceState("MSExchangeMitigation", "Stopped", "Manual")},
        ["start MSExchangeMitigation and set it to Automatic"],
        id="service-stopped",
    ),
    pytest.param({"eems": EemsSettings(enabled=False)}, ["switch EEMS on for the server"], id="server-switch-off"),
    pytest.param({"eems": EemsSettings(enabled=True, blocked=("M2",))}, ["unblock M2"], id="blocked"),
    pytest.param(
        {"collection": Collection(CollectionStatus.UNREACHABLE, "connection refused")},
        ["make the server reachable for the scan (unreachable: connection refused)"],
        id="unreachable",
    ),
    pytest.param(
        {
            "collection": Collection(CollectionStatus.UNREACHABLE, "timed out"),
            "eems": EemsSettings(enabled=True, blocked=("M2",)),
        },
        ["make the server reachable", "unblock M2"],
        id="unreachable-before-blocked",
    ),
]


@pytest.mark.parametrize(("changes", "expected"), ACTIONS)
def test_non_build_actions_come_first_in_order_of_urgency(
    ruleset: RuleSet, changes: dict[str, Any], expected: list[str]
) -> None:
    fix = _evaluate(ruleset, _server("15.2.2562.53", **changes), "2026-11-27").fix
    assert len(fix.actions) == len(expected), fix.actions
    for action, start in zip(fix.actions, expected, strict=True):
        assert action.startswith(start), fix.actions
    assert fix.text.lower().startswith(expected[0].lower() if expected else "nothing to install")
