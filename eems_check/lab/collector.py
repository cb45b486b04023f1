"""The answer of the eems-check collector script, as a simulated server computes it.

What it does: builds the collector JSON document (contract in the brief / ORGFILE.md) from a
``ServerSpec`` and the script parameters, and renders it the way Windows PowerShell 5.1
``ConvertTo-Json -Depth 6 -Compress`` writes it: compact, dates as ``"\\/Date(ms)\\/"``, ``< > & '``
escaped as ``\\u003c`` etc., and a one-element ``events`` array collapsed to the bare object.

What it must not do: know about PSRP, SOAP or faults other than the collector-level ones it is asked to
render (``garbage_text``/``oversized_document`` are called by ``cmdlets``).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from typing import Any

from eems_check.lab.orgfile import ServerSpec, file_version

__all__ = [
    "COLLECTOR_MARKER",
    "OCS_URL",
    "CollectorParams",
    "build_document",
    "garbage_text",
    "oversized_document",
    "render",
]

COLLECTOR_MARKER = "# eems-check-collector"
COLLECTOR_VERSION = 1
OCS_URL = "https://officeclient.microsoft.com/GetExchangeMitigations"
# The script cuts each text so that its JSON form fits these sizes (the same numbers as collector.ps1).
MAX_EVENT_MESSAGE_JSON = 3600
MAX_LOG_LINE_JSON = 2000
MAX_FILE_NAME_JSON = 120
PROXY_AUTH_REQUIRED = "proxy requires authentication (inconclusive)"
# What PowerShell says when the second hop to /PowerShell has no delegated credentials, and when a script runs
# Get-Mitigations.ps1 without the Exchange cmdlets. Wording as PowerShell's, unverified on a real server.
_NO_DELEGATION = (
    "Connecting to remote server {fqdn} failed with the following error message : Access is denied. For more "
    "information, see the about_Remote_Troubleshooting Help topic."
)
_NO_CMDLETS = (
    "The term 'Get-ExchangeServer' is not recognized as the name of a cmdlet, function, script file, or operable "
    "program. Check the spelling of the name, or if a path was included, verify that the path is correct and try "
    "again."
)

_DATE_SENTINEL = "\x00EEMSLABDATE:"
_DATE_RE = re.compile(r'"\\u0000EEMSLABDATE:(-?\d+)\\u0000"')


@dataclass(frozen=True)
class CollectorParams:
    """The collector script's parameters (defaults as the script declares them)."""

    max_events: int = 50
    event_days: int = 30
    max_log_lines: int = 200
    probe_ocs: bool = False
    run_get_mitigations: bool = False
    proxy: str | None = None  # -Proxy: the InternetWebProxy the scanner passes for the OCS probe
    # What the script does (hostless.analyse): it imports a session to the server's own /PowerShell.
    imports_exchange_session: bool = False


class _Date:
    """Marks a value to render as ``\\/Date(ms)\\/``."""

    def __init__(self, when: dt.datetime) -> None:
        self.ms = int(when.timestamp() * 1000)


def build_document(server: ServerSpec, params: CollectorParams, now: dt.datetime) -> dict[str, Any]:
    """The collector document as Python data (dates as ``_Date``)."""
    truncated: list[str] = []

    exsetup: dict[str, Any]
    exe = f"{server.install_path}bin\\ExSetup.exe"
    if server.exsetup == "missing":
        exsetup = {
            "file_version": None,
            "source": None,
            "path": None,
            "error": "ExSetup.exe was not found (Get-Command ExSetup failed and "
            "HKLM:\\SOFTWARE\\Microsoft\\ExchangeServer\\v15\\Setup has no MsiInstallPath)",
        }
    else:
        exsetup = {
            "file_version": file_version(server.build),
            "source": server.exsetup,
            "path": exe,
            "error": None,
        }

    service: dict[str, Any] | None = None
    if server.service is not None:
        service = {
            "name": "MSExchangeMitigation",
            "status": server.service.status,
            "start_type": server.service.start_type,
        }

    horizon = now - dt.timedelta(days=max(0, params.event_days))
    dated = [(e.at(now), e) for e in server.events]
    recent = sorted(
        (p for p in dated if horizon <= p[0] <= now + dt.timedelta(minutes=5)),
        key=lambda p: p[0],
        reverse=True,
    )
    limit = max(0, params.max_events)
    if len(recent) > limit:
        truncated.append("events")
        recent = recent[:limit]
    events: Any = [
        {
            "id": e.id,
            "level": e.level,
            "time": _Date(when),
            "source": e.source,
            "message": _limit(e.message, MAX_EVENT_MESSAGE_JSON, "event_message", truncated),
        }
        for when, e in recent
    ]
    if len(events) == 1:
        events = events[0]  # ConvertTo-Json collapses a one-element array held in a variable

    lines = list(server.log_lines)
    max_lines = max(0, params.max_log_lines)
    if len(lines) > max_lines:
        truncated.append("log_lines")
        lines = lines[len(lines) - max_lines :] if max_lines else []
    log_lines = [
        {
            "file": _limit(ln.file, MAX_FILE_NAME_JSON, "text", truncated),
            "line": _limit(ln.line, MAX_LOG_LINE_JSON, "log_line", truncated),
        }
        for ln in lines
    ]

    if params.probe_ocs:
        ocs: dict[str, Any] = {
            "ran": True,
            "url": OCS_URL,
            "proxy": params.proxy,
            "status_code": server.ocs.status_code,
            "error": PROXY_AUTH_REQUIRED if server.ocs.status_code == 407 else server.ocs.error,
            "certificate_issuer": None,  # the lab does not simulate TLS
        }
    else:
        ocs = {"ran": False, "reason": "not requested"}

    get_mitigations = _get_mitigations(server, params)

    return {
        "collector": "eems-check-collector",
        "collector_version": COLLECTOR_VERSION,
        "computer_name": server.name.upper(),
        "collected_at": _Date(now),
        "exsetup": exsetup,
        "service": service,
        "events": events,
        "log_lines": log_lines,
        "log_files_skipped": [],
        "ocs_probe": ocs,
        "get_mitigations": get_mitigations,
        "truncated": truncated,
    }


