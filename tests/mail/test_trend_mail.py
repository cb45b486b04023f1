"""The trend in the report mail: bars drawn with table cells (no image, no SVG), whose widths and colours survive
a mail client stripping the <style> block and even every style attribute, with the numbers beside them as text;
and the same trend as lines in the plain-text part. Expected numbers: tests/history/fixtures/half-year.yaml."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from eems_check.mail.message import HTML_BUDGET, build_message
from eems_check.model import Report
from eems_check.ruleset import RuleSet

from ..browser.trend import recorded_report
from ..history.halfyear import half_year
from ..history.test_trend import expected_counts
from .conftest import ARTIFACTS
from .test_browser import SETTINGS, load, rgb, without_style_attributes, without_style_elements

JS_BARS = """() => Array.from(document.querySelectorAll('table.trend > tbody > tr')).map(tr => {
  const cells = Array.from(tr.cells[1].querySelectorAll('td')).map(td => ({
    bg: td.getAttribute('bgcolor'), computed: getComputedStyle(td).backgroundColor,
    width: td.getBoundingClientRect().width, height: td.getBoundingClientRect().height}));
  return {date: tr.cells[0].innerText.trim(), cells, text: tr.cells[2].innerText.trim()};
})"""


@pytest.fixture(scope="module")
def trend_report(ruleset: RuleSet, tmp_path_factory: pytest.TempPathFactory) -> Report:
    path = tmp_path_factory.mktemp("mail-trend") / "eems-history-Contoso.sqlite"
    return recorded_report(half_year(ruleset), path)


@pytest.fixture(scope="module")
def page_context(chromium: Any) -> Iterator[Any]:
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    yield context
    context.close()


def html_of(report: Report) -> str:
    body = build_message(report, {}, SETTINGS, host="scanhost").get_body(("html",))
    assert body is not None
    return str(body.get_content())


def test_the_mail_draws_the_trend_with_tables_only(trend_report: Report) -> None:
    html = html_of(trend_report)
    trend = html[html.index('id="trend"') : html.index("</table>", html.index('class="trend-keys"'))]
    assert not re.search(r"<(svg|img|canvas|object|v:)", trend, re.I)
    assert "url(" not in trend and "background-image" not in trend
    assert len(html.encode("utf-8")) <= HTML_BUDGET


@pytest.mark.parametrize(
    ("variant", "strip"),
    [("mail-trend", without_style_elements), ("mail-trend-no-style-attributes", without_style_attributes)],
    ids=["<style> removed", "style attributes removed too"],
)
def test_bars_keep_their_colours_widths_and_numbers_in_chromium(
    page_context: Any, trend_report: Report, variant: str, strip: Any
) -> None:
    page, _, errors = load(page_context, strip(html_of(trend_report)), variant)
    bars = page.evaluate(JS_BARS)
    assert len(bars) == 26
    for bar, (mar2023, jun2026) in zip(bars, expected_counts(), strict=True):
        widths: dict[str, float] = {}
        for cell in bar["cells"]:
            assert cell["computed"] == rgb(cell["bg"]), cell
            assert cell["height"] >= 10, cell  # drawn, not collapsed to a hairline
            widths[cell["bg"]] = cell["width"]
        per_server = sum(widths.values()) / 12
        got = (round(widths.get("#FF0000", 0) / per_server), round(widths.get("#FF8C00", 0) / per_server))
        assert got == (mar2023, jun2026), bar
        assert bar["text"].startswith(f"{mar2023 + jun2026} of 12 cannot receive mitigations")
    assert (bars[0]["date"], bars[-1]["date"]) == ("2026-05-25", "2026-11-16")
    assert "EX16-22A" in page.inner_text("body")
    assert errors == []
    page.locator("#trend").scroll_into_view_if_needed()
    box = page.evaluate(
        "() => { const a = document.getElementById('trend').getBoundingClientRect();"
        " const t = document.querySelector('table.trend-keys').nextElementSibling.getBoundingClientRect();"
        " return {x: 0, y: a.top + window.scrollY - 8, width: 1280, height: t.bottom - a.top + 16}; }"
    )
    page.screenshot(path=str(ARTIFACTS / f"{variant}.png"), clip=box, full_page=True)
    page.close()
    assert Path(ARTIFACTS / f"{variant}.png").stat().st_size > 10_000


def test_the_text_part_has_the_trend_as_lines(trend_report: Report) -> None:
    body = build_message(trend_report, {}, SETTINGS, host="scanhost").get_body(("plain",))
    assert body is not None
    text = str(body.get_content())
    lines = [line.strip() for line in text.splitlines() if re.match(r"\s+2026-\d\d-\d\d [# ]", line)]
    assert len(lines) == 26
    assert lines[0] == (
        "2026-05-25 " + "#" * 18 + " " * 12 + " 7 of 12 cannot receive mitigations (2 fail EEMS Mar 2023, "
        "5 fail EEMS Jun 2026)"
    )
    assert "EX16-22A: fails EEMS Mar 2023 since 2026-05-25 or earlier (26 runs)" in text
