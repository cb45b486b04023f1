"""The typed model that flows through every stage: inventory in, findings and report out.

Frozen dataclasses and `str` enums only. Stages never pass raw dicts or remoting objects onward; the inventory
reader and the collectors are the only places that turn loose data into these types.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import Enum
from functools import cached_property
from typing import Any

EEMS_CATEGORY = "EEMS"  # the rule category of the checks that decide whether EEMS can get mitigations


class Severity(str, Enum):
    """How bad a finding is. `OK` is a passed check; ordering follows `rank`."""

    OK = "ok"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"
    CRITICAL = "critical"

    rank: int  # set below: ordering without a dictionary look-up on the hot path
    word: str


_SEVERITY_RANK = {
    Severity.OK: 0,
    Severity.INFO: 1,
    Severity.WARNING: 2,
    Severity.ERROR: 3,
    Severity.CRITICAL: 4,
}
_SEVERITY_WORD = {
    Severity.OK: "OK",
    Severity.INFO: "INFO",
    Severity.WARNING: "WARNING",
    Severity.ERROR: "ERROR",
    Severity.CRITICAL: "CRITICAL",
}


for _sev in Severity:
    _sev.rank = _SEVERITY_RANK[_sev]
    _sev.word = _SEVERITY_WORD[_sev]


def worst(severities: list[Severity] | tuple[Severity, ...]) -> Severity:
    """The most severe of `severities` (OK for none)."""
    return max(severities, key=lambda s: s.rank, default=Severity.OK)


class Verdict(str, Enum):
    """The outcome of one rule on one server."""

    PASS = "pass"
    FAIL = "fail"
    UNKNOWN = "unknown"
    NOT_APPLICABLE = "n/a"


class CollectionStatus(str, Enum):
    """How far the scan of one server got."""

    OK = "ok"
    PARTIAL = "partial"
    UNREACHABLE = "unreachable"
    AUTH_FAILED = "auth_failed"
    TIMEOUT = "timeout"
    ERROR = "error"
    NOT_SCANNED = "not_scanned"


class BuildSource(str, Enum):
    """Where a server's build number came from, best first."""

    EXSETUP = "exsetup"
    REGISTRY = "registry"
    HTTP = "http"
    ADMIN_DISPLAY_VERSION = "admin_display_version"
    INPUT = "input"


@dataclass(frozen=True)
class EemsSettings:
    """What `Get-ExchangeServer` says of EEMS on one server (None: not collected)."""

    enabled: bool | None = None
    applied: tuple[str, ...] = ()
    blocked: tuple[str, ...] = ()
    data_collection_enabled: bool | None = None
    internet_web_proxy: str | None = None


@dataclass(frozen=True)
class ServiceState:
    """The MSExchangeMitigation Windows service as the server reports it."""

    name: str
    status: str
    start_type: str


@dataclass(frozen=True)
class EventRecord:
    """One Application-log event of the EEMS source."""

    id: int
    level: str
    time: dt.datetime | None
    message: str
    source: str = "MSExchange Mitigation Service"


@dataclass(frozen=True)
class LogLine:
    """One matching line from the EEMS log folder."""

    file: str
    line: str


@dataclass(frozen=True)
class Mitigation:
    """One object returned by Get-Mitigations.ps1."""

    id: str
    type: str = ""
    description: str = ""
    status: str = ""
    server: str = ""


@dataclass(frozen=True)
class GetMitigationsResult:
    """What running Get-Mitigations.ps1 on the server produced, or why it did not run."""

    ran: bool
    reason: str | None = None
    mitigations: tuple[Mitigation, ...] = ()
    warnings: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()
    host: str | None = None  # the computer that ran the script: its connectivity warning describes that host


