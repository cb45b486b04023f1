"""The standalone HTML report: Jinja2 templates from `templates/`, autoescaped, one self-contained file.

No external assets; everything reads without JavaScript (a small inline script only adds sorting and filtering
of the overview). Every status carries a word as well as a colour.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2

from ..model import Report, ServerReport, Severity, Verdict
from .common import (
    finding_class,
    finding_colours,
    finding_style,
    role_text,
    severity_colours,
    source_word,
    verdict_word,
)


def templates_dir() -> Path:
    """Where the templates are: inside the installed package, or `templates/` beside it in a source tree."""
    packaged = Path(str(resources.files("eems_check"))) / "templates"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "templates"


@cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir())),
        autoescape=jinja2.select_autoescape(["html", "j2"], default=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(
        verdict_word=verdict_word,
        finding_style=finding_style,
        finding_colours=finding_colours,
        finding_class=finding_class,
        severity_colours=severity_colours,
        source_word=source_word,
        role_text=role_text,
        Severity=Severity,
        Verdict=Verdict,
    )
    return env


def anchors(servers: tuple[ServerReport, ...]) -> dict[str, str]:
    """A unique, URL-safe anchor per server name."""
    out: dict[str, str] = {}
    used: set[str] = set()
    for s in servers:
        base = "server-" + (re.sub(r"[^a-z0-9]+", "-", s.server.name.lower()).strip("-") or "x")
        anchor, n = base, 1
        while anchor in used:
            n += 1
            anchor = f"{base}-{n}"
        used.add(anchor)
        out[s.server.name] = anchor
    return out


def server_views(report: Report) -> list[dict[str, Any]]:
    """Per-server lists the template would otherwise filter and sort itself (slow for thousands of servers)."""
    views = []
    for s in report.servers:
        passed, skipped = [], []
        for f in s.findings:
            if f.verdict is Verdict.PASS:
                passed.append(f.title)
            elif f.verdict is Verdict.NOT_APPLICABLE:
                skipped.append(f.title)
        problems = [f for f in s.findings if f.verdict is Verdict.FAIL or f.verdict is Verdict.UNKNOWN]
        problems.sort(key=lambda f: -f.severity.rank)
        views.append(
            {
                "s": s,
                "problems": problems,
                "passed": "; ".join(passed),
                "skipped": "; ".join(skipped),
                "worst_word": "PASS" if s.worst is Severity.OK else s.worst.word,
            }
        )
    return views


def summary(report: Report) -> dict[str, Any]:
    """Counts the headline and the mail subject use."""
    overview = dict(report.run.overview_rules)
    per_rule = {}
    for rule_id in overview:
        per_rule[rule_id] = {
            "label": overview[rule_id],
            "fail": len(report.with_verdict(rule_id, Verdict.FAIL)),
            "unknown": len(report.with_verdict(rule_id, Verdict.UNKNOWN)),
        }
    not_scanned = sum(1 for s in report.servers if s.server.collection.status.value not in ("ok",))
    return {
        "total": len(report.servers),
        "by_severity": [
            (sev, report.count(sev))
            for sev in (Severity.CRITICAL, Severity.ERROR, Severity.WARNING, Severity.INFO, Severity.OK)
        ],
        "per_rule": per_rule,
        "not_fully_scanned": not_scanned,
    }


class HtmlRenderer:
    template = "report.html.j2"

    def render(self, report: Report) -> str:
        tpl = environment().get_template(self.template)
        return tpl.render(
            report=report,
            run=report.run,
            inv=report.inventory,
            anchors=anchors(report.servers),
            views=server_views(report),
            summary=summary(report),
        )
