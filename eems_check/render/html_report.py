"""The standalone HTML report: Jinja2 templates from `templates/`, autoescaped, one self-contained file.

No external assets; everything reads without JavaScript (a small inline script only adds sorting and filtering
of the overview). Every status carries a word as well as a colour.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache, partial
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jinja2
from markupsafe import Markup

from ..display import visible
from ..history.views import trend_view
from ..model import Report, ServerReport, Severity, Verdict
from .common import (
    GROUPS,
    SYMBOLS,
    eems_facts,
    exposures,
    finding_class,
    finding_colours,
    finding_style,
    headline,
    last_success,
    mark,
    receives_style,
    role_text,
    severity_colours,
    severity_word,
    source_word,
    verdict_word,
)

FIX_FIRST_LIMIT = 25  # servers listed with their fix under "Fix first"; the overview has them all
LAZY_SECTIONS_FROM = 100  # more servers than this: sections are laid out only when scrolled to


def templates_dir() -> Path:
    """Where the templates are: inside the installed package, or `templates/` beside it in a source tree."""
    packaged = Path(str(resources.files("eems_check"))) / "templates"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "templates"


def _shown(value: Any) -> Any:
    """Every `{{ value }}`: control and bidi characters from names, messages and log lines written visibly."""
    if isinstance(value, Markup):
        return Markup(visible(str(value), one_line=False))
    return visible(value, one_line=False) if isinstance(value, str) else value


@cache
def web_link(url: object) -> str | None:
    """`url` when it is an http(s) link, else None: a saved report re-rendered by `send` or `--compare-to` may carry
    any text where a link belongs, and a `javascript:` or `data:` link would run in the reader's browser."""
    if not isinstance(url, str):
        return None
    parts = urlsplit(url.strip())
    ok = parts.scheme.lower() in ("https", "http") and bool(parts.netloc) and not any(c.isspace() for c in url)
    return url if ok else None


def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir())),
        autoescape=jinja2.select_autoescape(["html", "j2"], default=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=_shown,
    )
    env.filters["web_link"] = web_link
    env.globals.update(
        verdict_word=verdict_word,
        finding_style=finding_style,
        finding_colours=finding_colours,
        finding_class=finding_class,
        severity_colours=severity_colours,
        source_word=source_word,
        role_text=role_text,
        mark=mark,
        symbols=SYMBOLS,
        severity_word=severity_word,
        receives_style=receives_style,
        eems_facts=eems_facts,
        exposures=exposures,
        last_success=last_success,
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


class _Fragments:
    """Template fragments rendered once per key and reused. The evaluation interns findings and build facts, and
    an organisation runs a handful of builds, so most of a large report repeats: this keeps 5,000 servers fast."""

    def __init__(self) -> None:
        self._env = environment()
        self._cache: dict[tuple[str, tuple[Any, ...]], Markup] = {}

    def render(self, template: str, key: tuple[Any, ...], context: Callable[[], dict[str, Any]]) -> Markup:
        """The fragment for `key`; `context` is only called (and the template only rendered) the first time."""
        out = self._cache.get((template, key))
        if out is None:
            out = self._cache[(template, key)] = Markup(self._env.get_template(template).render(**context()))
        return out


def _findings_context(s: ServerReport) -> dict[str, Any]:
    return {
        "problems": sorted(
            (f for f in s.findings if f.verdict is Verdict.FAIL or f.verdict is Verdict.UNKNOWN),
            key=lambda f: -f.severity.rank,
        ),
        "passed": "; ".join(f.title for f in s.findings if f.verdict is Verdict.PASS),
        "skipped": "; ".join(f.title for f in s.findings if f.verdict is Verdict.NOT_APPLICABLE),
    }


def server_views(report: Report) -> list[dict[str, Any]]:
    """Per-server pieces for the template; everything that does not name the server itself is a shared fragment."""
    fragments = _Fragments()
    views = []
    for s in report.servers:
        srv = s.server
        findings_key = tuple(map(id, s.findings))
        build_key = (id(s.build), s.eems_state)
        mitigations = eems_facts(s)
        row_key = (findings_key, id(s.fix), srv.is_edge, srv.collection.status, mitigations)
        facts_key = (*build_key, srv.exsetup_version, srv.admin_display_version, srv.http_version,
                     srv.service_collected, srv.service, srv.eems, srv.build_source, last_success(s))  # fmt: skip
        views.append(
            {
                "s": s,
                "overview_build": fragments.render("_overview_build.html.j2", build_key, partial(dict, s=s)),
                "overview_findings": fragments.render(
                    "_overview_findings.html.j2", row_key, partial(dict, s=s, mitigations=mitigations)
                ),
                "fix_html": fragments.render("_fix.html.j2", row_key, partial(dict, s=s, fix=s.fix)),
                "facts_html": fragments.render("_server_facts.html.j2", facts_key, partial(dict, s=s, srv=s.server)),
                "findings_html": fragments.render("_findings.html.j2", findings_key, partial(_findings_context, s)),
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
            changes=report.changes,
            trend=trend_view(report.trend),
            headline=headline(report),
            groups_meta=GROUPS,
            groups={key: [s for s in report.servers if s.group == key] for key, *_ in GROUPS},
            fix_first_limit=FIX_FIRST_LIMIT,
            lazy_sections_from=LAZY_SECTIONS_FROM,
        )
