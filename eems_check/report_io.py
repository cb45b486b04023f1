"""Reading a saved JSON report back into a `Report`: the inverse of `render.json_report.report_to_document`, and the
only reader of one (`eems-check send`, `eems-check diff`, `--compare-to`).

What it does: `read_report` loads the file (UTF-8 or UTF-16, as `inventory.load_json` accepts), checks `schema` and
`schema_version`, rebuilds the run facts, the inventory (through `inventory_from_document`, so it is validated
exactly like an inventory file), every server's build and findings, and the `changes` section a `--compare-to` run
adds; and checks the results match the inventory, one result per server, one finding per rule.
Rendering what it returns gives the same JSON again.

What it must not do: evaluate rules (the findings are taken as saved, so a report re-sent later still says what
the run found), or guess a missing field. Every error is one `InventoryError` line naming the file and the field.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from .errors import InventoryError
from .inventory import SCHEMA_ID as INVENTORY_SCHEMA
from .inventory import inventory_from_document, load_json, parse_datetime
from .model import (
    BuildChange,
    BuildInfo,
    BuildSource,
    Changes,
    Finding,
    FindingChange,
    Fix,
    FixBuild,
    Remediation,
    Report,
    ReportSide,
    RuleTotal,
    RunInfo,
    ServerChange,
    ServerReport,
    Severity,
    SeverityChange,
    SeverityTotal,
    Verdict,
)
from .render.json_report import CHANGES_SCHEMA, CHANGES_SCHEMA_VERSION, REPORT_SCHEMA, REPORT_SCHEMA_VERSION

E = TypeVar("E", BuildSource, Severity, Verdict)


class _Fields:
    """Typed access to one JSON object; every complaint names the file and the dotted path of the field."""

    def __init__(self, name: str, obj: Any, where: str) -> None:
        self.name = name
        self.where = where
        if not isinstance(obj, Mapping):
            raise self.error(where, f"must be an object, not {_shown(obj)}")
        self.obj = obj

    def error(self, where: str, problem: str) -> InventoryError:
        return InventoryError(f"{self.name}: {where}: {problem}")

    def path(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key

    def _get(self, key: str, optional: bool) -> Any:
        if key not in self.obj:
            if optional:
                return None
            raise self.error(self.path(key), "is required")
        return self.obj[key]

    def text(self, key: str) -> str:
        value = self._get(key, False)
        if not isinstance(value, str):
            raise self.error(self.path(key), f"must be a string, not {_shown(value)}")
        return value

    def maybe_text(self, key: str) -> str | None:
        """A string, or null or absent (None)."""
        return None if self._get(key, True) is None else self.text(key)

    def identifier(self, key: str) -> str:
        value = self.text(key)
        if not value.strip():
            raise self.error(self.path(key), "must not be empty")
        return str(value)

    def integer(self, key: str) -> int | None:
        value = self._get(key, True)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            raise self.error(self.path(key), f"must be an integer or null, not {_shown(value)}")
        return value

    def count(self, key: str) -> int:
        value = self._get(key, False)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise self.error(self.path(key), f"must be a whole number, not {_shown(value)}")
        return value

    def texts(self, key: str) -> tuple[str, ...]:
        values = self.items(key)
        for i, v in enumerate(values):
            if not isinstance(v, str):
                raise self.error(f"{self.path(key)}[{i}]", f"must be a string, not {_shown(v)}")
        return tuple(values)

    def stamp(self, key: str) -> dt.datetime:
        value = parse_datetime(self.text(key), f"{self.name}: {self.path(key)}")
        if value is None:  # parse_datetime gives None only for None, which text() refused
            raise self.error(self.path(key), "is required")
        return value

    def objects(self, key: str) -> list[_Fields]:
        return [_Fields(self.name, item, f"{self.path(key)}[{i}]") for i, item in enumerate(self.items(key))]

    def items(self, key: str) -> list[Any]:
        value = self._get(key, False)
        if not isinstance(value, list):
            raise self.error(self.path(key), f"must be an array, not {_shown(value)}")
        return value

    def child(self, key: str) -> _Fields:
        return _Fields(self.name, self._get(key, False), self.path(key))

    def maybe_child(self, key: str) -> _Fields | None:
        return None if self._get(key, True) is None else self.child(key)

    def maybe_enum(self, key: str, kind: type[E]) -> E | None:
        return None if self._get(key, True) is None else self.enum(key, kind)

    def enum(self, key: str, kind: type[E]) -> E:
        value = self.text(key)
        try:
            return kind(value)
        except ValueError:
            allowed = ", ".join(m.value for m in kind)
            raise self.error(self.path(key), f"must be one of {allowed}, not {_shown(value)}") from None

    def date(self, key: str) -> dt.date:
        value = self.text(key)
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            raise self.error(self.path(key), f"not a date (YYYY-MM-DD): {_shown(value)}") from None


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _run(f: _Fields) -> RunInfo:
    overview = [(o.text("rule_id"), o.text("label")) for o in f.objects("overview_rules")]
    generated = f.stamp("generated_at")
    return RunInfo(
        tool_version=f.text("tool_version"),
        rules_version=f.text("rules_version"),
        rules_as_of=f.text("rules_as_of"),
        evaluated_on=f.date("evaluated_on"),
        generated_at=generated,
        overview_rules=tuple(overview),
    )


def _build(f: _Fields) -> BuildInfo:
    return BuildInfo(
        text=f.maybe_text("text"),
        source=f.maybe_enum("source", BuildSource),
        number=f.maybe_text("number"),
        name=f.text("name"),
        product=f.maybe_text("product"),
        cu=f.maybe_text("cu"),
        update=f.maybe_text("update"),
        released=f.maybe_text("released"),
        age_days=f.integer("age_days"),
        precision=f.text("precision"),
        status=f.text("status"),
    )


def _finding(f: _Fields) -> Finding:
    evidence = f.texts("evidence")
    rem = f.maybe_child("remediation")
    return Finding(
        rule_id=f.identifier("rule_id"),
        title=f.text("title"),
        category=f.text("category"),
        verdict=f.enum("verdict", Verdict),
        severity=f.enum("severity", Severity),
        message=f.text("message"),
        evidence=evidence,
        remediation=Remediation(rem.text("text"), rem.maybe_text("url")) if rem else None,
        overview=f.maybe_text("overview"),
    )


_SEVERITIES = {s.value: s for s in Severity}
_VERDICTS = {v.value: v for v in Verdict}


def _fix_build(f: _Fields | None) -> FixBuild | None:
    if f is None:
        return None
    third = f._get("third_party_only", True)
    if third is None:
        third = False
    if not isinstance(third, bool):
        raise f.error(f.path("third_party_only"), f"must be true or false, not {_shown(third)}")
    return FixBuild(f.text("name"), f.text("number"), f.maybe_text("kb"), f.maybe_text("release_post"), third)


def _fix(f: _Fields | None) -> Fix:
    """A result's `fix` (reports written before it existed have none: an empty fix)."""
    if f is None:
        return Fix()
    return Fix(
        actions=f.texts("actions"),
        build=_fix_build(f.maybe_child("build")),
        newest=_fix_build(f.maybe_child("newest")),
        confirmed=_fix_build(f.maybe_child("confirmed")),
        path=f.maybe_text("path"),
        caveat=f.maybe_text("caveat"),
        note=f.maybe_text("note"),
    )


