"""What a host-less remote session refuses, found in a script before the lab simulates its answer.

pypsrp opens runspaces without a host (no host UI, no raw UI), and so does the scan. Real PowerShell then fails a
script that needs one: the Exchange Management Shell's loader `RemoteExchange.ps1` sizes the console window as it
loads (`$host.UI.RawUI`), `Connect-ExchangeServer` (which only that loader defines) falls back to `Read-Host`, and
`Read-Host` or `Get-Credential` prompt. The lab cannot run PowerShell, so it parses every script its /wsman
endpoint receives with tree-sitter-pwsh and refuses those constructs wherever they appear (PowerShell fails only
when the line runs; the lab is stricter on purpose), with the error PowerShell gives. It also reports how the
script loads the Exchange cmdlets, so that the lab answers Get-Mitigations.ps1 from what the script does.

tree-sitter-pwsh is optional (the `lab` extra): without it the check is skipped and logged once, so the bundled
demo still runs on a plain install; the test suite always has it.

What it must not do: run anything, or simulate the script's answer (`collector` does).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

__all__ = ["Refusal", "ScriptShape", "analyse"]

_log = logging.getLogger(__name__)

# The messages are those Windows PowerShell gives in a remote session without a host; their exact wording on a
# real server is unverified (no PowerShell here): the type and the meaning are what matters to a caller.
_PROMPT = (
    "A command that prompts the user failed because the host program or the command type does not support user "
    "interaction. The host was attempting to request confirmation with the following message: {what}"
)
_RAWUI = 'Exception getting "{member}": "Remote host method get_{member} is not implemented."'
_NOT_FOUND = (
    "The term '{name}' is not recognized as the name of a cmdlet, function, script file, or operable program. "
    "Check the spelling of the name, or if a path was included, verify that the path is correct and try again."
)
_HOST_EXCEPTION = "System.Management.Automation.Host.HostException"
_PROMPTING = {"read-host": "Read-Host", "get-credential": "Get-Credential"}


@dataclass(frozen=True)
class Refusal:
    """The error a host-less session ends the script with, and where the lab found its cause."""

    message: str
    exception: str  # .NET type name
    reason: str  # CategoryInfo.Reason
    fqid: str  # FullyQualifiedErrorId
    line: int  # 1-based line of the construct


@dataclass(frozen=True)
class ScriptShape:
    """What the lab needs to know about a script without running it."""

    refusal: Refusal | None
    # A session to the Exchange endpoint (New-PSSession -ConfigurationName Microsoft.Exchange) imported with
    # Import-PSSession: the way a host-less session can get the Exchange cmdlets (with delegated credentials).
    imports_exchange_session: bool
    checked: bool  # False when tree-sitter-pwsh is not installed


_lock = threading.Lock()


def analyse(script: str) -> ScriptShape:
    """The refusal (if any) and the cmdlet loading of `script`. Cached, and parsed once even when every server's
    handler thread asks at the same moment: the same collector runs on every server (a parse takes tens of ms)."""
    with _lock:
        return _analyse(script)


@lru_cache(maxsize=32)
def _analyse(script: str) -> ScriptShape:
    parser = _parser()
    if parser is None:
        return ScriptShape(None, False, checked=False)
    source = script.encode("utf-8")
    tree = _Tree(source, parser.parse(source).root_node)
    return ScriptShape(tree.refusal(), tree.imports_exchange_session(), checked=True)


@lru_cache(maxsize=1)
def _parser() -> Any:
    try:
        import tree_sitter
        import tree_sitter_pwsh
    except ImportError:
        _log.warning(
            "the lab does not check scripts for host calls: tree-sitter-pwsh is not installed "
            "(pip install 'eems-check[lab]')"
        )
        return None
    return tree_sitter.Parser(tree_sitter.Language(tree_sitter_pwsh.language()))


class _Tree:
    def __init__(self, source: bytes, root: Any) -> None:
        self.source = source
        self.root = root

    def text(self, node: Any) -> str:
        return self.source[node.start_byte : node.end_byte].decode("utf-8", "replace")

    def nodes(self, kind: str) -> Iterator[Any]:
        stack = [self.root]
        while stack:
            node = stack.pop()
            if node.type == kind:
                yield node
            stack.extend(reversed(node.children))

    def _command_name(self, command: Any) -> str:
        for child in command.children:
            if child.type in ("command_name", "command_name_expr"):
                return self.text(child)
        return ""

    def _invoked_with_operator(self, command: Any) -> bool:
        return any(c.type == "command_invocation_operator" for c in command.children)

    def _remote_exchange_variables(self) -> set[str]:
        """Variables assigned a value that names RemoteExchange.ps1 (`$x = Join-Path $bin 'RemoteExchange.ps1'`)."""
        out = set()
        for assignment in self.nodes("assignment_expression"):
            target = assignment.children[0]
            if "remoteexchange.ps1" in self.text(assignment).lower():
                out.add(self.text(target).strip().lower())
        return out

    def refusal(self) -> Refusal | None:
        found: list[tuple[int, Refusal]] = []
        loaders = self._remote_exchange_variables()
        for command in self.nodes("command"):
            name = self._command_name(command)
            lowered = name.strip().strip("'\"").lower()
            line = command.start_point[0] + 1
            if lowered.endswith("remoteexchange.ps1") or (self._invoked_with_operator(command) and lowered in loaders):
                # RemoteExchange.ps1 calls WidenWindow as it loads, which reads the raw UI's window size.
                found.append((command.start_byte, _rawui("MaxPhysicalWindowSize", line)))
            elif lowered in _PROMPTING:
                found.append((command.start_byte, _prompt(_PROMPTING[lowered], line)))
            elif lowered == "connect-exchangeserver":
                found.append((command.start_byte, _not_found(name, line)))
        for access in self.nodes("member_access"):
            match = re.match(r"(?i)^\$host\s*\.\s*ui\s*\.\s*rawui\b(?:\s*\.\s*(\w+))?", self.text(access))
            if match:
                found.append((access.start_byte, _rawui(match.group(1) or "RawUI", access.start_point[0] + 1)))
        return min(found, key=lambda f: f[0])[1] if found else None

    def imports_exchange_session(self) -> bool:
        sessions = [
            c
            for c in self.nodes("command")
            if self._command_name(c).lower() == "new-pssession" and "microsoft.exchange" in self.text(c).lower()
        ]
        imports = [c for c in self.nodes("command") if self._command_name(c).lower() == "import-pssession"]
        return bool(sessions and imports)


def _rawui(member: str, line: int) -> Refusal:
    return Refusal(_RAWUI.format(member=member), _HOST_EXCEPTION, "HostException", "HostFunctionNotImplemented", line)


def _prompt(command: str, line: int) -> Refusal:
    return Refusal(
        _PROMPT.format(what=command),
        _HOST_EXCEPTION,
        "HostException",
        f"HostFunctionNotImplemented,Microsoft.PowerShell.Commands.{command.replace('-', '')}Command",
        line,
    )


def _not_found(name: str, line: int) -> Refusal:
    return Refusal(
        _NOT_FOUND.format(name=name),
        "System.Management.Automation.CommandNotFoundException",
        "CommandNotFoundException",
        "CommandNotFoundException",
        line,
    )
