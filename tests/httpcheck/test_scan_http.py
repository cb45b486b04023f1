"""End to end: `scan` with `http_check` against the lab over HTTPS (a trustme CA), WinRM over sealed NTLM/HTTP."""

from __future__ import annotations

import ssl

import pytest

from eems_check.collect import add_scan_arguments, options_from_args, scan
from eems_check.collect.httpcheck import ALLOWED_PATHS
from eems_check.inventory import inventory_from_document, inventory_to_document
from eems_check.lab import LabOrg
from eems_check.lab.web import WebRequest
from eems_check.model import BuildSource, CollectionStatus, Inventory, ServerRecord

from .conftest import options

S = CollectionStatus
TLS = tuple[ssl.SSLContext, str, str]


@pytest.fixture(scope="module")
def run(http_lab: LabOrg, tls: TLS) -> tuple[Inventory, list[WebRequest]]:
    """The whole org scanned with the check on, and the requests the OWA/ECP ports saw during that scan."""
    before = len(http_lab.web_requests())
    inventory = scan(options(http_lab, tls[1]))
    return inventory, http_lab.web_requests()[before:]


@pytest.fixture
def checked(run: tuple[Inventory, list[WebRequest]]) -> Inventory:
    return run[0]


def _server(inventory: Inventory, name: str) -> ServerRecord:
    return next(s for s in inventory.servers if s.name == name)


# (server, status, build source, build used, http_version, words in the collection reason; None: no reason)
EXPECTED = [
    ("AGREE", S.OK, BuildSource.EXSETUP, "15.02.1748.046", "15.2.1748.46", None),
    ("STRIPPED", S.OK, BuildSource.EXSETUP, "15.02.2562.053", "15.2.2562.53",
     ["export-tool manifest 15.2.2562.53", "without X-OWA-Version"]),
    ("DISAGREE", S.OK, BuildSource.EXSETUP, "15.02.1544.041", "15.2.1544.4", None),
    ("WINRMOFF", S.UNREACHABLE, BuildSource.HTTP, "15.2.2562.53", "15.2.2562.53",
     ["connection refused", "WinRM collection failed: build 15.2.2562.53 taken from the unauthenticated HTTPS",
      "not from ExSetup.exe", "X-OWA-Version 15.2.2562.53, export-tool manifest 15.2.2562.53"]),
    ("LOWER", S.OK, BuildSource.EXSETUP, "15.01.2507.023", "15.1.2507.23", ["manifest: HTTP 404"]),
    ("BALANCED", S.OK, BuildSource.EXSETUP, "15.02.1118.026", None, ["answered by AGREE (X-FEServer)"]),
    ("NOHTTP", S.OK, BuildSource.EXSETUP, "15.02.1258.012", None, ["/owa/: connection refused"]),
    ("CUONLY", S.UNREACHABLE, BuildSource.ADMIN_DISPLAY_VERSION, "Version 15.2 (Build 1748.10)", "15.2.1748",
     ["connection refused"]),
    ("NOEXSETUP", S.PARTIAL, BuildSource.HTTP, "15.2.1258.16", "15.2.1258.16", ["ExSetup.exe was not read"]),
    ("EDGE", S.NOT_SCANNED, BuildSource.ADMIN_DISPLAY_VERSION, "Version 15.2 (Build 1748.10)", None,
     ["Edge Transport"]),
]


@pytest.mark.parametrize(("name", "status", "source", "build", "http", "words"), EXPECTED)
def test_each_server(
    checked: Inventory,
    name: str,
    status: S,
    source: BuildSource,
    build: str,
    http: str | None,
    words: list[str] | None,
) -> None:
    record = _server(checked, name)
    assert (record.collection.status, record.build_source, record.build_string, record.http_version) == (
        status, source, build, http)
    if words is None:
        assert record.collection.reason is None
    for word in words or ():
        assert word in (record.collection.reason or ""), record.collection.reason


def test_disagreement_with_exsetup_is_in_the_inventory(checked: Inventory) -> None:
    record = _server(checked, "DISAGREE")
    assert record.exsetup_version == "15.02.1544.041" and record.http_version == "15.2.1544.4"


