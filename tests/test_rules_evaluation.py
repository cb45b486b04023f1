"""The rules judged against builds: the EEMS boundaries per CU line, support, servicing and build knowledge."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import yaml

from eems_check.evaluate import evaluate_server
from eems_check.model import (
    BuildSource,
    Collection,
    CollectionStatus,
    EemsSettings,
    EventRecord,
    GetMitigationsResult,
    Inventory,
    LogLine,
    OcsProbe,
    OrgInfo,
    ServerRecord,
    ServiceState,
    Severity,
    Verdict,
)
from eems_check.ruleset import RuleSet

CASES: list[dict[str, Any]] = yaml.safe_load((Path(__file__).parent / "fixtures" / "rule-cases.yaml").read_text())


def judge(
    ruleset: RuleSet,
    server: ServerRecord,
    rule: str,
    today: dt.date = dt.date(2026, 11, 27),
    org_enabled: bool | None = True,
) -> Any:
    inv = Inventory(org=OrgInfo("Org", mitigations_enabled=org_enabled), servers=(server,))
    finding = evaluate_server(server, inv, ruleset, today).finding(rule)
    assert finding is not None
    return finding


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c['rule']}-{c['build']}-{c.get('today', '')}")
def test_build_rules_decide_per_cu_line(ruleset: RuleSet, case: dict[str, Any]) -> None:
    source = BuildSource(case.get("source", "exsetup"))
    server = ServerRecord(
        name="EX01", exsetup_version=case["build"], admin_display_version=case["build"], build_source=source
    )
    today = dt.date.fromisoformat(case.get("today", "2026-11-27"))
    finding = judge(ruleset, server, case["rule"], today)
    assert finding.verdict is Verdict(case["verdict"]), finding.message
    if "severity" in case:
        assert finding.severity is Severity(case["severity"])
    if "evidence" in case:
        expected = case["evidence"]
        assert (any(expected in e for e in finding.evidence) if expected else finding.evidence == ()), finding.evidence


HEALTHY = ServerRecord(
    name="EX01",
    exsetup_version="15.2.2562.53",
    build_source=BuildSource.EXSETUP,
    eems=EemsSettings(enabled=True, applied=("PING1",)),
    service=ServiceState("MSExchangeMitigation", "Running", "Automatic"),
    service_collected=True,
    events=(),
    log_lines=(),
    ocs_probe=OcsProbe(ran=True, url="https://x", status_code=200),
    get_mitigations=GetMitigationsResult(ran=True),
)

E1008 = EventRecord(
    1008,
    "Error",
    None,
    "Exception encountered while fetching mitigations: This XML is not deemed "
    "safe to consume since Response xml's leaf certificate is from unknown issuer",
)
HEALTH_CASES = [
    ("healthy server passes", {}, True, "EEMS-SERVICE", Verdict.PASS),
    (
        "stopped service fails",
        {"service": ServiceState("MSExchangeMitigation", "Stopped", "Automatic")},
        True,
        "EEMS-SERVICE",
        Verdict.FAIL,
    ),
    (
        "manual start fails",
        {"service": ServiceState("MSExchangeMitigation", "Running", "Manual")},
        True,
        "EEMS-SERVICE",
        Verdict.FAIL,
    ),
    ("missing service fails", {"service": None}, True, "EEMS-SERVICE", Verdict.FAIL),
    (
        "service not collected is n/a",
        {"service": None, "service_collected": False},
        True,
        "EEMS-SERVICE",
        Verdict.NOT_APPLICABLE,
    ),
    ("org switch off fails", {}, False, "EEMS-ENABLED", Verdict.FAIL),
    ("server switch off fails", {"eems": EemsSettings(enabled=False)}, True, "EEMS-ENABLED", Verdict.FAIL),
    ("org switch unreadable is unknown", {}, None, "EEMS-ENABLED", Verdict.UNKNOWN),
    (
        "blocked mitigation fails",
        {"eems": EemsSettings(enabled=True, blocked=("M2",))},
        True,
        "EEMS-BLOCKED",
        Verdict.FAIL,
    ),
    ("event 1008 is evidence", {"events": (E1008,)}, True, "EEMS-FETCH-ERRORS", Verdict.FAIL),
    (
        "untrusted endpoint log line is evidence",
        {
            "log_lines": (
                LogLine(
                    "a.log",
                    "FetchMitigation,S:LogLevel=Warning;S:Message=Connection attempted against untrusted endpoint",
                ),
            )
        },
        True,
        "EEMS-FETCH-ERRORS",
        Verdict.FAIL,
    ),
    (
        "event 1005 is no evidence",
        {"events": (EventRecord(1005, "Information", None, "Mitigation applied"),)},
        True,
        "EEMS-FETCH-ERRORS",
        Verdict.PASS,
    ),
    (
        "unreachable OCS fails",
        {"ocs_probe": OcsProbe(ran=True, url="https://x", error="timed out")},
        True,
        "EEMS-OCS-REACHABLE",
        Verdict.FAIL,
    ),
    (
        "probe not run is n/a",
        {"ocs_probe": OcsProbe(ran=False, reason="not requested")},
        True,
        "EEMS-OCS-REACHABLE",
        Verdict.NOT_APPLICABLE,
    ),
    (
        "Get-Mitigations warning fails",
        {
            "get_mitigations": GetMitigationsResult(
                ran=True,
                warnings=(
                    "Connection with Mitigation Endpoint was not successful. To enable connectivity please refer: "
                    "https://aka.ms/HelpConnectivityEEMS",
                ),
            )
        },
        True,
        "EEMS-GET-MITIGATIONS",
        Verdict.FAIL,
    ),
    (
        "Get-Mitigations without delegation is n/a",
        {"get_mitigations": GetMitigationsResult(ran=False, reason="no delegation")},
        True,
        "EEMS-GET-MITIGATIONS",
        Verdict.NOT_APPLICABLE,
    ),
    (
        "unreachable server fails collection",
        {"collection": Collection(CollectionStatus.UNREACHABLE, "connection refused")},
        True,
        "COLLECTION",
        Verdict.FAIL,
    ),
    (
        "HTTPS build equal to ExSetup passes",
        {"http_version": "15.2.2562.53"},
        True,
        "BUILD-SOURCES-AGREE",
        Verdict.PASS,
    ),
    (
        "HTTPS build other than ExSetup fails",
        {"http_version": "15.2.2562.49"},
        True,
        "BUILD-SOURCES-AGREE",
        Verdict.FAIL,
    ),
    ("no HTTPS build is n/a", {}, True, "BUILD-SOURCES-AGREE", Verdict.NOT_APPLICABLE),
    ("edge server is only informational", {"is_edge": True}, True, "EDGE-SERVER", Verdict.FAIL),
    ("edge server has no EEMS rules", {"is_edge": True}, True, "EEMS-OCS-2023", Verdict.NOT_APPLICABLE),
    # A TLS-inspecting proxy answers 200 with its own certificate; Microsoft documents that inspection breaks EEMS.
    (
        "certificate from an inspecting proxy fails",
        {"ocs_probe": OcsProbe(ran=True, url="https://x", status_code=200,
                               certificate_issuer="CN=Contoso Inspection CA, O=Contoso, C=NL")},
        True,
        "EEMS-OCS-REACHABLE",
        Verdict.FAIL,
    ),
    (
        "certificate from Microsoft's issuer passes",
        {"ocs_probe": OcsProbe(ran=True, url="https://x", status_code=200,
                               certificate_issuer="CN=Microsoft Azure RSA TLS Issuing CA 03, "
                               "O=Microsoft Corporation, C=US")},
        True,
        "EEMS-OCS-REACHABLE",
        Verdict.PASS,
    ),
    # 407 from the probe's session says nothing of EEMS, which authenticates as the computer account.
    (
        "proxy authentication required is inconclusive",
        {"ocs_probe": OcsProbe(ran=True, url="https://x", status_code=407,
                               error="proxy requires authentication (inconclusive)")},
        True,
        "EEMS-OCS-REACHABLE",
        Verdict.UNKNOWN,
    ),
    (
        "a connectivity warning from the admin's computer says nothing about the server",
        {"get_mitigations": GetMitigationsResult(ran=True, host="ADMIN01")},
        True,
        "EEMS-GET-MITIGATIONS",
        Verdict.UNKNOWN,
    ),
    (
        "the server's own connectivity warning fails",
        {"get_mitigations": GetMitigationsResult(
            ran=True, host="EX01", warnings=("Connection with Mitigation Endpoint was not successful.",))},
        True,
        "EEMS-GET-MITIGATIONS",
        Verdict.FAIL,
    ),
]


@pytest.mark.parametrize(("name", "changes", "org", "rule", "verdict"), HEALTH_CASES, ids=[c[0] for c in HEALTH_CASES])
def test_eems_health_rules(
    ruleset: RuleSet, name: str, changes: dict[str, Any], org: bool | None, rule: str, verdict: Verdict
) -> None:
    import dataclasses

    server = dataclasses.replace(HEALTHY, **changes)
    assert judge(ruleset, server, rule, org_enabled=org).verdict is verdict


def test_partial_collection_is_a_warning_not_an_error(ruleset: RuleSet) -> None:
    import dataclasses

    server = dataclasses.replace(HEALTHY, collection=Collection(CollectionStatus.PARTIAL, "events not readable"))
    finding = judge(ruleset, server, "COLLECTION")
    assert (finding.verdict, finding.severity) == (Verdict.FAIL, Severity.WARNING)


def test_edge_finding_is_info_severity(ruleset: RuleSet) -> None:
    import dataclasses

    finding = judge(ruleset, dataclasses.replace(HEALTHY, is_edge=True), "EDGE-SERVER")
    assert finding.severity is Severity.INFO


def test_unparseable_build_is_reported_not_raised(ruleset: RuleSet) -> None:
    server = ServerRecord(name="EX01", exsetup_version="n/a", build_source=BuildSource.EXSETUP)
    finding = judge(ruleset, server, "BUILD-KNOWN")
    assert finding.verdict is Verdict.FAIL and "unusable" in finding.message


def test_failing_eems_rule_names_the_minimum_of_the_line(ruleset: RuleSet) -> None:
    server = ServerRecord(name="EX01", exsetup_version="15.2.1118.25", build_source=BuildSource.EXSETUP)
    finding = judge(ruleset, server, "EEMS-OCS-2023")
    assert "15.2.1118.26" in finding.message and "Exchange 2019 CU12 Feb23SU" in finding.message
    assert finding.remediation is not None and finding.remediation.url
