"""Every fault of the org file behaves as documented, seen through the real pypsrp client."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator

import pytest
import requests
from pypsrp.complex_objects import RunspacePoolState
from pypsrp.exceptions import AuthenticationError, WinRMTransportError, WSManFaultError
from pypsrp.powershell import PowerShell, PSInvocationState, RunspacePool

from eems_check.lab import LabOrg
from tests.lab.conftest import client, start_fixture_lab
from tests.lab.test_wsman_endpoint import COLLECTOR

FX01 = "fx01.fabrikam.lab"


@pytest.fixture
def fault_lab(request: pytest.FixtureRequest) -> Iterator[LabOrg]:
    lab = start_fixture_lab(request.param, base_address="127.0.20.1")
    try:
        yield lab
    finally:
        started = time.monotonic()
        lab.stop()
        assert time.monotonic() - started < 5, "stop() must return promptly"


def _collect(lab: LabOrg, **kwargs: object) -> PowerShell:
    with RunspacePool(client(lab, FX01, "wsman", **kwargs)) as pool:
        ps = PowerShell(pool)
        ps.add_script(COLLECTOR)
        ps.invoke()
        ps.close()
    return ps


def _exchange(lab: LabOrg, **kwargs: object) -> list:
    wsm = client(lab, FX01, "exchange", **kwargs)
    with RunspacePool(wsm, configuration_name="Microsoft.Exchange") as pool, PowerShell(pool) as ps:
        ps.add_cmdlet("Get-ExchangeServer")
        return ps.invoke()


@pytest.mark.parametrize("fault_lab", ["refuse"], indirect=True)
def test_refused_server_has_nothing_listening(fault_lab: LabOrg) -> None:
    assert FX01 in fault_lab.address_map()
    with pytest.raises(requests.exceptions.ConnectionError):
        _collect(fault_lab)
    with pytest.raises(requests.exceptions.ConnectionError):
        _exchange(fault_lab)


@pytest.mark.parametrize("fault_lab", ["refuse_wsman"], indirect=True)
def test_refuse_can_target_one_endpoint(fault_lab: LabOrg) -> None:
    assert [str(o) for o in _exchange(fault_lab)] == ["FX01"]
    with pytest.raises(requests.exceptions.ConnectionError):
        _collect(fault_lab)


@pytest.mark.parametrize("fault_lab", ["http_401"], indirect=True)
@pytest.mark.parametrize("auth", ["ntlm", "negotiate"])
def test_http_401_fails_authentication(fault_lab: LabOrg, auth: str) -> None:
    with pytest.raises(AuthenticationError):
        _collect(fault_lab, auth=auth)


@pytest.mark.parametrize("fault_lab", ["http_500"], indirect=True)
def test_http_500_is_a_transport_error_with_an_html_body(fault_lab: LabOrg) -> None:
    with pytest.raises(WinRMTransportError) as info:
        _collect(fault_lab)
    assert info.value.code == 500 and "Runtime Error" in info.value.response_text


@pytest.mark.parametrize("fault_lab", ["wsman_fault"], indirect=True)
def test_wsman_fault_on_create(fault_lab: LabOrg) -> None:
    with pytest.raises(WSManFaultError) as info:
        _collect(fault_lab)
    assert info.value.code == 5 and info.value.reason == "Access is denied."
    assert [str(o) for o in _exchange(fault_lab)] == ["FX01"]  # only the wsman endpoint is faulted


@pytest.mark.parametrize("fault_lab", ["delay"], indirect=True)
def test_delay_slows_every_request_but_works(fault_lab: LabOrg) -> None:
    ps = _collect(fault_lab)
    assert ps.state == PSInvocationState.COMPLETED
    assert json.loads(ps.output[0])["computer_name"] == "FX01"


@pytest.mark.parametrize("fault_lab", ["hang"], indirect=True)
def test_hang_gives_a_client_read_timeout(fault_lab: LabOrg) -> None:
    with pytest.raises(requests.exceptions.ReadTimeout):
        _collect(fault_lab, read_timeout=1)


@pytest.mark.parametrize("fault_lab", ["hang_collector"], indirect=True)
def test_hang_collector_times_out_only_the_collector(fault_lab: LabOrg) -> None:
    with RunspacePool(client(fault_lab, FX01, "wsman", read_timeout=1, operation_timeout=1)) as pool:
        with PowerShell(pool) as ps:
            ps.add_cmdlet("Write-Output").add_parameter("InputObject", "fine")
            assert ps.invoke() == ["fine"]
        ps = PowerShell(pool)
        ps.add_script(COLLECTOR)
        with pytest.raises(requests.exceptions.ReadTimeout):
            ps.invoke()
        # pypsrp retried the Receive 5 times on fresh connections; the pool is unusable now (pypsrp#21)
        pool.state = RunspacePoolState.BROKEN  # so that leaving the block does not try to close it
    assert fault_lab.open_shells() == 1


@pytest.mark.parametrize("fault_lab", ["garbage"], indirect=True)
def test_garbage_collector_output_is_not_json(fault_lab: LabOrg) -> None:
    ps = _collect(fault_lab)
    assert ps.state == PSInvocationState.COMPLETED
    with pytest.raises(json.JSONDecodeError):
        json.loads(ps.output[0])


@pytest.mark.parametrize("fault_lab", ["oversized"], indirect=True)
def test_oversized_output_arrives_over_many_receives(fault_lab: LabOrg) -> None:
    before = fault_lab.request_count(FX01)
    ps = _collect(fault_lab)
    text = ps.output[0]
    assert len(text) >= 2 * 1024 * 1024
    assert json.loads(text)["computer_name"] == "FX01"
    assert fault_lab.request_count(FX01) - before > 15


def test_stop_returns_promptly_with_clients_stuck_in_hung_requests() -> None:
    lab = start_fixture_lab("hang", base_address="127.0.21.1")
    failures: list[BaseException] = []

    def stuck() -> None:
        try:
            _collect(lab, read_timeout=30)
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=stuck) for _ in range(3)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 5
    while lab.request_count() < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    started = time.monotonic()
    lab.stop()
    assert time.monotonic() - started < 5
    for t in threads:
        t.join(10)
    assert len(failures) == 3
    assert all(isinstance(f, requests.exceptions.ConnectionError) for f in failures)


@pytest.mark.parametrize("fault_lab", ["hostile"], indirect=True)
def test_hostile_strings_are_just_data(fault_lab: LabOrg) -> None:
    wsm = client(fault_lab, "ev01.evil.lab", "exchange")
    with RunspacePool(wsm, configuration_name="Microsoft.Exchange") as pool, PowerShell(pool) as ps:
        ps.add_cmdlet("Get-ExchangeServer")
        (srv,) = ps.invoke()
        ps.add_statement().add_cmdlet("Get-OrganizationConfig")
    assert str(srv) == "EV<script>01"
    assert str(srv.adapted_properties["Site"]).endswith("Site <b>bold</b> & 'quoted'")
    with RunspacePool(client(fault_lab, "ev01.evil.lab")) as pool, PowerShell(pool) as ps:
        ps.add_script(COLLECTOR)
        doc = json.loads(ps.invoke()[0])
    assert doc["events"]["message"] == "</script><script>alert('x')</script>\u00e9\u2603"
    assert doc["computer_name"] == "EV<SCRIPT>01"


@pytest.mark.parametrize("fault_lab", ["hostile"], indirect=True)
def test_org_mitigations_enabled_null_is_nil(fault_lab: LabOrg) -> None:
    wsm = client(fault_lab, "ev01.evil.lab", "exchange")
    with RunspacePool(wsm, configuration_name="Microsoft.Exchange") as pool, PowerShell(pool) as ps:
        ps.add_cmdlet("Get-OrganizationConfig")
        (org,) = ps.invoke()
    assert org.adapted_properties["MitigationsEnabled"] is None
    assert str(org) == 'Evil <Org> & "Co"'