def test_the_inventory_round_trips(checked: Inventory) -> None:
    again = inventory_from_document(inventory_to_document(checked), "round trip")
    assert [(s.build_source, s.http_version) for s in again.servers] == [
        (s.build_source, s.http_version) for s in checked.servers]


def test_only_the_two_paths_anonymously_and_once_each(run: tuple[Inventory, list[WebRequest]]) -> None:
    seen = run[1]
    assert {r.path for r in seen} == set(ALLOWED_PATHS)
    assert all(r.method == "GET" and not r.credentials and r.user_agent.startswith("eems-check/") for r in seen)
    asked = sorted(r.fqdn for r in seen if r.path == "/owa/")
    assert asked == sorted(f"{n}.fabrikam.lab" for n in
                           ("AGREE", "STRIPPED", "DISAGREE", "WINRMOFF", "LOWER", "BALANCED", "CUONLY", "NOEXSETUP"))
    assert len(seen) == 2 * len(asked)


def test_tls_verification_failure_is_recorded_not_fatal(http_lab: LabOrg, tls: TLS) -> None:
    inventory = scan(options(http_lab, tls[2], servers=("AGREE", "WINRMOFF")))  # a CA that signed nothing here
    agree, winrm_off = _server(inventory, "AGREE"), _server(inventory, "WINRMOFF")
    assert (agree.collection.status, agree.build_source, agree.http_version) == (S.OK, BuildSource.EXSETUP, None)
    assert "TLS certificate not trusted" in (agree.collection.reason or "")
    assert (winrm_off.build_source, winrm_off.http_version) == (BuildSource.ADMIN_DISPLAY_VERSION, None)
    assert "/owa/: TLS certificate not trusted" in (winrm_off.collection.reason or "")


def test_no_verify_tls_reads_the_build_anyway(http_lab: LabOrg, tls: TLS) -> None:
    inventory = scan(options(http_lab, tls[2], servers=("WINRMOFF",), verify_tls=False))
    assert _server(inventory, "WINRMOFF").build_source is BuildSource.HTTP


def test_without_the_manifest_only_owa_is_asked(http_lab: LabOrg, tls: TLS) -> None:
    before = len(http_lab.web_requests())
    inventory = scan(options(http_lab, tls[1], servers=("STRIPPED",), http_check_manifest=False))
    assert [r.path for r in http_lab.web_requests()[before:]] == ["/owa/"]
    stripped = _server(inventory, "STRIPPED")
    assert stripped.http_version is None and "without X-OWA-Version" in (stripped.collection.reason or "")


def test_off_by_default_nothing_is_asked(http_lab: LabOrg, tls: TLS) -> None:
    before = len(http_lab.web_requests())
    inventory = scan(options(http_lab, tls[1], servers=("WINRMOFF",), http_check=False))
    assert len(http_lab.web_requests()) == before
    assert _server(inventory, "WINRMOFF").build_source is BuildSource.ADMIN_DISPLAY_VERSION


@pytest.mark.parametrize(("argv", "expected"), [
    ([], (False, 443, 5.0, True)),
    (["--http-check"], (True, 443, 5.0, True)),
    (["--http-check", "--http-check-port", "8443", "--http-check-timeout", "2.5", "--http-check-no-manifest"],
     (True, 8443, 2.5, False)),
])
def test_flags(argv: list[str], expected: tuple[bool, int, float, bool]) -> None:
    import argparse

    parser = argparse.ArgumentParser()
    add_scan_arguments(parser)
    opts = options_from_args(parser.parse_args(["--server", "ex01", *argv]), {})
    assert (opts.http_check, opts.http_check_port, opts.http_check_timeout, opts.http_check_manifest) == expected
    assert opts.http_check_tls


@pytest.mark.parametrize("argv", [["--http-check-port", "0"], ["--http-check-timeout", "0"]])
def test_bad_flags(argv: list[str]) -> None:
    import argparse

    from eems_check.errors import InputError

    parser = argparse.ArgumentParser()
    add_scan_arguments(parser)
    with pytest.raises(InputError):
        options_from_args(parser.parse_args(["--server", "ex01", *argv]), {})
