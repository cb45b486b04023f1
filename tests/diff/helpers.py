"""Shared by the diff tests: the fixture folders, the expected changes, and one-server report documents."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from eems_check.model import Report
from eems_check.report_io import read_report, report_from_document

FIXTURES = Path(__file__).parent / "fixtures"
REPORTS = FIXTURES / "reports"


def load_yaml(name: str) -> Any:
    return yaml.safe_load((FIXTURES / name).read_text(encoding="utf-8"))


def finding(rule_id: str, verdict: str, severity: str, message: str = "") -> dict[str, Any]:
    return {
        "rule_id": rule_id,
        "title": f"title of {rule_id}",
        "category": "EEMS",
        "verdict": verdict,
        "severity": severity,
        "message": message or f"{rule_id} is {verdict}",
        "evidence": [],
        "remediation": None,
        "overview": None,
    }


def server(name: str, findings: list[dict[str, Any]], number: str | None = None, precision: str = "su") -> Any:
    ranks = ["ok", "info", "warning", "error", "critical"]
    return {
        "server": name,
        "worst": max((f["severity"] for f in findings), key=ranks.index, default="ok"),
        "eems_state": "Enabled",
        "build": {
            "text": number,
            "source": "exsetup" if number else None,
            "number": number,
            "name": f"build {number}" if number else "not collected",
            "product": None,
            "cu": None,
            "update": None,
            "released": None,
            "age_days": None,
            "precision": precision,
            "status": "known" if number else "unknown",
        },
        "findings": findings,
    }


def report(generated_at: str, results: list[dict[str, Any]], org: str = "Contoso") -> Report:
    """A small but complete report (what `report_io` reads back from a file), one inventory server per result."""
    doc = {
        "schema": "eems-check/report",
        "schema_version": 1,
        "run": {
            "tool_version": "0.1.0",
            "rules_version": "2026.11.27",
            "rules_as_of": "2026-11-27",
            "evaluated_on": generated_at[:10],
            "generated_at": generated_at,
            "overview_rules": [{"rule_id": "EEMS-OCS-2023", "label": "EEMS Mar 2023"}],
        },
        "inventory": {
            "schema": "eems-check/inventory",
            "schema_version": 1,
            "organization": {"name": org},
            "servers": [{"name": r["server"]} for r in results],
        },
        "results": results,
    }
    return report_from_document(doc, f"report of {generated_at}")


def read(name: str) -> Report:
    """A saved report of reports/."""
    return read_report(REPORTS / name)
