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
DELEGATION_REASON = (
    "Exchange cmdlets could not be loaded in the remote session: delegation (CredSSP or Kerberos) is not available"
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
        {"id": e.id, "level": e.level, "time": _Date(when), "source": e.source, "message": e.message}
        for when, e in recent
    ]
    if len(events) == 1:
        events = events[0]  # ConvertTo-Json collapses a one-element array held in a variable

    lines = list(server.log_lines)
    max_lines = max(0, params.max_log_lines)
    if len(lines) > max_lines:
        truncated.append("log_lines")
        lines = lines[len(lines) - max_lines :] if max_lines else []
    log_lines = [{"file": ln.file, "line": ln.line} for ln in lines]

    if params.probe_ocs:
        ocs: dict[str, Any] = {
            "ran": True,
            "url": OCS_URL,
            "proxy": params.proxy,
            "status_code": server.ocs.status_code,
            "error": server.ocs.error,
        }
    else:
        ocs = {"ran": False, "reason": "not requested"}

    if not params.run_get_mitigations:
        get_mitigations: dict[str, Any] = {"ran": False, "reason": "not requested"}
    elif not server.delegation:
        get_mitigations = {"ran": False, "reason": DELEGATION_REASON}
    else:
        gm = server.get_mitigations
        get_mitigations = {
            "ran": True,
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

    return {
        "collector": "eems-check-collector",
        "collector_version": COLLECTOR_VERSION,
        "computer_name": server.name.upper(),
        "collected_at": _Date(now),
        "exsetup": exsetup,
        "service": service,
        "events": events,
        "log_lines": log_lines,
        "ocs_probe": ocs,
        "get_mitigations": get_mitigations,
        "truncated": truncated,
    }


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
