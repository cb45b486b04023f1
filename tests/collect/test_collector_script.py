"""The collector script ships as package data, parses cleanly as PowerShell, and uses no aliases."""

from __future__ import annotations

import re

import pytest
import tree_sitter
import tree_sitter_pwsh

from eems_check.collect import collector as reader
from eems_check.collect.collector import MARKER, SECTIONS, Bounds, collector_parameters, collector_script
from eems_check.lab import collector as lab_collector
from eems_check.lab import hostless

# Common aliases (and their look-alikes) that must never appear in place of a command name.
ALIASES = {"%", "?", "select", "where", "foreach", "gci", "ls", "dir", "cat", "echo", "gc", "sc", "cp", "mv",
           "rm", "del", "iwr", "irm", "curl", "wget", "sort", "ft", "fl", "gm", "gwmi", "iex", "sleep", "type",
           "write", "ps", "kill", "cd", "pwd", "measure", "tee", "group", "compare", "diff", "gsv", "gp", "gi"}


def _tree() -> tuple[tree_sitter.Node, bytes]:
    source = collector_script().encode("utf-8")
    parser = tree_sitter.Parser(tree_sitter.Language(tree_sitter_pwsh.language()))
    return parser.parse(source).root_node, source


def _walk(node: tree_sitter.Node) -> list[tree_sitter.Node]:
    out = [node]
    for child in node.children:
        out.extend(_walk(child))
    return out


def test_script_starts_with_the_marker_line() -> None:
    assert collector_script().splitlines()[0] == MARKER


def test_script_parses_without_error_or_missing_nodes() -> None:
    root, source = _tree()
    bad = [(n.type, n.start_point, source[n.start_byte:n.end_byte][:60]) for n in _walk(root)
           if n.is_error or n.is_missing]
    assert bad == []


def test_script_calls_no_alias() -> None:
    root, source = _tree()
    names = {source[n.start_byte:n.end_byte].decode().lower() for n in _walk(root) if n.type == "command_name"}
    assert names, "the tree has no command names: the grammar changed?"
    assert names & ALIASES == set()
    assert all("-" in n for n in names), sorted(n for n in names if "-" not in n)


def test_script_declares_every_parameter_the_scanner_passes() -> None:
    params = collector_parameters(Bounds(), probe_ocs=True, run_get_mitigations=True, proxy="http://proxy:8080")
    declared = set(re.findall(r"^\s*\[(?:int|switch|string)\]\$(\w+)", collector_script(), re.MULTILINE))
    assert set(params) <= declared
    assert declared == {"MaxEvents", "EventDays", "MaxLogLines", "MaxLogBytes", "ProbeOcs", "RunGetMitigations",
                        "Proxy"}


@pytest.mark.parametrize("key", [*SECTIONS, "collector", "collector_version", "computer_name", "collected_at",
                                 "truncated"])
def test_script_document_has_each_contract_key(key: str) -> None:
    assert re.search(rf"^\s*{key} = ", collector_script(), re.MULTILINE)


def test_script_compresses_json_at_depth_6() -> None:
    assert "ConvertTo-Json -InputObject $document -Depth 6 -Compress" in collector_script()


@pytest.mark.parametrize(("probe", "mitigations", "proxy", "expected"), [
    (False, False, "http://p:8080", {"MaxEvents": 50, "EventDays": 30, "MaxLogLines": 200}),
    (True, False, None, {"MaxEvents": 50, "EventDays": 30, "MaxLogLines": 200, "ProbeOcs": True}),
    (True, True, "http://p:8080", {"MaxEvents": 50, "EventDays": 30, "MaxLogLines": 200, "ProbeOcs": True,
                                   "Proxy": "http://p:8080", "RunGetMitigations": True}),
])
def test_switches_and_proxy_are_passed_only_when_needed(probe: bool, mitigations: bool, proxy: str | None,
                                                        expected: dict[str, object]) -> None:
    assert collector_parameters(Bounds(), probe_ocs=probe, run_get_mitigations=mitigations, proxy=proxy) == expected


def test_the_script_sent_is_the_shipped_file_without_comments_blank_lines_or_indentation() -> None:
    from importlib import resources

    shipped = (resources.files("eems_check.collect") / "collector.ps1").read_text(encoding="utf-8")
    tree = tree_sitter.Parser(tree_sitter.Language(tree_sitter_pwsh.language())).parse(shipped.encode("utf-8"))
    assert not any(n.type == "ERROR" or n.is_missing for n in _walk(tree.root_node))
    help_end = shipped.index("#>")
    code = [line.strip() for line in shipped[help_end + 2:].splitlines()
            if line.strip() and not line.strip().startswith("#")]
    assert collector_script().splitlines()[1:] == code
    assert len(collector_script()) < 0.75 * len(shipped)


def _shipped() -> str:
    """The file as shipped, indentation kept (a function ends at the first unindented closing brace)."""
    from importlib import resources

    return (resources.files("eems_check.collect") / "collector.ps1").read_text(encoding="utf-8")


def _constant(name: str) -> int:
    match = re.search(rf"^\s*\${name} = (\d+)$", collector_script(), re.MULTILINE)
    assert match, name
    return int(match.group(1))


