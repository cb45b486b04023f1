"""Every PowerShell script parses, calls no alias, has comment-based help for every parameter, and stays within
what Windows PowerShell 5.1 understands. Table-driven over the scripts; no PowerShell needed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from .pwsh import COLLECTOR, EXPORT, FIXTURES, INVOKE, REGISTER, Script, help_sections, load, ps1_files

ALIASES = {"%", "?", "select", "where", "foreach", "gci", "ls", "dir", "cat", "echo", "cd", "cp", "mv", "rm", "iex",
           "irm", "iwr", "ft", "fl", "gc", "sc", "ni", "gps", "gsv",
           # and a few more look-alikes
           "sort", "measure", "tee", "group", "sleep", "type", "write", "del", "curl", "wget", "gm", "gp", "gi",
           "kill", "ps", "pwd", "diff", "compare", "gwmi", "icm", "sajb", "rjb", "gjb", "wjb", "ipmo", "ogv"}

# Parameters and commands that exist only in PowerShell 6 or 7.
PS7_ONLY_PARAMETERS = {
    "foreach-object": {"-parallel", "-throttlelimit", "-asjob"},
    "convertfrom-json": {"-ashashtable", "-depth", "-noenumerate"},
    "convertto-json": {"-escapehandling", "-enumsasstrings", "-asarray"},
    "join-path": {"-additionalchildpath"},
    "get-content": {"-asbytestream"},
    "set-content": {"-asbytestream"},
    "start-process": {"-environment"},
    "invoke-webrequest": {"-skipcertificatecheck"},
    "invoke-restmethod": {"-skipcertificatecheck"},
    "select-object": {"-skiplast"},
}
PS7_ONLY_COMMANDS = {"join-string", "test-json", "get-error", "foreach-object -parallel", "convertfrom-markdown"}
PS7_ONLY_NODES = {"pipeline_chain_tail", "null_coalesce_expression", "ternary_expression"}

SCRIPTS = ps1_files()
OURS = [INVOKE, EXPORT, REGISTER]
IDS = [p.name for p in SCRIPTS]


def test_the_three_scripts_exist() -> None:
    assert {p.name for p in SCRIPTS} >= {"Invoke-EemsCheck.ps1", "Export-EemsInventory.ps1",
                                        "Register-EemsCheckTask.ps1", "collector.ps1"}


@pytest.mark.parametrize("path", SCRIPTS, ids=IDS)
def test_parses_without_error_or_missing_nodes(path: Path) -> None:
    assert load(path).is_error_free() == []


@pytest.mark.parametrize("path", SCRIPTS, ids=IDS)
def test_calls_no_alias(path: Path) -> None:
    names = {n.lower() for n in load(path).command_names()}
    assert names, "no command names in the tree: did the grammar change?"
    assert names & ALIASES == set()
    # Verb-Noun everywhere: anything else is an alias or an external program called by bare name.
    assert sorted(n for n in names if "-" not in n) == []


@pytest.mark.parametrize("path", SCRIPTS, ids=IDS)
def test_uses_nothing_only_powershell_7_has(path: Path) -> None:
    script = load(path)
    assert sorted({n.type for n in script.nodes() if n.type in PS7_ONLY_NODES}) == []
    assert sorted(n for n in script.command_names() if n.lower() in PS7_ONLY_COMMANDS) == []
    found = []
    for command, forbidden in PS7_ONLY_PARAMETERS.items():
        for node in script.commands(command):
            found += [f"{command} {p}" for p in script.command_parameters(node) if p.lower() in forbidden]
    assert found == []
    # Encodings 5.1 does not know; `?.` would not even parse (see the ERROR test).
    assert not re.search(r"(?i)-Encoding\s+'?utf8(No)?BOM'?", script.source.decode())


@pytest.mark.parametrize("path", SCRIPTS, ids=IDS)
def test_has_comment_based_help_with_synopsis_description_and_example(path: Path) -> None:
    sections = help_sections(load(path).comment_help())
    assert sections.get("SYNOPSIS") and sections["SYNOPSIS"][0]
    assert sections.get("DESCRIPTION") and sections["DESCRIPTION"][0]
    if path != COLLECTOR:  # the collector is sent over the wire, not run by people
        assert len(sections.get("EXAMPLE", [])) >= 3


@pytest.mark.parametrize("path", SCRIPTS, ids=IDS)
def test_every_parameter_is_documented_and_every_documented_one_exists(path: Path) -> None:
    script = load(path)
    declared = set(script.script_parameters())
    documented = help_sections(script.comment_help()).get("PARAMETER_NAMES", [])
    assert declared, "no parameters found"
    assert sorted(declared - set(documented)) == []
    assert sorted(set(documented) - declared) == []
    assert len(documented) == len(set(documented)), "a parameter is documented twice"


@pytest.mark.parametrize("path", OURS, ids=[p.name for p in OURS])
def test_is_an_advanced_script_in_strict_mode_that_stops_on_errors(path: Path) -> None:
    script = load(path)
    block = script.script_param_block()
    assert block is not None and "[CmdletBinding(" in script.text(block)
    strict = script.commands("Set-StrictMode")
    assert strict and script.command_parameters(strict[0]) == ["-Version"]
    assert "Latest" in script.text(strict[0])
    assert "$ErrorActionPreference = 'Stop'" in script.source.decode()


@pytest.mark.parametrize("path", OURS, ids=[p.name for p in OURS])
def test_functions_use_approved_verb_noun_names(path: Path) -> None:
    approved = {"Add", "ConvertFrom", "ConvertTo", "Copy", "Find", "Get", "Invoke", "New", "Resolve", "Save", "Set",
                "Test"}
    names = load(path).function_names()
    assert sorted(n for n in names if n.split("-")[0] not in approved or "-" not in n) == []


@pytest.mark.parametrize("path", OURS, ids=[p.name for p in OURS])
def test_is_plain_text_windows_powershell_reads_the_same_way(path: Path) -> None:
    # 5.1 reads a BOM-less file as ANSI: keep the scripts ASCII so nothing depends on the code page.
    raw = path.read_bytes()
    assert raw.isascii(), sorted({chr(b) for b in raw if b > 127})


# What Windows PowerShell 4.0 lacks (Exchange 2016 on Windows Server 2012 R2 without WMF 5.1 runs 4.0, and
# Get-Mitigations.ps1 is documented to need only 4.0): language features and types of 5.0, and 5.0's commands and
# parameters.
PS4_MISSING_NODES = {"class_statement", "enum_statement", "using_statement"}
PS5_TYPES = {"system.management.automation.informationrecord", "informationrecord",
             "system.management.automation.hostinformationmessage"}
PS5_COMMANDS = {"write-information", "new-temporaryfile", "new-guid", "get-clipboard", "set-clipboard",
                "expand-archive", "compress-archive", "import-powershelldatafile", "convertfrom-string",
                "format-hex", "get-itempropertyvalue", "clear-recyclebin"}
PS5_PARAMETERS = {"get-childitem": {"-depth"}, "out-file": {"-nonewline"}, "set-content": {"-nonewline"},
                  "add-content": {"-nonewline"}}
PS5_COMMON = {"-informationaction", "-informationvariable", "-infa", "-iv"}


def powershell_4_lacks(script: Script) -> list[str]:
    found = sorted({n.type for n in script.nodes() if n.type in PS4_MISSING_NODES})
    for node in script.nodes("invocation_expression"):  # [Type]::new(...)
        literal = [c for c in node.children if c.type == "type_literal"]
        names = [script.text(c).lower() for c in node.children if c.type == "member_name"]
        if literal and names == ["new"]:
            found.append(script.text(node)[:60])
    found += [script.text(n) for n in script.nodes("type_name") if script.text(n).lower() in PS5_TYPES]
    found += [n for n in script.command_names() if n.lower() in PS5_COMMANDS]
    for command in script.nodes("command"):
        names = [script.text(c).lower() for c in command.children if c.type == "command_name"]
        parameters = {p.lower() for p in script.command_parameters(command)}
        found += sorted(parameters & (PS5_PARAMETERS.get(names[0], set()) if names else set()))
        found += sorted(parameters & PS5_COMMON)
    found += [script.text(n) for n in script.nodes("redirection") if script.text(n).startswith("6>")]
    return found


@pytest.mark.parametrize("path", SCRIPTS, ids=IDS)
def test_uses_nothing_powershell_4_lacks(path: Path) -> None:
    assert powershell_4_lacks(load(path)) == []


def test_the_powershell_4_check_finds_each_construct() -> None:
    # A fixture of what 5.0 added: the check must see every line of it, or its silence above proves nothing.
    found = powershell_4_lacks(load(FIXTURES / "ps5-only-constructs.ps1"))
    assert found == ["class_statement", "enum_statement", "using_statement", "[System.Text.StringBuilder]::new()",
                     "System.Management.Automation.InformationRecord", "Write-Information", "-depth", "6>&1"]