def _quick_finding(node: Any) -> Finding | None:
    """A well-formed finding, read without building error paths (a 5,000-server report holds 85,000 of them);
    None sends anything unusual to `_finding`, which names the problem."""
    try:
        rule_id, title, category, message = node["rule_id"], node["title"], node["category"], node["message"]
        verdict, severity = _VERDICTS[node["verdict"]], _SEVERITIES[node["severity"]]
        evidence, rem, overview = node["evidence"], node.get("remediation"), node.get("overview")
        remediation = None if rem is None else Remediation(rem["text"], rem.get("url"))
    except (KeyError, TypeError, AttributeError):
        return None
    texts = (rule_id, title, category, message, *evidence) if type(evidence) is list else (None,)
    optional = (overview, *((remediation.url,) if remediation else ()))
    if (
        any(type(x) is not str for x in texts)
        or not rule_id.strip()
        or any(x is not None and type(x) is not str for x in optional)
        or (remediation is not None and type(remediation.text) is not str)
    ):
        return None
    return Finding(rule_id, title, category, verdict, severity, message, tuple(evidence), remediation, overview)


def _changes(f: _Fields) -> Changes:
    """The `changes` section (`--compare-to`), the inverse of `changes_to_dict`. Counts, `since` and `is_empty` are
    derived from the lists, so they are not read back."""
    if f.obj.get("schema") != CHANGES_SCHEMA or f.obj.get("schema_version") != CHANGES_SCHEMA_VERSION:
        shown = f"{_shown(f.obj.get('schema'))} version {_shown(f.obj.get('schema_version'))}"
        raise f.error(f.where, f"must be {CHANGES_SCHEMA!r} version {CHANGES_SCHEMA_VERSION}, not {shown}")

    def side(s: _Fields) -> ReportSide:
        return ReportSide(
            label=s.text("label"),
            generated_at=s.stamp("generated_at"),
            org=s.maybe_text("org"),
            rules_version=s.maybe_text("rules_version"),
            tool_version=s.maybe_text("tool_version"),
            servers=s.count("servers"),
        )

    def server(s: _Fields) -> ServerChange:
        build, top = s.child("build"), s.maybe_child("top_problem")
        return ServerChange(
            server=s.text("server"),
            build_name=build.text("name"),
            build_number=build.maybe_text("number"),
            worst=s.enum("worst", Severity),
            problems=s.count("problems"),
            top_rule_id=top.text("rule_id") if top else None,
            top_problem=top.maybe_text("message") if top else None,
        )

    def finding(s: _Fields) -> FindingChange:
        return FindingChange(
            server=s.text("server"),
            rule_id=s.text("rule_id"),
            title=s.text("title"),
            severity=s.enum("severity", Severity),
            verdict=s.enum("verdict", Verdict),
            message=s.text("message"),
        )

    def build_change(s: _Fields) -> BuildChange:
        old, new = s.child("old"), s.child("new")
        return BuildChange(
            server=s.text("server"),
            old_name=old.text("name"),
            old_number=old.maybe_text("number"),
            new_name=new.text("name"),
            new_number=new.maybe_text("number"),
            direction=s.text("direction"),
            worst=s.enum("worst", Severity),
        )

    def severity_change(s: _Fields) -> SeverityChange:
        old, new = s.child("old"), s.child("new")
        return SeverityChange(
            server=s.text("server"),
            rule_id=s.text("rule_id"),
            title=s.text("title"),
            old_severity=old.enum("severity", Severity),
            new_severity=new.enum("severity", Severity),
            old_verdict=old.enum("verdict", Verdict),
            new_verdict=new.enum("verdict", Verdict),
            message=new.text("message"),
            old_message=old.text("message"),
        )

    return Changes(
        old=side(f.child("old")),
        new=side(f.child("new")),
        added_servers=tuple(server(s) for s in f.objects("added_servers")),
        removed_servers=tuple(server(s) for s in f.objects("removed_servers")),
        build_changes=tuple(build_change(s) for s in f.objects("build_changes")),
        new_findings=tuple(finding(s) for s in f.objects("new_findings")),
        resolved_findings=tuple(finding(s) for s in f.objects("resolved_findings")),
        severity_changes=tuple(severity_change(s) for s in f.objects("severity_changes")),
        severity_totals=tuple(
            SeverityTotal(t.enum("severity", Severity), t.count("old"), t.count("new"))
            for t in f.objects("severity_totals")
        ),
        rule_totals=tuple(
            RuleTotal(t.text("rule_id"), t.text("label"), t.count("old_fail"), t.count("new_fail"))
            for t in f.objects("rule_totals")
        ),
        unchanged_servers=f.child("counts").count("unchanged_servers"),
        warnings=f.texts("warnings"),
    )


