"""templates/_changes.html.j2: rendered by the report's Jinja2 environment, included the way the lead includes it.

Checks escaping of hostile names, Outlook safety (tables, bgcolor beside style, a word in every status cell,
balanced tags), the palette against render.common, and the mail variant.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any, ClassVar

import pytest

from eems_check.diff import Changes, diff_files
from eems_check.render.common import NEUTRAL, SEVERITY_COLOURS
from eems_check.render.html_report import environment, templates_dir

from .helpers import REPORTS

INCLUDE = '{% if changes is defined and changes is not none %}{% include "_changes.html.j2" %}{% endif %}'
CONTOSO = ("contoso-2026-10-01.json", "contoso-2026-11-27.json")
HOSTILE = ("hostile-2026-10-01.json", "hostile-2026-11-27.json")
SWAPPED = ("contoso-2026-11-27.json", "contoso-2026-10-01.json")
SAME = ("contoso-2026-11-27.json", "contoso-2026-11-27.json")


def pair(files: tuple[str, str]) -> Changes:
    return diff_files(REPORTS / files[0], REPORTS / files[1])


def render(changes: Changes | None, **context: Any) -> str:
    return environment().from_string(INCLUDE).render(changes=changes, **context)


class Tags(HTMLParser):
    """Collects start tags with attributes and the text of each status cell; checks nesting of the tags used."""

    CHECKED: ClassVar[set[str]] = {"table", "tr", "td", "th", "p", "ul", "li", "h2", "h3", "strong", "span", "a"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.starts: list[tuple[str, dict[str, str | None]]] = []
        self.status_cells: list[tuple[dict[str, str | None], str]] = []
        self._cell: dict[str, str | None] | None = None
        self._text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.starts.append((tag, dict(attrs)))
        if tag == "br":
            return
        if tag in self.CHECKED:
            self.stack.append(tag)
        if tag == "td" and "status" in (dict(attrs).get("class") or ""):
            self._cell, self._text = dict(attrs), ""

    def handle_endtag(self, tag: str) -> None:
        if tag in self.CHECKED:
            assert self.stack and self.stack[-1] == tag, f"</{tag}> closes <{self.stack[-1] if self.stack else None}>"
            self.stack.pop()
        if tag == "td" and self._cell is not None:
            self.status_cells.append((self._cell, self._text))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._text += data


def parse(html: str) -> Tags:
    tags = Tags()
    tags.feed(html)
    tags.close()
    assert tags.stack == []
    return tags


def test_nothing_without_a_comparison() -> None:
    assert render(None).strip() == ""
    assert environment().from_string(INCLUDE).render().strip() == ""


def test_report_section() -> None:
    changes = pair(CONTOSO)
    html = render(changes, anchors={"EXSE02": "server-exse02", "EX16-22B": "server-ex16-22b"})
    assert '<h2 id="changes">Changes since 2026-10-01 07:00 UTC</h2>' in html
    for heading in ("New findings (8)", "Severity changed (8)", "Resolved (3)", "Builds changed (1)"):
        assert f">{heading}</h3>" in html
    assert '<a href="#server-exse02">EXSE02</a>' in html
    assert 'href="#server-ex16-22b"' not in html  # a server that is gone has no section to link to
    assert "<li><strong>EEMS Mar 2023</strong>: 2 servers fail (then 5): 3 fewer.</li>" in html
    assert "8 (6 worse, 0 better, 2 now undecided)" in html
    for s in [*changes.added_servers, *changes.removed_servers]:
        assert s.server in html
    rows = [(f.server, f.rule_id) for f in [*changes.new_findings, *changes.resolved_findings]]
    rows += [(c.server, c.rule_id) for c in changes.severity_changes]
    for name, rule_id in rows:
        assert name in html and rule_id in html
    assert html.index("New findings (8)") < html.index("Severity changed (8)") < html.index("Resolved (3)")


@pytest.mark.parametrize("files", [CONTOSO, HOSTILE, SWAPPED, SAME])
@pytest.mark.parametrize("mail", [False, True])
def test_outlook_safe(files: tuple[str, str], mail: bool) -> None:
    html = render(pair(files), changes_mail=mail)
    tags = parse(html)
    assert not re.search(r"<(script|style|div|img|link|iframe|form|input)\b", html)
    assert not re.search(r"display:\s*(flex|grid)|position:|border-radius|box-shadow|rgba?\(", html)
    palette = {**{s.value: c for s, c in SEVERITY_COLOURS.items()}, "na": NEUTRAL}
    for attrs, text in tags.status_cells:
        key = (attrs["class"] or "").split()[1]
        bg, fg = palette[key]
        assert attrs["bgcolor"] == bg
        assert f"background-color:{bg};color:{fg}" in (attrs["style"] or "")
        assert re.search(r"[A-Z]{2,}", text), f"status cell without a word: {text!r}"
    for tag, attrs in tags.starts:
        if tag == "table":
            assert attrs.get("border") == "1" and attrs.get("cellpadding") == "4" and attrs.get("cellspacing") == "0"


def test_palette_matches_render_common() -> None:
    source = (templates_dir() / "_changes.html.j2").read_text(encoding="utf-8")
    found = {k: (bg, fg) for k, bg, fg in re.findall(r'"(\w+)": \("(#[0-9A-F]{6})", "(#[0-9A-F]{6})"\)', source)}
    assert found == {**{s.value: c for s, c in SEVERITY_COLOURS.items()}, "na": NEUTRAL}


def test_hostile_names_are_escaped() -> None:
    changes = pair(HOSTILE)
    evil_anchor = 'x" onmouseover="alert(5)'
    html = render(changes, anchors={"<script>alert(1)</script>": evil_anchor})
    parse(html)
    assert "<script" not in html and "<img" not in html and "<b>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(9)&gt;" in html
    assert "R&amp;D &lt;b&gt;before&lt;/b&gt;" in html  # the organisation warning
    assert "&lt;script&gt;alert(3)&lt;/script&gt; not deemed safe" in html  # a message quoting an event
    assert 'href="#x&#34; onmouseover=&#34;alert(5)"' in html
    assert 'onmouseover="alert' not in html


def test_no_changes() -> None:
    html = render(pair(SAME))
    assert "<p>No changes: the same servers, builds and findings as then.</p>" in html
    assert "<table" not in html


def test_mail_variant() -> None:
    changes = pair(CONTOSO)
    html = render(changes, changes_mail=True, anchors={"EXSE02": "server-exse02"}, changes_limit=2)
    assert '<p class="head" id="changes">Changes since 2026-10-01 07:00 UTC</p>' in html
    assert "<h2" not in html and "<h3" not in html and 'href="#' not in html
    assert "&hellip; and 6 more new finding(s).</strong>" in html
    assert "&hellip; and 1 more resolved finding(s).</strong>" in html
    cells = [re.sub(r"<[^>]+>", "", c) for c in re.findall(r"<td>(.*?)</td>", html)]
    assert max(len(c) for c in cells) <= 200  # messages are cut in the mail body
    assert any(c.endswith("...") for c in cells)


def test_rows_limit_default_in_the_report() -> None:
    html = render(pair(CONTOSO))
    assert "more new finding" not in html and "..." not in html
