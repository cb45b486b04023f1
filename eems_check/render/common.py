"""Helpers shared by the renderers: the words, colours and labels every format agrees on."""

from __future__ import annotations

from ..model import BuildSource, Finding, Report, ServerReport, Severity, Verdict

SEVERITY_COLOURS = {  # background, text: Health Checker's palette, so ops teams read it at a glance
    Severity.CRITICAL: ("#8B0000", "#FFFFFF"),
    Severity.ERROR: ("#FF0000", "#000000"),  # black on red: 5.3:1 contrast (white would be 4.0:1)
    Severity.WARNING: ("#FFE600", "#000000"),
    Severity.INFO: ("#85D4FF", "#000000"),
    Severity.OK: ("#7FFF00", "#000000"),
}
NEUTRAL = ("#E6E6E6", "#000000")

SOURCE_WORDS = {
    BuildSource.EXSETUP: "ExSetup.exe",
    BuildSource.REGISTRY: "ExSetup.exe (via registry)",
    BuildSource.HTTP: "HTTPS (unauthenticated)",
    BuildSource.ADMIN_DISPLAY_VERSION: "AdminDisplayVersion (CU only)",
    BuildSource.INPUT: "input",
}


# A shape beside every status word, so no status depends on colour alone (red-green colour blindness, greyscale
# print). Plain text characters: they survive mail clients that strip styles.
SYMBOLS = {
    "PASS": "\u2714",  # heavy check mark
    "YES": "\u2714",
    "OK": "\u2714",
    "CRITICAL": "\u203c",  # double exclamation mark
    "ERROR": "\u2716",  # heavy multiplication x
    "NO": "\u2716",
    "WARNING": "\u25b2",  # black up-pointing triangle
    "INFO": "\u2139",  # information source
    "UNKNOWN": "?",
    "N/A": "\u2013",  # en dash
}


def mark(word: str) -> str:
    """The status word with its symbol in front: '\u2716 ERROR'."""
    symbol = SYMBOLS.get(word)
    return f"{symbol} {word}" if symbol else word


def severity_word(severity: Severity) -> str:
    """One word per severity everywhere: PASS for a passed check or a server with nothing to report."""
    return "PASS" if severity is Severity.OK else severity.word


def verdict_word(finding: Finding | None) -> str:
    """The word shown for a finding: PASS, the severity word of a failure (ERROR, WARNING, ...), UNKNOWN, N/A."""
    if finding is None:
        return "N/A"
    if finding.verdict is Verdict.FAIL:
        return finding.severity.word
    return {Verdict.PASS: "PASS", Verdict.UNKNOWN: "UNKNOWN", Verdict.NOT_APPLICABLE: "N/A"}[finding.verdict]


def finding_colours(finding: Finding | None) -> tuple[str, str]:
    if finding is None or finding.verdict is Verdict.NOT_APPLICABLE:
        return NEUTRAL
    if finding.verdict is Verdict.PASS:
        return SEVERITY_COLOURS[Severity.OK]
    return SEVERITY_COLOURS[finding.severity]


def finding_class(finding: Finding | None) -> str:
    if finding is None or finding.verdict is Verdict.NOT_APPLICABLE:
        return "na"
    if finding.verdict is Verdict.PASS:
        return "ok"
    return finding.severity.value


def severity_colours(severity: Severity) -> tuple[str, str]:
    return SEVERITY_COLOURS[severity]


def source_word(server: ServerReport) -> str:
    src = server.build.source
    return SOURCE_WORDS.get(src, "unknown") if src else "not collected"


def role_text(server: ServerReport) -> str:
    return ", ".join(server.server.roles) or ("Edge" if server.server.is_edge else "")


def finding_style(finding: Finding | None) -> tuple[str, str, str]:
    """(css class, background colour, word) for one status cell, in one call."""
    return finding_class(finding), finding_colours(finding)[0], verdict_word(finding)


RECEIVES = {  # css class and word of the "Receives new mitigations?" answer
    "yes": ("ok", "YES"),
    "no": ("error", "NO"),
    "unknown": ("warning", "UNKNOWN"),
    "n/a": ("na", "N/A"),
}


def receives_style(server: ServerReport) -> tuple[str, str, str]:
    """(css class, background colour, word with symbol) of the server's "Receives new mitigations?" answer."""
    cls, word = RECEIVES[server.receives]
    bg = NEUTRAL[0] if cls == "na" else SEVERITY_COLOURS[Severity(cls)][0]
    return cls, bg, mark(word)


GROUPS = (  # group number, anchor, heading, css class: "the answer first", in the report and the mail alike
    (0, "group-no", "Cannot receive new EEMS mitigations", "error"),
    (1, "group-other", "Other problems (they receive mitigations, or it cannot be told)", "warning"),
    (2, "group-ok", "No problems", "ok"),
)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def headline(report: Report) -> str:
    """The answer in one line: "8 of 13 servers cannot receive new EEMS mitigations", with what is unknown."""
    total = len(report.servers)
    if not total:
        return "No servers in the report"
    no = sum(1 for s in report.servers if s.receives == "no")
    unknown = sum(1 for s in report.servers if s.receives == "unknown")
    if no or unknown or any(s.receives != "yes" for s in report.servers):
        text = f"{no} of {_plural(total, 'server')} cannot receive new EEMS mitigations"
    elif total == 1:
        text = "The only server can receive new EEMS mitigations"
    else:
        text = f"All {total} servers can receive new EEMS mitigations"
    return text + (f"; for {unknown} it cannot be told" if unknown else "")


def eems_facts(s: ServerReport) -> str:
    """Applied and blocked mitigations and the last successful EEMS action in words; "none applied" flags a
    scanned server with EEMS on which nothing is applied (not even the PING1 heartbeat)."""
    eems = s.server.eems
    parts = []
    has_eems = s.eems_state not in ("Not present", "Not on Edge")
    if eems.applied:
        parts.append("applied " + ", ".join(eems.applied))
    elif has_eems and s.server.collection.status.value in ("ok", "partial"):
        parts.append(f"{SYMBOLS['WARNING']} none applied")
    if eems.blocked:
        parts.append("blocked " + ", ".join(eems.blocked))
    if has_eems and s.server.events is not None:
        last = last_success(s)
        parts.append("no success event (1005/1006) collected" if last.startswith("none") else "last success " + last)
    return "; ".join(parts) or ("not known" if has_eems else "no EEMS")


def exposures(report: Report) -> list[tuple[ServerReport, str]]:
    """The servers lacking a fix while the EEMS mitigation that stands in for it is blocked or not applied (the
    "Exposure" rules; by default EEMS-M2-STANDS-IN for CVE-2026-42897), each with the problem in words."""
    return [
        (s, f.title)
        for s in report.servers
        for f in s.findings
        if f.category == EXPOSURE_CATEGORY and f.verdict is Verdict.FAIL
    ]


EXPOSURE_CATEGORY = "Exposure"


def last_success(server: ServerReport) -> str:
    """The newest successful EEMS action on record (event 1005 or 1006), or why there is none."""
    events = server.server.events
    if events is None:
        return "not collected"
    stamped = [(e.time, e.id) for e in events if e.id in (1005, 1006) and e.time is not None]
    if not stamped:
        return "none among the collected events"
    when, event_id = max(stamped)
    return f"{when.strftime('%Y-%m-%d %H:%M UTC')} (event {event_id})"
