"""The collector script (package data) and the reading of what it returns.

What it does: loads `collector.ps1` with importlib.resources, builds its parameters, and turns its answer (one JSON
string, possibly written by Windows PowerShell 5.1 with `\\/Date(ms)\\/` dates, numeric enums and one-element
arrays collapsed) into the collector's part of a schema-shaped server dict, normalised and validated with the
inventory schema. Missing or unreadable parts are listed as problems (the scan then says `partial`); text that is
not the collector's JSON, too much of it, or JSON from another computer raises `CollectorOutputError`.

What it must not do: talk to servers, or build the typed record (`records` does, through `inventory`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import jsonschema

from ..errors import InventoryError
from ..inventory import normalise_powershell, schema

COLLECTOR_NAME = "eems-check-collector"
MARKER = "# eems-check-collector"
COLLECTOR_VERSION = 1
SECTIONS = ("exsetup", "service", "events", "log_lines", "ocs_probe", "get_mitigations")
# What the script may return, per part. The script cuts every text so that its JSON form fits its share (a log
# line 2000 characters and its file name 120, an event message 3600, anything else 1000; at most 25 mitigations,
# 6 warnings and errors, 5 skipped files): tests/collect/test_collector_script.py checks that these add up.
_LINE_BYTES = 2200
_EVENT_BYTES = 4096
_BASE_BYTES = 64 * 1024
# Parts of the answer the script names in `truncated`, and what a reader should know about each.
_CUT_PARTS = {
    "events": "raise --max-events to see older ones",
    "log_lines": "raise --max-log-lines to see older ones",
    "log_bytes": "older parts of the EEMS log beyond the byte budget were not read",
    "event_message": "long event messages cut and marked",
    "log_line": "long log lines cut and marked",
    "get_mitigations": "Get-Mitigations.ps1 records or texts cut",
    "log_files_skipped": "more unreadable log files than named",
    "text": "long texts cut and marked",
}


@dataclass(frozen=True)
class Bounds:
    """How much the collector may return."""

    max_events: int = 50
    event_days: int = 30
    max_log_lines: int = 200

    @property
    def max_output_chars(self) -> int:
        """The largest answer these bounds can explain; anything larger is refused."""
        return _BASE_BYTES + self.max_log_lines * _LINE_BYTES + self.max_events * _EVENT_BYTES


class CollectorOutputError(Exception):
    """The collector's answer cannot be used at all (one-line reason)."""


@dataclass(frozen=True)
class CollectorReading:
    """The collector's contribution to a server dict, plus what was missing (`problems`) or cut (`notes`)."""

    fields: dict[str, Any]
    computer_name: str
    collected_at: str | None
    problems: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


@cache
def collector_script() -> str:
    """The collector script as sent to each server: read once per process, with its help block, comment lines,
    blank lines and indentation left out. What runs is the same code; the wire (sealed, serialised, base64'd for
    every server) carries about half the bytes. The script has no here-strings, so no line's meaning changes."""
    text = (resources.files(__package__) / "collector.ps1").read_text(encoding="utf-8")
    lines = text.splitlines()
    if MARKER not in lines[0:1]:
        raise RuntimeError("collector.ps1 lost its marker line")
    if any(token in text for token in ('@"', "@'")):
        raise RuntimeError("collector.ps1 has a here-string: comment stripping is not safe for it")
    kept, in_help = [lines[0]], False
    for line in lines[1:]:
        stripped = line.strip()
        if stripped.startswith("<#"):
            in_help = True
        if in_help:
            in_help = not stripped.endswith("#>")
            continue
        if stripped and not stripped.startswith("#"):
            kept.append(stripped)
    return "\n".join(kept) + "\n"


def collector_parameters(
    bounds: Bounds, *, probe_ocs: bool, run_get_mitigations: bool, proxy: str | None
) -> dict[str, Any]:
    """The script's named parameters; switches are passed only when on."""
    params: dict[str, Any] = {
        "MaxEvents": bounds.max_events,
        "EventDays": bounds.event_days,
        "MaxLogLines": bounds.max_log_lines,
    }
    if probe_ocs:
        params["ProbeOcs"] = True
        if proxy:
            params["Proxy"] = proxy
    if run_get_mitigations:
        params["RunGetMitigations"] = True
    return params


@cache
def server_schema() -> dict[str, Any]:
    """The inventory schema's server definition, self-contained (its `$ref`s resolve against `$defs`)."""
    defs = schema()["$defs"]
    return {"$defs": defs, **defs["server"]}


@cache
def _server_validator() -> jsonschema.Draft202012Validator:
    """Built once: every server's answer is checked against the same schema, from many threads (validating
    keeps no state in the validator)."""
    return jsonschema.Draft202012Validator(server_schema())


def read_collector_output(output: Sequence[Any], bounds: Bounds, expected: str) -> CollectorReading:
    """Parse and check the collector's answer for the server named `expected`."""
    text = _pick_text(output)
    if len(text) > bounds.max_output_chars:
        raise CollectorOutputError(
            f"the collector answered {len(text) / 1048576:.1f} MiB, more than its bounds "
            f"allow ({bounds.max_output_chars / 1048576:.1f} MiB); refused"
        )
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CollectorOutputError(
            f"the collector's answer is not JSON ({exc.msg} at line {exc.lineno} column "
            f"{exc.colno}); it starts {_snippet(text)}"
        ) from None
    if not isinstance(doc, dict) or doc.get("collector") != COLLECTOR_NAME:
        raise CollectorOutputError(f"the answer is JSON but not from the eems-check collector: {_snippet(text)}")
    computer = str(doc.get("computer_name") or "")
    if not _same_computer(computer, expected):
        raise CollectorOutputError(
            f"the collector ran on {computer or 'an unnamed computer'!r}, not on {expected!r}: check DNS or --resolve"
        )
    return _reading(doc, bounds, computer)


