"""What a report mail says: the subject, the headline and the rows, computed once for both the text and HTML parts.

What it does: decides which servers "cannot receive mitigations" (see `cannot_receive`), which need action and in
which order, and flattens each listed server into words and colours the templates print as they are.

What it must not do: render, inline CSS, build MIME parts or talk to a server. It never lists more servers than
asked: the mailed body is a summary, the attached report carries the detail.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..display import visible
from ..model import Report, ServerReport, Severity, Verdict
from ..render.common import (
    GROUPS,
    NEUTRAL,
    RECEIVES,
    SYMBOLS,
    eems_facts,
    exposures,
    headline,
    mark,
    severity_colours,
    severity_word,
)

CELL_CHARS = 60  # a cell longer than this is cut in the mail body (never in the attachments)
WHY_CHARS = 160  # the reason a server is listed
FIX_CHARS = 400  # its fix: long enough for an action, the path off a dead CU line and the build with its KB
LINK_LIMIT = 6


def eems_overview_rules(report: Report) -> tuple[tuple[str, str], ...]:
    """The overview rules in the EEMS category (by default EEMS-OCS-2023 and EEMS-NEW-2026): the per-rule lines
    of the mail name them (`Report.eems_overview_rules`)."""
    return report.eems_overview_rules


def cannot_receive(report: Report) -> list[ServerReport]:
    """The servers that cannot receive new mitigations (`ServerReport.receives` is "no"), in report order: an
    EEMS check fails at error level for them (a build too old for an EEMS rule, no EEMS, the service not
    running, failed fetches on record). The report's headline counts the same servers."""
    return [s for s in report.servers if s.receives == "no"]


def undecided(report: Report) -> list[ServerReport]:
    """Servers for which it cannot be told (an EEMS check is UNKNOWN, or the scan did not reach them)."""
    return [s for s in report.servers if s.receives == "unknown"]


def _verdict(server: ServerReport, rule_id: str) -> Verdict | None:
    f = server.finding(rule_id)
    return f.verdict if f is not None else None


def needing_action(report: Report) -> list[ServerReport]:
    """Servers with something to fix, in the report's one order: those that cannot receive new mitigations
    first, then those with other problems."""
    return [s for s in report.servers if s.group < 2]


def status_word(severity: Severity) -> str:
    """The word in brackets in the subject: OK when nothing reaches WARNING."""
    return severity.word if severity.rank >= Severity.WARNING.rank else "OK"


def one_line(text: str, limit: int = CELL_CHARS) -> str:
    """Whitespace folded to single spaces (no header or layout injection), control and bidi characters written
    visibly, and cut to `limit` characters."""
    text = visible(re.sub(r"\s+", " ", text).strip())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


@dataclass(frozen=True)
class Cell:
    """One status cell: the word and its background and text colours (hex, from render.common's palette)."""

    word: str
    bg: str
    fg: str


@dataclass(frozen=True)
class Row:
    """One server in the mail's list, every value already a short string."""

    name: str
    site: str
    version: str
    build: str
    receives: Cell
    why: str
    fix: str
    group: int
    eems: str  # applied and blocked mitigations, or "none applied"

    def text_line(self) -> str:
        """The plain-text line for this server."""
        where = f" ({self.site})" if self.site else ""
        return (
            f"{self.receives.word:<10} {self.name}{where}: {self.version} [{self.build}]; {self.why}. "
            f"Mitigations: {self.eems}. Fix: {self.fix}"
        )


@dataclass(frozen=True)
class Link:
    text: str
    url: str

    @property
    def host(self) -> str:
        return self.url.split("/")[2]


@dataclass(frozen=True)
class MailSummary:
    """Everything the two mail templates print."""

    org: str
    status: Cell
    headline: str
    subject: str
    total: int
    cannot_receive: int
    undecided: int
    eems_labels: tuple[str, ...]
    counts: tuple[tuple[Cell, int], ...]
    per_rule: tuple[str, ...]
    rows: tuple[Row, ...]
    groups: tuple[tuple[int, str, Cell, int], ...]  # (group, heading, colours, servers in it) of the listed groups
    needing_action: int
    links: tuple[Link, ...]
    org_eems_off: bool
    exposed: tuple[str, ...] = ()  # "SERVER: problem" for servers lacking a fix whose stand-in mitigation is missing
    changes: str | None = None  # one line on what changed since the previous report (--compare-to), if any
    discovery_problems: tuple[str, ...] = ()  # why the server list may be incomplete (a partial discovery)

    @property
    def more(self) -> int:
        """Servers needing action that the list leaves out."""
        return self.needing_action - len(self.rows)


