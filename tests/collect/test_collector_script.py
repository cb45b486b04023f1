"""The collector script ships as package data, parses cleanly as PowerShell, and uses no aliases."""

from __future__ import annotations

import re

import pytest
import tree_sitter
import tree_sitter_pwsh

from eems_check.collect.collector import MARKER, SECTIONS, Bounds, collector_parameters, collector_script

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
    assert {"MaxEvents", "EventDays", "MaxLogLines", "ProbeOcs", "RunGetMitigations", "Proxy"} == declared


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
