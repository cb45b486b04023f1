"""Reading a saved JSON report for comparison: validate what a diff needs, keep it as a light snapshot.

Every problem is one `InventoryError` line naming the file (or label) and the field, like the inventory reader's.
Only the fields a diff uses are checked; the rest of the document is left alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple, cast

from ..errors import InventoryError
from ..inventory import load_json, parse_datetime
from ..model import Severity, Verdict
from ..names import server_key
from ..render.json_report import REPORT_SCHEMA, REPORT_SCHEMA_VERSION
from .model import ReportSide

_SEVERITIES = ", ".join(s.value for s in Severity)
_VERDICTS = ", ".join(v.value for v in Verdict)
_SEVERITY_BY_VALUE = {s.value: s for s in Severity}
_VERDICT_BY_VALUE = {v.value: v for v in Verdict}
PRESENT = (Verdict.FAIL, Verdict.UNKNOWN)


class ParsedFinding(NamedTuple):
    rule_id: str
    title: str
    verdict: Verdict
    severity: Severity
    message: str
    order: int  # position in the report: rule order, for stable listings


class ParsedServer(NamedTuple):
    name: str
    worst: Severity
    build_name: str
    build_number: str | None
    precision: str | None
    findings: list[ParsedFinding]


class ParsedReport(NamedTuple):
    side: ReportSide
    overview: list[tuple[str, str]]
    servers: dict[str, ParsedServer]  # by case-folded name, in report order


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


class _Reader:
    """Typed access to a loose JSON document; every problem is one `InventoryError` naming the field."""

    def __init__(self, label: str) -> None:
        self.label = label

    def fail(self, where: str, problem: str) -> InventoryError:
        return InventoryError(f"{self.label}: {where}: {problem}" if where else f"{self.label}: {problem}")

    def mapping(self, value: Any, where: str) -> Mapping[str, Any]:
        if not isinstance(value, Mapping):
            raise self.fail(where, f"must be an object, not {_show(value)}")
        return value

    def items(self, value: Any, where: str) -> list[Any]:
        if not isinstance(value, list):
            raise self.fail(where, f"must be a list, not {_show(value)}")
        return value

    def text(self, node: Mapping[str, Any], key: str, where: str, *, required: bool = True) -> str | None:
        value = node.get(key)
        if value is None and not required:
            return None
        if not isinstance(value, str) or (required and not value.strip()):
            if value is None:
                problem = "is required"
            else:
                problem = f"must be a {'non-empty ' if required else ''}string, not {_show(value)}"
            raise self.fail(f"{where}.{key}" if where else key, problem)
        return value

    def severity(self, value: Any, where: str) -> Severity:
        try:
            return Severity(value)
        except ValueError:
            raise self.fail(where, f"must be one of {_SEVERITIES}, not {_show(value)}") from None

    def verdict(self, value: Any, where: str) -> Verdict:
        try:
            return Verdict(value)
        except ValueError:
            raise self.fail(where, f"must be one of {_VERDICTS}, not {_show(value)}") from None


def _check_header(doc: Any, r: _Reader) -> Mapping[str, Any]:
    doc = r.mapping(doc, "")
    schema = doc.get("schema")
    if schema is None and "results" not in doc and "servers" not in doc:
        raise r.fail("schema", f"is required: this is not a JSON report of eems-check ({REPORT_SCHEMA!r})")
    if schema != REPORT_SCHEMA:
        if schema == "eems-check/inventory" or ("organization" in doc and "servers" in doc):
            raise r.fail("schema", "this is an inventory, not a report (run eems-check evaluate on it first)")
        raise r.fail("schema", f"must be {REPORT_SCHEMA!r} (a JSON report of eems-check), not {_show(schema)}")
    version = doc.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise r.fail("schema_version", f"must be an integer, not {_show(version)}")
    if version > REPORT_SCHEMA_VERSION:
        raise r.fail("schema_version", f"{version} is newer than this eems-check reads ({REPORT_SCHEMA_VERSION})")
    if version < 1:
        raise r.fail("schema_version", f"{version} is not a report schema version")
    return doc


def _quick_finding(node: Any, order: int) -> ParsedFinding | None:
    """A well-formed finding, read without building error paths (a 5,000-server report holds 80,000 findings);
    None sends anything unusual to the careful `_parse_finding`, which names the problem."""
    try:
        rule_id, title, message = node["rule_id"], node.get("title"), node.get("message")
        verdict, severity = _VERDICT_BY_VALUE[node["verdict"]], _SEVERITY_BY_VALUE[node["severity"]]
    except (KeyError, TypeError, AttributeError):
        return None
    if type(rule_id) is not str or not rule_id.strip():
        return None
    if (title is not None and type(title) is not str) or (message is not None and type(message) is not str):
        return None
    return ParsedFinding(rule_id, title or rule_id, verdict, severity, message or "", order)


def _parse_finding(node: Any, order: int, where: str, r: _Reader) -> ParsedFinding:
    f = r.mapping(node, where)
    rule_id = r.text(f, "rule_id", where) or ""
    return ParsedFinding(
        rule_id=rule_id,
        title=r.text(f, "title", where, required=False) or rule_id,
        verdict=r.verdict(f.get("verdict"), f"{where}.verdict"),
        severity=r.severity(f.get("severity"), f"{where}.severity"),
        message=r.text(f, "message", where, required=False) or "",
        order=order,
    )


def _parse_server(node: Any, where: str, r: _Reader) -> ParsedServer:
    s = r.mapping(node, where)
    name = r.text(s, "server", where) or ""
    findings = [
        _quick_finding(f, i) or _parse_finding(f, i, f"{where}.findings[{i}]", r)
        for i, f in enumerate(r.items(s.get("findings", []), f"{where}.findings"))
    ]
    seen: set[str] = set()
    for i, f in enumerate(findings):
        if f.rule_id in seen:
            raise r.fail(f"{where}.findings[{i}].rule_id", f"{f.rule_id!r} appears twice")
        seen.add(f.rule_id)
    worst = (
        r.severity(s["worst"], f"{where}.worst")
        if "worst" in s
        else max((f.severity for f in findings), key=lambda x: x.rank, default=Severity.OK)
    )
    build = r.mapping(s.get("build") or {}, f"{where}.build")
    number = r.text(build, "number", f"{where}.build", required=False)
    return ParsedServer(
        name=name,
        worst=worst,
        build_name=r.text(build, "name", f"{where}.build", required=False) or number or "unknown build",
        build_number=number,
        precision=r.text(build, "precision", f"{where}.build", required=False),
        findings=findings,
    )


def parse_report(doc: Any, label: str) -> ParsedReport:
    """Validate `doc` as a report and keep what a diff needs; errors start with `label` (a file name, usually)."""
    r = _Reader(label)
    doc = _check_header(doc, r)
    run = r.mapping(doc.get("run"), "run")
    stamp = r.text(run, "generated_at", "run")
    try:
        generated_at = parse_datetime(stamp, f"{label}: run.generated_at")
    except InventoryError:
        generated_at = None
    if generated_at is None:
        raise r.fail("run.generated_at", f"not a date and time: {_show(stamp)}")
    overview = []
    for i, item in enumerate(r.items(run.get("overview_rules", []), "run.overview_rules")):
        o = r.mapping(item, f"run.overview_rules[{i}]")
        rule_id = r.text(o, "rule_id", f"run.overview_rules[{i}]") or ""
        overview.append((rule_id, r.text(o, "label", f"run.overview_rules[{i}]", required=False) or rule_id))
    org = None
    inventory = doc.get("inventory")
    if isinstance(inventory, Mapping) and isinstance(inventory.get("organization"), Mapping):
        name = inventory["organization"].get("name")
        org = name if isinstance(name, str) else None
    servers: dict[str, ParsedServer] = {}
    first: dict[str, int] = {}
    for i, node in enumerate(r.items(doc.get("results"), "results")):
        server = _parse_server(node, f"results[{i}]", r)
        key = server_key(server.name)
        if key in servers:
            raise r.fail(f"results[{i}].server", f"{server.name!r} appears twice (first at results[{first[key]}])")
        servers[key], first[key] = server, i
    side = ReportSide(
        label=label,
        generated_at=generated_at,
        org=org,
        rules_version=r.text(run, "rules_version", "run", required=False),
        tool_version=r.text(run, "tool_version", "run", required=False),
        servers=len(servers),
    )
    return ParsedReport(side=side, overview=overview, servers=servers)


def load_report_document(path: Path | str) -> dict[str, Any]:
    """Read and validate a saved JSON report (UTF-8 or UTF-16, with or without BOM); errors name file and field."""
    doc = load_json(Path(path))
    parse_report(doc, str(path))  # raises unless doc is a valid report, hence a dict
    return cast(dict[str, Any], doc)
