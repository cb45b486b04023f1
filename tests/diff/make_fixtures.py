"""Regenerate the saved reports under tests/diff/fixtures/reports/ with the real evaluation.

    .venv/bin/python -m tests.diff.make_fixtures

Each pair is a previous scan and a later one of the same organisation, written by `evaluate` and
`report_to_document` exactly as `eems-check evaluate` writes them (indented, for readable fixture diffs). The
later scans are the bundled sample inventory and tests/fixtures/inventories/hostile.json; the previous ones are
edited copies, each edit one kind of change the diff must find (see `expected.yaml`).
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from eems_check.evaluate import evaluate
from eems_check.inventory import inventory_from_document
from eems_check.render.json_report import report_to_document
from eems_check.ruleset import RuleSet, load_ruleset

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "eems_check" / "data" / "sample-inventory.json"
HOSTILE = ROOT / "tests" / "fixtures" / "inventories" / "hostile.json"
REPORTS = Path(__file__).parent / "fixtures" / "reports"

THEN = dt.datetime(2026, 10, 1, 7, 0, tzinfo=dt.timezone.utc)
NOW = dt.datetime(2026, 11, 27, 7, 0, tzinfo=dt.timezone.utc)

Doc = dict[str, Any]


def _server(doc: Doc, name: str) -> Doc:
    found: Doc = next(s for s in doc["servers"] if s["name"] == name)
    return found


def contoso_then(now: Doc) -> Doc:
    """The sample organisation eight weeks earlier."""
    doc = copy.deepcopy(now)
    doc["collected_at"] = "2026-10-01T06:00:00Z"
    doc["servers"] = [s for s in doc["servers"] if s["name"] != "EXSE01"]  # EXSE01: added since
    gone = copy.deepcopy(_server(doc, "EX16-22A"))  # EX16-22B: decommissioned since
    gone.update(name="EX16-22B", fqdn="ex16-22b.contoso.com")
    doc["servers"].append(gone)
    _server(doc, "EX16-23A")["exsetup_version"] = "15.1.2507.17"  # CU23 Jan23SU, updated to Sep26SUv2 since
    _server(doc, "EXSE02")["events"] = []  # event 1008 appeared since: a regression
    _server(doc, "EX19-15B")["eems"]["enabled"] = True  # disabled on the server since
    ex19_12b = _server(doc, "EX19-12B")  # partly scanned then (exact build), unreachable now (CU only)
    ex19_12b.update(exsetup_version="15.2.1118.25", build_source="exsetup")
    ex19_12b["collection"] = {"status": "partial", "reason": "EEMS log folder: access denied"}
    _server(doc, "EX19-15A")["name"] = "ex19-15a"  # the same server, spelt in lower case
    return doc


def contoso_ltd_then(now: Doc) -> Doc:
    """The same earlier scan, when the organisation still had its old name."""
    doc = contoso_then(now)
    doc["organization"]["name"] = "Contoso Ltd"
    return doc


def hostile_now(base: Doc) -> Doc:
    doc = copy.deepcopy(base)
    doc["servers"].append({"name": "EVIL\x1b[31mRED", "admin_display_version": "Version 15.2 (Build 2562.17)"})
    return doc


def hostile_then(base: Doc) -> Doc:
    doc = copy.deepcopy(base)
    doc["organization"]["name"] = "R&D <b>before</b>"
    script = _server(doc, "<script>alert(1)</script>")
    script["exsetup_version"] = "15.2.2562.41"
    script["events"] = []
    doc["servers"].append(
        {"name": "<img src=x onerror=alert(9)>", "admin_display_version": "Version 15.1 (Build 2507.6)"}
    )
    return doc


def _write(ruleset: RuleSet, doc: Doc, name: str, when: dt.datetime) -> None:
    report = evaluate(inventory_from_document(doc, name), ruleset, today=when.date(), generated_at=when)
    text = json.dumps(report_to_document(report), ensure_ascii=False, indent=1) + "\n"
    (REPORTS / name).write_text(text, encoding="utf-8")
    print(f"wrote {REPORTS / name}")


def main() -> None:
    ruleset = load_ruleset()
    sample = json.loads(SAMPLE.read_text(encoding="utf-8"))
    hostile = json.loads(HOSTILE.read_text(encoding="utf-8"))
    jobs: list[tuple[str, Callable[[Doc], Doc], Doc, dt.datetime]] = [
        ("contoso-2026-11-27.json", copy.deepcopy, sample, NOW),
        ("contoso-2026-10-01.json", contoso_then, sample, THEN),
        ("contoso-ltd-2026-10-01.json", contoso_ltd_then, sample, THEN),
        ("hostile-2026-11-27.json", hostile_now, hostile, NOW),
        ("hostile-2026-10-01.json", hostile_then, hostile, THEN),
    ]
    REPORTS.mkdir(parents=True, exist_ok=True)
    for name, make, base, when in jobs:
        _write(ruleset, make(base), name, when)


if __name__ == "__main__":
    main()