def test_the_scripts_cuts_add_up_to_what_the_reader_accepts() -> None:
    # The reader refuses an answer longer than Bounds.max_output_chars; the script cuts every text to a JSON share.
    # Worst case per part (keys, punctuation and the fixed fields of each entry counted generously):
    line = _constant("MaxLogLineJson") + _constant("MaxFileNameJson") + len('{"file":,"line":},')
    fixed = '{"id":2147483647,"level":"Information","time":"2026-11-27T09:00:00.0000000Z","source":,"message":},'
    event = _constant("MaxEventMessageJson") + 2 * _constant("MaxMitigationFieldJson") + len(fixed)
    mitigation = 4 * _constant("MaxMitigationFieldJson") + _constant("MaxMitigationDescriptionJson") + 80
    text = _constant("MaxTextJson")
    skipped = _constant("MaxFileNameJson") + text + len('{"file":,"error":},')
    base = (_constant("MaxMitigations") * mitigation + 2 * _constant("MaxStreamRecords") * (text + 1)
            + _constant("MaxSkippedFiles") * skipped
            + 12 * text  # exsetup path, version, error; proxy, probe error, issuer; reasons, host, error
            + 2048)  # keys, computer name, dates, truncated list
    assert line <= reader._LINE_BYTES
    assert event <= reader._EVENT_BYTES
    assert base <= reader._BASE_BYTES


@pytest.mark.parametrize(("constant", "lab_value"), [
    ("MaxEventMessageJson", lab_collector.MAX_EVENT_MESSAGE_JSON),
    ("MaxLogLineJson", lab_collector.MAX_LOG_LINE_JSON),
    ("MaxFileNameJson", lab_collector.MAX_FILE_NAME_JSON),
])
def test_the_lab_cuts_texts_where_the_script_does(constant: str, lab_value: int) -> None:
    assert _constant(constant) == lab_value


@pytest.mark.parametrize(("function", "key", "limit"), [
    ("Get-MitigationEvent", "message", "$MaxEventMessageJson"),
    ("Get-MitigationLogLine", "line", "$MaxLogLineJson"),
    ("Get-MitigationLogLine", "file", "$MaxFileNameJson"),
    ("Add-MitigationRecord", "description", "$MaxMitigationDescriptionJson"),
    ("Add-MitigationRecord", "id", "$MaxMitigationFieldJson"),
])
def test_each_unbounded_text_passes_through_limit_text(function: str, key: str, limit: str) -> None:
    # Event messages were returned whole: weeks of 1008 exception chains made the answer too long to accept.
    body = re.search(rf"function {function} \{{(.*?)\n\}}\n", _shipped(), re.DOTALL)
    assert body, function
    assert re.search(rf"\b{key} = Limit-Text -Text .* -MaxJson \{limit}\b", body.group(1)), (function, key)


def test_the_collector_needs_no_host_and_imports_exchange_from_its_own_endpoint() -> None:
    shape = hostless.analyse(collector_script())
    assert shape.checked and shape.refusal is None
    assert shape.imports_exchange_session


def test_get_mitigations_streams_its_records_instead_of_collecting_them_after_the_fact() -> None:
    # `@(& script *>&1)` inside try loses every warning when the script throws late; a pipeline into
    # ForEach-Object files each record as it arrives.
    text = _shipped()
    assert re.search(r"& \$scriptPath -Identity \$env:COMPUTERNAME \*>&1 \| ForEach-Object -Process", text)
    assert not re.search(r"@\(&[^)]*\*>&1\)", text)
    body = re.search(r"function Invoke-GetMitigationsHostless \{(.*?)\n\}\n", text, re.DOTALL)
    assert body and "Set-StrictMode -Off" in body.group(1)


@pytest.mark.parametrize(("function", "needle"), [
    # One unreadable log file (locked, ACL) is skipped and named; the others still count.
    ("Get-MitigationLogLine", "$LogFilesSkipped.Add([ordered]@{ file = Limit-Text -Text $file.Name"),
    # Only files written in the last -EventDays days, newest first, within -MaxLogBytes in all.
    ("Get-MitigationLogLine", "Where-Object -FilterScript { $_.LastWriteTimeUtc -ge $since }"),
    ("Get-MitigationLogLine", "$tail = Read-LogTail -File $file -Budget $budget -MaxBytes $bytesLeft"),
    ("Read-LogTail", "$start = $stream.Length - $MaxBytes"),
    # The proxy gets the session's default credentials, local addresses bypass it (BypassProxyOnLocal = $true).
    ("Invoke-OcsProbe", "-ArgumentList @($Proxy, $true)"),
    ("Invoke-OcsProbe", "$webProxy.Credentials = [System.Net.CredentialCache]::DefaultNetworkCredentials"),
    ("Invoke-OcsProbe",
     "if ($probe.status_code -eq 407) { $probe.error = 'proxy requires authentication (inconclusive)' }"),
    ("Invoke-OcsProbe", "$probe.certificate_issuer = Get-CertificateIssuer -Request $request"),
])
def test_log_reading_and_the_ocs_probe_do_what_a_real_server_needs(function: str, needle: str) -> None:
    body = re.search(rf"function {function} \{{(.*?)\n\}}\n", _shipped(), re.DOTALL)
    assert body, function
    assert needle in body.group(1)
