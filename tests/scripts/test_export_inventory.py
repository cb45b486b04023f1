"""Export-EemsInventory.ps1 writes what `eems-check evaluate` reads: its Windows PowerShell 5.1 output (fixtures
written as the script writes them) evaluates with every server in the report, and the script agrees with the
schema, the collector and the scanner on names, keys and statuses."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from eems_check.collect.collector import COLLECTOR_NAME, MARKER, SECTIONS, Bounds, collector_parameters
from eems_check.collect.scan import EDGE_REASON
from eems_check.inventory import decode_text, schema

from .conftest import Evaluated
from .pwsh import COLLECTOR, EXPORT, FIXTURES, load

# file, encoding mark, written by the script?, {server: collection status}
FIXTURE_TABLE = [
    ("ps51-utf8bom-org.json", b"\xef\xbb\xbf", True, {
        "EX19-01": "ok", "EXSE01": "ok", "EX16-01": "partial", "EX19-02": "unreachable", "EX19-03": "auth_failed",
        "EX19-04": "timeout", "EDGE01": "not_scanned", "EX13-OLD": "not_scanned"}),
    ("ps51-utf16le-single-server.json", b"\xff\xfe", True, {"EX01": "ok"}),
    ("ps51-pipeline-collapsed.json", b"{", False, {"NW-EX01": "ok"}),
]
IDS = [row[0] for row in FIXTURE_TABLE]
WRITTEN_BY_SCRIPT = [row for row in FIXTURE_TABLE if row[2]]


def raw_document(name: str) -> Any:
    path = FIXTURES / name
    return json.loads(decode_text(path.read_bytes(), name))


def keys_of(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in keys_of(v)}
    if isinstance(value, list):
        return {k for v in value for k in keys_of(v)}
    return set()


@pytest.fixture(scope="module")
def reports(evaluated: dict[str, Evaluated]) -> dict[str, dict[str, Any]]:
    """The real CLI's JSON report for each fixture."""
    return {name: result.report for name, result in evaluated.items()}


@pytest.mark.parametrize(("name", "mark", "by_script", "statuses"), FIXTURE_TABLE, ids=IDS)
def test_fixture_has_the_encoding_it_claims(name: str, mark: bytes, by_script: bool, statuses: dict) -> None:
    raw = (FIXTURES / name).read_bytes()
    assert raw.startswith(mark)
    text = decode_text(raw, name)
    assert text.count("\r\n") == text.count("\n") > 10, "Windows PowerShell 5.1 writes CRLF"
    assert "\\/Date(" in text


@pytest.mark.parametrize(("name", "mark", "by_script", "statuses"), FIXTURE_TABLE, ids=IDS)
def test_eems_check_evaluate_reads_it_and_reports_every_server(
    reports: dict[str, dict[str, Any]], name: str, mark: bytes, by_script: bool, statuses: dict[str, str]
) -> None:
    report = reports[name]
    assert sorted(r["server"] for r in report["results"]) == sorted(statuses)
    inventory = {s["name"]: s for s in report["inventory"]["servers"]}
    assert {n: s["collection"]["status"] for n, s in inventory.items()} == statuses
    # \/Date(ms)\/ became ISO 8601, numeric enums became names.
    assert report["inventory"]["collected_at"].endswith("Z")
    for server in inventory.values():
        assert "Date(" not in json.dumps(server)
        if server.get("service"):
            assert server["service"]["status"] in {"Running", "Stopped"}


@pytest.mark.parametrize(("name", "mark", "by_script", "statuses"), FIXTURE_TABLE, ids=IDS)
def test_servers_is_an_array_exactly_when_the_script_wrote_it(
    name: str, mark: bytes, by_script: bool, statuses: dict
) -> None:
    # The script assigns $entries.ToArray() to the property (never a pipeline), so even one server stays an array;
    # the collapsed object is what a hand-made `... | ConvertTo-Json` pipeline gives, kept to prove the reader copes.
    servers = raw_document(name)["servers"]
    assert isinstance(servers, list) is by_script


