"""The changes as plain text for a terminal: a headline, then one block per kind of change, worst first.

Names and messages come from reports that may hold anything, so control characters are shown escaped.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from ..model import Changes, ServerChange, Severity, Verdict

_DIRECTION_WORD = {"worse": "WORSE", "better": "BETTER", "undecided": "UNKNOWN"}


def _plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"


def headline(changes: Changes) -> str:
    """One line: for the terminal, a log or a mail subject."""
    c = changes.counts
    if changes.is_empty:
        return f"No changes since {changes.since_text}"
    parts = [
        (c.added_servers, _plural(c.added_servers, "server") + " added"),
        (c.removed_servers, _plural(c.removed_servers, "server") + " gone"),
        (c.build_changes, _plural(c.build_changes, "build") + " changed"),
        (c.new_findings, _plural(c.new_findings, "new finding")),
        (c.resolved_findings, f"{c.resolved_findings} resolved"),
        (c.severity_changes, _plural(c.severity_changes, "severity change")),
    ]
    return f"Changes since {changes.since_text}: " + ", ".join(text for n, text in parts if n)


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _clean(text: str | None) -> str:
    """Text safe to print on a terminal: control and bidi characters (escape sequences) shown as \\xNN/\\uNNNN."""
    if not text:
        return ""
    return _CONTROL.sub(lambda m: repr(m.group())[1:-1], text).replace("\n", " ").replace("\t", " ")


def _word(severity: Severity) -> str:
    return "PASS" if severity is Severity.OK else severity.word


def _finding_word(severity: Severity, verdict: Verdict) -> str:
    return f"{_word(severity)}/UNKNOWN" if verdict is Verdict.UNKNOWN else _word(severity)


def _build_text(name: str, number: str | None) -> str:
    return f"{_clean(name)} ({_clean(number)})" if number and number not in name else _clean(name)


def format_text(changes: Changes) -> str:
    """The changes for a terminal: a headline, warnings, then one block per kind of change, worst first."""
    lines = [headline(changes)]
    old, new = changes.old, changes.new
    lines.append(
        f"  previous: {_clean(old.label)} ({_clean(old.org) or 'unknown organisation'}, {old.servers} server(s), "
        f"{old.generated_at:%Y-%m-%d %H:%M UTC})"
    )
    lines.append(
        f"  now:      {_clean(new.label)} ({_clean(new.org) or 'unknown organisation'}, {new.servers} server(s), "
        f"{new.generated_at:%Y-%m-%d %H:%M UTC})"
    )
    lines += [f"warning: {_clean(w)}" for w in changes.warnings]
    totals = [f"{_word(t.severity)} {t.old}->{t.new}" for t in changes.severity_totals if t.old != t.new]
    if totals:
        lines.append("Servers by worst severity: " + ", ".join(totals))
    rules = [f"{_clean(t.label)} {t.old_fail}->{t.new_fail}" for t in changes.rule_totals if t.old_fail != t.new_fail]
    if rules:
        lines.append("Servers failing: " + ", ".join(rules))

    def block(title: str, rows: Iterable[str]) -> None:
        rows = list(rows)
        if rows:
            lines.append(f"{title}:")
            lines.extend(f"  {row}" for row in rows)

    def server_row(mark: str, s: ServerChange) -> str:
        problem = f"; worst: {_clean(s.top_rule_id)}: {_clean(s.top_problem)}" if s.top_rule_id else ""
        return (
            f"{mark} {_clean(s.server)}: {_build_text(s.build_name, s.build_number)}, worst {_word(s.worst)}, "
            f"{_plural(s.problems, 'problem')}{problem}"
        )

    block("Servers added", (server_row("+", s) for s in changes.added_servers))
    block("Servers gone (decommissioned, or outside this scan)", (server_row("-", s) for s in changes.removed_servers))
    block(
        "Builds changed",
        (
            f"{_clean(b.server)}: {_build_text(b.old_name, b.old_number)} -> {_build_text(b.new_name, b.new_number)}"
            + ("  [ROLLBACK]" if b.direction == "rollback" else "")
            for b in changes.build_changes
        ),
    )
    block(
        "New findings",
        (
            f"{_finding_word(f.severity, f.verdict):8} {_clean(f.server)} {_clean(f.rule_id)}: {_clean(f.message)}"
            for f in changes.new_findings
        ),
    )
    block(
        "Resolved",
        (
            f"{_word(f.severity):8} {_clean(f.server)} {_clean(f.rule_id)}: {_clean(f.title)}"
            for f in changes.resolved_findings
        ),
    )
    block(
        "Severity changed",
        (
            f"{_DIRECTION_WORD[c.direction]:8} {_clean(c.server)} {_clean(c.rule_id)}: "
            f"{_finding_word(c.old_severity, c.old_verdict)} -> {_finding_word(c.new_severity, c.new_verdict)}: "
            f"{_clean(c.message)}"
            for c in changes.severity_changes
        ),
    )
    if not changes.is_empty:
        lines.append(f"{_plural(changes.unchanged_servers, 'server')} unchanged.")
    return "\n".join(lines) + "\n"
