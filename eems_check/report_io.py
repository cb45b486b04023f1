"""Reading a saved JSON report back into a `Report`: the inverse of `render.json_report.report_to_document`.

What it does: `read_report` loads the file (UTF-8 or UTF-16, as `inventory.load_json` accepts), checks `schema` and
`schema_version`, rebuilds the run facts, the inventory (through `inventory_from_document`, so it is validated
exactly like an inventory file), every server's build and findings, and the `changes` section a `--compare-to` run
adds; and checks the results match the inventory.
Rendering what it returns gives the same JSON again.

What it must not do: evaluate rules (the findings are taken as saved, so a report re-sent later still says what
the run found), or guess a missing field. Every error is one `InventoryError` line naming the file and the field.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from .errors import InventoryError
from .inventory import SCHEMA_ID as INVENTORY_SCHEMA
from .inventory import inventory_from_document, load_json, parse_datetime
from .model import (
    BuildInfo,
    BuildSource,
    Finding,
    Fix,
    FixBuild,
    Remediation,
    Report,
    RunInfo,
    ServerReport,
    Severity,
    Verdict,
)
from .render.json_report import REPORT_SCHEMA, REPORT_SCHEMA_VERSION

if TYPE_CHECKING:  # the diff package is imported only when a report carries a `changes` section
    from .diff import Changes

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

    def text(self, key: str, optional: bool = False) -> Any:
        value = self._get(key, optional)
        if value is None and optional:
            return None
        if not isinstance(value, str):
            raise self.error(self.path(key), f"must be a string, not {_shown(value)}")
        return value

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
        assert value is not None  # text() refused null
        return value

    def objects(self, key: str) -> list[_Fields]:
        return [_Fields(self.name, item, f"{self.path(key)}[{i}]") for i, item in enumerate(self.items(key))]

    def items(self, key: str) -> list[Any]:
        value = self._get(key, False)
        if not isinstance(value, list):
            raise self.error(self.path(key), f"must be an array, not {_shown(value)}")
        return value

    def child(self, key: str, optional: bool = False) -> _Fields | None:
        value = self._get(key, optional)
        if value is None and optional:
            return None
        return _Fields(self.name, value, self.path(key))

    def enum(self, key: str, kind: type[E], optional: bool = False) -> E | None:
        value = self.text(key, optional)
        if value is None:
            return None
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


def _child(f: _Fields, key: str) -> _Fields:
    child = f.child(key)
    assert child is not None  # not optional: child() raised if absent
    return child


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
        text=f.text("text", True),
        source=f.enum("source", BuildSource, True),
        number=f.text("number", True),
        name=f.text("name"),
        product=f.text("product", True),
        cu=f.text("cu", True),
        update=f.text("update", True),
        released=f.text("released", True),
        age_days=f.integer("age_days"),
        precision=f.text("precision"),
        status=f.text("status"),
    )


def _finding(f: _Fields) -> Finding:
    evidence = f.texts("evidence")
    rem = f.child("remediation", optional=True)
    return Finding(
        rule_id=f.text("rule_id"),
        title=f.text("title"),
        category=f.text("category"),
        verdict=_verdict(f, "verdict"),
        severity=_severity(f, "severity"),
        message=f.text("message"),
        evidence=evidence,
        remediation=Remediation(rem.text("text"), rem.text("url", True)) if rem else None,
        overview=f.text("overview", True),
    )


def _fix_build(f: _Fields | None) -> FixBuild | None:
    if f is None:
        return None
    third = f._get("third_party_only", False)
    if not isinstance(third, bool):
        raise f.error(f.path("third_party_only"), f"must be true or false, not {_shown(third)}")
    return FixBuild(f.text("name"), f.text("number"), f.text("kb", True), f.text("release_post", True), third)


def _fix(f: _Fields | None) -> Fix:
    """A result's `fix` (reports written before it existed have none: an empty fix)."""
    if f is None:
        return Fix()
    return Fix(
        actions=f.texts("actions"),
        build=_fix_build(f.child("build", True)),
        newest=_fix_build(f.child("newest", True)),
        confirmed=_fix_build(f.child("confirmed", True)),
        path=f.text("path", True),
        caveat=f.text("caveat", True),
        note=f.text("note", True),
    )


def _severity(f: _Fields, key: str) -> Severity:
    value = f.enum(key, Severity)
    assert value is not None  # not optional
    return value


def _verdict(f: _Fields, key: str) -> Verdict:
    value = f.enum(key, Verdict)
    assert value is not None
    return value