def _get_mitigations(server: ServerSpec, params: CollectorParams) -> dict[str, Any]:
    """Get-Mitigations.ps1 as the script's way of loading the Exchange cmdlets lets it run on this server."""
    if not params.run_get_mitigations:
        return {"ran": False, "reason": "not requested"}
    host = server.name.upper()
    empty: dict[str, Any] = {"mitigations": [], "warnings": [], "errors": []}
    if not params.imports_exchange_session:
        return {"ran": True, "reason": None, "host": host, "failed_at": "script", "error": _NO_CMDLETS, **empty}
    if not server.delegation:
        error = _NO_DELEGATION.format(fqdn=server.fqdn)
        return {"ran": False, "reason": None, "host": host, "failed_at": "session", "error": error, **empty}
    gm = server.get_mitigations
    return {
        "ran": True,
        "reason": None,
        "host": host,
        "failed_at": None,
        "error": None,
        "mitigations": [
            {
                "server": m.server or server.name,
                "id": m.id,
                "type": m.type,
                "description": m.description,
                "status": m.status,
            }
            for m in gm.mitigations
        ],
        "warnings": list(gm.warnings),
        "errors": list(gm.errors),
    }


def json_length(text: str) -> int:
    """Characters `text` takes in Windows PowerShell's ConvertTo-Json output (quotes and escapes included)."""
    return len(json.dumps(text, ensure_ascii=False)) + 5 * sum(text.count(c) for c in "<>&'")


def _limit(text: str, max_json: int, part: str, truncated: list[str]) -> str:
    """`text` cut as collector.ps1's Limit-Text cuts it: its JSON form within `max_json`, with a length marker."""
    if json_length(text) <= max_json:
        return text
    marker = f" [cut: {len(text)} characters]"
    room = max_json - json_length(marker)
    low, high = 0, min(len(text), max(room, 0))
    while low < high:
        middle = (low + high + 1) // 2
        if json_length(text[:middle]) <= room:
            low = middle
        else:
            high = middle - 1
    if part not in truncated:
        truncated.append(part)
    return text[:low] + marker


def _encode(value: Any) -> Any:
    if isinstance(value, _Date):
        return f"{_DATE_SENTINEL}{value.ms}\x00"
    if isinstance(value, dict):
        return {k: _encode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_encode(v) for v in value]
    return value


def render(document: dict[str, Any]) -> str:
    """Compact JSON in the style of Windows PowerShell 5.1 ``ConvertTo-Json -Compress``."""
    text = json.dumps(_encode(document), ensure_ascii=False, separators=(",", ":"))
    # JavaScriptSerializer escapes these four characters; none occurs in JSON syntax outside strings.
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026").replace("'", "\\u0027")
    return _DATE_RE.sub(lambda m: f'"\\/Date({m.group(1)})\\/"', text)


def garbage_text(server: ServerSpec) -> str:
    """What a broken collector run could print instead of JSON (fault ``garbage``)."""
    return (
        f"WARNING: {server.name}: profile script failed\r\n"
        "<html><body>Object reference not set to an instance of an object.</body></html>\r\n"
        '{"collector":"eems-check-collector","collector_version":1,'  # cut off mid-document
    )


def oversized_document(server: ServerSpec, params: CollectorParams, now: dt.datetime, mb: float) -> str:
    """A valid collector document padded with log lines to about ``mb`` MiB (fault ``oversized``)."""
    doc = build_document(server, params, now)
    target = int(mb * 1024 * 1024)
    filler = "FetchMitigation,S:LogLevel=Verbose;S:Message=" + ("x" * 900)
    entry = (
        len(
            json.dumps(
                {"file": "MitigationService_oversized.log", "line": filler + "#0000000"},
                separators=(",", ":"),
            )
        )
        + 1
    )
    count = max(1, -(-(target - len(render(doc))) // entry))
    doc["log_lines"] = [{"file": "MitigationService_oversized.log", "line": f"{filler}#{i:07d}"} for i in range(count)]
    return render(doc)
