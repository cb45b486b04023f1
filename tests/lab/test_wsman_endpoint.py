"""The /wsman endpoint (Microsoft.PowerShell): the collector script and generic PowerShell behaviour."""

from __future__ import annotations

import datetime as dt
import json
import re
import threading
import time
from typing import Any, cast

import pytest
from pypsrp.client import Client
from pypsrp.powershell import PowerShell, PSInvocationState, RunspacePool

from eems_check.collect.collector import collector_script
from eems_check.lab import LabOrg
from tests.lab.conftest import client, start_fixture_lab

# The script the scanner sends: the lab answers from what it does (how it loads the Exchange cmdlets) and refuses
# what a host-less session refuses.
COLLECTOR = collector_script()


def run_collector(lab: LabOrg, fqdn: str, **params: Any) -> tuple[str, PowerShell]:
    wsm = client(lab, fqdn, "wsman", **params.pop("_client", {}))
    with RunspacePool(wsm) as pool:
        ps = PowerShell(pool)
        ps.add_script(COLLECTOR)
        for name, value in params.items():
            ps.add_parameter(name, value)
        out = ps.invoke()
        ps.close()
    assert ps.state == PSInvocationState.COMPLETED, ps.streams.error
    assert len(out) == 1 and isinstance(out[0], str)
    return out[0], ps


def parse_ps_json(text: str) -> Any:
    """Decode PS 5.1 ConvertTo-Json output, turning \\/Date(ms)\\/ into aware datetimes."""

    def hook(obj: dict[str, Any]) -> dict[str, Any]:
        for key, value in obj.items():
            if isinstance(value, str) and (m := re.fullmatch(r"/Date\((-?\d+)\)/", value)):
                obj[key] = dt.datetime.fromtimestamp(int(m.group(1)) / 1000, dt.timezone.utc)
        return obj

    return json.loads(text, object_hook=hook)


def test_collector_answers_with_one_compact_json_document(basic_lab: LabOrg) -> None:
    text, _ = run_collector(basic_lab, "ex01.contoso.lab")
    assert text.startswith(
        '{"collector":"eems-check-collector","collector_version":1,"computer_name":"EX01",'
    )
    assert "\n" not in text and '", "' not in text
    assert re.search(r'"collected_at":"\\/Date\(\d+\)\\/"', text)
    doc = parse_ps_json(text)
    assert set(doc) == {
        "collector",
        "collector_version",
        "computer_name",
        "collected_at",
        "exsetup",
        "service",
        "events",
        "log_lines",
        "log_files_skipped",
        "ocs_probe",
        "get_mitigations",
        "truncated",
    }
    assert doc["collector"] == "eems-check-collector" and doc["collector_version"] == 1
    assert doc["computer_name"] == "EX01"
    assert doc["exsetup"] == {
        "file_version": "15.02.1118.026",
        "source": "exsetup",
        "path": "C:\\Program Files\\Microsoft\\Exchange Server\\V15\\bin\\ExSetup.exe",
        "error": None,
    }
    assert doc["service"] == {"name": "MSExchangeMitigation", "status": "Running", "start_type": "Automatic"}
    # newest first, only within EventDays (the 40-day-old event is gone)
    assert [e["message"][:8] for e in doc["events"]] == ["An unexp", "second"]
    assert doc["events"][0]["time"] > doc["events"][1]["time"]
    assert doc["events"][0]["source"] == "MSExchange Mitigation Service" and doc["events"][0]["id"] == 1008
    assert doc["log_lines"][0] == {
        "file": "MitigationService_1.log",
        "line": "FetchMitigation,S:LogLevel=Warning;"
        "S:Message=Connection attempted against untrusted endpoint",
    }
    assert doc["ocs_probe"] == {"ran": False, "reason": "not requested"}
    assert doc["get_mitigations"] == {"ran": False, "reason": "not requested"}
    assert doc["truncated"] == []


@pytest.mark.parametrize(
    ("params", "check"),
    [
        ({"MaxEvents": 1}, lambda d: isinstance(d["events"], dict) and d["truncated"] == ["events"]),
        ({"EventDays": 60}, lambda d: len(d["events"]) == 3),
        (
            {"MaxLogLines": 2},
            lambda d: (
                [x["line"] for x in d["log_lines"]] == ["second line", "third line"]
                and d["truncated"] == ["log_lines"]
            ),
        ),
        ({"MaxEvents": 0, "MaxLogLines": 0}, lambda d: d["events"] == [] and d["log_lines"] == []),
        (
            {"ProbeOcs": True},
            lambda d: (
                d["ocs_probe"]
                == {
                    "ran": True,
                    "url": "https://officeclient.microsoft.com/GetExchangeMitigations",
                    "proxy": None,
                    "status_code": 200,
                    "error": None,
                    "certificate_issuer": None,
                }
            ),
        ),
        (
            {"ProbeOcs": True, "Proxy": "http://proxy.contoso.lab:8080"},
            lambda d: d["ocs_probe"]["proxy"] == "http://proxy.contoso.lab:8080",
        ),
        (
            {"RunGetMitigations": True},
            lambda d: (
                d["get_mitigations"]["ran"] is True
                and [m["id"] for m in d["get_mitigations"]["mitigations"]] == ["PING1", "M1.1", "M2.1.0"]
                and d["get_mitigations"]["mitigations"][2]["status"] == "Blocked"
                and d["get_mitigations"]["mitigations"][0]["server"] == "EX01"
                and d["get_mitigations"]["host"] == "EX01"
            ),
        ),
    ],
    ids=[
        "max-events-1-collapses",
        "event-days",
        "max-log-lines-keeps-last",
        "zero-bounds",
        "probe-ocs",
        "probe-ocs-through-proxy",
        "get-mitigations",
    ],
)
def test_collector_honours_its_parameters(basic_lab: LabOrg, params: dict[str, Any], check: Any) -> None:
    text, _ = run_collector(basic_lab, "ex01.contoso.lab", **params)
    assert check(parse_ps_json(text))