@dataclass(frozen=True)
class OcsProbe:
    """A request to the Office Config Service made from the server through its proxy."""

    ran: bool
    reason: str | None = None
    url: str | None = None
    proxy: str | None = None
    status_code: int | None = None
    error: str | None = None
    certificate_issuer: str | None = None  # issuer of the certificate the probe was served (TLS inspection shows)

    @property
    def reachable(self) -> bool | None:
        if not self.ran or self.proxy_auth_required:
            return None
        return self.status_code == 200 and not self.error

    @property
    def proxy_auth_required(self) -> bool:
        """HTTP 407: the proxy wants credentials the remote session may not be able to give (no delegation), while
        EEMS authenticates as the computer account; so reachability is unknown, not failed."""
        return self.ran and self.status_code == 407


@dataclass(frozen=True)
class Collection:
    """How the collection of one server went."""

    status: CollectionStatus = CollectionStatus.OK
    reason: str | None = None
    collected_at: dt.datetime | None = None
    duration_ms: int | None = None


@dataclass(frozen=True)
class ServerRecord:
    """Everything collected about one server. Only `name` is required: a server that could not be reached still
    has its Get-ExchangeServer facts, or at least its name."""

    name: str
    fqdn: str | None = None
    site: str | None = None
    roles: tuple[str, ...] = ()
    edition: str | None = None
    is_edge: bool = False
    admin_display_version: str | None = None
    exsetup_version: str | None = None
    build_source: BuildSource | None = None
    http_version: str | None = None
    eems: EemsSettings = field(default_factory=EemsSettings)
    service: ServiceState | None = None
    service_collected: bool = False
    events: tuple[EventRecord, ...] | None = None
    log_lines: tuple[LogLine, ...] | None = None
    get_mitigations: GetMitigationsResult | None = None
    ocs_probe: OcsProbe | None = None
    collection: Collection = field(default_factory=Collection)

    @property
    def build_string(self) -> str | None:
        """The build text the evaluation uses, per `build_source`."""
        if self.build_source in (BuildSource.EXSETUP, BuildSource.REGISTRY, BuildSource.INPUT):
            return self.exsetup_version
        if self.build_source is BuildSource.HTTP:
            return self.http_version
        if self.build_source is BuildSource.ADMIN_DISPLAY_VERSION:
            return self.admin_display_version
        return self.exsetup_version or self.admin_display_version


@dataclass(frozen=True)
class OrgInfo:
    """Organisation-wide facts."""

    name: str
    mitigations_enabled: bool | None = None
    discovery_server: str | None = None
    # Why the server list may be incomplete (Get-ExchangeServer wrote errors or failed after listing some servers).
    discovery_problems: tuple[str, ...] = ()


@dataclass(frozen=True)
class Inventory:
    """One collection of an organisation: the input of every evaluation."""

    org: OrgInfo
    servers: tuple[ServerRecord, ...]
    collected_at: dt.datetime | None = None
    collector_name: str = "eems-check"
    collector_version: str = ""
    collector_host: str | None = None
    source: str | None = None
    incomplete: str | None = None  # why this is not the whole organisation (an interrupted scan)


@dataclass(frozen=True)
class Remediation:
    text: str
    url: str | None = None


@dataclass(frozen=True)
class Finding:
    """The result of one rule on one server."""

    rule_id: str
    title: str
    category: str
    verdict: Verdict
    severity: Severity
    message: str
    evidence: tuple[str, ...] = ()
    remediation: Remediation | None = None
    overview: str | None = None


@dataclass(frozen=True)
class BuildInfo:
    """A server's build as the rules resolve it, flattened for reports."""

    text: str | None
    source: BuildSource | None
    number: str | None
    name: str
    product: str | None
    cu: str | None
    update: str | None
    released: str | None
    age_days: int | None
    precision: str
    status: str


@dataclass(frozen=True)
class FixBuild:
    """A build to install, as the rules name it."""

    name: str  # Exchange SE RTM Jun26SU
    number: str  # 15.2.2562.43
    kb: str | None = None
    release_post: str | None = None
    third_party_only: bool = False  # not (yet) confirmed by Microsoft

    @cached_property
    def text(self) -> str:
        refs = [self.number] + ([self.kb] if self.kb else [])
        if self.third_party_only:
            refs.append("reported only by third parties, not confirmed by Microsoft")
        return f"{self.name} ({', '.join(refs)})"

    @cached_property
    def short(self) -> str:
        return f"{self.name} ({self.kb or self.number}{'; third-party report only' if self.third_party_only else ''})"


