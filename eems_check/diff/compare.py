"""Comparing two reports: servers by name (case-insensitively), builds at their shared precision, present
findings (FAIL or UNKNOWN) by rule id. Every list comes out worst first."""

from __future__ import annotations

import re
from pathlib import Path
from typing import NamedTuple

from ..model import (
    BuildChange,
    Changes,
    Finding,
    FindingChange,
    Report,
    ReportSide,
    RuleTotal,
    ServerChange,
    ServerReport,
    Severity,
    SeverityChange,
    SeverityTotal,
    Verdict,
)
from ..names import server_key
from ..report_io import read_report

PRESENT = (Verdict.FAIL, Verdict.UNKNOWN)
_DIRECTION_ORDER = {"worse": 0, "undecided": 1, "better": 2}


class _Found(NamedTuple):
    """A present finding and its place in the server's list (rule order, for stable listings)."""

    order: int
    finding: Finding


def _present(server: ServerReport) -> dict[str, _Found]:
    return {f.rule_id: _Found(i, f) for i, f in enumerate(server.findings) if f.verdict in PRESENT}


def _build_parts(number: str | None) -> tuple[int, ...] | None:
    if number is None or not re.fullmatch(r"\d{1,5}(\.\d{1,5}){2,3}", number.strip()):
        return None
    return tuple(int(p) for p in number.strip().split("."))


def _build_direction(old: ServerReport, new: ServerReport) -> str | None:
    """How the build moved, at the precision both reports know it (None: no change, or nothing to compare).

    A server scanned to the SU level once and known only by its CU (AdminDisplayVersion) the next time has not
    changed build as long as the CU is the same."""
    was, now = old.build.number, new.build.number
    if was is None or now is None:
        return None
    a, b = _build_parts(was), _build_parts(now)
    if a is None or b is None:
        return None if was.strip() == now.strip() else "change"
    exact = len(a) == len(b) == 4 and "cu" not in (old.build.precision, new.build.precision)
    a, b = (a, b) if exact else (a[:3], b[:3])
    if a == b:
        return None
    return "update" if b > a else "rollback"


def _server_change(s: ServerReport) -> ServerChange:
    problems = [p for p in _present(s).values() if p.finding.severity.rank >= Severity.WARNING.rank]
    problems.sort(key=lambda p: (-p.finding.severity.rank, p.finding.verdict is not Verdict.FAIL, p.order))
    top = problems[0].finding if problems else None
    return ServerChange(
        server=s.server.name,
        build_name=s.build.name,
        build_number=s.build.number,
        worst=s.worst,
        problems=len(problems),
        top_rule_id=top.rule_id if top else None,
        top_problem=top.message if top else None,
    )


def _finding_change(server: str, f: Finding) -> FindingChange:
    return FindingChange(server, f.rule_id, f.title, f.severity, f.verdict, f.message)


def _side(report: Report, label: str) -> ReportSide:
    return ReportSide(
        label=label,
        generated_at=report.run.generated_at,
        org=report.inventory.org.name,
        rules_version=report.run.rules_version,
        tool_version=report.run.tool_version,
        servers=len(report.servers),
    )


def _warnings(old: ReportSide, new: ReportSide) -> list[str]:
    out = []
    if old.org and new.org and old.org.strip().casefold() != new.org.strip().casefold():
        out.append(
            f'the previous report is of organisation "{old.org}", this one of "{new.org}"; compared anyway, '
            "by server name"
        )
    if old.generated_at > new.generated_at:
        out.append(
            f"the previous report ({old.generated_at:%Y-%m-%d %H:%M UTC}) is newer than this one "
            f"({new.generated_at:%Y-%m-%d %H:%M UTC}); are the two files swapped?"
        )
    if old.rules_version and new.rules_version and old.rules_version != new.rules_version:
        out.append(
            f"the rules changed ({old.rules_version} -> {new.rules_version}): some changes may come from the rules, "
            "not from the servers"
        )
    return out


def _totals(old: Report, new: Report) -> tuple[list[SeverityTotal], list[RuleTotal]]:
    sev = []
    for s in sorted(Severity, key=lambda x: -x.rank):
        a, b = old.count(s), new.count(s)
        if a or b:
            sev.append(SeverityTotal(s, a, b))

    def failing(r: Report, rule_id: str) -> int:
        return len(r.with_verdict(rule_id, Verdict.FAIL))

    overview = new.run.overview_rules or old.run.overview_rules
    return sev, [RuleTotal(rid, label, failing(old, rid), failing(new, rid)) for rid, label in overview]