def test_collector_reflects_server_state_and_escapes_like_powershell(basic_lab: LabOrg) -> None:
    text, _ = run_collector(basic_lab, "ex02.contoso.lab", RunGetMitigations=True)
    assert "\\u003cscript\\u003e" in text and "\\u0026 \\u0027quoted\\u0027" in text
    doc = parse_ps_json(text)
    assert doc["service"] == {"name": "MSExchangeMitigation", "status": "Stopped", "start_type": "Manual"}
    assert doc["exsetup"]["source"] == "registry" and doc["exsetup"]["file_version"] == "15.02.2562.041"
    assert isinstance(doc["events"], dict)  # exactly one event: collapsed like ConvertTo-Json does
    assert doc["events"]["message"] == "<script>alert(1)</script> & 'quoted'"
    # Without delegation the second hop to the server's own /PowerShell fails, as New-PSSession reports it.
    gm = doc["get_mitigations"]
    assert (gm["ran"], gm["failed_at"], gm["host"]) == (False, "session", "EX02")
    assert "Access is denied" in gm["error"] and "ex02.contoso.lab" in gm["error"].lower()


def test_edge_collector_has_no_service(basic_lab: LabOrg) -> None:
    doc = parse_ps_json(run_collector(basic_lab, "edge01.dmz.contoso.lab")[0])
    assert doc["service"] is None and doc["computer_name"] == "EDGE01"


def test_collector_rejects_an_unknown_parameter(basic_lab: LabOrg) -> None:
    with RunspacePool(client(basic_lab, "ex01.contoso.lab")) as pool, PowerShell(pool) as ps:
        ps.add_script(COLLECTOR).add_parameter("Bogus", 1)
        ps.invoke()
        assert ps.state == PSInvocationState.FAILED
        assert "A parameter cannot be found that matches parameter name 'Bogus'." in str(
            ps.streams.error[0].exception.adapted_properties["Message"]
        )


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        ("hostname", "EX01"),
        ("$env:COMPUTERNAME", "EX01"),
        ("$PSVersionTable.PSVersion.ToString()", "5.1.17763.6414"),
    ],
)
def test_execute_ps_runs_the_tiny_script_set(basic_lab: LabOrg, script: str, expected: str) -> None:
    with Client(
        basic_lab.address_map()["ex01.contoso.lab"],
        port=basic_lab.wsman_port,
        ssl=False,
        auth="ntlm",
        username=basic_lab.credentials[0],
        password=basic_lab.credentials[1],
        no_proxy=True,
    ) as c:
        output, streams, had_errors = c.execute_ps(script)
    assert (output, had_errors, streams.error) == (expected, False, [])


def test_execute_ps_sets_environment_and_reports_unknown_commands(basic_lab: LabOrg) -> None:
    with Client(
        basic_lab.address_map()["ex01.contoso.lab"],
        port=basic_lab.wsman_port,
        ssl=False,
        auth="ntlm",
        username=basic_lab.credentials[0],
        password=basic_lab.credentials[1],
        no_proxy=True,
    ) as c:
        output, _, _ = c.execute_ps("$env:LAB_TEST", environment={"LAB_TEST": "value-1"})
        assert output == "value-1"
        output, streams, had_errors = c.execute_ps("Get-Process")
    assert output == "" and had_errors is False
    assert "The term 'Get-Process' is not recognized" in str(
        streams.error[0].exception.adapted_properties["Message"]
    )


def test_warning_and_verbose_streams_reach_the_client(basic_lab: LabOrg) -> None:
    with RunspacePool(client(basic_lab, "ex01.contoso.lab")) as pool, PowerShell(pool) as ps:
        ps.add_cmdlet("Write-Warning").add_parameter(
            "Message", "Connection with Mitigation Endpoint was not successful."
        )
        ps.add_statement().add_cmdlet("Write-Verbose").add_parameter("Message", "details").add_parameter(
            "Verbose", True
        )
        ps.invoke()
        assert [w.message for w in ps.streams.warning] == [
            "Connection with Mitigation Endpoint was not successful."
        ]
        assert [v.message for v in ps.streams.verbose] == ["details"]


