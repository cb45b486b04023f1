"""Comparing two report snapshots: servers by name (case-insensitively), builds at their shared precision,
present findings (FAIL or UNKNOWN) by rule id. Every list comes out worst first."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

from ..inventory import load_json
from ..model import Severity, Verdict
from .model import (
    BuildChange,
    Changes,
    FindingChange,
    ReportSide,
    RuleTotal,
    ServerChange,
    SeverityChange,
    SeverityTotal,
)
from .reader import PRESENT, ParsedFinding, ParsedReport, ParsedServer, parse_report, server_key

_DIRECTION_ORDER = {"worse": 0, "undecided": 1, "better": 2}


def _present(server: ParsedServer) -> dict[str, ParsedFinding]:
    return {f.rule_id: f for f in server.findings if f.verdict in PRESENT}


def _build_parts(number: str | None) -> tuple[int, ...] | None:
    if number is None or not re.fullmatch(r"\d{1,5}(\.\d{1,5}){2,3}", number.strip()):
        return None
    return tuple(int(p) for p in number.strip().split("."))


def _build_direction(old: ParsedServer, new: ParsedServer) -> str | None:
    """How the build moved, at the precision both reports know it (None: no change, or nothing to compare).

    A server scanned to the SU level once and known only by its CU (AdminDisplayVersion) the next time has not
    changed build as long as the CU is the same."""
    if old.build_number is None or new.build_number is None:
        return None
    a, b = _build_parts(old.build_number), _build_parts(new.build_number)
    if a is None or b is None:
        return None if old.build_number.strip() == new.build_number.strip() else "change"
    exact = len(a) == len(b) == 4 and "cu" not in (old.precision, new.precision)
    a, b = (a, b) if exact else (a[:3], b[:3])
    if a == b:
        return None
    return "update" if b > a else "rollback"


def _server_change(s: ParsedServer) -> ServerChange:
    problems = [f for f in _present(s).values() if f.severity.rank >= Severity.WARNING.rank]
    problems.sort(key=lambda f: (-f.severity.rank, f.verdict is not Verdict.FAIL, f.order))
    top = problems[0] if problems else None
    return ServerChange(
        server=s.name,
        build_name=s.build_name,
        build_number=s.build_number,
        worst=s.worst,
        problems=len(problems),
        top_rule_id=top.rule_id if top else None,
        top_problem=top.message if top else None,
    )


def _finding_change(server: str, f: ParsedFinding) -> FindingChange:
    return FindingChange(server, f.rule_id, f.title, f.severity, f.verdict, f.message)


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


def _totals(old: ParsedReport, new: ParsedReport) -> tuple[list[SeverityTotal], list[RuleTotal]]:
    sev = []
    for s in sorted(Severity, key=lambda x: -x.rank):
        a = sum(1 for x in old.servers.values() if x.worst is s)
        b = sum(1 for x in new.servers.values() if x.worst is s)
        if a or b:
            sev.append(SeverityTotal(s, a, b))

    def failing(p: ParsedReport, rule_id: str) -> int:
        return sum(
            1 for s in p.servers.values() for f in s.findings if f.rule_id == rule_id and f.verdict is Verdict.FAIL
        )

    rules = [RuleTotal(rid, label, failing(old, rid), failing(new, rid)) for rid, label in new.overview or old.overview]
    return sev, rules


class _Found(NamedTuple):
    """What comparing the servers in both reports found, before ordering."""

    builds: list[BuildChange]
    appeared: list[tuple[ParsedFinding, FindingChange]]
    gone: list[tuple[ParsedFinding, FindingChange]]
    changed: list[tuple[int, SeverityChange]]


def _compare_server(before: ParsedServer, now: ParsedServer, found: _Found) -> bool:
    """Add what changed on one server to `found`; False when nothing did."""
    touched = False
    direction = _build_direction(before, now)
    if direction:
        touched = True
        found.builds.append(
            BuildChange(
                now.name, before.build_name, before.build_number, now.build_name, now.build_number, direction, now.worst
            )
        )
    was, present = _present(before), _present(now)
    for rule_id, f in present.items():
        p = was.get(rule_id)
        if p is None:
            found.appeared.append((f, _finding_change(now.name, f)))
        elif (p.severity, p.verdict) != (f.severity, f.verdict):
            change = SeverityChange(
                now.name, rule_id, f.title, p.severity, f.severity, p.verdict, f.verdict, f.message, p.message
            )
            found.changed.append((f.order, change))
        else:
            continue
        touched = True
    for rule_id, p in was.items():
        if rule_id not in present:
            found.gone.append((p, _finding_change(now.name, p)))
            touched = True
    return touched


def _finding_order(item: tuple[ParsedFinding, FindingChange]) -> tuple[int, bool, str, int]:
    f, c = item
    return (-f.severity.rank, f.verdict is not Verdict.FAIL, server_key(c.server), f.order)


def _change_order(item: tuple[int, SeverityChange]) -> tuple[int, int, str, int]:
    order, c = item
    return (_DIRECTION_ORDER[c.direction], -max(c.new_severity.rank, c.old_severity.rank), server_key(c.server), order)


def _server_order(s: ServerChange) -> tuple[int, int, str]:
    return (-s.worst.rank, -s.problems, server_key(s.server))


def _compare(old: ParsedReport, new: ParsedReport) -> Changes:
    found = _Found([], [], [], [])
    unchanged = 0
    for key, now in new.servers.items():
        before = old.servers.get(key)
        if before is not None:
            unchanged += not _compare_server(before, now, found)
    added = sorted((_server_change(s) for k, s in new.servers.items() if k not in old.servers), key=_server_order)
    removed = sorted((_server_change(s) for k, s in old.servers.items() if k not in new.servers), key=_server_order)
    found.builds.sort(key=lambda b: (b.direction != "rollback", -b.worst.rank, server_key(b.server)))
    sev_totals, rule_totals = _totals(old, new)
    return Changes(
        old=old.side,
        new=new.side,
        added_servers=tuple(added),
        removed_servers=tuple(removed),
        build_changes=tuple(found.builds),
        new_findings=tuple(c for _, c in sorted(found.appeared, key=_finding_order)),
        resolved_findings=tuple(c for _, c in sorted(found.gone, key=_finding_order)),
        severity_changes=tuple(c for _, c in sorted(found.changed, key=_change_order)),
        severity_totals=tuple(sev_totals),
        rule_totals=tuple(rule_totals),
        unchanged_servers=unchanged,
        warnings=tuple(_warnings(old.side, new.side)),
    )


def compare(
    old_doc: Mapping[str, Any],
    new_doc: Mapping[str, Any],
    *,
    old_label: str = "previous report",
    new_label: str = "this report",
) -> Changes:
    """What changed from `old_doc` to `new_doc`: two `eems-check/report` documents, validated here (errors name
    `old_label` / `new_label` and the field)."""
    return _compare(parse_report(old_doc, old_label), parse_report(new_doc, new_label))


def diff_files(old_path: Path | str, new_path: Path | str) -> Changes:
    """`eems-check diff OLD.json NEW.json`: load both reports and compare them; errors name the file and field."""
    return _compare(
        parse_report(load_json(Path(old_path)), str(old_path)),
        parse_report(load_json(Path(new_path)), str(new_path)),
    )
