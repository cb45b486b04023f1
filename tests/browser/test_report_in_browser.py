"""The HTML report in a real browser (headless Debian Chromium): it loads cleanly from a file, reaches for
nothing on the network, reads the same with and without JavaScript, filters and sorts, keeps hostile strings
as text, prints without its toolbar, and leaves screenshots in tests/artifacts/ for a human to look at.

Some tests pin template defects a browser showed (sorting, keyboard access, contrast, wrapping, printing,
narrow screens); they were strict xfails until the template was fixed.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import pytest

from .conftest import A4_LANDSCAPE, ARTIFACTS, DESKTOP, LAPTOP, NARROW, OpenReport, ReportFile, Tab

if TYPE_CHECKING:
    from playwright.sync_api import ViewportSize

REPORTS = ["sample", "demo-scan", "hostile", "changes", "trend"]
each_report = pytest.mark.parametrize("report", REPORTS, indirect=True)
sample_only = pytest.mark.parametrize("report", ["sample"], indirect=True)
with_and_without_js = pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])

REPORT_PARTS = (
    "h1",
    "#summary",
    "table.summary",
    "#headline",
    "#exposed",
    "#fix-first",
    "div.fix-first ol.fix-list",
    "#overview",
    "#overview-table",
    "#details",
    "section.server",
    "#legend",
    "table.legend",
    "footer",
)
STATUS_WORDS = {"PASS", "WARNING", "INFO", "UNKNOWN", "N/A", "ERROR", "CRITICAL", "YES", "NO"}
SYMBOLS = {"\u2714", "\u2716", "\u203c", "\u25b2", "\u2139", "?", "\u2013"}  # render.common.SYMBOLS
CHANGE_WORDS = {"NEW", "RESOLVED", "ADDED", "GONE", "CHANGE", "UPDATE", "ROLLBACK"}  # "Changes since" tables

# --- what the page shows, read in the page -------------------------------------------------------------------

JS_OVERVIEW_NAMES = """() => Array.from(document.querySelectorAll('#overview-table tbody tr'))
  .map(r => r.cells[0].querySelector('a').textContent.trim())"""
JS_VISIBLE_OVERVIEW_NAMES = """() => Array.from(document.querySelectorAll('#overview-table tbody tr'))
  .filter(r => r.getClientRects().length > 0).map(r => r.cells[0].querySelector('a').textContent.trim())"""
JS_SECTION_NAMES = """() => Array.from(document.querySelectorAll('section.server'))
  .map(s => s.querySelector('h3').firstChild.textContent.replace(/\\s*\\u2014\\s*$/, ''))"""
JS_FIX_FIRST_NAMES = """() => Array.from(document.querySelectorAll('div.fix-first ol.fix-list > li > a.server'))
  .map(a => a.textContent)"""
JS_COLUMN = """(index) => Array.from(document.querySelectorAll('#overview-table tbody tr'))
  .filter(r => r.getClientRects().length > 0)
  .map(r => r.cells[index].getAttribute('data-sort') || r.cells[index].textContent.trim())"""
JS_ROWS_BY_NAME = """() => Object.fromEntries(Array.from(document.querySelectorAll('#overview-table tbody tr'))
  .map(r => [r.cells[0].querySelector('a').textContent.trim(), r.textContent]))"""
JS_STATUS_CELLS = """() => Array.from(document.querySelectorAll('.status')).map(e => {
  const cs = getComputedStyle(e);
  const table = e.closest('table');
  return {where: table ? table.className : e.parentElement.tagName.toLowerCase(),
          text: e.textContent.replace(/\\u00a0/g, ' ').trim(), bg: cs.backgroundColor, fg: cs.color,
          bgcolor: e.getAttribute('bgcolor'), printAdjust: cs.getPropertyValue('print-color-adjust')};
})"""
JS_LINKS = """() => Array.from(document.querySelectorAll('a')).map(a => ({
  text: a.textContent.trim(), href: a.getAttribute('href'),
  target: a.hash && a.getAttribute('href').startsWith('#')
          ? !!document.getElementById(decodeURIComponent(a.hash.slice(1))) : null,
  protocol: a.protocol}))"""
JS_IN_VIEW = """(id) => { const r = document.getElementById(id).getBoundingClientRect();
  return {top: r.top, bottom: r.bottom, height: window.innerHeight, hash: location.hash}; }"""
JS_PAGE_WIDTH = "() => ({scroll: document.documentElement.scrollWidth, view: window.innerWidth})"


JS_HIDDEN = """(selectors) => selectors.filter(sel => {
  const els = Array.from(document.querySelectorAll(sel));
  return els.length === 0 || !els.every(e => e.checkVisibility({visibilityProperty: true, opacityProperty: true})
                                           && e.getClientRects().length > 0 && e.textContent.trim() !== '');
})"""


def hidden(tab: Tab, *selectors: str) -> list[str]:
    """The selectors that match nothing, or match an element a reader cannot see (one round trip)."""
    return tab.js(JS_HIDDEN, list(selectors))


def header(tab: Tab, name: str) -> Any:
    """The overview heading `name`, or the button in it once the script puts one there."""
    cell = tab.page.get_by_role("columnheader", name=name, exact=True)
    button = cell.get_by_role("button")
    return button if button.count() else cell


def column_index(tab: Tab, name: str) -> int:
    names = tab.js("() => Array.from(document.querySelectorAll('#overview-table thead th')).map(t => t.textContent)")
    return names.index(name)


JS_EXERCISE = """() => {
  const input = document.getElementById('filter');
  for (const q of ['ex', 'zzz', '']) { input.value = q; input.dispatchEvent(new Event('input')); }
  for (const th of document.querySelectorAll('#overview-table thead th')) {
    const control = th.querySelector('button') || th;
    control.click(); control.click();
  }
  for (const a of document.querySelectorAll('a[href^="#"]')) { a.click(); }
  window.scrollTo(0, document.documentElement.scrollHeight);
}"""


def exercise(tab: Tab) -> None:
    """Use everything the page offers: filter, sort every column both ways, follow every in-page link, scroll
    to the end; then one real click and one real keystroke."""
    tab.js(JS_EXERCISE)
    tab.page.locator("#overview-table thead th").first.click()
    tab.page.locator("#filter").press("x")


def relative_luminance(css: str) -> float:
    r, g, b = (int(v) / 255 for v in re.findall(r"\d+", css)[:3])
    lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in (r, g, b)]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def contrast(fg: str, bg: str) -> float:
    hi, lo = sorted((relative_luminance(fg), relative_luminance(bg)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def status_word(text: str) -> str:
    """'11 \u2716 ERROR' (summary) -> 'ERROR'; '\u2714 PASS' -> 'PASS'; a word without its symbol stays as it is,
    so a test that wants the symbol sees it missing."""
    text = re.sub(r"^\d+\s+", "", text)
    symbol, _, word = text.partition(" ")
    return word if symbol in SYMBOLS and word else text


def legend_colours(tab: Tab) -> dict[str, str]:
    out = {}
    for cell in tab.js(JS_STATUS_CELLS):
        if cell["where"] == "legend":
            for word in cell["text"].split(" / "):
                out[status_word(word)] = cell["bg"]
    return out


def hex_to_rgb(colour: str) -> str:
    r, g, b = (int(colour.lstrip("#")[i : i + 2], 16) for i in (0, 2, 4))
    return f"rgb({r}, {g}, {b})"


# --- loading ---------------------------------------------------------------------------------------------------


@each_report
def test_report_loads_and_is_used_without_console_or_page_errors(open_report: OpenReport, report: ReportFile) -> None:
    tab = open_report(report)
    exercise(tab)
    assert tab.console_errors == []
    assert tab.page_errors == []
    assert tab.dialogs == []


@each_report
@with_and_without_js
def test_report_requests_nothing_but_its_own_file(
    open_report: OpenReport, report: ReportFile, javascript: bool
) -> None:
    tab = open_report(report, javascript=javascript)
    if javascript:
        exercise(tab)
    tab.emulate("print")
    tab.page.keyboard.press("End")
    assert tab.requests[0] == report.url
    assert tab.non_local_requests() == []
    assert tab.popups == []


@each_report
def test_title_and_heading_name_the_organisation(open_report: OpenReport, report: ReportFile) -> None:
    tab = open_report(report, readonly=True)
    assert report.org in tab.page.title()
    assert report.org in tab.page.locator("h1").inner_text()


# --- content, with and without JavaScript ----------------------------------------------------------------------


@each_report
@with_and_without_js
def test_summary_fix_first_overview_and_sections_are_readable_with_or_without_javascript(
    open_report: OpenReport, report: ReportFile, javascript: bool
) -> None:
    tab = open_report(report, javascript=javascript, readonly=True)
    assert report.fix_first, "every bundled report has servers to fix first"
    assert hidden(tab, *REPORT_PARTS, *(["#changes", "table.grid"] if report.changes else [])) == []
    assert tuple(tab.js(JS_FIX_FIRST_NAMES)) == report.fix_first
    assert tab.js(JS_VISIBLE_OVERVIEW_NAMES) == list(report.servers)
    # the filter box and "click a column heading to sort" only appear when the script can honour them
    assert tab.page.locator(".toolbar").is_visible() is javascript


@each_report
@with_and_without_js
def test_every_server_has_an_overview_row_and_a_section(
    open_report: OpenReport, report: ReportFile, javascript: bool
) -> None:
    tab = open_report(report, javascript=javascript, readonly=True)
    assert tab.js(JS_OVERVIEW_NAMES) == list(report.servers)
    assert tab.js(JS_SECTION_NAMES) == list(report.servers)
    assert hidden(tab, "#overview-table tbody tr", "section.server", "section.server table.facts") == []


JS_FOLLOW_OVERVIEW_LINKS = """() => Array.from(document.querySelectorAll('#overview-table tbody a')).map(a => {
  const href = a.getAttribute('href'), target = document.getElementById(href.slice(1));
  a.click();  // same-document navigation: the scroll has happened when click() returns
  const box = target ? target.getBoundingClientRect() : null;
  return {name: a.textContent, href, hash: location.hash,
          section: target ? target.tagName + ' ' + target.querySelector('h3').textContent : null,
          inView: !!box && box.top >= 0 && box.top < window.innerHeight && box.bottom > 0};
})"""


@each_report
def test_overview_links_scroll_to_their_server_section(open_report: OpenReport, report: ReportFile) -> None:
    tab = open_report(report)
    followed = tab.js(JS_FOLLOW_OVERVIEW_LINKS)
    assert [f["name"] for f in followed] == list(report.servers)
    for f in followed:
        assert f["href"].startswith("#server-") and f["hash"] == f["href"], f
        assert f["section"] and f["section"].startswith(f"SECTION {f['name']} "), f
        assert f["inView"], f
    last_row, first_fix = tab.page.locator("#overview-table tbody a").last, tab.page.locator("div.fix-first ol a").first
    for link in (last_row, first_fix):
        tab.page.evaluate("window.scrollTo(0, 0)")
        href = link.get_attribute("href") or ""
        link.click()  # a real click as well
        assert tab.page.url.endswith(href)
        assert 0 <= tab.js(JS_IN_VIEW, href[1:])["top"] < DESKTOP["height"]


@each_report
def test_every_link_leads_somewhere(open_report: OpenReport, report: ReportFile) -> None:
    tab = open_report(report, readonly=True)
    for link in tab.js(JS_LINKS):
        href = link["href"]
        assert href, f"link without a target: {link}"
        if href.startswith("#"):
            assert link["target"], f"in-page link to a missing id: {link}"
        else:
            assert link["protocol"] == "https:" and re.match(r"https://[\w.-]+\.\w+/", href), link


@each_report
def test_element_ids_are_unique(open_report: OpenReport, report: ReportFile) -> None:
    tab = open_report(report, readonly=True)
    ids = tab.js("() => Array.from(document.querySelectorAll('[id]')).map(e => e.id)")
    assert len(ids) == len(set(ids)), sorted(i for i in set(ids) if ids.count(i) > 1)


# --- progressive enhancement: filter and sort -------------------------------------------------------------------

FILTERS = [
    pytest.param("EX16", {"EX16-22A", "EX16-23A"}, id="server-name"),
    pytest.param("frankfurt", {"EX19-12A", "EX19-13A", "EX19-14A"}, id="site-any-case"),
    pytest.param("AdminDisplayVersion", {"EX19-12B", "EDGE01"}, id="build-source"),
    pytest.param("Edge", {"EDGE01"}, id="role"),
    pytest.param("15.2.2562", {"EXSE01", "EXSE02"}, id="build-number"),
    pytest.param("blocked M2", {"EX19-14A"}, id="blocked-mitigation"),
    pytest.param("no-such-server", set(), id="nothing"),
]


@sample_only
@pytest.mark.parametrize(("query", "expected"), FILTERS)
def test_typing_in_the_filter_hides_rows_that_do_not_match(
    open_report: OpenReport, report: ReportFile, query: str, expected: set[str]
) -> None:
    tab = open_report(report)
    tab.page.fill("#filter", query)  # one `input` event, as a paste would; the hostile test types key by key
    assert set(tab.js(JS_VISIBLE_OVERVIEW_NAMES)) == expected
    tab.page.fill("#filter", "")
    assert tab.js(JS_VISIBLE_OVERVIEW_NAMES) == list(report.servers)


@sample_only
def test_filter_finds_rows_by_status_word(open_report: OpenReport, report: ReportFile) -> None:
    tab = open_report(report)
    tab.page.fill("#filter", "\u2714 yes")
    shown = tab.js(JS_VISIBLE_OVERVIEW_NAMES)
    assert shown and all("\u2714 YES" in tab.js(JS_ROWS_BY_NAME)[n].upper() for n in shown)


def build_key(cell: str) -> tuple[int, ...]:
    return tuple(int(p) for p in cell.split(" ")[0].split("."))


SORTS = [
    pytest.param("Server", str.casefold, id="server-text"),
    pytest.param("Build", build_key, id="build-number"),
    pytest.param("Receives new mitigations?", str, id="receives-group"),
    pytest.param("Why", int, id="why-severity"),
]


@pytest.mark.parametrize("report", ["sample", "demo-scan"], indirect=True)
@pytest.mark.parametrize(("column", "key"), SORTS)
def test_clicking_a_heading_sorts_ascending_then_descending(
    open_report: OpenReport, report: ReportFile, column: str, key: Any
) -> None:
    tab = open_report(report)
    index = column_index(tab, column)
    rows_before = tab.js(JS_ROWS_BY_NAME)
    values = [v for v in tab.js(JS_COLUMN, index) if v]  # a server without a known build has no number
    header(tab, column).click()
    ascending = [v for v in tab.js(JS_COLUMN, index) if v]
    assert [key(v) for v in ascending] == sorted(key(v) for v in values)
    header(tab, column).click()
    descending = [v for v in tab.js(JS_COLUMN, index) if v]
    assert [key(v) for v in descending] == sorted((key(v) for v in values), reverse=True)
    assert tab.js(JS_ROWS_BY_NAME) == rows_before  # whole rows move, none lost or mixed


@sample_only
def test_sorting_keeps_the_filter(open_report: OpenReport, report: ReportFile) -> None:
    tab = open_report(report)
    tab.page.fill("#filter", "London")
    shown = set(tab.js(JS_VISIBLE_OVERVIEW_NAMES))
    header(tab, "Build").click()
    assert set(tab.js(JS_VISIBLE_OVERVIEW_NAMES)) == shown == {"EXSE01", "EXSE02", "EX19-15A"}


@sample_only
def test_build_column_sorts_by_build_number(open_report: OpenReport, report: ReportFile) -> None:
    tab = open_report(report)
    index = column_index(tab, "Build")
    header(tab, "Build").click()
    builds = tab.js(JS_COLUMN, index)
    assert builds == sorted(builds, key=build_key)


@sample_only
def test_headings_sort_from_the_keyboard(open_report: OpenReport, report: ReportFile) -> None:
    tab = open_report(report)
    header(tab, "Build").focus()
    tab.page.keyboard.press("Enter")
    builds = [v for v in tab.js(JS_COLUMN, column_index(tab, "Build")) if v]
    assert builds == sorted(builds, key=build_key)
    cell = tab.page.get_by_role("columnheader", name="Build", exact=True)
    assert cell.get_attribute("aria-sort") == "ascending"


# --- status colours --------------------------------------------------------------------------------------------


@each_report
def test_status_cells_have_a_word_and_the_legend_colour(open_report: OpenReport, report: ReportFile) -> None:
    tab = open_report(report, readonly=True)
    legend = legend_colours(tab)
    assert set(legend) >= {"PASS", "ERROR", "WARNING", "INFO", "UNKNOWN", "N/A", "YES", "NO"}
    cells = [c for c in tab.js(JS_STATUS_CELLS) if c["where"] != "legend"]
    assert len(cells) >= len(report.servers) * 2
    for cell in cells:
        word = status_word(cell["text"])
        assert word in STATUS_WORDS | CHANGE_WORDS, cell  # colour is never the only signal
        if word in STATUS_WORDS:  # nor is the word alone: a shape rides along (change words are words only)
            assert cell["text"].split(" ")[-2:][0] in SYMBOLS, cell
        if cell["bgcolor"]:  # the attribute mail clients use when they drop the stylesheet agrees with the CSS
            assert hex_to_rgb(cell["bgcolor"]) == cell["bg"], cell
        if cell["where"] == "summary" and cell["text"].startswith("0 "):
            assert cell["bg"] == legend["N/A"], cell  # a zero count is greyed out
        elif word == "UNKNOWN":  # the legend: "shown yellow when it matters"
            assert cell["bg"] in (legend["UNKNOWN"], legend["WARNING"]), cell
        elif word in legend:  # CRITICAL is not in the legend: see test_every_status_word_is_explained_in_the_legend
            assert cell["bg"] == legend[word], cell


@sample_only
def test_every_status_word_is_explained_in_the_legend(open_report: OpenReport, report: ReportFile) -> None:
    tab = open_report(report, readonly=True)
    legend = legend_colours(tab)
    used = {status_word(c["text"]) for c in tab.js(JS_STATUS_CELLS) if c["where"] != "legend"}
    assert used <= set(legend)


@sample_only
def test_status_text_meets_wcag_aa_contrast(open_report: OpenReport, report: ReportFile) -> None:
    tab = open_report(report, readonly=True)
    low = {(c["text"], c["fg"], c["bg"]) for c in tab.js(JS_STATUS_CELLS) if contrast(c["fg"], c["bg"]) < 4.5}
    assert not low


# Machado, Oliveira and Fernandes (2009), severity 1.0, applied to linear RGB: how a red-green colour-blind reader
# sees a colour.
CVD = {
    "deuteranopia": ((0.367322, 0.860646, -0.227968), (0.280085, 0.672501, 0.047413), (-0.011820, 0.042940, 0.968881)),
    "protanopia": ((0.152286, 1.052583, -0.204868), (0.114503, 0.786281, 0.099216), (-0.003882, -0.048116, 1.051998)),
}


def simulate(css: str, matrix: Any) -> tuple[float, ...]:
    rgb = [int(v) / 255 for v in re.findall(r"\d+", css)[:3]]
    lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
    return tuple(min(1.0, max(0.0, sum(m * c for m, c in zip(row, lin, strict=True)))) for row in matrix)


@sample_only
@pytest.mark.parametrize("vision", list(CVD))
def test_statuses_a_colour_blind_reader_cannot_tell_apart_have_different_symbols(
    open_report: OpenReport, report: ReportFile, vision: str
) -> None:
    tab = open_report(report, readonly=True)
    rows = [(c["text"], c["bg"]) for c in tab.js(JS_STATUS_CELLS) if c["where"] == "legend"]
    seen = {}
    for text, bg in rows:
        for part in text.split(" / "):
            symbol, _, word = part.partition(" ")
            seen[word] = (symbol, simulate(bg, CVD[vision]))
    same_meaning = ({"PASS", "YES"}, {"ERROR", "NO"})
    confusable = set()
    for a, (sym_a, col_a) in seen.items():
        for b, (sym_b, col_b) in seen.items():
            distance = sum((x - y) ** 2 for x, y in zip(col_a, col_b, strict=True)) ** 0.5
            if a < b and {a, b} not in same_meaning and distance < 0.15:
                confusable.add((a, b))
                assert sym_a != sym_b, (vision, a, b)
    assert ("PASS", "WARNING") in confusable  # green and yellow look alike: the symbols are what tells them apart


# --- hostile strings -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("report", ["hostile"], indirect=True)
def test_hostile_strings_show_as_text_and_run_nothing(open_report: OpenReport, report: ReportFile) -> None:
    tab = open_report(report)
    exercise(tab)
    tab.page.fill("#filter", "")
    tab.page.locator("#filter").press_sequentially("<script>")
    assert tab.js(JS_VISIBLE_OVERVIEW_NAMES) == ["<script>alert(1)</script>"]
    assert tab.dialogs == [] and tab.page_errors == []
    assert "R&D <script>alert('org')</script>" in tab.page.title()
    assert "R&D <script>alert('org')</script>" in tab.page.locator("h1").inner_text()
    assert tab.js("() => document.scripts.length") == 1  # the report's own
    assert tab.js("() => document.querySelectorAll('img, b, iframe, object, embed, svg').length") == 0
    row = tab.page.locator("#overview-table tbody tr", has_text="<script>alert(1)</script>")
    assert row.locator("td").nth(0).locator(".muted").inner_text() == (
        "R&D \"quoted\" 'single' \u00b7 <img src=x onerror=alert(2)>"
    )
    section = tab.page.locator("section.server").filter(has_text="<script>alert(1)</script>").first
    assert section.locator("table.facts tr").count() == 10  # 'M2</td><td>' did not open cells
    facts = section.locator("table.facts").inner_text()
    assert "<b>M1</b> / M2</td><td>" in facts and "http://p/?a=1&b=2" in facts
    assert "<script>alert(3)</script>" in section.locator("table.findings").inner_text()
    assert '=HYPERLINK("http://evil")' in tab.js(JS_OVERVIEW_NAMES)


@pytest.mark.parametrize("report", ["hostile"], indirect=True)
def test_long_values_wrap_inside_the_page(open_report: OpenReport, report: ReportFile) -> None:
    tab = open_report(report, readonly=True)
    width = tab.js(JS_PAGE_WIDTH)
    assert width["scroll"] <= width["view"]


# --- print and small screens -----------------------------------------------------------------------------------


@each_report
@with_and_without_js
def test_printing_hides_the_toolbar_and_keeps_the_content(
    open_report: OpenReport, report: ReportFile, javascript: bool
) -> None:
    tab = open_report(report, javascript=javascript, media="print", readonly=True)
    assert tab.js("() => matchMedia('print').matches")
    assert not tab.page.locator(".toolbar").is_visible()
    assert hidden(tab, "#summary", "#overview-table", "section.server", "table.legend") == []
    assert tab.js(JS_VISIBLE_OVERVIEW_NAMES) == list(report.servers)


@sample_only
def test_status_colours_survive_printing(open_report: OpenReport, report: ReportFile) -> None:
    tab = open_report(report, media="print", readonly=True)
    assert {c["printAdjust"] for c in tab.js(JS_STATUS_CELLS)} == {"exact"}


@sample_only
def test_narrow_screen_shows_the_whole_report(open_report: OpenReport, report: ReportFile) -> None:
    tab = open_report(report, viewport=NARROW, readonly=True)
    assert hidden(tab, "h1", "#summary", "#fix-first", "#overview-table", "section.server", "table.legend") == []
    assert tab.js(JS_VISIBLE_OVERVIEW_NAMES) == list(report.servers)
    assert tab.js("() => document.querySelector('h1').getBoundingClientRect().right") <= NARROW["width"]


@sample_only
def test_narrow_screen_does_not_scroll_the_whole_page_sideways(open_report: OpenReport, report: ReportFile) -> None:
    tab = open_report(report, viewport=NARROW, readonly=True)
    width = tab.js(JS_PAGE_WIDTH)
    assert width["scroll"] <= width["view"]


# --- layouts measured: laptop, phone, A4 paper --------------------------------------------------------------

JS_OVERVIEW_BOXES = """() => {
  const table = document.getElementById('overview-table');
  const rows = [];
  for (const row of table.querySelectorAll('tr')) {
    if (row.getClientRects().length === 0) continue;
    const cells = Array.from(row.cells).filter(c => c.getClientRects().length > 0).map(c => {
      const b = c.getBoundingClientRect();
      return {text: c.textContent.trim().slice(0, 30), left: b.left, right: b.right, top: b.top,
              cut: c.scrollWidth - c.clientWidth};
    });
    rows.push(cells);
  }
  return {view: document.documentElement.clientWidth, right: table.getBoundingClientRect().right, rows};
}"""
JS_VISIBLE_SORT_MARKS = """() => Array.from(document.querySelectorAll('.sort-mark'))
  .filter(m => getComputedStyle(m).display !== 'none' && getComputedStyle(m, '::after').content !== 'none').length"""


def overview_boxes(tab: Tab) -> dict[str, Any]:
    boxes = tab.js(JS_OVERVIEW_BOXES)
    assert boxes["rows"], "the overview has rows"
    return boxes


def assert_no_cell_cut(boxes: dict[str, Any]) -> None:
    """Every visible cell lies inside the page and shows all its content (nothing overflows its box)."""
    assert boxes["right"] <= boxes["view"] + 0.5, boxes["right"]
    for row in boxes["rows"]:
        for cell in row:
            assert cell["left"] >= -0.5 and cell["right"] <= boxes["view"] + 0.5, cell
            assert cell["cut"] <= 1, cell


@each_report
@pytest.mark.parametrize(
    ("viewport", "media"), [(LAPTOP, "screen"), (A4_LANDSCAPE, "print")], ids=["laptop-1366", "a4-landscape"]
)
def test_every_overview_column_fits_a_laptop_and_a4_paper(
    open_report: OpenReport, report: ReportFile, viewport: ViewportSize, media: Any
) -> None:
    tab = open_report(report, viewport=viewport, media=media, readonly=True)
    boxes = overview_boxes(tab)
    assert len(boxes["rows"][0]) == 5  # server, build, receives?, why, fix: every column is shown
    assert_no_cell_cut(boxes)
    if media == "print":
        assert tab.js(JS_VISIBLE_SORT_MARKS) == 0  # the sort controls are not printed


@each_report
def test_overview_rows_stack_on_a_phone(open_report: OpenReport, report: ReportFile) -> None:
    tab = open_report(report, viewport=NARROW, readonly=True)
    boxes = overview_boxes(tab)
    assert_no_cell_cut(boxes)
    body = boxes["rows"]  # the header row is hidden on a phone
    for row in body:
        assert len(row) == 5, row  # nothing of a server is hidden on a phone
        assert len({round(c["left"]) for c in row}) == 1, row  # one column: the cells are stacked
        assert [c["top"] for c in row] == sorted(c["top"] for c in row), row


# --- screenshots for a human -----------------------------------------------------------------------------------

TOP = {"x": 0, "y": 0, "width": DESKTOP["width"], "height": 1600}  # header, summary, fix first, overview
SCREENSHOTS = [
    pytest.param("sample", DESKTOP, None, "sample-desktop-1280.png", id="sample-desktop"),
    pytest.param("sample", NARROW, None, "sample-narrow-420.png", id="sample-narrow"),
    pytest.param("demo-scan", DESKTOP, TOP, "demo-scan-top-1280.png", id="demo-scan-top"),
    # the hostile page is ~44,000 px wide (see test_long_values_wrap_inside_the_page): keep the first screenful
    pytest.param("hostile", DESKTOP, TOP, "hostile-top-1280.png", id="hostile-top"),
]


@pytest.mark.parametrize(("report", "viewport", "clip", "name"), SCREENSHOTS, indirect=["report"])
def test_screenshot_is_written(
    open_report: OpenReport, report: ReportFile, viewport: ViewportSize, clip: Any, name: str
) -> None:
    tab = open_report(report, viewport=viewport, readonly=True)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / name
    path.unlink(missing_ok=True)
    tab.page.screenshot(path=str(path), full_page=True, clip=clip, animations="disabled")
    assert path.stat().st_size > 10_000
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_printed_overview_names_its_columns_again_on_every_page(browser: Any, tmp_path: Any) -> None:
    # Chromium repeats a table's header on each printed page; with the sort buttons JavaScript wraps the column
    # names in, that repeated header printed empty. Read back from the PDF (poppler's pdftotext), page by page.
    import datetime as dt
    import json
    import shutil
    import subprocess
    from pathlib import Path

    from eems_check.evaluate import evaluate
    from eems_check.inventory import inventory_from_document
    from eems_check.render.html_report import HtmlRenderer
    from eems_check.ruleset import load_ruleset

    from ..conftest import missing_in_ci

    pdftotext = shutil.which("pdftotext") or missing_in_ci("pdftotext (Debian's poppler-utils) is not installed")
    sample = Path(__file__).parents[2] / "eems_check" / "data" / "sample-inventory.json"
    doc = json.loads(sample.read_text(encoding="utf-8"))
    servers = [{**s, "name": f"{s['name']}-{i:02d}", "fqdn": None} for i in range(6) for s in doc["servers"]]
    doc["servers"] = servers
    inventory = inventory_from_document(doc, "sample x6")
    now = dt.datetime(2026, 11, 27, 7, 0, tzinfo=dt.timezone.utc)
    report = evaluate(inventory, load_ruleset(), today=now.date(), generated_at=now)
    html = tmp_path / "report.html"
    html.write_text(HtmlRenderer().render(report), encoding="utf-8")
    context = browser.new_context(java_script_enabled=True)
    try:
        page = context.new_page()
        page.goto(html.as_uri())
        page.emulate_media(media="print")
        page.pdf(path=str(tmp_path / "report.pdf"), format="A4", landscape=True, print_background=True)
    finally:
        context.close()
    text = subprocess.run([pdftotext, "-layout", str(tmp_path / "report.pdf"), "-"], capture_output=True,
                          text=True, check=True).stdout
    pages = text.split("\f")
    first = next(i for i, p in enumerate(pages) if "Servers overview" in p)
    last = next(i for i, p in enumerate(pages) if "Server details" in p)
    assert last - first >= 2  # the overview runs over several pages
    assert [i for i in range(first, last + 1) if "Receives new" not in pages[i]] == []
