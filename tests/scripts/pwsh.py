"""Reading PowerShell scripts without PowerShell: a tree-sitter-pwsh parse tree plus the helpers the tests share.

Everything here is static: command names, parameters, comment-based help, hash keys and string literals are taken
from the tree (or, for the help text, from the comment that carries it), never by running the script.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import tree_sitter
import tree_sitter_pwsh

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "scripts"
COLLECTOR = ROOT / "eems_check" / "collect" / "collector.ps1"
FIXTURES = Path(__file__).parent / "fixtures"

INVOKE = SCRIPTS / "Invoke-EemsCheck.ps1"
EXPORT = SCRIPTS / "Export-EemsInventory.ps1"
REGISTER = SCRIPTS / "Register-EemsCheckTask.ps1"

Node = tree_sitter.Node


@cache
def _parser() -> tree_sitter.Parser:
    return tree_sitter.Parser(tree_sitter.Language(tree_sitter_pwsh.language()))


@dataclass(frozen=True)
class Script:
    path: Path
    source: bytes
    root: Node

    def text(self, node: Node) -> str:
        return self.source[node.start_byte : node.end_byte].decode("utf-8")

    def code(self, node: Node) -> str:
        """The text of `node` without its comments."""
        parts, at = [], node.start_byte
        for comment in self.nodes("comment", node):
            parts.append(self.source[at : comment.start_byte])
            at = comment.end_byte
        parts.append(self.source[at : node.end_byte])
        return b"".join(parts).decode("utf-8")

    def nodes(self, kind: str | None = None, within: Node | None = None) -> Iterator[Node]:
        stack = [within or self.root]
        while stack:
            node = stack.pop()
            if kind is None or node.type == kind:
                yield node
            stack.extend(reversed(node.children))

    def command_names(self, within: Node | None = None) -> list[str]:
        return [self.text(n) for n in self.nodes("command_name", within)]

    def commands(self, name: str, within: Node | None = None) -> list[Node]:
        """`command` nodes calling `name` (case-insensitive)."""
        out = []
        for node in self.nodes("command", within):
            names = [c for c in node.children if c.type == "command_name"]
            if names and self.text(names[0]).lower() == name.lower():
                out.append(node)
        return out

    def command_parameters(self, command: Node) -> list[str]:
        return [self.text(n) for n in self.nodes("command_parameter", command)]

    def function(self, name: str) -> Node:
        for node in self.nodes("function_statement"):
            names = [c for c in node.children if c.type == "function_name"]
            if names and self.text(names[0]).lower() == name.lower():
                return node
        raise LookupError(f"{self.path.name} has no function {name}")

    def function_names(self) -> list[str]:
        return [
            self.text(c) for n in self.nodes("function_statement") for c in n.children if c.type == "function_name"
        ]

    def script_param_block(self) -> Node | None:
        """The script's own param block (a direct child of the program, not a function's)."""
        return next((c for c in self.root.children if c.type == "param_block"), None)

    def script_parameters(self) -> dict[str, Node]:
        block = self.script_param_block()
        if block is None:
            return {}
        out = {}
        for node in self.nodes("script_parameter", block):
            variable = next(c for c in node.children if c.type == "variable")
            out[self.text(variable).lstrip("$")] = node
            # Grammar quirk: tree-sitter-pwsh reads `[string]$A = 'x', [switch]$B` as one parameter whose default
            # is the array `'x', [switch]$B`; PowerShell itself ends a default at the comma. Recover $B.
            for default in (c for c in node.children if c.type == "script_parameter_default"):
                for array in (c for c in default.children if c.type == "array_literal_expression"):
                    for element in array.children[1:]:
                        casts = list(self.nodes("cast_expression", element))
                        if casts:
                            names = [self.text(v) for v in self.nodes("variable", casts[0])]
                            out[names[-1].lstrip("$")] = element
        return out

    def string_values(self, within: Node | None = None) -> list[str]:
        """The value of every string literal (quotes removed; expandable strings as written)."""
        out = []
        for node in self.nodes("string_literal", within):
            raw = self.text(node)
            if raw[:2] in ("@'", '@"'):
                out.append(raw[2:-2].strip("\r\n"))
            elif raw[:1] in ("'", '"'):
                out.append(raw[1:-1].replace("''", "'") if raw[0] == "'" else raw[1:-1])
        return out

    def hash_keys(self, within: Node | None = None) -> set[str]:
        """Keys written in hash literals, `$x['key'] = ...` element assignments and `-Key @(...)` lists."""
        keys = set()
        for entry in self.nodes("hash_entry", within):
            key = next(c for c in entry.children if c.type == "key_expression")
            values = self.string_values(key)
            keys.add(values[0] if values else self.text(key))
        for access in self.nodes("element_access", within):
            keys.update(self.string_values(access))
        for command in self.commands("Copy-Known", within):
            keys.update(self.string_values(command))
        for entry in self.nodes("hash_entry", within):  # tables such as @{ Key = 'events'; Fields = @('id', ...) }
            key = next(c for c in entry.children if c.type == "key_expression")
            if self.text(key) in ("Key", "Fields"):
                keys.update(self.string_values(entry))
        return keys

    def comment_help(self) -> str:
        """The comment-based help block: the first block comment holding `.SYNOPSIS`."""
        for node in self.nodes("comment"):
            raw = self.text(node)
            if raw.startswith("<#") and re.search(r"^\s*\.SYNOPSIS\b", raw, re.MULTILINE):
                return raw
        return ""

    def is_error_free(self) -> list[tuple[str, tuple[int, int], str]]:
        return [
            (n.type, n.start_point, self.text(n)[:60]) for n in self.nodes() if n.is_error or n.is_missing
        ]


@cache
def load(path: Path) -> Script:
    source = path.read_bytes()
    return Script(path, source, _parser().parse(source).root_node)


def help_sections(help_text: str) -> dict[str, list[str]]:
    """`.KEYWORD [argument]` sections of comment-based help: {"SYNOPSIS": [body], "PARAMETER": [name, ...], ...}."""
    out: dict[str, list[str]] = {}
    keyword = None
    body: list[str] = []
    for line in help_text.splitlines():
        match = re.match(r"^\s*\.([A-Z]+)\b\s*(\S*)\s*$", line)
        if match:
            if keyword:
                out.setdefault(keyword, []).append("\n".join(body).strip())
            keyword, body = match.group(1), []
            if keyword == "PARAMETER":
                out.setdefault("PARAMETER_NAMES", []).append(match.group(2))
        else:
            body.append(line.replace("#>", ""))
    if keyword:
        out.setdefault(keyword, []).append("\n".join(body).strip())
    return out


def ps1_files() -> list[Path]:
    return [*sorted(SCRIPTS.glob("*.ps1")), COLLECTOR]
