"""The "Remediation progress" section of a report with a history, in headless Chromium: the chart is drawn with
and without JavaScript and in print, its numbers are visible as text, and the per-server table says since when.
The expected numbers come from tests/history/fixtures/half-year.yaml (worked out by hand), not from the report.

Loading, network silence, console errors, links and narrow screens are checked for this report with every other
report by test_report_in_browser.py (report key "trend")."""

from __future__ import annotations

from typing import Any

import pytest

from ..history.halfyear import run_time, schedule
from ..history.test_trend import EXPECTED, expected_counts
from .conftest import ARTIFACTS, NARROW, OpenReport, ReportFile
from .test_report_in_browser import hex_to_rgb

trend_only = pytest.mark.parametrize("report", ["trend"], indirect=True)
with_and_without_js = pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])

JS_CHART = """() => {
  const svg = document.getElementById('trend-chart');
  const box = svg.getBoundingClientRect();
  const bars = Array.from(svg.querySelectorAll('g.trend-bar')).map(g => {
    const rects = Array.from(g.querySelectorAll('rect')).map(r => {
      const b = r.getBoundingClientRect();
      return {fill: r.getAttribute('fill'), height: b.height, painted: getComputedStyle(r).fill};
    });
    const count = g.querySelector('text.trend-count');
    return {rects, count: count ? count.textContent : null,
            countShown: count ? count.getBoundingClientRect().height > 0 : false};
  });
  const dates = Array.from(svg.querySelectorAll('text.trend-date')).map(t => {
    const b = t.getBoundingClientRect();
    return {text: t.textContent, inside: b.left >= box.left - 0.5 && b.right <= box.right + 0.5};
  });
  return {width: box.width, height: box.height, visible: svg.checkVisibility(), bars, dates};
}"""
JS_TABLE = """(selector) => Array.from(document.querySelectorAll(selector + ' tbody tr'))
  .filter(r => r.getClientRects().length > 0).map(r => Array.from(r.cells).map(c => c.innerText.trim()))"""


@trend_only
@with_and_without_js
@pytest.mark.parametrize("media", ["screen", "print"])
def test_the_chart_draws_one_bar_per_run_with_its_count(
    open_report: OpenReport, report: ReportFile, javascript: bool, media: Any
) -> None:
    tab = open_report(report, javascript=javascript, media=media, readonly=True)
    chart = tab.js(JS_CHART)
    assert chart["visible"] and chart["width"] > 300 and chart["height"] > 100
    assert len(chart["bars"]) == 26
    for bar, (mar2023, jun2026) in zip(chart["bars"], expected_counts(), strict=True):
        heights = {}
        for r in bar["rects"]:
            assert r["painted"] == hex_to_rgb(r["fill"])
            heights[r["fill"]] = r["height"]
        unit = sum(heights.values()) / 12  # every run has 12 servers
        got = (round(heights.get("#FF0000", 0) / unit, 1), round(heights.get("#FF8C00", 0) / unit, 1))
        assert got == (mar2023, jun2026)
        assert bar["count"] == str(mar2023 + jun2026) and bar["countShown"]
    assert chart["dates"][0]["text"] == "2026-05-25" and chart["dates"][-1]["text"] == "2026-11-16"
    assert [d for d in chart["dates"] if not d["inside"]] == []
    assert tab.console_errors == [] and tab.page_errors == [] and tab.non_local_requests() == []


@trend_only
@with_and_without_js
def test_the_numbers_are_in_a_visible_table_newest_first(
    open_report: OpenReport, report: ReportFile, javascript: bool
) -> None:
    tab = open_report(report, javascript=javascript, readonly=True)
    rows = tab.js(JS_TABLE, "#trend-numbers")
    want = [[str(a + b), str(a), str(b)] for a, b in reversed(expected_counts())]
    assert [row[2:5] for row in rows] == want
    assert [row[1] for row in rows] == ["12"] * 26
    assert rows[0][0] == "2026-11-16" and rows[-1][0] == "2026-05-25"
    assert "7 of 12 on 2026-05-25, 2 of 12 on 2026-11-16 (5 fewer, 26 runs)" in tab.page.inner_text("#trend + p")


@trend_only
def test_servers_left_behind_say_since_when_and_link_to_their_section(
    open_report: OpenReport, report: ReportFile
) -> None:
    tab = open_report(report, readonly=True)
    rows = tab.js(JS_TABLE, "#trend-servers + table")
    by_name = {row[0]: row for row in rows}
    for name, want in EXPECTED["servers"].items():
        if want["fails"] is None:
            assert name not in by_name
            continue
        since = want["since"].isoformat() + (" or earlier" if want["since_first"] else "")
        changed = want["build_changed"].isoformat() if want["build_changed"] else "unchanged since 2026-05-25"
        row = by_name[name]
        assert (row[1], row[2], row[3], row[5]) == (want["fails"], since, str(want["runs"]), changed)
    assert tab.js("() => !!document.querySelector(document.querySelector('#trend-servers + table a').hash)")


@trend_only
@pytest.mark.parametrize("viewport", [None, NARROW], ids=["desktop", "narrow"])
def test_trend_screenshot_is_written(open_report: OpenReport, report: ReportFile, viewport: Any) -> None:
    tab = open_report(report, readonly=True, **({"viewport": viewport} if viewport else {}))
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"report-trend{'-narrow' if viewport else ''}.png"
    path.unlink(missing_ok=True)
    tab.page.locator("#trend").scroll_into_view_if_needed()
    box = tab.js(
        "() => { const a = document.getElementById('trend').getBoundingClientRect();"
        " const b = document.getElementById('trend-builds').nextElementSibling.getBoundingClientRect();"
        " return {x: 0, y: a.top + window.scrollY - 8, width: document.documentElement.clientWidth,"
        " height: b.bottom - a.top + 16}; }"
    )
    tab.page.screenshot(path=str(path), full_page=True, clip=box, animations="disabled")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 10_000


@trend_only
@with_and_without_js
def test_build_changes_list_each_patched_server_on_the_day_of_its_last_patch(
    open_report: OpenReport, report: ReportFile, javascript: bool
) -> None:
    last: dict[str, int] = {}
    for patch in schedule()["patches"]:
        last[patch["server"]] = patch["week"]
    want = sorted(((run_time(w).strftime("%Y-%m-%d"), name) for name, w in last.items()), reverse=True)
    tab = open_report(report, javascript=javascript, readonly=True)
    rows = tab.js(JS_TABLE, "#trend-builds + table")
    assert [(row[2], row[0]) for row in rows] == want
