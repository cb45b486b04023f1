"""What a report mail says: the subject, the headline and the rows, computed once for both the text and HTML parts.

What it does: decides which servers "cannot receive mitigations" (see `cannot_receive`), which need action and in
which order, and flattens each listed server into words and colours the templates print as they are.

What it must not do: render, inline CSS, build MIME parts or talk to a server. It never lists more servers than
asked: the mailed body is a summary, the attached report carries the detail.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..model import Report, ServerReport, Severity, Verdict
from ..render.common import NEUTRAL, finding_colours, role_text, severity_colours, verdict_word

CELL_CHARS = 60  # a cell longer than this is cut in the mail body (never in the attachments)
LINK_LIMIT = 6


def eems_overview_rules(report: Report) -> tuple[tuple[str, str], ...]:
    """The overview rules that decide whether EEMS can get mitigations (`Report.eems_overview_rules`)."""
    return report.eems_overview_rules


def cannot_receive(report: Report) -> list[ServerReport]:
    """The servers that cannot receive mitigations, in report order.

    Precisely: a server counts when at least one of `eems_overview_rules` has the verdict FAIL for it, whatever
    that finding's severity. UNKNOWN (the data does not decide, e.g. only the CU is known) does not count and is
    reported separately as "undecided"; NOT_APPLICABLE does not count either, so servers without EEMS at all
    (Exchange 2013, Edge Transport) are not in this number: their own findings (EEMS-PRESENT, PRODUCT-SUPPORT)
    make them servers that need action.
    """
    rules = [rule_id for rule_id, _ in eems_overview_rules(report)]
    return [s for s in report.servers if any(_verdict(s, r) is Verdict.FAIL for r in rules)]


def undecided(report: Report) -> list[ServerReport]:
    """Servers not in `cannot_receive` for which an EEMS overview rule is UNKNOWN."""
    rules = [rule_id for rule_id, _ in eems_overview_rules(report)]
    failing = {id(s) for s in cannot_receive(report)}
    return [s for s in report.servers if id(s) not in failing and any(_verdict(s, r) is Verdict.UNKNOWN for r in rules)]


def _verdict(server: ServerReport, rule_id: str) -> Verdict | None:
    f = server.finding(rule_id)
    return f.verdict if f is not None else None


def needing_action(report: Report) -> list[ServerReport]:
    """Servers whose worst finding is WARNING or worse: worst first, then those that cannot receive mitigations,
    then report order."""
    blocked = {id(s) for s in cannot_receive(report)}
    listed = [(i, s) for i, s in enumerate(report.servers) if s.worst.rank >= Severity.WARNING.rank]
    listed.sort(key=lambda p: (-p[1].worst.rank, id(p[1]) not in blocked, p[0]))
    return [s for _, s in listed]


def status_word(severity: Severity) -> str:
    """The word in brackets in the subject: OK when nothing reaches WARNING."""
    return severity.word if severity.rank >= Severity.WARNING.rank else "OK"


def one_line(text: str, limit: int = CELL_CHARS) -> str:
    """Whitespace folded to single spaces (no header or layout injection) and cut to `limit` characters."""
    text = re.sub(r"\s+", " ", text).strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


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
    role: str
    version: str
    build: str
    age: str
    eems_state: str
    rules: tuple[Cell, ...]
    worst: Cell
    cannot_receive: bool

    def text_line(self, labels: tuple[str, ...]) -> str:
        """The plain-text line for this server."""
        verdicts = ", ".join(f"{label} {cell.word}" for label, cell in zip(labels, self.rules, strict=True))
        where = f" ({self.site})" if self.site else ""
        flag = "; cannot receive mitigations" if self.cannot_receive else ""
        return f"{self.worst.word:<8} {self.name}{where}: {self.version} [{self.build}]{flag}; {verdicts}"


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
    labels: tuple[str, ...]
    rows: tuple[Row, ...]
    needing_action: int
    links: tuple[Link, ...]
    org_eems_off: bool
    changes: str | None = None  # one line on what changed since the previous report (--compare-to), if any
    discovery_problems: tuple[str, ...] = ()  # why the server list may be incomplete (a partial discovery)

    @property
    def more(self) -> int:
        """Servers needing action that the list leaves out."""
        return self.needing_action - len(self.rows)


def _row(s: ServerReport, overview: tuple[tuple[str, str], ...], blocked: bool) -> Row:
    cells = []
    for rule_id, _ in overview:
        f = s.finding(rule_id)
        bg, fg = finding_colours(f)
        cells.append(Cell(verdict_word(f), bg, fg))
    wbg, wfg = severity_colours(s.worst)
    b = s.build
    build = b.number or b.text or "—"
    return Row(
        name=one_line(s.server.name),
        site=one_line(s.server.site or ""),
        role=one_line(role_text(s)),
        version=one_line(b.name),
        build=one_line(build),
        age="" if b.age_days is None else str(b.age_days),
        eems_state=one_line(s.eems_state),
        rules=tuple(cells),
        worst=Cell("PASS" if s.worst is Severity.OK else s.worst.word, wbg, wfg),
        cannot_receive=blocked,
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
    blocked_ids = {id(s) for s in blocked}
    unsure = undecided(report)
    eems_rules = eems_overview_rules(report)
    all_pass = bool(eems_rules) and all(
        _verdict(s, rule_id) is Verdict.PASS for s in report.servers for rule_id, _ in eems_rules
    )
    if total == 0:
        headline = "no servers in the report"
    elif not blocked and all_pass:
        headline = (
            "the only server can receive mitigations" if total == 1 else f"all {total} servers can receive mitigations"
        )
    else:
        headline = f"{len(blocked)} of {_plural(total, 'server')} cannot receive mitigations"
    if unsure:
        headline += f", {len(unsure)} undecided"
    worst = report.worst
    tail = ", ".join(
        f"{report.count(sev)} {sev.word}"
        for sev in (Severity.CRITICAL, Severity.ERROR, Severity.WARNING)
        if report.count(sev)
    )
    org = one_line(report.inventory.org.name, 60)
    word = status_word(worst)
    subject = f"[{word}] Exchange EEMS check ({org}): {headline}" + (f"; {tail}" if tail else "")

    counts = []
    for sev in (Severity.CRITICAL, Severity.ERROR, Severity.WARNING, Severity.INFO, Severity.OK):
        n = report.count(sev)
        bg, fg = severity_colours(sev) if n else NEUTRAL
        counts.append((Cell("PASS" if sev is Severity.OK else sev.word, bg, fg), n))

    per_rule = []
    for rule_id, label in report.run.overview_rules:
        fails = len(report.with_verdict(rule_id, Verdict.FAIL))
        unknown = len(report.with_verdict(rule_id, Verdict.UNKNOWN))
        line = f"{label}: {fails} of {total} fail"
        per_rule.append(line + (f", {unknown} undecided" if unknown else ""))

    action = needing_action(report)
    listed = action[:limit]
    overview = report.run.overview_rules
    status_bg, status_fg = severity_colours(worst) if word != "OK" else severity_colours(Severity.OK)
    return MailSummary(
        org=org,
        status=Cell(word, status_bg, status_fg),
        headline=headline,
        subject=subject,
        total=total,
        cannot_receive=len(blocked),
        undecided=len(unsure),
        eems_labels=tuple(label for _, label in eems_rules),
        counts=tuple(counts),
        per_rule=tuple(per_rule),
        labels=tuple(label for _, label in overview),
        rows=tuple(_row(s, overview, id(s) in blocked_ids) for s in listed),
        needing_action=len(action),
        links=_links(listed),
        org_eems_off=report.inventory.org.mitigations_enabled is False,
        changes=_changes_line(report),
        discovery_problems=tuple(one_line(p, 300) for p in report.inventory.org.discovery_problems),
    )


def _changes_line(report: Report) -> str | None:
    if report.changes is None:
        return None
    from ..diff import headline  # only a --compare-to run carries changes

    return one_line(headline(report.changes), 300)
