"""The JSON report: a schema-versioned document holding run facts, the inventory and every finding.

It carries everything needed to re-render or mail the report later (`eems-check send REPORT.json`); `report_io`
reads it back. `changes_to_dict` writes the `changes` section of a `--compare-to` run, and `eems-check diff --json`.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict
from typing import Any

from ..inventory import inventory_to_document
from ..model import Changes, Finding, FindingChange, Fix, FixBuild, Report, ReportSide, ServerChange, ServerReport

REPORT_SCHEMA = "eems-check/report"
REPORT_SCHEMA_VERSION = 1
CHANGES_SCHEMA = "eems-check/changes"  # the `changes` section, and `eems-check diff --json`
CHANGES_SCHEMA_VERSION = 1


def finding_to_dict(f: Finding) -> dict[str, Any]:
    return {
        "rule_id": f.rule_id,
        "title": f.title,
        "category": f.category,
        "verdict": f.verdict.value,
        "severity": f.severity.value,
        "message": f.message,
        "evidence": list(f.evidence),
        "remediation": {"text": f.remediation.text, "url": f.remediation.url} if f.remediation else None,
        "overview": f.overview,
    }


def _fix_build(b: FixBuild | None) -> dict[str, Any] | None:
    if b is None:
        return None
    return {
        "name": b.name,
        "number": b.number,
        "kb": b.kb,
        "release_post": b.release_post,
        "third_party_only": b.third_party_only,
    }


def fix_to_dict(fix: Fix) -> dict[str, Any]:
    """The server's fix: `text` says it all in one sentence; the other keys are its parts."""
    return {
        "text": fix.text,
        "actions": list(fix.actions),
        "build": _fix_build(fix.build),
        "newest": _fix_build(fix.newest),
        "confirmed": _fix_build(fix.confirmed),
        "path": fix.path,
        "caveat": fix.caveat,
        "note": fix.note,
    }


def _memo_dict(f: Finding, memo: dict[int, dict[str, Any]]) -> dict[str, Any]:
    """Findings are interned by the evaluation: build each distinct one's dict once (the encoder reuses it)."""
    d = memo.get(id(f))
    if d is None:
        d = memo[id(f)] = finding_to_dict(f)
    return d


def server_result(s: ServerReport, memo: dict[int, dict[str, Any]] | None = None) -> dict[str, Any]:
    b = s.build
    fix = None if memo is None else memo.get(id(s.fix))
    if fix is None:  # fixes are interned too: one dict per distinct fix
        fix = fix_to_dict(s.fix)
        if memo is not None:
            memo[id(s.fix)] = fix
    return {
        "server": s.server.name,
        "worst": s.worst.value,
        "eems_state": s.eems_state,
        "receives_new_mitigations": s.receives,  # derived from the findings: not read back
        "why": s.reason,
        "fix": fix,
        "build": {
            "text": b.text,
            "source": b.source.value if b.source else None,
            "number": b.number,
            "name": b.name,
            "product": b.product,
            "cu": b.cu,
            "update": b.update,
            "released": b.released,
            "age_days": b.age_days,
            "precision": b.precision,
            "status": b.status,
        },
        "findings": [_memo_dict(f, memo) for f in s.findings]
        if memo is not None
        else [finding_to_dict(f) for f in s.findings],
    }


def report_to_document(report: Report) -> dict[str, Any]:
    run = report.run
    memo: dict[int, dict[str, Any]] = {}
    return {
        "schema": REPORT_SCHEMA,
        "schema_version": REPORT_SCHEMA_VERSION,
        "run": {
            "tool_version": run.tool_version,
            "rules_version": run.rules_version,
            "rules_as_of": run.rules_as_of,
            "evaluated_on": run.evaluated_on.isoformat(),
            "generated_at": run.generated_at.isoformat().replace("+00:00", "Z"),
            "overview_rules": [{"rule_id": r, "label": label} for r, label in run.overview_rules],
        },
        "summary": {
            "servers": len(report.servers),
            "worst": report.worst.value,
            "by_worst_severity": {
                sev.value: report.count(sev) for sev in sorted({s.worst for s in report.servers}, key=lambda x: -x.rank)
            },
        },
        "inventory": inventory_to_document(report.inventory),
        "results": [server_result(s, memo) for s in report.servers],
        **({"changes": changes_to_dict(report.changes)} if report.changes is not None else {}),
    }


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


def _dumps(value: Any) -> str:
    # Compact: the C encoder only runs without indent, and a 5,000-server report is large.
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class JsonRenderer:
    """The same document as `report_to_document`, encoded faster: each distinct finding (the evaluation interns
    them, and an organisation runs a handful of builds) is encoded once and spliced into every server using it."""

    def render(self, report: Report) -> str:
        document = report_to_document(report)
        results = document.pop("results")
        encoded: dict[int, str] = {}
        servers = []
        for s, result in zip(report.servers, results, strict=True):
            findings = []
            for f in s.findings:
                text = encoded.get(id(f))
                if text is None:
                    text = encoded[id(f)] = _dumps(finding_to_dict(f))
                findings.append(text)
            del result["findings"]
            servers.append(f'{_dumps(result)[:-1]},"findings":[{",".join(findings)}]}}')
        return f'{_dumps(document)[:-1]},"results":[{",".join(servers)}]}}\n'

