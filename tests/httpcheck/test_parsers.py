"""Pure parts of the HTTPS cross-check: header and manifest parsing, the result's verdicts, merging into a record."""

from __future__ import annotations

import datetime as dt

import pytest

from eems_check.collect.httpcheck import (
    MAX_MANIFEST_BYTES,
    HttpCheckResult,
    ManifestError,
    header_value,
    merge_http_check,
    normalise_version,
    parse_manifest,
    parse_owa_header,
)
from eems_check.model import BuildSource, Collection, CollectionStatus, ServerRecord

from .conftest import FIXTURES

MANIFESTS = FIXTURES / "manifests"
S = CollectionStatus


@pytest.mark.parametrize(("value", "expected"), [
    ("15.2.1118.26", "15.2.1118.26"),
    (" 15.02.1118.026\r\n", "15.2.1118.26"),
    ("15.1.2375", "15.1.2375"),
    ("15.0.1497.2", "15.0.1497.2"),
    ("15.2", None),
    ("15.2.1118.26.1", None),
    ("Version 15.2 (Build 1118.7)", None),
    ("15.2.1118.26; rm -rf", None),
    ("", None),
    (None, None),
])
def test_normalise_version(value: str | None, expected: str | None) -> None:
    assert normalise_version(value) == expected


@pytest.mark.parametrize(("headers", "expected"), [
    ([("X-OWA-Version", "15.2.1118.26")], "15.2.1118.26"),
    ([("x-owa-version", "15.1.2507.23")], "15.1.2507.23"),
    ([("X-Owa-Version", "15.0.1497.48")], "15.0.1497.48"),
    ([("X-OWA-VERSION", " 15.2.986.5 ")], "15.2.986.5"),
    ([("X-OWA-Version", "15.2.1118")], "15.2.1118"),  # three parts: the CU only
    ([("Server", "Microsoft-IIS/10.0"), ("X-FEServer", "EX01")], None),
    ([("X-OWA-Version", "garbage"), ("X-OWA-Version", "15.2.1748.46")], "15.2.1748.46"),
    ([("X-OWA-Version", "")], None),
    ([("X-OWA-Versions", "15.2.1118.26")], None),
    ([], None),
])
def test_owa_header_is_read_case_insensitively(headers: list[tuple[str, str]], expected: str | None) -> None:
    assert parse_owa_header(headers) == expected


@pytest.mark.parametrize(("headers", "name", "expected"), [
    ([("X-FEServer", "EX01")], "X-FEServer", "EX01"),
    ([("x-feserver", "ex01")], "X-FEServer", "ex01"),
    ([("X-BEServer", "EX02.contoso.lab")], "X-BEServer", "EX02.contoso.lab"),
    ([("X-FEServer", "EX01\r\nSet-Cookie: x")], "X-FEServer", None),
    ([("X-FEServer", "")], "X-FEServer", None),
])
def test_server_name_headers(headers: list[tuple[str, str]], name: str, expected: str | None) -> None:
    assert header_value(headers, name) == expected


@pytest.mark.parametrize(("fixture", "expected"), [
    ("exchange2019.application", "15.2.986.5"),  # the dependency's 15.2.986.0 is not taken
    ("dependency_first.application", "15.1.2375.37"),  # two dependencies before it, name in mixed case
    ("bare_name.application", "15.2.1118.26"),  # name without .application, zero-padded version
    ("three_part.application", "15.0.1497"),
])
def test_manifest_build_comes_from_the_export_tool_identity(fixture: str, expected: str) -> None:
    assert parse_manifest((MANIFESTS / fixture).read_bytes()) == expected


@pytest.mark.parametrize(("data", "problem"), [
    ((MANIFESTS / "only_dependencies.application").read_bytes(), "no assemblyIdentity names the export tool"),
    ((MANIFESTS / "bad_version.application").read_bytes(), "has no build number"),
    ((MANIFESTS / "not_xml.application").read_bytes(), "not XML"),
    ((MANIFESTS / "entities.application").read_bytes(), "DTD"),
    (b"", "not XML"),
    (b"\xff\xfe\x00garbage", "not XML"),
    (b"<assembly>" + b" " * MAX_MANIFEST_BYTES + b"</assembly>", "larger than"),
])
def test_unusable_manifests_say_why(data: bytes, problem: str) -> None:
    with pytest.raises(ManifestError, match=problem):
        parse_manifest(data)