def _changes(f: _Fields) -> Changes:
    """The `changes` section (`--compare-to`), the inverse of `diff.changes_to_dict`. Counts, `since` and
    `is_empty` are derived from the lists, so they are not read back."""
    from .diff import (
        CHANGES_SCHEMA,
        CHANGES_SCHEMA_VERSION,
        BuildChange,
        Changes,
        FindingChange,
        ReportSide,
        RuleTotal,
        ServerChange,
        SeverityChange,
        SeverityTotal,
    )

    if f.obj.get("schema") != CHANGES_SCHEMA or f.obj.get("schema_version") != CHANGES_SCHEMA_VERSION:
        shown = f"{_shown(f.obj.get('schema'))} version {_shown(f.obj.get('schema_version'))}"
        raise f.error(f.where, f"must be {CHANGES_SCHEMA!r} version {CHANGES_SCHEMA_VERSION}, not {shown}")

    def side(s: _Fields) -> ReportSide:
        return ReportSide(
            label=s.text("label"),
            generated_at=s.stamp("generated_at"),
            org=s.text("org", True),
            rules_version=s.text("rules_version", True),
            tool_version=s.text("tool_version", True),
            servers=s.count("servers"),
        )

    def server(s: _Fields) -> ServerChange:
        build, top = _child(s, "build"), s.child("top_problem", optional=True)
        return ServerChange(
            server=s.text("server"),
            build_name=build.text("name"),
            build_number=build.text("number", True),
            worst=_severity(s, "worst"),
            problems=s.count("problems"),
            top_rule_id=top.text("rule_id") if top else None,
            top_problem=top.text("message", True) if top else None,
        )

    def finding(s: _Fields) -> FindingChange:
        return FindingChange(
            server=s.text("server"),
            rule_id=s.text("rule_id"),
            title=s.text("title"),
            severity=_severity(s, "severity"),
            verdict=_verdict(s, "verdict"),
            message=s.text("message"),
        )

    def build_change(s: _Fields) -> BuildChange:
        old, new = _child(s, "old"), _child(s, "new")
        return BuildChange(
            server=s.text("server"),
            old_name=old.text("name"),
            old_number=old.text("number", True),
            new_name=new.text("name"),
            new_number=new.text("number", True),
            direction=s.text("direction"),
            worst=_severity(s, "worst"),
        )

    def severity_change(s: _Fields) -> SeverityChange:
        old, new = _child(s, "old"), _child(s, "new")
        return SeverityChange(
            server=s.text("server"),
            rule_id=s.text("rule_id"),
            title=s.text("title"),
            old_severity=_severity(old, "severity"),
            new_severity=_severity(new, "severity"),
            old_verdict=_verdict(old, "verdict"),
            new_verdict=_verdict(new, "verdict"),
            message=new.text("message"),
            old_message=old.text("message"),
        )

    return Changes(
        old=side(_child(f, "old")),
        new=side(_child(f, "new")),
        added_servers=tuple(server(s) for s in f.objects("added_servers")),
        removed_servers=tuple(server(s) for s in f.objects("removed_servers")),
        build_changes=tuple(build_change(s) for s in f.objects("build_changes")),
        new_findings=tuple(finding(s) for s in f.objects("new_findings")),
        resolved_findings=tuple(finding(s) for s in f.objects("resolved_findings")),
        severity_changes=tuple(severity_change(s) for s in f.objects("severity_changes")),
        severity_totals=tuple(
            SeverityTotal(_severity(t, "severity"), t.count("old"), t.count("new"))
            for t in f.objects("severity_totals")
        ),
        rule_totals=tuple(
            RuleTotal(t.text("rule_id"), t.text("label"), t.count("old_fail"), t.count("new_fail"))
            for t in f.objects("rule_totals")
        ),
        unchanged_servers=_child(f, "counts").count("unchanged_servers"),
        warnings=f.texts("warnings"),
    )


def report_from_document(doc: Any, name: str) -> Report:
    """Validate a parsed report document and build the `Report`; errors name `name` and the field."""
    if not isinstance(doc, Mapping):
        raise InventoryError(f"{name}: a report must be a JSON object, not {type(doc).__name__}")
    schema = doc.get("schema")
    if schema == INVENTORY_SCHEMA:
        raise InventoryError(f"{name}: schema: this is an inventory, not a report; run `eems-check evaluate` on it")
    if schema != REPORT_SCHEMA:
        raise InventoryError(f"{name}: schema: must be {REPORT_SCHEMA!r}, not {_shown(schema)}")
    version = doc.get("schema_version")
    if version != REPORT_SCHEMA_VERSION:
        newer = isinstance(version, int) and not isinstance(version, bool) and version > REPORT_SCHEMA_VERSION
        hint = " (written by a newer eems-check)" if newer else ""
        raise InventoryError(
            f"{name}: schema_version: this eems-check reads version {REPORT_SCHEMA_VERSION}, "
            f"not {_shown(version)}{hint}"
        )
    top = _Fields(name, doc, "")
    run = _run(_child(top, "run"))
    if "inventory" not in doc:
        raise InventoryError(f"{name}: inventory: is required")
    inventory = inventory_from_document(doc["inventory"], f"{name}: inventory")
    results = top.items("results")
    by_name = {s.name: s for s in inventory.servers}
    servers = []
    seen: set[str] = set()
    for i, item in enumerate(results):
        r = _Fields(name, item, f"results[{i}]")
        server_name = r.text("server")
        record = by_name.get(server_name)
        if record is None:
            raise r.error(r.path("server"), f"{server_name!r} is not a server of the inventory")
        if server_name in seen:
            raise r.error(r.path("server"), f"{server_name!r} has two results")
        seen.add(server_name)
        findings = tuple(_finding(f) for f in r.objects("findings"))
        server = ServerReport(
            server=record,
            build=_build(_child(r, "build")),
            findings=findings,
            eems_state=r.text("eems_state"),
            fix=_fix(r.child("fix", True)),
        )
        saved_worst = r.enum("worst", Severity)
        if saved_worst is not server.worst:
            said = saved_worst.value if saved_worst else None
            raise r.error(r.path("worst"), f"says {said!r} but the findings give {server.worst.value!r}")
        servers.append(server)
    if len(servers) != len(inventory.servers):
        missing = ", ".join(sorted(set(by_name) - seen)[:5])
        raise InventoryError(f"{name}: results: no result for inventory server(s) {missing}")
    changes = _changes(_child(top, "changes")) if doc.get("changes") is not None else None
    return Report(run=run, inventory=inventory, servers=tuple(servers), changes=changes)


def read_report(path: Path) -> Report:
    """The report saved at `path` (what `--json` or `-o DIR` wrote)."""
    return report_from_document(load_json(path), str(path))
