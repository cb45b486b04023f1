"""The /PowerShell endpoint (Microsoft.Exchange, NoLanguage) as a real pypsrp client sees it."""

from __future__ import annotations

import pytest
from pypsrp.exceptions import WSManFaultError
from pypsrp.powershell import PowerShell, PSInvocationState, RunspacePool

from eems_check.lab import LabOrg
from tests.lab.conftest import client

NOLANGUAGE = (
    "The syntax is not supported by this runspace. This can occur if the runspace is in no-language mode."
)


def _exchange_pool(lab: LabOrg) -> RunspacePool:
    return RunspacePool(client(lab, "ex01.contoso.lab", "exchange"), configuration_name="Microsoft.Exchange")


def test_get_exchange_server_returns_typed_objects_with_adapted_properties(basic_lab: LabOrg) -> None:
    with _exchange_pool(basic_lab) as pool, PowerShell(pool) as ps:
        ps.add_cmdlet("Get-ExchangeServer")
        out = ps.invoke()
        assert ps.state == PSInvocationState.COMPLETED
    assert [str(o) for o in out] == ["EX01", "EX02", "EDGE01"]
    ex01 = out[0]
    assert ex01.types[0] == "Microsoft.Exchange.Data.Directory.Management.ExchangeServer"
    assert ex01.extended_properties == {}
    props = ex01.adapted_properties
    assert props["Fqdn"] == "EX01.contoso.lab"
    assert props["IsEdgeServer"] is False and props["IsMailboxServer"] is True
    assert props["MitigationsEnabled"] is True and props["DataCollectionEnabled"] is False
    adv = props["AdminDisplayVersion"]
    assert str(adv) == "Version 15.2 (Build 1118.7)"
    assert adv.types[0] == "Microsoft.Exchange.Data.ServerVersion"
    assert (
        adv.adapted_properties["Major"],
        adv.adapted_properties["Build"],
        adv.adapted_properties["Revision"],
    ) == (15, 1118, 7)
    applied = props["MitigationsApplied"]
    assert "MultiValuedProperty" in applied.types[0]
    assert str(props["Site"]) == "contoso.lab/Configuration/Sites/Site-A"
    assert props["Site"].adapted_properties["Name"] == "Site-A"
    assert str(props["ServerRole"]) == "Mailbox" and str(props["Edition"]) == "Standard"
    assert props["InternetWebProxy"] == "http://proxy.contoso.lab:8080/"
    edge = out[2].adapted_properties
    assert edge["IsEdgeServer"] is True and str(edge["ServerRole"]) == "Edge"
    assert edge["MitigationsApplied"] is None and edge["InternetWebProxy"] is None


def test_multi_valued_properties_arrive_as_typed_lst(basic_lab: LabOrg) -> None:
    """MultiValuedProperty is <Obj><TN/><LST/></Obj>; pypsrp 0.9.1 keeps the <LST> as raw XML text."""
    with _exchange_pool(basic_lab) as pool, PowerShell(pool) as ps:
        ps.add_cmdlet("Get-ExchangeServer").add_parameter("Identity", "EX01")
        (ex01,) = ps.invoke()
    applied = ex01.adapted_properties["MitigationsApplied"]
    blocked = ex01.adapted_properties["MitigationsBlocked"]
    assert applied.types[0].startswith(
        "Microsoft.Exchange.Data.MultiValuedProperty`1[[System.String"
    )
    assert applied.property_sets == ["<LST><S>PING1</S><S>M1.1</S></LST>"]
    assert blocked.property_sets == ["<LST><S>M2.1.0</S></LST>"]


@pytest.mark.parametrize("identity", ["ex02", "EX02.CONTOSO.LAB", "Ex02"])
def test_identity_filter_is_case_insensitive_by_name_or_fqdn(basic_lab: LabOrg, identity: str) -> None:
    with _exchange_pool(basic_lab) as pool, PowerShell(pool) as ps:
        ps.add_cmdlet("Get-ExchangeServer").add_parameter("Identity", identity)
        out = ps.invoke()
    assert [str(o) for o in out] == ["EX02"]