@dataclass(frozen=True)
class Fix:
    """What to do about one server: actions first, then the build to install (see eems_check.fix)."""

    actions: tuple[str, ...] = ()
    build: FixBuild | None = None  # the lowest build that clears every build rule that must pass
    newest: FixBuild | None = None  # the newest update of that CU line, when newer than `build`
    confirmed: FixBuild | None = None  # the newest Microsoft-confirmed update, when `newest`/`build` is not
    path: str | None = None  # why the server's own CU line cannot get there, and how the move is made
    caveat: str | None = None  # e.g. a paid ESU period
    note: str | None = None  # why no build can be named, or what is uncertain

    @property
    def needed(self) -> bool:
        return bool(self.actions or self.build)

    def build_steps(self) -> list[str]:
        if self.build is None:
            return [self.note] if self.note else []
        text = f"install {self.build.text}" + (" or newer" if self.newest else "")
        if self.path:
            text = f"{self.path} \u2192 {text}"
        steps = [text]
        if self.newest and self.confirmed:
            steps.append(
                f"newest from Microsoft: {self.confirmed.text}; {self.newest.name} ({self.newest.number}) is "
                "reported only by third parties"
            )
        elif self.newest:
            steps.append(f"newest: {self.newest.text}")
        elif self.confirmed:
            steps.append(f"or, until Microsoft confirms it, {self.confirmed.text}")
        steps += [s for s in (self.caveat, self.note) if s]
        return steps

    @cached_property
    def steps(self) -> tuple[str, ...]:
        """Every step, actions first, each a phrase starting in lower case."""
        return (*self.actions, *self.build_steps())

    @cached_property
    def text(self) -> str:
        """The whole fix as one sentence (mail, CSV, remediation texts)."""
        return _sentence(self.steps, "Nothing to install or change.") + "."

    @cached_property
    def summary(self) -> str:
        """Actions and the build to install, without the newest-update details (Fix first, the mail)."""
        return _sentence([*self.actions, *self.build_steps()[:1]], "Nothing to install or change.") + "."

    @cached_property
    def short(self) -> str:
        """A short form for the overview: the first action, then the build to install."""
        parts = list(self.actions[:1])
        if len(self.actions) > 1:
            parts[0] += f" (+{len(self.actions) - 1} more)"
        if self.build:
            parts.append(f"install {self.build.short}" + (" or newer" if self.newest else ""))
        elif self.note and not self.actions:
            parts.append(self.note)
        return _sentence(parts, "None")


def _sentence(phrases: tuple[str, ...] | list[str], empty: str) -> str:
    """Phrases joined with semicolons, the first letter capitalised; `empty` when there are none."""
    if not phrases:
        return empty.rstrip(".")
    joined = "; ".join(phrases)
    return joined[0].upper() + joined[1:]


