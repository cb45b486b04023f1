"""The typed model that flows through every stage: inventory in, findings and report out.

Frozen dataclasses and `str` enums only. Stages never pass raw dicts or remoting objects onward; the inventory
reader and the collectors are the only places that turn loose data into these types.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import Enum
from functools import cached_property
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the diff package builds on this model; only the annotation points back
    from .diff.model import Changes


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


@dataclass(frozen=True)
class OcsProbe:
    """A request to the Office Config Service made from the server through its proxy."""

    ran: bool
    reason: str | None = None
    url: str | None = None
    proxy: str | None = None
    status_code: int | None = None
    error: str | None = None

    @property
    def reachable(self) -> bool | None:
        if not self.ran:
            return None
        return self.status_code == 200 and not self.error


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
class ServerReport:
    """One server's record, resolved build and findings."""

    server: ServerRecord
    build: BuildInfo
    findings: tuple[Finding, ...]
    eems_state: str

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


@dataclass(frozen=True)
class RunInfo:
    """Facts about this evaluation run, shown in every output."""

    tool_version: str
    rules_version: str
    rules_as_of: str
    evaluated_on: dt.date
    generated_at: dt.datetime
    overview_rules: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Report:
    """The evaluation of one inventory: what every renderer renders."""

    run: RunInfo
    inventory: Inventory
    servers: tuple[ServerReport, ...]
    changes: Changes | None = None  # what changed since a previous report (--compare-to)

    @property
    def worst(self) -> Severity:
        return worst([s.worst for s in self.servers])

    def with_verdict(self, rule_id: str, verdict: Verdict) -> list[ServerReport]:
        """The servers whose finding for `rule_id` has `verdict`, in report order."""
        return [s for s in self.servers if (f := s.finding(rule_id)) is not None and f.verdict is verdict]

    def count(self, severity: Severity) -> int:
        """How many servers have `severity` as their worst."""
        return sum(1 for s in self.servers if s.worst is severity)
