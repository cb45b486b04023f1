"""Shared by the diff tests: the fixture folders, the expected changes, and one-server report documents."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

FIXTURES = Path(__file__).parent / "fixtures"
REPORTS = FIXTURES / "reports"
MALFORMED = FIXTURES / "malformed"


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


def server(name: str, findings: list[dict[str, Any]], number: str | None = None, precision: str | None = "su") -> Any:
    return {
        "server": name,
        "eems_state": "Enabled",
        "build": {"name": f"build {number}" if number else "not collected", "number": number, "precision": precision},
        "findings": findings,
    }


def report(generated_at: str, results: list[dict[str, Any]], org: str = "Contoso") -> dict[str, Any]:
    """A small but valid report document (no inventory servers: a diff does not need them)."""
    return {
        "schema": "eems-check/report",
        "schema_version": 1,
        "run": {
            "tool_version": "0.1.0",
            "rules_version": "2026.11.27",
            "generated_at": generated_at,
            "overview_rules": [{"rule_id": "EEMS-OCS-2023", "label": "EEMS Mar 2023"}],
        },
        "inventory": {"organization": {"name": org}},
        "results": results,
    }