def test_failed_and_edge_servers_keep_their_reasons(reports: dict[str, dict[str, Any]]) -> None:
    inventory = {s["name"]: s for s in reports["ps51-utf8bom-org.json"]["inventory"]["servers"]}
    assert inventory["EDGE01"]["collection"]["reason"] == EDGE_REASON
    assert inventory["EX19-03"]["collection"]["reason"].endswith("Access is denied.")
    assert inventory["EX16-01"]["collection"]["reason"].startswith("ExSetup version unknown")
    results = {r["server"]: {f["rule_id"]: f["verdict"] for f in r["findings"]}
               for r in reports["ps51-utf8bom-org.json"]["results"]}
    assert results["EX19-02"]["COLLECTION"] == "fail"
    assert results["EDGE01"]["EDGE-SERVER"] == "fail"
    assert results["EX16-01"]["COLLECTION"] == "fail"  # partial: a warning
    # Get-Mitigations.ps1 ran on ADMIN01 (the admin's computer): its connectivity check says nothing about EX16-01.
    assert results["EX16-01"]["EEMS-GET-MITIGATIONS"] == "unknown"


@pytest.mark.parametrize("row", WRITTEN_BY_SCRIPT, ids=[r[0] for r in WRITTEN_BY_SCRIPT])
def test_fixture_uses_only_keys_the_script_writes(row: tuple) -> None:
    written = load(EXPORT).hash_keys()
    assert sorted(keys_of(raw_document(row[0])) - written) == []


def test_fixture_enums_are_strings_as_the_script_writes_them() -> None:
    for row in WRITTEN_BY_SCRIPT:
        for server in raw_document(row[0])["servers"]:
            service = server.get("service") or {}
            assert all(isinstance(v, str) for v in service.values())
            assert all(isinstance(e["level"], str) for e in server.get("events") or [])
            assert isinstance(server.get("roles", []), list)


def test_script_writes_every_schema_key() -> None:
    defs = schema()["$defs"]
    server = defs["server"]["properties"]
    expected = set(schema()["properties"]) | set(server) | set(server["eems"]["properties"])
    expected |= set(server["collection"]["properties"]) | set(server["ocs_probe"]["properties"])
    expected |= set(server["get_mitigations"]["properties"])
    expected |= set(server["get_mitigations"]["properties"]["mitigations"]["items"]["properties"])
    expected |= set(server["events"]["items"]["properties"]) | set(server["log_lines"]["items"]["properties"])
    expected |= set(server["service"]["properties"]) | set(schema()["properties"]["organization"]["properties"])
    expected |= set(schema()["properties"]["collector"]["properties"])
    missing = expected - load(EXPORT).hash_keys() - {"$schema"}
    # only eems-check scan knows these: its HTTP fallback, and an interrupted scan's mark
    assert sorted(missing) == ["http_version", "incomplete"]


def test_statuses_are_the_schema_enum() -> None:
    allowed = set(schema()["$defs"]["server"]["properties"]["collection"]["properties"]["status"]["enum"])
    script = load(EXPORT)
    used = set()
    for command in script.commands("Set-Collection"):
        values = script.string_values(command)
        if "-Status" in script.command_parameters(command) and values and values[0] in allowed:
            used.add(values[0])
    used |= {s for s in allowed if f"'{s}'" in script.code(script.function("Get-FailureStatus"))}
    source = script.source.decode()
    used |= {s for s in ("ok", "partial") if f"$status = '{s}'" in source}
    assert used == allowed


@pytest.mark.parametrize(("expected", "where"), [
    ("schema = 'eems-check/inventory'", "document"),
    ("schema_version = 1", "document"),
    ("name = 'Export-EemsInventory.ps1'", "collector block"),
    ("ConvertTo-Json -InputObject $document -Depth 8", "serialisation"),
    ("servers = $entries.ToArray()", "servers kept an array"),
    ("$startedUtc = [System.DateTime]::UtcNow", "a plain DateTime, not Get-Date's wrapped one"),
    ("New-Object -TypeName 'System.Text.UTF8Encoding' -ArgumentList @($false)", "UTF-8 without BOM by default"),
    ("[System.IO.File]::WriteAllText($Path, $json, $encodingObject)", "one write, chosen encoding"),
])
def test_document_is_written_as_promised(expected: str, where: str) -> None:
    assert expected in EXPORT.read_text(), where


def test_the_same_strings_as_the_scanner_and_collector() -> None:
    source = EXPORT.read_text()
    assert f"$EdgeReason = '{EDGE_REASON}'" in source
    assert f"$CollectorMarker = '{MARKER}'" in source
    assert f"$CollectorName = '{COLLECTOR_NAME}'" in source
    sections = "@(" + ", ".join(f"'{s}'" for s in SECTIONS) + ")"
    assert f"foreach ($section in {sections})" in source