@dataclass(frozen=True)
class ServerReport:
    """One server's record, resolved build and findings."""

    server: ServerRecord
    build: BuildInfo
    findings: tuple[Finding, ...]
    eems_state: str
    fix: Fix = field(default_factory=Fix)

    @cached_property
    def worst(self) -> Severity:
        return worst([f.severity for f in self.findings])

    @cached_property
    def problems(self) -> tuple[Finding, ...]:
        """Findings that need attention, worst first (stable within a severity)."""
        bad = [f for f in self.findings if f.severity.rank >= Severity.WARNING.rank]
        return tuple(sorted(bad, key=lambda f: -f.severity.rank))

    def finding(self, rule_id: str) -> Finding | None:
        return next((f for f in self.findings if f.rule_id == rule_id), None)

    @cached_property
    def blocking(self) -> Finding | None:
        """The EEMS finding that stops this server receiving new mitigations (see `receives`), if any."""
        return next(
            (
                f
                for f in self.problems
                if f.category == EEMS_CATEGORY
                and f.verdict is Verdict.FAIL
                and (f.overview is not None or f.severity.rank >= Severity.ERROR.rank)
            ),
            None,
        )

    @cached_property
    def receives(self) -> str:
        """Does the server receive new EEMS mitigations? "no": an EEMS overview rule fails (the build is too old
        for the March 2023 or June 2026 rule) or another EEMS check fails at error level (no EEMS, service not
        running, failed fetches on record); "n/a": Edge Transport, or every EEMS overview rule is N/A; "unknown":
        an EEMS check cannot be decided, or the scan did not reach the server; else "yes"."""
        if self.blocking is not None:
            return "no"
        overview = [f for f in self.findings if f.category == EEMS_CATEGORY and f.overview is not None]
        if self.server.is_edge or (overview and all(f.verdict is Verdict.NOT_APPLICABLE for f in overview)):
            return "n/a"
        scanned = self.server.collection.status in (CollectionStatus.OK, CollectionStatus.PARTIAL)
        if not scanned or any(f.category == EEMS_CATEGORY and f.verdict is Verdict.UNKNOWN for f in self.findings):
            return "unknown"
        return "yes"

    @cached_property
    def group(self) -> int:
        """0: cannot receive new mitigations; 1: other problems (WARNING or worse); 2: no problems."""
        if self.receives == "no":
            return 0
        return 1 if self.worst.rank >= Severity.WARNING.rank or self.receives == "unknown" else 2

    @cached_property
    def reason(self) -> str:
        """Why the server is in its group, in words: the problem that decides it."""
        if self.blocking is not None:
            return self.blocking.title
        if self.receives == "unknown":
            collection = next((f for f in self.problems if f.category == "Collection"), None)
            undecided = next(
                (f for f in self.findings if f.category == EEMS_CATEGORY and f.verdict is Verdict.UNKNOWN), None
            )
            chosen = collection or undecided
            if chosen is not None:
                return chosen.title if chosen.verdict is Verdict.FAIL else f"{chosen.title}: {chosen.message}"
        return self.problems[0].title if self.problems else "No problems found"




@dataclass(frozen=True)
class RunInfo:
    """Facts about this evaluation run, shown in every output."""

    tool_version: str
    rules_version: str
    rules_as_of: str
    evaluated_on: dt.date
    generated_at: dt.datetime
    overview_rules: tuple[tuple[str, str], ...]


# What changed since a previous report (`eems-check diff`, `--compare-to`): made by the diff package,
# carried by a Report, rendered by every format.


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


@dataclass(frozen=True)
class Report:
    """The evaluation of one inventory: what every renderer renders."""

    run: RunInfo
    inventory: Inventory
    servers: tuple[ServerReport, ...]
    changes: Changes | None = None  # what changed since a previous report (--compare-to)
    # The organisation's recorded runs, this one the newest (--history): a `history.trend.Trend`, typed loosely
    # because the history package builds on this model and the model imports nothing back.
    trend: Any = None

    @property
    def worst(self) -> Severity:
        return worst([s.worst for s in self.servers])

    @cached_property
    def eems_overview_rules(self) -> tuple[tuple[str, str], ...]:
        """The overview rules that decide whether EEMS can get mitigations: those whose findings are in the EEMS
        category (by default EEMS-OCS-2023 and EEMS-NEW-2026). A rule no server has a finding for falls back to
        its id starting with "EEMS-"."""
        out = []
        for rule_id, label in self.run.overview_rules:
            categories = {f.category for s in self.servers if (f := s.finding(rule_id)) is not None}
            if EEMS_CATEGORY in categories or (not categories and rule_id.startswith("EEMS-")):
                out.append((rule_id, label))
        return tuple(out)

    def with_verdict(self, rule_id: str, verdict: Verdict) -> list[ServerReport]:
        """The servers whose finding for `rule_id` has `verdict`, in report order."""
        return [s for s in self.servers if (f := s.finding(rule_id)) is not None and f.verdict is verdict]

    def count(self, severity: Severity) -> int:
        """How many servers have `severity` as their worst."""
        return sum(1 for s in self.servers if s.worst is severity)
