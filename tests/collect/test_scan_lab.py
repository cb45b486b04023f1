"""End to end: real pypsrp over real loopback sockets against the simulated organisation of eems_check.lab."""

from __future__ import annotations

import itertools
import logging
import ssl
import threading

import pytest
import yaml

from eems_check.collect import DiscoveryAuthError, DiscoveryError, scan
from eems_check.collect.scan import FAILED
from eems_check.inventory import inventory_from_document, inventory_to_document
from eems_check.lab import LabOrg, load_org
from eems_check.model import BuildSource, CollectionStatus, Inventory, ServerRecord

from .conftest import DEMO, lab_options
from .gated_relay import gated_relay

S = CollectionStatus


@pytest.fixture(scope="module")
def demo_scan(demo_lab: LabOrg) -> Inventory:
    progress: list[tuple[int, int, int]] = []
    inventory = scan(lab_options(demo_lab, probe_ocs=True, run_get_mitigations=True),
                     lambda *p: progress.append(p))
    failed = sum(s.collection.status in FAILED for s in inventory.servers)
    # The total grows as Get-ExchangeServer's objects arrive (collection starts on the first ones); it never
    # shrinks, and nothing is done before it is counted.
    assert progress[0] == (0, 0, 0) and progress[-1] == (13, failed, 13)
    assert all(a[0] <= b[0] and a[2] <= b[2] and b[0] <= b[2] for a, b in itertools.pairwise(progress))
    return inventory


def _server(inventory: Inventory, name: str) -> ServerRecord:
    return next(s for s in inventory.servers if s.name == name)


def test_every_server_of_the_org_is_in_the_inventory(demo_scan: Inventory, demo_lab: LabOrg) -> None:
    assert [s.name for s in demo_scan.servers] == [s.name for s in demo_lab.spec.servers]
    assert (demo_scan.org.name, demo_scan.org.mitigations_enabled) == ("Contoso", True)


def test_the_scan_leaves_no_shell_open(demo_scan: Inventory, demo_lab: LabOrg) -> None:
    assert demo_lab.open_shells() == 0


@pytest.mark.parametrize(("name", "status", "reason"), [
    ("EDGE01", S.NOT_SCANNED, "Edge Transport server"),
    ("EXSE04", S.UNREACHABLE, "connection refused"),
    ("EX2016A", S.OK, None),
    ("EXSE01", S.OK, None),
])
def test_each_server_gets_its_status(demo_scan: Inventory, name: str, status: S, reason: str | None) -> None:
    record = _server(demo_scan, name)
    assert record.collection.status is status
    assert (reason or "") in (record.collection.reason or "")


@pytest.mark.parametrize(("name", "build", "source"), [
    ("EX2019A", "15.02.1118.025", BuildSource.EXSETUP),
    ("EX2019F", "15.02.1748.046", BuildSource.REGISTRY),
    ("EXSE04", "Version 15.2 (Build 2562.17)", BuildSource.ADMIN_DISPLAY_VERSION),
    ("EDGE01", "Version 15.2 (Build 1748.10)", BuildSource.ADMIN_DISPLAY_VERSION),
])
def test_build_comes_from_exsetup_then_registry_then_admin_display_version(
        demo_scan: Inventory, name: str, build: str, source: BuildSource) -> None:
    record = _server(demo_scan, name)
    assert (record.build_string, record.build_source) == (build, source)


def test_collected_details_reach_the_record(demo_scan: Inventory) -> None:
    ex2016b = _server(demo_scan, "EX2016B")
    assert ex2016b.eems.applied == ("PING1", "M1.1") and ex2016b.site == "Amsterdam"
    assert ex2016b.events is not None and [e.id for e in ex2016b.events] == [1008, 1008]
    assert ex2016b.get_mitigations is not None and ex2016b.get_mitigations.warnings
    exse02 = _server(demo_scan, "EXSE02")
    assert exse02.events is not None and len(exse02.events) == 1  # a one-element array the lab collapses
    assert "not deemed safe" in exse02.events[0].message
    exse01 = _server(demo_scan, "EXSE01")
    assert exse01.get_mitigations is not None and not exse01.get_mitigations.ran
    assert "no delegated credentials on EXSE01" in (exse01.get_mitigations.reason or "")
    assert "--probe-ocs" in (exse01.get_mitigations.reason or "")
    assert exse01.log_lines is not None and "<script>" in exse01.log_lines[0].line