def _check_schema(top: _Fields) -> None:
    doc = top.obj
    schema = doc.get("schema")
    if schema == INVENTORY_SCHEMA or (schema is None and "organization" in doc and "servers" in doc):
        raise top.error("schema", "this is an inventory, not a report; run `eems-check evaluate` on it")
    if schema is None:
        raise top.error("schema", f"is required: this is not a JSON report of eems-check ({REPORT_SCHEMA!r})")
    if schema != REPORT_SCHEMA:
        raise top.error("schema", f"must be {REPORT_SCHEMA!r}, not {_shown(schema)}")
    version = doc.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise top.error("schema_version", f"must be an integer, not {_shown(version)}")
    if version != REPORT_SCHEMA_VERSION:
        hint = " (written by a newer eems-check)" if version > REPORT_SCHEMA_VERSION else ""
        raise top.error(
            "schema_version", f"this eems-check reads version {REPORT_SCHEMA_VERSION}, not {_shown(version)}{hint}"
        )


def report_from_document(doc: Any, name: str) -> Report:
    """Validate a parsed report document and build the `Report`; errors name `name` and the field."""
    if not isinstance(doc, Mapping):
        raise InventoryError(f"{name}: a report must be a JSON object, not {type(doc).__name__}")
    top = _Fields(name, doc, "")
    _check_schema(top)
    run = _run(top.child("run"))
    if "inventory" not in doc:
        raise InventoryError(f"{name}: inventory: is required")
    inventory = inventory_from_document(doc["inventory"], f"{name}: inventory")
    results = top.items("results")
    by_name = {s.name: s for s in inventory.servers}
    servers = []
    seen: set[str] = set()
    interned: dict[Finding, Finding] = {}  # as the evaluation does: a handful of distinct findings, shared
    for i, item in enumerate(results):
        r = _Fields(name, item, f"results[{i}]")
        server_name = r.text("server")
        record = by_name.get(server_name)
        if record is None:
            raise r.error(r.path("server"), f"{server_name!r} is not a server of the inventory")
        if server_name in seen:
            raise r.error(r.path("server"), f"{server_name!r} has two results")
        seen.add(server_name)
        where = r.path("findings")
        found = [
            _quick_finding(node) or _finding(_Fields(name, node, f"{where}[{j}]"))
            for j, node in enumerate(r.items("findings"))
        ]
        findings = tuple(interned.setdefault(f, f) for f in found)
        rules: set[str] = set()
        for j, finding in enumerate(findings):
            if finding.rule_id in rules:
                raise r.error(f"{r.path('findings')}[{j}].rule_id", f"{finding.rule_id!r} appears twice")
            rules.add(finding.rule_id)
        server = ServerReport(
            server=record,
            build=_build(r.child("build")),
            findings=findings,
            eems_state=r.text("eems_state"),
            fix=_fix(r.maybe_child("fix")),
        )
        saved_worst = r.enum("worst", Severity)
        if saved_worst is not server.worst:
            raise r.error(r.path("worst"), f"says {saved_worst.value!r} but the findings give {server.worst.value!r}")
        servers.append(server)
    if len(servers) != len(inventory.servers):
        missing = ", ".join(sorted(set(by_name) - seen)[:5])
        raise InventoryError(f"{name}: results: no result for inventory server(s) {missing}")
    changes = _changes(top.child("changes")) if doc.get("changes") is not None else None
    return Report(run=run, inventory=inventory, servers=tuple(servers), changes=changes)


def read_report(path: Path) -> Report:
    """The report saved at `path` (what `--json` or `-o DIR` wrote)."""
    return report_from_document(load_json(path), str(path))
