"""Recorded-shape collector answers become `ServerRecord`s through the inventory schema and conversion."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import pytest

from eems_check.collect.collector import Bounds
from eems_check.collect.records import collection_outcome, server_record
from eems_check.model import BuildSource, CollectionStatus, ServerRecord

from .conftest import FIXTURES

STARTED = dt.datetime(2026, 11, 27, 10, 0, tzinfo=dt.timezone.utc)
FACTS: dict[str, Any] = {
    "name": "EX01", "fqdn": "ex01.contoso.lab", "site": "Amsterdam", "roles": ["Mailbox"], "edition": "Standard",
    "is_edge": False, "admin_display_version": "Version 15.2 (Build 1748.10)",
    "eems": {"enabled": True, "applied": ["PING1"], "blocked": [], "data_collection_enabled": False,
             "internet_web_proxy": None},
}


@dataclass(frozen=True)
class Case:
    fixture: str
    status: CollectionStatus
    reason: str | None = None  # a part of the reason, or None for no reason at all
    checks: dict[str, Any] = field(default_factory=dict)  # dotted ServerRecord attribute -> expected value
    bounds: Bounds = field(default_factory=Bounds)


CASES = [
    Case("normal.json", CollectionStatus.OK, None, {
        "exsetup_version": "15.02.1748.046", "build_source": BuildSource.EXSETUP, "service.status": "Running",
        "service.start_type": "Automatic", "events[0].id": 1008, "events[0].level": "Error",
        "events[0].time": dt.datetime(2026, 11, 27, 9, 0, tzinfo=dt.timezone.utc), "log_lines[0].file":
        "MitigationService_2026112709-1.log", "ocs_probe.status_code": 200, "ocs_probe.reachable": True,
        "get_mitigations.mitigations[1].id": "M2.1.0",
        "collection.collected_at": dt.datetime(2026, 11, 27, 10, 15, 0, 123456, tzinfo=dt.timezone.utc)}),
    Case("ps51_quirks.json", CollectionStatus.OK, "bounded: events", {
        "build_source": BuildSource.REGISTRY, "service.status": "Stopped", "service.start_type": "Manual",
        "events[0].level": "Error", "events[0].time": dt.datetime(2026, 11, 27, 9, 15, tzinfo=dt.timezone.utc),
        "log_lines[0].line": "FetchMitigation,S:LogLevel=Error;S:Message=untrusted",
        "get_mitigations.mitigations[0].id": "PING1", "get_mitigations.warnings[0]":
        "Connection with Mitigation Endpoint was not successful. To enable connectivity please refer: "
        "https://aka.ms/HelpConnectivityEEMS", "get_mitigations.errors": (), "ocs_probe.ran": False,
        "collection.collected_at": dt.datetime(2026, 11, 27, 10, 15, tzinfo=dt.timezone.utc)}),
    Case("service_missing.json", CollectionStatus.OK, None, {
        "service": None, "service_collected": True, "events": (), "log_lines": (), "ocs_probe.status_code": 407,
        "ocs_probe.reachable": None, "ocs_probe.proxy_auth_required": True, "exsetup_version": "15.01.2375.037"}),
    Case("hostless_no_delegation.json", CollectionStatus.OK, None, {
        "get_mitigations.ran": False, "get_mitigations.host": "EX01", "get_mitigations.reason":
        "no delegated credentials on EX01 for the second hop to its own /PowerShell (Connecting to remote server "
        "ex01.contoso.lab failed with the following error message : Access is denied. For more information, see "
        "the about_Remote_Troubleshooting Help topic.); --probe-ocs tests the Office Config Service from the "
        "server without them"}),
    Case("script_stopped.json", CollectionStatus.OK, None, {
        "get_mitigations.ran": True, "get_mitigations.warnings[0]":
        "Connection with Mitigation Endpoint was not successful. To enable connectivity please refer: "
        "https://aka.ms/HelpConnectivityEEMS", "get_mitigations.errors":
        ("Get-Mitigations.ps1 stopped: You cannot call a method on a null-valued expression.",),
        "get_mitigations.mitigations[0].id": "PING1"}),
    Case("log_file_skipped.json", CollectionStatus.PARTIAL,
         "EEMS log file MitigationService_2026112601-1.log skipped: Access to the path", {
             "log_lines[0].file": "MitigationService_2026112709-1.log", "events[0].id": 1008}),
    Case("intercepted.json", CollectionStatus.OK, None, {
        "ocs_probe.certificate_issuer": "CN=Contoso Inspection CA, O=Contoso, C=NL", "ocs_probe.reachable": True}),
    Case("missing_keys.json", CollectionStatus.PARTIAL, "lacks 'service'", {
        "service_collected": False, "events": None, "log_lines": None, "exsetup_version": None,
        "build_source": BuildSource.ADMIN_DISPLAY_VERSION, "build_string": "Version 15.2 (Build 1748.10)",
        "get_mitigations.ran": False}),
    Case("too_many_lines.json", CollectionStatus.PARTIAL, "kept the first 2", {
        "log_lines[1].line": "error 2", "exsetup_version": "15.02.1748.046"}, Bounds(max_log_lines=2)),
    Case("garbage.txt", CollectionStatus.ERROR, "not JSON", {
        "build_source": BuildSource.ADMIN_DISPLAY_VERSION, "service_collected": False, "events": None}),
    Case("not_collector.json", CollectionStatus.ERROR, "not from the eems-check collector"),
    Case("wrong_computer.json", CollectionStatus.ERROR, "ran on 'EX99', not on 'EX01'"),
    Case("depth_cut.json", CollectionStatus.ERROR, "ConvertTo-Json's depth limit"),
    Case("bad_types.json", CollectionStatus.ERROR, "events.0.id"),
]


def _get(record: ServerRecord, path: str) -> Any:
    value: Any = record
    for part in path.replace("]", "").replace("[", ".").split("."):
        value = value[int(part)] if part.isdigit() else getattr(value, part)
    return value


def _record(text: str, bounds: Bounds, errors: tuple[str, ...] = ()) -> ServerRecord:
    status, reason, reading = collection_outcome([text], errors, False, bounds, "EX01", "http://ex01:5985")
    return server_record(FACTS, reading, status, reason, STARTED, 1234)


@pytest.mark.parametrize("case", CASES, ids=[c.fixture for c in CASES])
def test_collector_answer_becomes_a_record(case: Case) -> None:
    record = _record((FIXTURES / "collector" / case.fixture).read_text(encoding="utf-8"), case.bounds)
    assert record.collection.status is case.status
    if case.reason is None:
        assert record.collection.reason is None
    else:
        assert case.reason in (record.collection.reason or "")
    for path, expected in case.checks.items():
        assert _get(record, path) == expected, path
    assert (record.name, record.site, record.eems.applied, record.collection.duration_ms) == (
        "EX01", "Amsterdam", ("PING1",), 1234)


def test_ps51_text_escapes_are_decoded() -> None:
    record = _record((FIXTURES / "collector" / "ps51_quirks.json").read_text(encoding="utf-8"), Bounds())
    assert record.events is not None
    assert "<b>not</b> & 'safe'" in record.events[0].message


def test_an_answer_larger_than_the_bounds_allow_is_refused() -> None:
    bounds = Bounds(max_events=1, max_log_lines=1)
    text = (FIXTURES / "collector" / "normal.json").read_text(encoding="utf-8")
    padded = text.replace('"truncated":[]', '"truncated":[],"pad":"' + "x" * bounds.max_output_chars + '"')
    record = _record(padded, bounds)
    assert record.collection.status is CollectionStatus.ERROR
    assert "more than its bounds allow" in (record.collection.reason or "")


def test_error_records_from_the_script_make_the_collection_partial() -> None:
    text = (FIXTURES / "collector" / "normal.json").read_text(encoding="utf-8")
    record = _record(text, Bounds(), errors=("Access to the path is denied.",))
    assert record.collection.status is CollectionStatus.PARTIAL
    assert "Access to the path is denied." in (record.collection.reason or "")


def test_a_failed_pipeline_is_an_error_without_collector_data() -> None:
    status, reason, reading = collection_outcome([], ["The term 'x' is not recognized"], True, Bounds(), "EX01",
                                                 "http://ex01:5985")
    assert (status, reading) == (CollectionStatus.ERROR, None)
    assert reason == "http://ex01:5985: the collector failed: The term 'x' is not recognized"


def test_the_json_document_is_the_last_string_written() -> None:
    text = (FIXTURES / "collector" / "normal.json").read_text(encoding="utf-8")
    status, _, reading = collection_outcome(["Loading profile...", text], [], False, Bounds(), "ex01.contoso.lab",
                                            "x")
    assert status is CollectionStatus.OK and reading is not None


def test_no_text_at_all_is_an_error() -> None:
    status, reason, _ = collection_outcome([], [], False, Bounds(), "EX01", "x")
    assert status is CollectionStatus.ERROR and "no text" in (reason or "")