def test_ocs_probe_goes_through_the_servers_proxy(demo_scan: Inventory) -> None:
    record = _server(demo_scan, "EX2019E")
    assert record.collection.status is S.OK
    assert record.ocs_probe is not None and record.ocs_probe.status_code == 407
    assert record.ocs_probe.proxy == "http://proxy.contoso.lab:8080/"
    assert record.service is not None and record.service.status == "Stopped"


def test_the_inventory_round_trips_through_the_schema(demo_scan: Inventory) -> None:
    again = inventory_from_document(inventory_to_document(demo_scan), "scan")
    assert [s.collection.status for s in again.servers] == [s.collection.status for s in demo_scan.servers]


@pytest.mark.parametrize(("name", "status", "reason"), [
    ("FXOK", S.OK, None),
    ("FXREFUSED", S.UNREACHABLE, "connection refused"),
    ("FX401", S.AUTH_FAILED, "authentication failed"),
    ("FX500", S.ERROR, "HTTP 500"),
    ("FXFAULT", S.ERROR, "WS-Management fault 5: Access is denied."),
    ("FXHANG", S.TIMEOUT, "no answer within 4 s"),
    ("FXHANGALL", S.TIMEOUT, "no answer within 4 s"),
    ("FXGARBAGE", S.ERROR, "not JSON"),
    ("FXBIG", S.ERROR, "more than its bounds allow"),
    ("FXEDGE", S.NOT_SCANNED, "Edge"),
])
def test_faults_become_per_server_statuses(faults_scan: Inventory, name: str, status: S, reason: str | None) -> None:
    record = _server(faults_scan, name)
    assert record.collection.status is status, record.collection.reason
    assert (reason or "") in (record.collection.reason or "")
    assert "Fault-Passw0rd!" not in (record.collection.reason or "")


@pytest.fixture(scope="module")
def faults_scan(faults_lab: LabOrg) -> Inventory:
    return scan(lab_options(faults_lab, server_timeout=4.0))


def test_wrong_password_on_discovery_is_a_clear_input_error(demo_lab: LabOrg) -> None:
    with pytest.raises(DiscoveryAuthError) as info:
        scan(lab_options(demo_lab, password="Not-The-Password-123"))
    text = str(info.value)
    assert "authentication failed" in text and "--username" in text
    assert "Not-The-Password-123" not in text and "\n" not in text


def test_unreachable_discovery_server_is_a_run_error(demo_lab: LabOrg) -> None:
    with pytest.raises(DiscoveryError, match="connection refused"):
        scan(lab_options(demo_lab, discovery_server="EXSE04.contoso.lab"))


def test_a_hanging_discovery_server_is_a_run_error_within_the_discovery_limit(faults_lab: LabOrg) -> None:
    options = lab_options(faults_lab, discovery_server="FXHANGALL.fabrikam.lab", discovery_timeout=1.0)
    with pytest.raises(DiscoveryError, match="no complete answer within 1 s"):
        scan(options)


def test_filters_pick_servers_and_unknown_names_are_reported(demo_lab: LabOrg) -> None:
    inventory = scan(lab_options(demo_lab, servers=("ex2019a", "EX2019B.contoso.lab", "NOPE")))
    assert [(s.name, s.collection.status) for s in inventory.servers] == [
        ("EX2019A", S.OK), ("EX2019B", S.OK), ("NOPE", S.NOT_SCANNED)]
    by_site = scan(lab_options(demo_lab, sites=("berlin",), roles=("Mailbox",)))
    assert {s.site for s in by_site.servers} == {"Berlin"} and len(by_site.servers) == 4


@pytest.mark.parametrize("auth", ["basic", "ntlm"])
def test_https_with_a_private_ca(tls_material: tuple[ssl.SSLContext, str], auth: str) -> None:
    context, ca_file = tls_material
    with LabOrg(load_org(DEMO), ssl_context=context, base_address="127.0.30.1") as lab:
        inventory = scan(lab_options(lab, auth=auth, ca_bundle=ca_file))
        statuses = {s.name: s.collection.status for s in inventory.servers}
        assert statuses.pop("EXSE04") is S.UNREACHABLE and statuses.pop("EDGE01") is S.NOT_SCANNED
        assert set(statuses.values()) == {S.OK}
        with pytest.raises(DiscoveryError, match="certificate verify failed"):
            scan(lab_options(lab, auth=auth, ca_bundle=None))