def _result(**kw: object) -> HttpCheckResult:
    values: dict[str, object] = {"name": "EX01", "fqdn": "ex01.contoso.lab", "url": "https://ex01.contoso.lab"}
    values.update(kw)
    return HttpCheckResult(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(("result", "version", "source", "agree", "other"), [
    (_result(header_version="15.2.1118.26", manifest_version="15.2.1118.26"), "15.2.1118.26", "header", True, False),
    (_result(manifest_version="15.2.1118.26"), "15.2.1118.26", "manifest", None, False),
    (_result(header_version="15.2.1118", manifest_version="15.2.1118.26"), "15.2.1118.26", "manifest", True, False),
    (_result(header_version="15.2.1118.26", manifest_version="15.2.1118.7"), "15.2.1118.26", "header", False, False),
    (_result(header_version="15.2.1118"), "15.2.1118", "header", None, False),
    (_result(), None, None, None, False),
    (_result(header_version="15.2.1118.26", fe_server="ex01"), "15.2.1118.26", "header", None, False),
    (_result(header_version="15.2.1118.26", fe_server="EX01.contoso.lab"), "15.2.1118.26", "header", None, False),
    (_result(header_version="15.2.1118.26", fe_server="EX02"), "15.2.1118.26", "header", None, True),
])
def test_result_picks_the_best_build_and_notices_doubts(
    result: HttpCheckResult, version: str | None, source: str | None, agree: bool | None, other: bool
) -> None:
    assert (result.version, result.source, result.agree, result.answered_by_other) == (version, source, agree, other)
    assert result.usable_version == (None if other else version)


ADV = "Version 15.2 (Build 2562.17)"
AT = dt.datetime(2026, 11, 27, tzinfo=dt.timezone.utc)


def _record(status: S, exsetup: str | None = None, adv: str | None = ADV, reason: str | None = None) -> ServerRecord:
    source = BuildSource.EXSETUP if exsetup else BuildSource.ADMIN_DISPLAY_VERSION if adv else None
    return ServerRecord(
        name="EX01",
        fqdn="ex01.contoso.lab",
        admin_display_version=adv,
        exsetup_version=exsetup,
        build_source=source,
        collection=Collection(status, reason, AT, 10),
    )


# (record, result, build source after, build string after, http_version after, words in the reason)
MERGES = [
    pytest.param(
        _record(S.UNREACHABLE, reason="connection refused"),
        _result(header_version="15.2.2562.53", manifest_version="15.2.2562.53"),
        BuildSource.HTTP, "15.2.2562.53", "15.2.2562.53",
        ["connection refused", "WinRM collection failed", "X-OWA-Version header", "not from ExSetup.exe"],
        id="winrm-failed-uses-http",
    ),
    pytest.param(
        _record(S.AUTH_FAILED), _result(manifest_version="15.2.2562.53"),
        BuildSource.HTTP, "15.2.2562.53", "15.2.2562.53", ["export-tool manifest"], id="manifest-only",
    ),
    pytest.param(
        _record(S.PARTIAL), _result(header_version="15.2.2562.53"),
        BuildSource.HTTP, "15.2.2562.53", "15.2.2562.53", ["ExSetup.exe was not read"], id="exsetup-missing",
    ),
    pytest.param(
        _record(S.UNREACHABLE), _result(header_version="15.2.2562"),
        BuildSource.ADMIN_DISPLAY_VERSION, ADV, "15.2.2562", [], id="three-parts-keep-adv",
    ),
    pytest.param(
        _record(S.UNREACHABLE, adv=None), _result(header_version="15.2.2562"),
        BuildSource.HTTP, "15.2.2562", "15.2.2562", ["WinRM collection failed"], id="three-parts-better-than-none",
    ),
    pytest.param(
        _record(S.UNREACHABLE), _result(header_version="15.2.1748.46"),
        BuildSource.ADMIN_DISPLAY_VERSION, ADV, "15.2.1748.46", ["not on the CU of"], id="other-cu-not-used",
    ),
    pytest.param(
        _record(S.UNREACHABLE), _result(header_version="15.2.2562.53", manifest_version="15.2.2562.41"),
        BuildSource.ADMIN_DISPLAY_VERSION, ADV, "15.2.2562.53", ["header and manifest disagree"],
        id="contradicting-http-not-used",
    ),
    pytest.param(
        _record(S.UNREACHABLE), _result(header_version="15.2.2562.53", fe_server="EX02"),
        BuildSource.ADMIN_DISPLAY_VERSION, ADV, None, ["answered by EX02", "load balancer"], id="load-balancer",
    ),
    pytest.param(
        _record(S.OK, exsetup="15.02.2562.053"), _result(header_version="15.2.2562.53"),
        BuildSource.EXSETUP, "15.02.2562.053", "15.2.2562.53", None, id="exsetup-stays",
    ),
    pytest.param(
        _record(S.OK, exsetup="15.02.2562.053"), _result(header_version="15.2.2562.17"),
        BuildSource.EXSETUP, "15.02.2562.053", "15.2.2562.17", None, id="exsetup-disagrees-left-to-the-rule",
    ),
    pytest.param(
        _record(S.OK, exsetup="15.02.2562.053"),
        _result(header_version="15.2.2562.53", manifest_version="15.2.2562.41"),
        BuildSource.EXSETUP, "15.02.2562.053", "15.2.2562.53", ["header and manifest disagree"], id="http-disagrees",
    ),
    pytest.param(
        _record(S.OK, exsetup="15.02.2562.053"), _result(errors=("/owa/: TLS certificate not trusted: x",)),
        BuildSource.EXSETUP, "15.02.2562.053", None, ["TLS certificate not trusted"], id="tls-failure-noted",
    ),
]


@pytest.mark.parametrize(("record", "result", "source", "build", "http", "words"), MERGES)
def test_merge_into_the_record(
    record: ServerRecord,
    result: HttpCheckResult,
    source: BuildSource,
    build: str,
    http: str | None,
    words: list[str] | None,
) -> None:
    merged = merge_http_check(record, result)
    assert (merged.build_source, merged.build_string, merged.http_version) == (source, build, http)
    assert merged.collection.status is record.collection.status  # never changed
    if words is None:
        assert merged.collection.reason == record.collection.reason
    for word in words or ():
        assert word in (merged.collection.reason or "")


def test_merge_without_a_result_changes_nothing() -> None:
    record = _record(S.OK, exsetup="15.02.2562.053")
    assert merge_http_check(record, None) is record
