"""The mail HTML in a real browser engine (headless Chromium): colours survive a stripped <style> and even
stripped style attributes (the bgcolor fallback), nothing is fetched, nothing logs an error."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from eems_check.mail.message import build_message
from eems_check.mail.settings import MailSettings
from eems_check.model import Report

from .conftest import ARTIFACTS

SETTINGS = MailSettings(mail_to=("ops@contoso.com",), mail_from="eems-check@contoso.com", smtp_host="smtp.contoso.com")


@pytest.fixture(scope="module")
def browser(chromium: Any) -> Iterator[Any]:
    context = chromium.new_context(viewport={"width": 1280, "height": 900})  # one context: a new one costs ~1.5 s
    yield context
    context.close()


def rgb(hex_colour: str) -> str:
    r, g, b = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgb({r}, {g}, {b})"


def without_style_elements(html: str) -> str:
    """What Outlook or the Gmail app may do: drop <style> blocks."""
    return re.sub(r"<style\b.*?</style>", "", html, flags=re.S | re.I)


def without_style_attributes(html: str) -> str:
    """Worse: drop every style attribute too (Gmail drops one that holds syntax it dislikes)."""
    return re.sub(r'\sstyle="[^"]*"', "", without_style_elements(html))


def load(browser: Any, html: str, name: str) -> tuple[Any, list[str], list[str]]:
    """Open `html` from a file in a fresh page; every request that is not file: or data: is blocked and recorded."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.html"
    path.write_text(html, encoding="utf-8")
    page = browser.new_page()
    blocked: list[str] = []
    seen: list[str] = []
    errors: list[str] = []

    def route(r: Any) -> None:
        url = r.request.url
        seen.append(url)
        if url.startswith(("data:", "file:")):
            r.continue_()
        else:
            blocked.append(url)
            r.abort()

    page.route("**/*", route)
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(path.resolve().as_uri())
    assert seen == [path.resolve().as_uri()]  # the route saw the page itself, so it was live
    assert blocked == []
    return page, blocked, errors


CELLS_JS = """() => Array.from(document.querySelectorAll('td[bgcolor]')).map(td => {
  const s = getComputedStyle(td);
  return {bg: td.getAttribute('bgcolor'), computed: s.backgroundColor, color: s.color, text: td.textContent.trim()};
})"""


@pytest.mark.parametrize(
    ("variant", "strip"),
    [("mail-summary", without_style_elements), ("mail-summary-no-style-attributes", without_style_attributes)],
    ids=["<style> removed", "style attributes removed too"],
)
def test_status_cells_keep_their_colours_in_chromium(
    browser: Any, sample_report: Report, variant: str, strip: Any
) -> None:
    msg = build_message(sample_report, {}, SETTINGS, host="scanhost")
    body = msg.get_body(("html",))
    assert body is not None
    page, _, errors = load(browser, strip(str(body.get_content())), variant)
    cells = page.evaluate(CELLS_JS)
    assert len(cells) >= 19  # banner + 2 group headings + 11 servers' answers + 5 counts
    for cell in cells:
        assert cell["computed"] == rgb(cell["bg"]), cell
        assert cell["text"], cell  # a word as well as a colour
    if variant == "mail-summary":
        fail = next(c for c in cells if c["text"] == "\u2716 NO")
        assert fail["color"] == "rgb(0, 0, 0)"  # black on red (5.3:1 contrast), from the inlined style
    assert errors == []
    page.screenshot(path=str(ARTIFACTS / f"{variant}.png"), full_page=True)
    page.close()
    assert Path(ARTIFACTS / f"{variant}.png").stat().st_size > 10_000


JS_WIDEST = """() => ({view: document.documentElement.clientWidth, scroll: document.documentElement.scrollWidth,
  right: Math.max(...Array.from(document.querySelectorAll('table, td, th, p, li'))
    .map(e => e.getBoundingClientRect().right)),
  cut: Array.from(document.querySelectorAll('td, th')).filter(c => c.scrollWidth - c.clientWidth > 1)
    .map(c => c.textContent.trim().slice(0, 40))})"""


@pytest.mark.parametrize("width", [600, 800])
def test_mail_fits_600_pixels_with_nothing_cut(browser: Any, sample_report: Report, width: int) -> None:
    """The common mail-client width: every table, cell and paragraph ends within 600 px, none overflows."""
    msg = build_message(sample_report, {}, SETTINGS, host="scanhost")
    body = msg.get_body(("html",))
    assert body is not None
    page, _, errors = load(browser, str(body.get_content()), f"mail-{width}")
    page.set_viewport_size({"width": width, "height": 900})
    box = page.evaluate(JS_WIDEST)
    assert box["right"] <= 600 and box["scroll"] <= width, box
    assert box["cut"] == [], box
    assert errors == []
    page.screenshot(path=str(ARTIFACTS / f"mail-{width}.png"), full_page=True)
    page.close()
