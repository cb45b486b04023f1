"""The lab refuses what a real host-less remote session refuses, and answers Get-Mitigations.ps1 from what the
collector script does. The scripts are data files (tests/lab/fixtures/hostless); the expected errors come from
PowerShell's behaviour in a session without a host (remoting.md, the issue's reading of RemoteExchange.ps1)."""

from __future__ import annotations

import pytest
from pypsrp.powershell import PowerShell, PSInvocationState, RunspacePool

from eems_check.collect.collector import collector_script
from eems_check.lab import LabOrg, hostless
from tests.lab.conftest import FIXTURES, client

SCRIPTS = FIXTURES / "hostless"
HOST_EXCEPTION = "System.Management.Automation.Host.HostException"
NOT_FOUND = "System.Management.Automation.CommandNotFoundException"

# script -> (exception type, text in the message, line), or None when a host-less session runs it.
CASES: dict[str, tuple[str, str, int] | None] = {
    "remote_exchange_via_variable.ps1": (HOST_EXCEPTION, "get_MaxPhysicalWindowSize is not implemented", 6),
    "remote_exchange_literal.ps1": (HOST_EXCEPTION, "get_MaxPhysicalWindowSize is not implemented", 1),
    "connect_exchange_server.ps1": (NOT_FOUND, "'Connect-ExchangeServer' is not recognized", 1),
    "read_host.ps1": (HOST_EXCEPTION, "does not support user interaction", 1),
    "get_credential.ps1": (HOST_EXCEPTION, "does not support user interaction", 1),
    "raw_ui.ps1": (HOST_EXCEPTION, "get_MaxPhysicalWindowSize is not implemented", 1),
    "raw_ui_assigned.ps1": (HOST_EXCEPTION, "get_RawUI is not implemented", 1),
    "only_mentioned.ps1": None,
    "import_session.ps1": None,
}


def test_every_fixture_script_has_a_case() -> None:
    assert sorted(p.name for p in SCRIPTS.glob("*.ps1")) == sorted(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_host_calls_are_refused_with_powershells_error(name: str) -> None:
    shape = hostless.analyse((SCRIPTS / name).read_text(encoding="utf-8"))
    assert shape.checked
    expected = CASES[name]
    if expected is None:
        assert shape.refusal is None
        return
    assert shape.refusal is not None
    assert (shape.refusal.exception, shape.refusal.line) == (expected[0], expected[2])
    assert expected[1] in shape.refusal.message


@pytest.mark.parametrize(("name", "imports"), [("import_session.ps1", True), ("only_mentioned.ps1", False),
                                               ("remote_exchange_via_variable.ps1", False)])
def test_the_lab_sees_how_a_script_loads_the_exchange_cmdlets(name: str, imports: bool) -> None:
    assert hostless.analyse((SCRIPTS / name).read_text(encoding="utf-8")).imports_exchange_session is imports


def _run(lab: LabOrg, fqdn: str, script: str, **params: object) -> PowerShell:
    with RunspacePool(client(lab, fqdn)) as pool:
        ps = PowerShell(pool)
        ps.add_script(script)
        for name, value in params.items():
            ps.add_parameter(name, value)
        ps.invoke()
        ps.close()
    return ps


@pytest.mark.parametrize("name", ["remote_exchange_via_variable.ps1", "read_host.ps1"])
def test_the_wsman_endpoint_fails_a_script_that_needs_a_host(basic_lab: LabOrg, name: str) -> None:
    # The old collector loaded the Exchange Management Shell this way: on a real server every run failed, while the
    # lab answered with a canned "needs delegation" reason.
    ps = _run(basic_lab, "ex01.contoso.lab", (SCRIPTS / name).read_text(encoding="utf-8"))
    assert ps.state == PSInvocationState.FAILED
    record = ps.streams.error[0]
    assert HOST_EXCEPTION in record.exception.types
    assert CASES[name] and CASES[name][1] in str(record.exception.adapted_properties["Message"])


@pytest.mark.parametrize(("fqdn", "ran", "failed_at"), [("ex01.contoso.lab", True, None),
                                                        ("ex02.contoso.lab", False, "session")])
def test_get_mitigations_is_answered_from_the_delegation_the_second_hop_gets(
    basic_lab: LabOrg, fqdn: str, ran: bool, failed_at: str | None
) -> None:
    import json

    ps = _run(basic_lab, fqdn, collector_script(), RunGetMitigations=True)
    assert ps.state == PSInvocationState.COMPLETED, ps.streams.error
    gm = json.loads(ps.output[0])["get_mitigations"]
    assert (gm["ran"], gm["failed_at"], gm["host"]) == (ran, failed_at, fqdn.split(".")[0].upper())