class _Changed(NamedTuple):
    """What comparing the servers in both reports found, before ordering."""

    builds: list[BuildChange]
    appeared: list[tuple[_Found, FindingChange]]
    gone: list[tuple[_Found, FindingChange]]
    changed: list[tuple[int, SeverityChange]]


def _compare_server(before: ServerReport, now: ServerReport, found: _Changed) -> bool:
    """Add what changed on one server to `found`; False when nothing did."""
    touched = False
    name = now.server.name
    direction = _build_direction(before, now)
    if direction:
        touched = True
        old_build, new_build = before.build, now.build
        found.builds.append(
            BuildChange(
                name, old_build.name, old_build.number, new_build.name, new_build.number, direction, now.worst
            )
        )
    was, present = _present(before), _present(now)
    for rule_id, at in present.items():
        f, p = at.finding, was.get(rule_id)
        if p is None:
            found.appeared.append((at, _finding_change(name, f)))
        elif (p.finding.severity, p.finding.verdict) != (f.severity, f.verdict):
            old = p.finding
            change = SeverityChange(
                name, rule_id, f.title, old.severity, f.severity, old.verdict, f.verdict, f.message, old.message
            )
            found.changed.append((at.order, change))
        else:
            continue
        touched = True
    for rule_id, p in was.items():
        if rule_id not in present:
            found.gone.append((p, _finding_change(name, p.finding)))
            touched = True
    return touched


def _finding_order(item: tuple[_Found, FindingChange]) -> tuple[int, bool, str, int]:
    p, c = item
    return (-p.finding.severity.rank, p.finding.verdict is not Verdict.FAIL, server_key(c.server), p.order)


def _change_order(item: tuple[int, SeverityChange]) -> tuple[int, int, str, int]:
    order, c = item
    return (_DIRECTION_ORDER[c.direction], -max(c.new_severity.rank, c.old_severity.rank), server_key(c.server), order)


def _server_order(s: ServerChange) -> tuple[int, int, str]:
    return (-s.worst.rank, -s.problems, server_key(s.server))


def compare(old: Report, new: Report, *, old_label: str = "previous report", new_label: str = "this report") -> Changes:
    """What changed from `old` to `new` (reports as evaluated, or as `report_io` reads them back); the labels name
    the two reports in the result (file names, usually)."""
    found = _Changed([], [], [], [])
    before = {server_key(s.server.name): s for s in old.servers}
    after = {server_key(s.server.name): s for s in new.servers}
    unchanged = 0
    for key, now in after.items():
        was = before.get(key)
        if was is not None:
            unchanged += not _compare_server(was, now, found)
    added = sorted((_server_change(s) for k, s in after.items() if k not in before), key=_server_order)
    removed = sorted((_server_change(s) for k, s in before.items() if k not in after), key=_server_order)
    found.builds.sort(key=lambda b: (b.direction != "rollback", -b.worst.rank, server_key(b.server)))
    sev_totals, rule_totals = _totals(old, new)
    old_side, new_side = _side(old, old_label), _side(new, new_label)
    return Changes(
        old=old_side,
        new=new_side,
        added_servers=tuple(added),
        removed_servers=tuple(removed),
        build_changes=tuple(found.builds),
        new_findings=tuple(c for _, c in sorted(found.appeared, key=_finding_order)),
        resolved_findings=tuple(c for _, c in sorted(found.gone, key=_finding_order)),
        severity_changes=tuple(c for _, c in sorted(found.changed, key=_change_order)),
        severity_totals=tuple(sev_totals),
        rule_totals=tuple(rule_totals),
        unchanged_servers=unchanged,
        warnings=tuple(_warnings(old_side, new_side)),
    )


def diff_files(old_path: Path | str, new_path: Path | str) -> Changes:
    """`eems-check diff OLD.json NEW.json`: read both reports and compare them; errors name the file and field."""
    return compare(
        read_report(Path(old_path)), read_report(Path(new_path)), old_label=str(old_path), new_label=str(new_path)
    )