def test_unknown_identity_is_a_non_terminating_error(basic_lab: LabOrg) -> None:
    with _exchange_pool(basic_lab) as pool, PowerShell(pool) as ps:
        ps.add_cmdlet("Get-ExchangeServer").add_parameter("Identity", "NOPE")
        out = ps.invoke()
        assert out == []
        assert ps.state == PSInvocationState.COMPLETED and ps.had_errors is False
        (err,) = ps.streams.error
    assert err.exception.adapted_properties["Message"] == (
        "The operation couldn't be performed because object 'NOPE' couldn't be found on 'dc01.contoso.lab'."
    )
    assert err.reason == "ManagementObjectNotFoundException"
    assert "ManagementObjectNotFoundException" in err.fq_error


def test_unknown_cmdlet_fails_the_pipeline_with_command_not_found(basic_lab: LabOrg) -> None:
    with _exchange_pool(basic_lab) as pool, PowerShell(pool) as ps:
        ps.add_cmdlet("Get-Mailbox")
        ps.invoke()
        assert ps.state == PSInvocationState.FAILED and ps.had_errors
        (err,) = ps.streams.error
    assert err.fq_error == "CommandNotFoundException"
    assert err.exception.adapted_properties["Message"].startswith(
        "The term 'Get-Mailbox' is not recognized as the name of a cmdlet, function, script file, "
        "or operable program."
    )


@pytest.mark.parametrize("script", ["Get-ExchangeServer", "$env:COMPUTERNAME", "hostname"])
def test_any_script_is_rejected_in_no_language_mode(basic_lab: LabOrg, script: str) -> None:
    with _exchange_pool(basic_lab) as pool, PowerShell(pool) as ps:
        ps.add_script(script)
        ps.invoke()
        assert ps.state == PSInvocationState.FAILED
        (err,) = ps.streams.error
    assert err.exception.adapted_properties["Message"] == NOLANGUAGE
    assert err.reason == "ParseException"


def test_organization_config_reports_mitigations_enabled(basic_lab: LabOrg) -> None:
    with _exchange_pool(basic_lab) as pool, PowerShell(pool) as ps:
        ps.add_cmdlet("Get-OrganizationConfig")
        (org,) = ps.invoke()
    assert str(org) == "Contoso"
    assert org.adapted_properties["MitigationsEnabled"] is True
    assert org.adapted_properties["Name"] == "Contoso"


def test_two_statements_run_in_order(basic_lab: LabOrg) -> None:
    with _exchange_pool(basic_lab) as pool, PowerShell(pool) as ps:
        ps.add_cmdlet("Get-OrganizationConfig").add_statement()
        ps.add_cmdlet("Get-ExchangeServer").add_parameter("Identity", "EX02")
        out = ps.invoke()
    assert [str(o) for o in out] == ["Contoso", "EX02"]


def test_select_object_returns_note_properties(basic_lab: LabOrg) -> None:
    with _exchange_pool(basic_lab) as pool, PowerShell(pool) as ps:
        ps.add_cmdlet("Get-ExchangeServer").add_cmdlet("Select-Object").add_parameter(
            "Property", ["Name", "MitigationsEnabled"]
        )
        out = ps.invoke()
    assert [o.extended_properties["Name"] for o in out] == ["EX01", "EX02", "EDGE01"]
    assert all(o.adapted_properties == {} for o in out)


def test_exchange_configuration_on_wsman_is_a_resource_fault(basic_lab: LabOrg) -> None:
    wsm = client(basic_lab, "ex01.contoso.lab", "wsman")
    pool = RunspacePool(wsm, configuration_name="Microsoft.Exchange")
    with pytest.raises(WSManFaultError) as info:
        pool.open()
    assert info.value.code == 0x80338000
    assert (
        "The resource URI (http://schemas.microsoft.com/powershell/Microsoft.Exchange) was not found in the "
        "WS-Management catalog." in info.value.reason
    )
    assert info.value.machine == "EX01.contoso.lab"


def test_every_server_answers_powershell_with_org_data(basic_lab: LabOrg) -> None:
    wsm = client(basic_lab, "ex02.contoso.lab", "exchange")
    with RunspacePool(wsm, configuration_name="Microsoft.Exchange") as pool, PowerShell(pool) as ps:
        ps.add_cmdlet("Get-ExchangeServer")
        assert len(ps.invoke()) == 3
    assert basic_lab.open_shells() == 0