def test_the_collector_gets_parameters_it_declares() -> None:
    script = load(EXPORT)
    collector_declared = set(load(COLLECTOR).script_parameters())
    passed = {"MaxEvents", "EventDays", "MaxLogLines"} | {"ProbeOcs", "Proxy"}
    source = script.source.decode()
    assert "$collectorParameters = @{ MaxEvents = $MaxEvents; EventDays = $EventDays; MaxLogLines = $MaxLogLines }" \
        in source
    assert "$parameters['ProbeOcs'] = $true" in source and "$parameters['Proxy'] =" in source
    assert passed <= collector_declared
    assert passed == set(collector_parameters(Bounds(), probe_ocs=True, run_get_mitigations=False, proxy="http://p"))


def test_collector_runs_remotely_with_named_parameters_per_non_edge_server() -> None:
    script = load(EXPORT)
    source = script.source.decode()
    assert "$collector = [scriptblock]::Create($CollectorText)" in source
    assert "& $collector @CollectorParameters" in source
    assert "ComputerName = $target" in source and "ArgumentList = @($collectorText, $parameters)" in source
    assert len(script.commands("Invoke-Command")) == 1
    assert "if ($entry['is_edge']) {" in source


@pytest.mark.parametrize(("layout", "candidate"), [
    ("a copy made by eems-check scripts --copy", "Join-Path -Path $PSScriptRoot -ChildPath 'collector.ps1'"),
    ("the installed package", "-Parent) -ChildPath 'collect\\collector.ps1'"),
    ("a checkout", "-Parent) -ChildPath 'eems_check\\collect\\collector.ps1'"),
])
def test_default_collector_path_finds_the_collector_in_each_layout(layout: str, candidate: str, tmp_path: Path) -> None:
    from eems_check.wrappers import copy_scripts, scripts_dir

    source = EXPORT.read_text()
    assert candidate in source, layout
    folder = {"a copy made by eems-check scripts --copy": None, "the installed package": scripts_dir(),
              "a checkout": EXPORT.parent}[layout]
    if folder is None:
        folder = tmp_path
        copy_scripts(folder)
    relative = candidate.split("-ChildPath ")[1].strip("'").replace("\\", "/")
    base = folder if "$PSScriptRoot -ChildPath" in candidate else folder.parent
    if layout == "the installed package":  # installed: eems_check/scripts next to eems_check/collect
        base = Path(__import__("eems_check").__file__).parent
    assert (base / relative).is_file(), layout
    assert "was not found at" in source and "-CollectorPath" in source


def test_get_mitigations_runs_in_ems_streaming_its_records_without_strict_mode() -> None:
    script = load(EXPORT)
    text = script.code(script.function("Invoke-GetMitigationsScript"))
    # Streamed into ForEach-Object: `try { @(& script *>&1) }` lost every warning when the script threw late.
    assert "& $ScriptPath -Identity $Identity *>&1 | ForEach-Object -Process {" in text
    assert "@(& $ScriptPath" not in text
    # Strict mode off before the call: this script's Set-StrictMode -Version Latest would reach into Microsoft's.
    assert text.index("Set-StrictMode -Off") < text.index("& $ScriptPath")
    assert "[System.Management.Automation.WarningRecord]" in text
    assert "Get-Variable -Name 'exscripts'" in script.source.decode()


def test_the_connectivity_warning_stays_with_the_computer_that_ran_the_script() -> None:
    script = load(EXPORT)
    text = script.code(script.function("Invoke-GetMitigationsScript"))
    assert "host = $ThisHost" in text
    assert "if ($own) { $warnings.Add($item.Message) }" in text
    assert "host = $thisHost" in script.source.decode()  # the document's collector.host


def test_large_answers_are_parsed_without_the_2_mb_limit_of_powershell_4() -> None:
    script = load(EXPORT)
    text = script.code(script.function("ConvertFrom-CollectorJson"))
    assert "$serializer.MaxJsonLength = [int]::MaxValue" in text
    reading = script.code(script.function("Add-CollectorReading"))
    assert "ConvertFrom-CollectorJson -Text $Text" in reading and "ConvertFrom-Json" not in reading
    # Dictionaries from JavaScriptSerializer are read through Get-BagValue, never .PSObject.Properties directly.
    assert ".PSObject.Properties[" not in reading