def test_measure_round_trips_of_one_server(demo_lab: LabOrg, capsys: pytest.CaptureFixture[str]) -> None:
    fqdn = "ex2019a.contoso.lab"
    before = demo_lab.request_count(fqdn)
    scan(lab_options(demo_lab, servers=("EX2019A",)))
    collector_only = demo_lab.request_count(fqdn) - before
    before_all = demo_lab.request_count()
    scan(lab_options(demo_lab, discovery_server=fqdn, servers=("EX2019A",)))
    with capsys.disabled():
        print(f"\n[measure] NTLM over HTTP, sealed: collector run on one server = {collector_only} HTTP requests; "
              f"discovery + collector on the same server = {demo_lab.request_count() - before_all}")
    # NTLM's two legs carry the first token eagerly (no anonymous 401), then Create, Receive, Command, Receive,
    # Delete: no Signal, since deleting the shell ends the finished pipeline.
    assert collector_only == 7


def test_turning_tls_checks_off_is_logged_loudly(demo_lab: LabOrg, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="eems_check.collect"), pytest.raises(DiscoveryError):
        scan(lab_options(demo_lab, discovery_server="EXSE04.contoso.lab", verify_tls=False))
    assert any("TLS CERTIFICATE CHECKS ARE OFF" in r.getMessage() for r in caplog.records)


def test_collection_starts_while_get_exchange_server_is_still_answering(tmp_path: pytest.TempPathFactory) -> None:
    # 60 servers take Get-ExchangeServer more than one Receive. Discovery goes through a relay that, once the first
    # servers are listed, holds the discovery server's answers until a server has been collected: a scanner that
    # waited for the whole list would never collect one while the list is held.
    servers = [{"name": f"EX{i:03d}", "site": "Main", "build": "15.2.1748.46"} for i in range(60)]
    org = {"organization": {"name": "Big", "domain": "big.lab", "discovery_server": "EX000"},
           "accounts": [{"username": "BIG\\scanner", "password": "Big-Scan-2026!"}], "servers": servers}
    path = tmp_path / "big.yaml"  # type: ignore[operator]
    path.write_text(yaml.safe_dump(org), encoding="utf-8")
    progress: list[tuple[int, int, int]] = []
    listed, collected = threading.Event(), threading.Event()

    def seen(done: int, failed: int, total: int) -> None:
        progress.append((done, failed, total))
        if total:
            listed.set()
        if done:
            collected.set()

    def hold() -> None:
        if listed.is_set():  # bounded, under the 20 s discovery limit: a scanner that never collects early fails
            collected.wait(10)  # the last assertion instead of hanging

    with LabOrg(load_org(path), base_address="127.0.40.1") as lab:
        relay = ("127.0.40.200", lab.exchange_port)
        with gated_relay(relay, (lab.address_map()["ex000.big.lab"], lab.exchange_port), hold):
            options = lab_options(lab, discovery_server="gate.big.lab",
                                  address_map={**lab.address_map(), "gate.big.lab": relay[0]})
            inventory = scan(options, seen)
    assert [s.collection.status for s in inventory.servers] == [S.OK] * 60
    assert [s.name for s in inventory.servers] == [s["name"] for s in servers]
    assert any(done > 0 and total < 60 for done, _, total in progress)  # a server finished before all were listed


def test_an_organisation_split_over_two_labs_scans_as_one(demo_scan: Inventory) -> None:
    spec = load_org(DEMO)
    names = [s.name for s in spec.servers]
    first = set(names[::2]) | {spec.discovery_server or ""}
    with LabOrg(spec, serve=first, base_address="127.0.50.1") as one:
        rest = [n for n in names if n not in first]
        with LabOrg(spec, serve=rest, base_address="127.0.50.1", exchange_port=one.exchange_port,
                    wsman_port=one.wsman_port, http_port=one.http_port):
            split = scan(lab_options(one, probe_ocs=True, run_get_mitigations=True))
    assert [(s.name, s.collection.status, s.exsetup_version) for s in split.servers] == \
        [(s.name, s.collection.status, s.exsetup_version) for s in demo_scan.servers]