def _row(s: ServerReport) -> Row:
    cls, word = RECEIVES[s.receives]
    bg, fg = NEUTRAL if cls == "na" else severity_colours(Severity(cls))
    b = s.build
    return Row(
        name=one_line(s.server.name),
        site=one_line(s.server.site or ""),
        version=one_line(b.name),
        build=one_line(b.number or b.text or "—"),
        receives=Cell(mark(word), bg, fg),
        why=one_line(s.reason, WHY_CHARS),
        fix=one_line(s.fix.summary, FIX_CHARS),
        group=s.group,
        eems=one_line(eems_facts(s), WHY_CHARS),
    )


def _links(servers: list[ServerReport]) -> tuple[Link, ...]:
    """Distinct http(s) remediation links of the listed servers' problems, first seen first. Only http(s): a
    report file edited by hand must not smuggle a javascript: link into an ops mailbox."""
    seen: dict[str, Link] = {}
    for s in servers:
        for f in s.problems:
            url = f.remediation.url if f.remediation else None
            if url and re.match(r"^https?://[^\s\"'<>]+$", url) and url not in seen:
                seen[url] = Link(one_line(f.title, 100), url)
                if len(seen) >= LINK_LIMIT:
                    return tuple(seen.values())
    return tuple(seen.values())


def summarise(report: Report, limit: int) -> MailSummary:
    """The mail's content for `report`, listing at most `limit` servers."""
    total = len(report.servers)
    blocked = cannot_receive(report)
    unsure = undecided(report)
    eems_rules = eems_overview_rules(report)
    head = headline(report)
    worst = report.worst
    tail = ", ".join(
        f"{report.count(sev)} {sev.word}"
        for sev in (Severity.CRITICAL, Severity.ERROR, Severity.WARNING)
        if report.count(sev)
    )
    org = one_line(report.inventory.org.name, 60)
    word = status_word(worst)
    subject = f"[{word}] Exchange EEMS check ({org}): {head}" + (f"; {tail}" if tail else "")

    counts = []
    for sev in (Severity.CRITICAL, Severity.ERROR, Severity.WARNING, Severity.INFO, Severity.OK):
        n = report.count(sev)
        bg, fg = severity_colours(sev) if n else NEUTRAL
        counts.append((Cell(mark(severity_word(sev)), bg, fg), n))

    per_rule = []
    for rule_id, label in report.run.overview_rules:
        fails = len(report.with_verdict(rule_id, Verdict.FAIL))
        unknown = len(report.with_verdict(rule_id, Verdict.UNKNOWN))
        line = f"{label}: {fails} of {total} fail"
        per_rule.append(line + (f", {unknown} undecided" if unknown else ""))

    action = needing_action(report)
    listed = action[:limit]
    status_bg, status_fg = severity_colours(worst) if word != "OK" else severity_colours(Severity.OK)
    groups = []
    for key, _, title, cls in GROUPS:
        members = sum(1 for s in report.servers if s.group == key)
        if key < 2 and any(s.group == key for s in listed):
            groups.append((key, f"{SYMBOLS['NO' if key == 0 else 'WARNING']} {title} ({members})",
                           Cell("", *severity_colours(Severity(cls))), members))  # fmt: skip
    return MailSummary(
        org=org,
        status=Cell(word, status_bg, status_fg),
        headline=head,
        subject=subject,
        total=total,
        cannot_receive=len(blocked),
        undecided=len(unsure),
        eems_labels=tuple(label for _, label in eems_rules),
        counts=tuple(counts),
        per_rule=tuple(per_rule),
        rows=tuple(_row(s) for s in listed),
        groups=tuple(groups),
        needing_action=len(action),
        links=_links(listed),
        org_eems_off=report.inventory.org.mitigations_enabled is False,
        exposed=tuple(one_line(f"{s.server.name}: {problem}", WHY_CHARS) for s, problem in exposures(report)[:limit]),
        changes=_changes_line(report),
        discovery_problems=tuple(one_line(p, 300) for p in report.inventory.org.discovery_problems),
    )


def _changes_line(report: Report) -> str | None:
    if report.changes is None:
        return None
    from ..diff import headline  # only a --compare-to run carries changes

    return one_line(headline(report.changes), 300)
