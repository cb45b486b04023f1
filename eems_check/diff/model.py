"""The result of a comparison: frozen dataclasses, no behaviour beyond counting."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from ..model import Severity, Verdict


@dataclass(frozen=True)
class ReportSide:
    """Facts about one of the two reports compared."""

    label: str
    generated_at: dt.datetime
    org: str | None
    rules_version: str | None
    tool_version: str | None
    servers: int


@dataclass(frozen=True)
class ServerChange:
    """A server in only one of the reports, with what that report said of it."""

    server: str
    build_name: str
    build_number: str | None
    worst: Severity
    problems: int  # present findings (FAIL or UNKNOWN) at WARNING or worse
    top_rule_id: str | None  # its worst problem (FAIL before UNKNOWN, then rule order)
    top_problem: str | None  # and that finding's message


@dataclass(frozen=True)
class BuildChange:
    """A server whose build differs at the precision both reports know it."""

    server: str
    old_name: str
    old_number: str | None
    new_name: str
    new_number: str | None
    direction: str  # "update", "rollback" or "change" (numbers that do not compare)
    worst: Severity  # the server's worst severity now


@dataclass(frozen=True)
class FindingChange:
    """A finding present in only one report of a server that is in both."""

    server: str
    rule_id: str
    title: str
    severity: Severity
    verdict: Verdict
    message: str


@dataclass(frozen=True)
class SeverityChange:
    """The same rule present in both reports of a server, with another severity or verdict."""

    server: str
    rule_id: str
    title: str
    old_severity: Severity
    new_severity: Severity
    old_verdict: Verdict
    new_verdict: Verdict
    message: str
    old_message: str

    @property
    def direction(self) -> str:
        """One of worse, better, undecided.

        Undecided: a FAIL became UNKNOWN (less data, not a fix), whatever the severities. Otherwise by severity,
        and worse for an UNKNOWN confirmed as FAIL at the same severity."""
        if self.old_verdict is Verdict.FAIL and self.new_verdict is Verdict.UNKNOWN:
            return "undecided"
        return "better" if self.new_severity.rank < self.old_severity.rank else "worse"

    @property
    def worse(self) -> bool:
        return self.direction == "worse"


@dataclass(frozen=True)
class SeverityTotal:
    """How many servers had `severity` as their worst, then and now."""

    severity: Severity
    old: int
    new: int


@dataclass(frozen=True)
class RuleTotal:
    """How many servers failed an overview rule (EEMS Mar 2023, ...), then and now."""

    rule_id: str
    label: str
    old_fail: int
    new_fail: int


@dataclass(frozen=True)
class ChangeCounts:
    added_servers: int
    removed_servers: int
    build_changes: int
    new_findings: int
    resolved_findings: int
    severity_changes: int
    worse_changes: int  # severity changes by direction
    better_changes: int
    undecided_changes: int
    unchanged_servers: int

    @property
    def worse(self) -> int:
        """New findings plus severity changes for the worse."""
        return self.new_findings + self.worse_changes

    @property
    def better(self) -> int:
        """Resolved findings plus severity changes for the better."""
        return self.resolved_findings + self.better_changes


@dataclass(frozen=True)
class Changes:
    """Everything that changed from the `old` report to the `new` one."""

    old: ReportSide
    new: ReportSide
    added_servers: tuple[ServerChange, ...]
    removed_servers: tuple[ServerChange, ...]
    build_changes: tuple[BuildChange, ...]
    new_findings: tuple[FindingChange, ...]
    resolved_findings: tuple[FindingChange, ...]
    severity_changes: tuple[SeverityChange, ...]
    severity_totals: tuple[SeverityTotal, ...]
    rule_totals: tuple[RuleTotal, ...]
    unchanged_servers: int
    warnings: tuple[str, ...]

    @property
    def since(self) -> dt.datetime:
        """When the old report was generated (UTC)."""
        return self.old.generated_at

    @property
    def since_text(self) -> str:
        return self.since.strftime("%Y-%m-%d %H:%M UTC")

    @property
    def counts(self) -> ChangeCounts:
        directions = [c.direction for c in self.severity_changes]
        return ChangeCounts(
            added_servers=len(self.added_servers),
            removed_servers=len(self.removed_servers),
            build_changes=len(self.build_changes),
            new_findings=len(self.new_findings),
            resolved_findings=len(self.resolved_findings),
            severity_changes=len(self.severity_changes),
            worse_changes=directions.count("worse"),
            better_changes=directions.count("better"),
            undecided_changes=directions.count("undecided"),
            unchanged_servers=self.unchanged_servers,
        )

    @property
    def is_empty(self) -> bool:
        return not (
            self.added_servers
            or self.removed_servers
            or self.build_changes
            or self.new_findings
            or self.resolved_findings
            or self.severity_changes
        )