def _pick_text(output: Sequence[Any]) -> str:
    strings = [o for o in output if isinstance(o, str)]
    if not strings:
        kinds = ", ".join(sorted({type(o).__name__ for o in output})) or "nothing"
        raise CollectorOutputError(f"the collector returned no text (got {kinds})")
    # A profile or a stray Write-Output can add lines; the JSON document is the last string written.
    return strings[-1].strip().lstrip("\ufeff")


def _snippet(text: str) -> str:
    flat = " ".join(text.split())
    return repr(flat[:60] + ("..." if len(flat) > 60 else ""))


def _same_computer(computer: str, expected: str) -> bool:
    want = expected.split(".")[0].lower()
    return bool(computer) and computer.split(".")[0].lower() in (want, want[:15])


def _listed(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _reading(doc: Mapping[str, Any], bounds: Bounds, computer: str) -> CollectorReading:
    problems = [f"the collector's answer lacks '{k}'" for k in SECTIONS if k not in doc]
    notes: list[str] = []
    fields: dict[str, Any] = {}
    raw_exsetup = doc.get("exsetup")
    exsetup: dict[str, Any] = raw_exsetup if isinstance(raw_exsetup, dict) else {}
    version = exsetup.get("file_version")
    if version is not None and not isinstance(version, str):
        shown = _snippet(json.dumps(version))
        raise CollectorOutputError(f"ExSetup's version is {type(version).__name__} {shown}, not a version string")
    if version and exsetup.get("source") in ("exsetup", "registry"):
        fields["exsetup_version"] = version.strip()
        fields["build_source"] = exsetup["source"]
    elif "exsetup" in doc:
        problems.append(f"ExSetup version unknown: {exsetup.get('error') or 'no version returned'}")
    if "service" in doc:
        fields["service"] = doc["service"]
    for key in ("events", "log_lines"):
        if key in doc:
            fields[key] = doc[key]
            if doc[key] is None:
                problems.append(f"the collector could not read its {key.replace('_', ' ')}")
    if "ocs_probe" in doc:
        fields["ocs_probe"] = doc["ocs_probe"]
    if "get_mitigations" in doc:
        fields["get_mitigations"] = _get_mitigations(doc["get_mitigations"])
    for skipped in _listed(doc.get("log_files_skipped")):
        if isinstance(skipped, dict):
            problems.append(
                f"EEMS log file {skipped.get('file') or '?'} skipped: {skipped.get('error') or 'unreadable'}"
            )
    for key, limit in (("events", bounds.max_events), ("log_lines", bounds.max_log_lines)):
        items = fields.get(key)
        if isinstance(items, list) and len(items) > limit:
            problems.append(
                f"the collector returned {len(items)} {key.replace('_', ' ')}, more than the {limit} "
                f"asked for; kept the first {limit}"
            )
            fields[key] = items[:limit]
    cut = [str(t) for t in _listed(doc.get("truncated"))]
    if cut:
        notes.append("bounded: " + "; ".join(f"{p} ({_CUT_PARTS.get(p, 'cut')})" for p in dict.fromkeys(cut)))
    fields = _normalised(fields)
    collected = normalise_powershell(doc.get("collected_at"), {"$ref": "#/$defs/datetime"})
    return CollectorReading(
        fields, computer, collected if isinstance(collected, str) else None, tuple(problems), tuple(notes)
    )


def _get_mitigations(raw: Any) -> Any:
    """The script's Get-Mitigations.ps1 part with its failure stage (`failed_at`, `error`) turned into the
    inventory's `reason` (it never ran) or one more error next to the warnings it wrote first (it stopped)."""
    if not isinstance(raw, dict):
        return raw
    out = {k: v for k, v in raw.items() if k not in ("failed_at", "error")}
    if not raw.get("failed_at"):
        return out
    error = str(raw.get("error") or "no error text")
    where = raw.get("host") or "the server"
    if raw["failed_at"] == "session":
        out["ran"] = False
        out["reason"] = (
            f"no delegated credentials on {where} for the second hop to its own /PowerShell ({error}); "
            "--probe-ocs tests the Office Config Service from the server without them"
        )
    elif raw["failed_at"] == "import":
        out["ran"] = False
        out["reason"] = f"the Exchange cmdlets could not be imported from {where}'s /PowerShell: {error}"
    else:
        out["errors"] = [*_listed(raw.get("errors")), f"Get-Mitigations.ps1 stopped: {error}"]
    return out


def _normalised(fields: dict[str, Any]) -> dict[str, Any]:
    probe = {"name": "probe", **fields}
    try:
        probe = normalise_powershell(probe, server_schema())
    except InventoryError as exc:
        raise CollectorOutputError(f"the collector's answer is cut short: {exc}") from None
    errors = sorted(_server_validator().iter_errors(probe), key=lambda e: list(e.absolute_path))
    if errors:
        where = ".".join(str(p) for p in errors[0].absolute_path) or "document"
        raise CollectorOutputError(
            f"the collector's answer does not fit the inventory schema at {where}: {errors[0].message[:120]}"
        )
    del probe["name"]
    return probe