def test_requires_the_exchange_management_shell() -> None:
    source = EXPORT.read_text()
    assert "Get-Command -Name 'Get-ExchangeServer'" in source and "Exchange Management Shell" in source
    assert {"Get-OrganizationConfig", "Get-ExchangeServer"} <= set(load(EXPORT).command_names())


@pytest.mark.parametrize("prop", ["Name", "Fqdn", "Site", "ServerRole", "Edition", "IsEdgeServer",
                                  "AdminDisplayVersion", "MitigationsEnabled", "MitigationsApplied",
                                  "MitigationsBlocked", "DataCollectionEnabled", "InternetWebProxy"])
def test_reads_each_get_exchangeserver_property(prop: str) -> None:
    script = load(EXPORT)
    assert prop in script.string_values(script.function("New-ServerEntry"))


def test_the_collected_fixture_round_trips_through_the_reader_unchanged_in_substance(
    reports: dict[str, dict[str, Any]]
) -> None:
    # What the reader keeps of the 5.1 file equals the fixture once 5.1's quirks are undone.
    source = raw_document("ps51-utf8bom-org.json")["servers"][0]
    kept = next(s for s in reports["ps51-utf8bom-org.json"]["inventory"]["servers"] if s["name"] == "EX19-01")
    for key in ("fqdn", "site", "roles", "edition", "exsetup_version", "build_source", "eems", "service",
                "log_lines", "get_mitigations", "ocs_probe"):
        assert kept[key] == source[key], key
    assert kept["events"][0]["message"] == source["events"][0]["message"]
    assert "'" in kept["events"][0]["message"]  # written as \u0027 by 5.1


def test_fixtures_readme_lists_every_fixture() -> None:
    text = (FIXTURES / "README.md").read_text()
    for name in (p.name for p in Path(FIXTURES).glob("*.json")):
        assert name in text


def _scrub_pattern() -> str:
    script = load(EXPORT)
    body = script.code(script.function("ConvertTo-ScrubbedText"))
    literal = re.search(r"\[regex\]::Replace\(\$Text, '((?:[^']|'')*)'", body)
    assert literal, "the URL credential pattern moved"
    return literal.group(1).replace("''", "'")


@pytest.mark.parametrize(("text", "expected"), [
    ('"proxy":"http://svc-proxy:Summer2026!@proxy.contoso.com:8080/"',
     '"proxy":"http://scrubbed:scrubbed@proxy.contoso.com:8080/"'),
    ("<S N=\"InternetWebProxy\">http://CONTOSO%5Csvc:p%40ss@10.0.0.1:3128</S>",
     "<S N=\"InternetWebProxy\">http://scrubbed:scrubbed@10.0.0.1:3128</S>"),
    ('"url":"https://officeclient.microsoft.com/GetExchangeMitigations"',
     '"url":"https://officeclient.microsoft.com/GetExchangeMitigations"'),
    ('"proxy":"http://proxy.contoso.com:8080/"', '"proxy":"http://proxy.contoso.com:8080/"'),
])
def test_a_capture_never_holds_a_password_inside_a_url(text: str, expected: str) -> None:
    # .NET and Python read this pattern alike (a fixed-width lookbehind and character classes).
    assert re.sub(_scrub_pattern(), "scrubbed:scrubbed@", text) == expected


def test_the_capture_holds_both_cmdlets_as_clixml_and_each_collector_answer_scrubbed() -> None:
    script = load(EXPORT)
    source = script.source.decode()
    assert "Export-Clixml -LiteralPath $raw" in source
    assert "File = 'GetExchangeServer.xml'; Objects = $allServers" in source
    assert "File = 'GetOrganizationConfig.xml'; Objects = @($organization)" in source
    assert "format = 'eems-check/capture'; version = 1" in source
    assert "('collector\\{0}.json' -f $entry['name'])" in source
    # Every captured file goes through Save-CaptureText, which scrubs before writing.
    saver = script.code(script.function("Save-CaptureText"))
    assert "(ConvertTo-ScrubbedText -Text $Text -Names $scrubTable)" in saver
    writes = [n for n in script.nodes("invocation_expression") if "WriteAllText" in script.text(n)]
    assert sum("$captureFolder" in script.text(n) for n in writes) == 0
