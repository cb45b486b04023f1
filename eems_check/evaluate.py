"""Evaluation: inventory + rule set + a fixed day -> findings per server.

Pure: no clock, no I/O, no printing. Every server of the inventory comes out in the report, unreachable ones
included; servers are ordered worst first, then by name.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from . import __version__
from .builds import ResolvedBuild, parse_build
from .conditions import KINDS, Context, KindSpec, Outcome
from .errors import BuildParseError
from .fix import FixPlanner
from .model import (
    BuildInfo,
    Finding,
    Inventory,
    Remediation,
    Report,
    RunInfo,
    ServerRecord,
    ServerReport,
    Severity,
    Verdict,
)
from .ruleset import Rule, RuleSet


class _Facts(dict[Any, Any]):
    """Message facts; a fact a kind did not provide renders as '?' instead of raising."""

    def __missing__(self, key: str) -> str:
        return "?"


Resolved = tuple[ResolvedBuild | None, str | None]


def resolve_server_build(server: ServerRecord, ruleset: RuleSet, cache: dict[str, Resolved] | None = None) -> Resolved:
    """The server's build resolved against the catalogue (or why it could not be); `cache` shares work between
    servers on the same build, which is most of an organisation."""
    text = server.build_string
    if not text:
        return None, None
    if cache is not None and text in cache:
        return cache[text]
    try:
        result: Resolved = (ruleset.catalogue.resolve(parse_build(text)), None)
    except BuildParseError as exc:
        result = (None, str(exc))
    if cache is not None:
        cache[text] = result
    return result


def _build_info(server: ServerRecord, build: ResolvedBuild | None, error: str | None, today: dt.date) -> BuildInfo:
    if build is None:
        return BuildInfo(
            text=server.build_string,
            source=server.build_source,
            number=None,
            name="Unusable build value" if error else "Build not collected",
            product=None,
            cu=None,
            update=None,
            released=None,
            age_days=None,
            precision="none",
            status="unparseable" if error else "missing",
        )
    entry = build.released
    return BuildInfo(
        text=server.build_string,
        source=server.build_source,
        number=build.number,
        name=build.name,
        product=build.product.name if build.product else None,
        cu=build.branch.cu if build.branch else None,
        update=build.entry.update if build.entry is not None and build.resolution.value == "exact" else None,
        released=entry.released_text if entry else None,
        # Only the CU is known for a CU-level build: its CU's age would overstate the build's, so none is given.
        age_days=build.age_days(today) if build.su_known else None,
        precision=build.parsed.precision.value,
        status=build.resolution.value,
    )


def _finding(rule: Rule, outcome: Outcome, facts: Mapping[str, str]) -> Finding:
    verdict = outcome.verdict
    remediation = None
    title = rule.title
    if verdict is Verdict.PASS or verdict is Verdict.NOT_APPLICABLE:
        severity = Severity.OK
        if verdict is Verdict.PASS:
            message = f"Passed: {outcome.reason}." if outcome.reason else "Passed."
        else:
            message = f"Not applicable: {outcome.reason}."
    else:
        merged = _Facts(facts)
        merged.update(outcome.facts)
        if verdict is Verdict.FAIL:
            severity = outcome.severity or rule.severity
            message = rule.message.format_map(merged).strip()
            if rule.problem:
                title = rule.problem.format_map(merged).strip()
        else:
            severity = rule.unknown_severity
            message = f"Cannot decide: {outcome.reason}."
        if rule.remediation is not None:
            remediation = Remediation(rule.remediation.text.format_map(merged), rule.remediation.url)
    return Finding(
        rule_id=rule.id,
        title=title,
        category=rule.category,
        verdict=verdict,
        severity=severity,
        message=message,
        evidence=outcome.evidence,
        remediation=remediation,
        overview=rule.overview,
    )


class _Memo:
    """Work shared between the servers of one evaluation: most of an organisation runs a handful of builds.

    Build-only rules are judged once per (build text, build source, Edge or not); every finding is interned, so
    identical findings on many servers are one object (renderers exploit that too).
    """

    def __init__(self) -> None:
        self.resolved: dict[str, Resolved] = {}
        self.by_build: dict[tuple[str, str | None, str | None, bool], Finding] = {}
        self.interned: dict[Finding, Finding] = {}
        self.build_info: dict[tuple[str | None, str | None], BuildInfo] = {}

        self.plain: dict[tuple[str, Verdict, str], Finding] = {}
        self._plan: tuple[tuple[Rule, KindSpec, bool], ...] | None = None
        self._planner: FixPlanner | None = None

    def planner(self, ruleset: RuleSet, today: dt.date) -> FixPlanner:
        if self._planner is None:
            self._planner = FixPlanner(
                ruleset.active_rules, ruleset.catalogue, ruleset.esu_periods, ruleset.as_of, today
            )
        return self._planner

    def plan(self, ruleset: RuleSet) -> tuple[tuple[Rule, KindSpec, bool], ...]:
        """(rule, its kind, judged once per build?) for every active rule, worked out once per evaluation."""
        if self._plan is None:
            self._plan = tuple(
                (rule, KINDS[rule.kind], KINDS[rule.kind].build_only and not _uses_server(rule))
                for rule in ruleset.active_rules
            )
        return self._plan

    def intern(self, finding: Finding) -> Finding:
        return self.interned.setdefault(finding, finding)

    def finding(self, rule: Rule, outcome: Outcome, facts: Mapping[str, str]) -> Finding:
        """The finding for `outcome`; a bare pass or n/a (a reason, nothing else) is looked up, not built."""
        bare = outcome.verdict is Verdict.PASS or outcome.verdict is Verdict.NOT_APPLICABLE
        if not bare or outcome.facts or outcome.evidence:
            return self.intern(_finding(rule, outcome, facts))
        key = (rule.id, outcome.verdict, outcome.reason)
        found = self.plain.get(key)
        if found is None:
            found = self.plain[key] = self.intern(_finding(rule, outcome, facts))
        return found


def _uses_server(rule: Rule) -> bool:
    texts = [rule.message, rule.problem or ""] + ([rule.remediation.text] if rule.remediation else [])
    return any("{server" in t for t in texts)


def evaluate_server(
    server: ServerRecord,
    inventory: Inventory,
    ruleset: RuleSet,
    today: dt.date,
    memo: _Memo | None = None,
) -> ServerReport:
    memo = memo or _Memo()
    text = server.build_string
    build, error = resolve_server_build(server, ruleset, memo.resolved)
    ctx = Context(
        server=server,
        org=inventory.org,
        build=build,
        build_error=error,
        catalogue=ruleset.catalogue,
        esu_periods=ruleset.esu_periods,
        as_of=ruleset.as_of,
        today=today,
    )
    planner = memo.planner(ruleset, today)
    build_fix = planner.build_part(server, build)
    facts = {
        "fix": build_fix.text,
        "server": server.name,
        "build": build.number if build else (text or "unknown"),
        "build_name": build.name if build else "an unknown build",
        "product_name": build.product.name if build and build.product else "The product",
        "branch_name": build.branch.name if build and build.branch else "its CU line",
        "as_of": ruleset.as_of.isoformat(),
    }
    source = server.build_source.value if server.build_source else None
    findings = []
    for rule, kind, per_build in memo.plan(ruleset):
        if per_build:
            key = (rule.id, text, source, server.is_edge)
            finding = memo.by_build.get(key)
            if finding is None:
                finding = memo.by_build[key] = memo.intern(_finding(rule, kind.judge(ctx, rule.params), facts))
        else:
            finding = memo.finding(rule, kind.judge(ctx, rule.params), facts)
        findings.append(finding)
    info_key = (text, source)
    info = memo.build_info.get(info_key)
    if info is None:
        info = memo.build_info[info_key] = _build_info(server, build, error, today)
    fix = planner.fix(server, build, findings)
    return ServerReport(server=server, build=info, findings=tuple(findings), eems_state=ctx.eems_state, fix=fix)


def _patch_order(r: ServerReport) -> tuple[int, int, int, str]:
    """The one order of every output: servers that cannot receive new mitigations, then those with other
    problems, then the rest; within a group worst first, then the server with more problems at that level."""
    return (r.group, -r.worst.rank, -sum(1 for f in r.findings if f.severity is r.worst), r.server.name.lower())


def evaluate(inventory: Inventory, ruleset: RuleSet, *, today: dt.date, generated_at: dt.datetime) -> Report:
    """Judge every server of `inventory` by every active rule, as of `today`."""
    memo = _Memo()
    reports = [evaluate_server(s, inventory, ruleset, today, memo) for s in inventory.servers]
    reports.sort(key=_patch_order)
    run = RunInfo(
        tool_version=__version__,
        rules_version=ruleset.rules_version,
        rules_as_of=ruleset.as_of.isoformat(),
        evaluated_on=today,
        generated_at=generated_at,
        overview_rules=tuple((r.id, r.overview) for r in ruleset.active_rules if r.overview),
    )
    return Report(run=run, inventory=inventory, servers=tuple(reports))
