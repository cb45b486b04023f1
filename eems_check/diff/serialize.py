"""The changes as a JSON-ready document (`eems-check/changes`, version 1)."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict
from typing import Any

from .model import Changes, FindingChange, ReportSide, ServerChange

CHANGES_SCHEMA = "eems-check/changes"
CHANGES_SCHEMA_VERSION = 1


def _iso(stamp: dt.datetime) -> str:
    return stamp.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")


def _side_dict(s: ReportSide) -> dict[str, Any]:
    return {
        "label": s.label,
        "generated_at": _iso(s.generated_at),
        "org": s.org,
        "rules_version": s.rules_version,
        "tool_version": s.tool_version,
        "servers": s.servers,
    }


def _server_dict(s: ServerChange) -> dict[str, Any]:
    return {
        "server": s.server,
        "build": {"name": s.build_name, "number": s.build_number},
        "worst": s.worst.value,
        "problems": s.problems,
        "top_problem": {"rule_id": s.top_rule_id, "message": s.top_problem} if s.top_rule_id else None,
    }


def _finding_dict(f: FindingChange) -> dict[str, Any]:
    return {
        "server": f.server,
        "rule_id": f.rule_id,
        "title": f.title,
        "severity": f.severity.value,
        "verdict": f.verdict.value,
        "message": f.message,
    }


def changes_to_dict(changes: Changes) -> dict[str, Any]:
    """A JSON-ready document (`eems-check/changes`, version 1): for `diff --json` or a `changes` key."""
    c = changes.counts
    return {
        "schema": CHANGES_SCHEMA,
        "schema_version": CHANGES_SCHEMA_VERSION,
        "since": _iso(changes.since),
        "old": _side_dict(changes.old),
        "new": _side_dict(changes.new),
        "is_empty": changes.is_empty,
        "counts": {**asdict(c), "worse": c.worse, "better": c.better},
        "warnings": list(changes.warnings),
        "severity_totals": [
            {"severity": t.severity.value, "old": t.old, "new": t.new} for t in changes.severity_totals
        ],
        "rule_totals": [
            {"rule_id": t.rule_id, "label": t.label, "old_fail": t.old_fail, "new_fail": t.new_fail}
            for t in changes.rule_totals
        ],
        "added_servers": [_server_dict(s) for s in changes.added_servers],
        "removed_servers": [_server_dict(s) for s in changes.removed_servers],
        "build_changes": [
            {
                "server": b.server,
                "old": {"name": b.old_name, "number": b.old_number},
                "new": {"name": b.new_name, "number": b.new_number},
                "direction": b.direction,
                "worst": b.worst.value,
            }
            for b in changes.build_changes
        ],
        "new_findings": [_finding_dict(f) for f in changes.new_findings],
        "resolved_findings": [_finding_dict(f) for f in changes.resolved_findings],
        "severity_changes": [
            {
                "server": s.server,
                "rule_id": s.rule_id,
                "title": s.title,
                "old": {"severity": s.old_severity.value, "verdict": s.old_verdict.value, "message": s.old_message},
                "new": {"severity": s.new_severity.value, "verdict": s.new_verdict.value, "message": s.message},
                "direction": s.direction,
            }
            for s in changes.severity_changes
        ],
    }