def test_terminating_error_fails_but_keeps_earlier_output(basic_lab: LabOrg) -> None:
    with RunspacePool(client(basic_lab, "ex01.contoso.lab")) as pool, PowerShell(pool) as ps:
        ps.add_cmdlet("Write-Output").add_parameter("InputObject", "before")
        ps.add_statement().add_cmdlet("Write-Error").add_parameter("Message", "boom").add_parameter(
            "ErrorAction", "Stop"
        )
        ps.add_statement().add_cmdlet("Write-Output").add_parameter("InputObject", "after")
        out = ps.invoke()
        assert out == ["before"]
        assert ps.state == PSInvocationState.FAILED and ps.had_errors
        assert ps.streams.error[0].exception.adapted_properties["Message"] == "boom"


def test_pipeline_input_feeds_the_first_command(basic_lab: LabOrg) -> None:
    with RunspacePool(client(basic_lab, "ex01.contoso.lab")) as pool, PowerShell(pool) as ps:
        ps.add_cmdlet("Write-Output")
        # pypsrp takes a list here although its annotation says bytes | Iterator
        assert ps.invoke(cast(Any, ["a", "b", "c"])) == ["a", "b", "c"]


def test_thousands_of_objects_arrive_over_several_receives(basic_lab: LabOrg) -> None:
    before = basic_lab.request_count("ex01.contoso.lab")
    with (
        RunspacePool(client(basic_lab, "ex01.contoso.lab", max_envelope_size=51200)) as pool,
        PowerShell(pool) as ps,
    ):
        ps.add_cmdlet("Write-Output")
        out = ps.invoke(cast(Any, [f"object-{i:05d}" for i in range(3000)]))
    assert out == [f"object-{i:05d}" for i in range(3000)]
    assert basic_lab.request_count("ex01.contoso.lab") - before > 10


def test_stop_ends_a_running_pipeline(basic_lab: LabOrg) -> None:
    with RunspacePool(client(basic_lab, "ex01.contoso.lab")) as pool:
        ps = PowerShell(pool)
        ps.add_cmdlet("Start-Sleep").add_parameter("Seconds", 60)
        ps.begin_invoke()
        ps.stop()
        assert ps.state == PSInvocationState.STOPPED
        # the pool stays usable after the stop
        with PowerShell(pool) as ps2:
            ps2.add_cmdlet("Write-Output").add_parameter("InputObject", "still alive")
            assert ps2.invoke() == ["still alive"]
    assert basic_lab.open_shells() == 0


def test_is_alive_reports_open_and_deleted_shells(basic_lab: LabOrg) -> None:
    pool = RunspacePool(client(basic_lab, "ex01.contoso.lab"))
    pool.open()
    try:
        assert pool.is_alive() is True
        assert basic_lab.open_shells() == 1
    finally:
        pool.close()
    assert basic_lab.open_shells() == 0
    second = RunspacePool(client(basic_lab, "ex01.contoso.lab"))
    second.open()
    second.shell.wsman.delete(second.shell.resource_uri, selector_set=second.shell._selector_set)
    assert second.is_alive() is False


def test_long_poll_timeout_faults_are_swallowed_while_the_collector_runs() -> None:
    lab = start_fixture_lab("slow_collector")
    try:
        before = lab.request_count()
        text, _ = run_collector(
            lab, "fx01.fabrikam.lab", _client={"operation_timeout": 1, "read_timeout": 10}
        )
        assert json.loads(text)["computer_name"] == "FX01"
        # open (4 with auth) + command + at least two timed-out Receives + the final Receive + close
        assert lab.request_count() - before >= 8
    finally:
        lab.stop()


def test_parallel_cycles_leave_no_shells(basic_lab: LabOrg) -> None:
    errors: list[BaseException] = []

    def cycle(fqdn: str, endpoint: str) -> None:
        try:
            for _ in range(3):
                config = "Microsoft.Exchange" if endpoint == "exchange" else "Microsoft.PowerShell"
                with (
                    RunspacePool(client(basic_lab, fqdn, endpoint), configuration_name=config) as pool,
                    PowerShell(pool) as ps,
                ):
                    if endpoint == "exchange":
                        ps.add_cmdlet("Get-ExchangeServer")
                        assert len(ps.invoke()) == 3
                    else:
                        ps.add_script(COLLECTOR)
                        assert json.loads(ps.invoke()[0])["collector_version"] == 1
        except BaseException as exc:
            errors.append(exc)

    targets = [
        ("ex01.contoso.lab", "exchange"),
        ("ex01.contoso.lab", "wsman"),
        ("ex02.contoso.lab", "wsman"),
        ("edge01.dmz.contoso.lab", "wsman"),
        ("ex02.contoso.lab", "exchange"),
        ("ex01.contoso.lab", "wsman"),
    ]
    threads = [threading.Thread(target=cycle, args=t) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    deadline = time.monotonic() + 2
    while basic_lab.open_shells() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert basic_lab.open_shells() == 0
